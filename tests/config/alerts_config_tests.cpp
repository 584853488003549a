// `[log]`, `[alerting]` and `[[alerts]]`: what they set and the errors that name the key.
#include <catch2/catch.hpp>

#include "config/config.hpp"

using stockd::config::parse;

namespace {

std::string alerts_error_of(std::string_view toml) {
  auto r = parse(toml, "test.toml");
  REQUIRE_FALSE(r.has_value());
  return r.error().to_string();
}

} // namespace

TEST_CASE("the log level and alert sinks are read with their thresholds", "[config][alerts]") {
  auto r = parse(R"(
[log]
level = "debug"

[alerting]
check_interval_ms = 250

[[alerts]]
url = "https://pager.example/hook"
secret = "env:PAGER_SECRET"
min_severity = "critical"
out_of_sync_after_s = 120
rejected_spike_per_minute = 40
map_used_ratio = 0.8
variance_skus = 3
variance_units = 25
repeat_after_s = 900
quiet_after_s = 60
per_hour_max = 5
systemic_ratio = 0.25
systemic_skus_min = 10

[[alerts]]
url = "http://127.0.0.1:9000/chat"
secret = "file:/etc/stockd/chat.secret"
)",
                 "test.toml");
  REQUIRE(r.has_value());
  CHECK(r->log_level == stockd::actors::log_level::debug);
  CHECK(r->alert_check_interval == std::chrono::milliseconds(250));
  REQUIRE(r->alerts.size() == 2);
  const auto& a = r->alerts[0];
  CHECK(a.url == "https://pager.example/hook");
  CHECK(a.secret_ref == "env:PAGER_SECRET");
  CHECK(a.secret.empty());  // resolved at start-up, not by the config
  CHECK(a.min_severity == stockd::actors::alert_severity::critical);
  CHECK(a.thresholds.out_of_sync_after == std::chrono::seconds(120));
  CHECK(a.thresholds.rejected_per_minute == 40);
  CHECK(a.thresholds.map_used_ratio == Approx(0.8));
  CHECK(a.thresholds.variance_skus == 3);
  CHECK(a.thresholds.variance_units == 25);
  CHECK(a.repeat_after == std::chrono::seconds(900));
  CHECK(a.quiet_after == std::chrono::seconds(60));
  CHECK(a.per_hour_max == 5);
  CHECK(a.systemic_ratio == Approx(0.25));
  CHECK(a.systemic_skus_min == 10);
  CHECK(r->alerts[1].min_severity == stockd::actors::alert_severity::warning);
  CHECK(r->alerts[1].thresholds.out_of_sync_after == std::chrono::seconds(600));
}

TEST_CASE("alert and log settings refuse bad values naming the key", "[config][alerts]") {
  CHECK(alerts_error_of("[log]\nlevel = \"loud\"\n").starts_with("log.level: must be one of"));
  CHECK(alerts_error_of("[log]\nlevl = \"info\"\n") == "log.levl: unknown key");
  CHECK(alerts_error_of("[[alerts]]\nsecret = \"env:X\"\n").starts_with("alerts[0].url:"));
  CHECK(alerts_error_of("[[alerts]]\nurl = \"ftp://x\"\nsecret = \"env:X\"\n")
            .starts_with("alerts[0].url:"));
  CHECK(alerts_error_of("[[alerts]]\nurl = \"http://x/\"\nsecret = \"hunter2\"\n")
            .starts_with("alerts[0].secret:"));
  CHECK(alerts_error_of("[[alerts]]\nurl = \"http://x/\"\nsecret = \"env:X\"\n"
                        "map_used_ratio = 1.5\n")
            .starts_with("alerts[0].map_used_ratio:"));
  CHECK(alerts_error_of("[[alerts]]\nurl = \"http://x/\"\nsecret = \"env:X\"\n"
                        "min_severity = \"page\"\n")
            .starts_with("alerts[0].min_severity:"));
  CHECK(alerts_error_of("[[alerts]]\nurl = \"http://x/\"\nsecret = \"env:X\"\nthreshold = 1\n") ==
        "alerts[0].threshold: unknown key");
  CHECK(alerts_error_of("[alerting]\ncheck_interval_ms = 1\n")
            .starts_with("alerting.check_interval_ms:"));
  // The message never repeats a secret written in place of a reference.
  CHECK(alerts_error_of("[[alerts]]\nurl = \"http://x/\"\nsecret = \"hunter2\"\n").find("hunter2") ==
        std::string::npos);
}
