#include <catch2/catch.hpp>

#include "config/config_diff.hpp"

using stockd::config::config_change;
using stockd::config::diff;
using stockd::config::parse;
using stockd::config::restart_only;

namespace {

stockd::config::settings settings_of(std::string_view toml) {
  auto r = parse(toml, "test.toml");
  if (!r) {
    FAIL(r.error().to_string());
  }
  return *r;
}

constexpr std::string_view base = R"(
[server]
listen = "127.0.0.1:8080"

[[locations]]
id = "DC"

[[locations]]
id = "STORE"

[[channels]]
id = "shop"
connector = "webhook"
endpoint = "http://127.0.0.1:9300/push"
credentials = "env:HOOK"
locations = ["DC"]
rules = { buffer = 2 }
)";

std::string with(std::string_view from, std::string_view what) {
  std::string text(base);
  auto at = text.find(from);
  REQUIRE(at != std::string::npos);
  text.replace(at, from.size(), what);
  return text;
}

} // namespace

TEST_CASE("the same settings written differently are no change", "[config][diff]") {
  auto a = settings_of(base);
  // The defaults spelled out, the sections reordered: the same settings.
  auto b = settings_of(std::string(base) + "\n[engine]\nrequest_timeout_ms = 10000\n");
  CHECK(diff(a, b).empty());
  CHECK(diff(a, a).empty());
}

TEST_CASE("a changed rule is one change naming the channel and the rule", "[config][diff]") {
  auto a = settings_of(base);
  auto b = settings_of(with("rules = { buffer = 2 }", "rules = { buffer = 5 }"));
  auto changes = diff(a, b);
  REQUIRE(changes.size() == 1);
  CHECK(changes[0].kind == config_change::kind_t::changed);
  CHECK(changes[0].path == "channels.shop.rules.buffer");
  CHECK(changes[0].before == "2");
  CHECK(changes[0].after == "5");
  CHECK_FALSE(restart_only(changes, a, b).has_value());
}

TEST_CASE("an added channel or location is one change, not one per setting", "[config][diff]") {
  auto a = settings_of(base);
  auto b = settings_of(std::string(base) + R"(
[[locations]]
id = "DC.2"

[[channels]]
id = "shop-2"
connector = "none"
locations = ["DC.2"]
)");
  auto changes = diff(a, b);
  REQUIRE(changes.size() == 2);
  CHECK(changes[0].path == "channels.shop-2");
  CHECK(changes[0].kind == config_change::kind_t::added);
  CHECK(changes[0].after == "channel");
  CHECK(changes[1].path == "locations.DC.2");
  CHECK(changes[1].kind == config_change::kind_t::added);
  CHECK_FALSE(restart_only(changes, a, b).has_value());
  // And back: two removals; the removed channel may go at run time, the location may not.
  auto back = diff(b, a);
  REQUIRE(back.size() == 2);
  CHECK(back[0].kind == config_change::kind_t::removed);
  auto refused = restart_only(back, b, a);
  REQUIRE(refused.has_value());
  CHECK(refused->key == "locations.DC.2");
}

TEST_CASE("what a running stockd cannot change is refused naming the key", "[config][diff]") {
  auto a = settings_of(base);
  auto listen = settings_of(with("127.0.0.1:8080", "127.0.0.1:9090"));
  auto refused = restart_only(diff(a, listen), a, listen);
  REQUIRE(refused.has_value());
  CHECK(refused->key == "server.listen");
  CHECK_THAT(refused->message, Catch::Contains("restart"));

  auto endpoint = settings_of(with("9300/push", "9301/push"));
  refused = restart_only(diff(a, endpoint), a, endpoint);
  REQUIRE(refused.has_value());
  CHECK(refused->key == "channels.shop.endpoint");

  auto locations = settings_of(with("locations = [\"DC\"]", "locations = [\"DC\", \"STORE\"]"));
  refused = restart_only(diff(a, locations), a, locations);
  REQUIRE(refused.has_value());
  CHECK(refused->key == "channels.shop.locations");
}

TEST_CASE("the mode of a channel may change at run time and shows in the diff", "[config][diff]") {
  auto a = settings_of(base);
  auto b = settings_of(with("rules = {", "mode = \"shadow\"\nrules = {"));
  auto changes = diff(a, b);
  REQUIRE(changes.size() == 2);  // mode, and the read interval a shadow channel has
  CHECK(changes[0].path == "channels.shop.mode");
  CHECK(changes[0].before == "live");
  CHECK(changes[0].after == "shadow");
  CHECK(changes[1].path == "channels.shop.shadow_read_interval_ms");
  CHECK_FALSE(restart_only(changes, a, b).has_value());
}

TEST_CASE("SKUs, kits and mappings are listed and may change at run time", "[config][diff]") {
  auto a = settings_of(base);
  auto b = settings_of(std::string(base) + R"(
[[skus]]
id = "KIT"
components = [{ sku = "A", qty = 2 }]

[[mappings]]
source = "erp"
skus = { "E-1" = "A" }
)");
  auto changes = diff(a, b);
  REQUIRE(changes.size() == 2);
  CHECK(changes[0].path == "mappings.erp");
  CHECK(changes[1].path == "skus.KIT");
  CHECK_FALSE(restart_only(changes, a, b).has_value());
  auto flat = stockd::config::flatten(b);
  CHECK(flat.at("skus.KIT.components") == "A*2");
  CHECK(flat.at("mappings.erp.skus.E-1") == "A");
  CHECK(flat.at("channels.shop.credentials") == "env:HOOK");
}

TEST_CASE("a channel in shadow mode needs a connector and takes a read interval", "[config]") {
  auto ok = parse(with("rules = {", "mode = \"shadow\"\nshadow_read_interval_ms = 2000\nrules = {"),
                  "t.toml");
  REQUIRE(ok.has_value());
  CHECK(ok->channels[0].mode == stockd::connectors::channel_mode::shadow);
  CHECK(ok->channels[0].shadow_read_interval == std::chrono::milliseconds(2000));
  auto bad = parse(with("rules = {", "mode = \"dry\"\nrules = {"), "t.toml");
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().key == "channels[0].mode");
  auto live_interval = parse(with("rules = {", "shadow_read_interval_ms = 2000\nrules = {"),
                             "t.toml");
  REQUIRE_FALSE(live_interval.has_value());
  CHECK(live_interval.error().key == "channels[0].shadow_read_interval_ms");
}
