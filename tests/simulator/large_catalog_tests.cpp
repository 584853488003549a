// The large_catalog scenario (simulator/large_catalog.hpp) scaled down to 20,000 SKUs × 4
// locations against the real stockd binary: seeded by snapshots, traffic, convergence, a restart
// over the seeded store; and the report carries the memory and start-up figures it is for.
#include <catch2/catch.hpp>

#include <iostream>

#include <simdjson.h>

#include "simulator/large_catalog.hpp"

#ifndef STOCKD_BINARY
#error "STOCKD_BINARY must name the stockd executable (set by tests/simulator/CMakeLists.txt)"
#endif

using namespace stockd::simulator;
using namespace std::chrono_literals;

namespace {

double number_at(simdjson::dom::element root, std::string_view path) {
  double v = -1;
  if (root.at_pointer(path).get_double().get(v) != simdjson::SUCCESS) {
    std::uint64_t u = 0;
    if (root.at_pointer(path).get_uint64().get(u) == simdjson::SUCCESS) {
      v = static_cast<double>(u);
    }
  }
  return v;
}

} // namespace

TEST_CASE("large_catalog scaled down to 20000 SKUs x 4 locations loses nothing, converges and "
          "reports stockd's memory and start-up times",
          "[simulator][large_catalog]") {
  large_catalog_options o;
  o.skus = 20'000;
  o.locations = 4;
  o.duration = 5s;
  o.buys_per_second = 100;
  o.sample_skus = 2'000;
  o.convergence_timeout = 30s;
  o.stockd_binary = STOCKD_BINARY;
  const large_catalog_summary s = run_large_catalog(o);
  const std::string text = large_catalog_text(s);
  std::cerr << text;
  REQUIRE(s.error.empty());
  CHECK(s.seed_lines == 80'000);
  CHECK(s.seed_accepted == 80'000);
  CHECK(s.live_actors == 80'000);
  CHECK(s.units_sold > 0);
  CHECK(s.lost == 0);
  CHECK(s.converged);
  CHECK(s.checked_skus_channel + 1 > s.skus - s.checked_skus_http);  // every unsold SKU
  REQUIRE(s.restart_consistent.has_value());
  CHECK(*s.restart_consistent);
  CHECK(s.passed());

  // The figures the scenario exists for, in the JSON as in the text.
  simdjson::dom::parser parser;
  const std::string json = large_catalog_json(s);
  simdjson::dom::element root;
  REQUIRE(parser.parse(json).get(root) == simdjson::SUCCESS);
  CHECK(number_at(root, "/startup/fresh_s") > 0);
  CHECK(number_at(root, "/startup/restart_s") > 0);
  CHECK(number_at(root, "/startup/restart_s") == Approx(*s.ready_restart_s));
  CHECK(number_at(root, "/startup/stop_durable_s") >= 0);
  CHECK(number_at(root, "/startup/stop_durable_s") <= number_at(root, "/startup/stop_s"));
  // 80,000 states cost tens of MiB at least: a figure of a few MiB would not be stockd's.
  CHECK(number_at(root, "/stockd_memory/rss_after_seed_bytes") > 32.0 * 1024 * 1024);
  CHECK(number_at(root, "/stockd_memory/rss_peak_bytes") >=
        number_at(root, "/stockd_memory/rss_after_seed_bytes"));
  CHECK(number_at(root, "/stockd_memory/rss_restart_bytes") > 0);
  CHECK(number_at(root, "/seeding/applied_s") >= number_at(root, "/seeding/journaled_s"));
  CHECK(number_at(root, "/seeding/lines_per_s") > 0);
  CHECK(number_at(root, "/storage/data_bytes") > 0);
  CHECK(number_at(root, "/events/lost") == 0);
  bool converged = false;
  CHECK(root.at_pointer("/convergence/converged").get_bool().get(converged) ==
        simdjson::SUCCESS);
  CHECK(converged);
  CHECK(text.find("start-up: fresh") != std::string::npos);
  CHECK(text.find("peak (VmHWM)") != std::string::npos);
}

TEST_CASE("large_catalog refuses options it cannot run and fails a summary with a lost event",
          "[simulator][large_catalog]") {
  large_catalog_options o;
  CHECK(validate(o).has_value());  // no stockd binary: it starts stockd itself
  o.stockd_binary = STOCKD_BINARY;
  CHECK_FALSE(validate(o).has_value());
  o.skus = 0;
  CHECK(validate(o).has_value());
  o.skus = 10;
  o.webhook_batch = 0;
  CHECK(validate(o).has_value());

  large_catalog_summary s;
  s.converged = true;
  CHECK(s.passed());
  s.lost = 1;
  CHECK_FALSE(s.passed());
  CHECK(large_catalog_text(s).find("FAILED") != std::string::npos);
  s.lost = 0;
  s.converged = false;
  CHECK_FALSE(s.passed());
}
