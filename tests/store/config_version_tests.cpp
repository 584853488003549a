#include <chrono>
#include <future>
#include <string>

#include <catch2/catch.hpp>

#include "store/writer.hpp"
#include "tests/store/store_fixture.hpp"

using namespace stockd;
using store::testing::open_db;
using store::testing::temp_dir;

namespace {

store::config_version_record version(std::uint64_t n, std::string identity) {
  store::config_version_record r;
  r.version = n;
  r.at_ms = 1'790'000'000'000 + static_cast<std::int64_t>(n);
  r.identity = std::move(identity);
  r.source = "/etc/stockd.toml";
  r.text = "[[locations]]\nid = \"main\"\n# version " + std::to_string(n) + "\n";
  r.diff_json = n == 1 ? "[]" : R"([{"kind":"changed","path":"x","before":"1","after":"2"}])";
  return r;
}

} // namespace

TEST_CASE("config versions are stored once each and listed newest first", "[store]") {
  temp_dir dir;
  {
    auto db = open_db(dir.path());
    for (std::uint64_t n = 1; n <= 5; ++n) {
      REQUIRE(db->put_config_version(version(n, n == 1 ? "startup" : "ops")).has_value());
    }
    // Never rewritten: the same or an older version is refused.
    auto again = db->put_config_version(version(3, "intruder"));
    REQUIRE_FALSE(again.has_value());
    CHECK(again.error().code == store::errc::invalid);
  }
  auto db = open_db(dir.path());  // and they survive a reopen
  auto all = db->read_config_versions(0, 100);
  REQUIRE(all.has_value());
  REQUIRE(all->size() == 5);
  CHECK(all->front().version == 5);
  CHECK(all->back().version == 1);
  CHECK(all->back().identity == "startup");
  CHECK((*all)[2].identity == "ops");
  CHECK((*all)[2].text == version(3, "").text);
  CHECK((*all)[2].at_ms == version(3, "").at_ms);
  CHECK((*all)[2].diff_json == version(3, "").diff_json);
  auto page = db->read_config_versions(4, 2);  // below 4: 3 and 2
  REQUIRE(page.has_value());
  REQUIRE(page->size() == 2);
  CHECK((*page)[0].version == 3);
  CHECK((*page)[1].version == 2);
  auto past = db->read_config_versions(100, 1);
  REQUIRE(past.has_value());
  REQUIRE(past->size() == 1);
  CHECK(past->front().version == 5);
  auto none = db->read_config_versions(1, 10);
  REQUIRE(none.has_value());
  CHECK(none->empty());
}

TEST_CASE("store::writer commits a config version on its own and reports it", "[store]") {
  temp_dir dir;
  auto db = open_db(dir.path());
  store::writer writer(*db, store::writer_options{});
  std::promise<bool> first;
  REQUIRE(writer.submit_config_version(version(1, "startup"), [&first](const store::error* e) {
    first.set_value(e == nullptr);
  }));
  auto f = first.get_future();
  REQUIRE(f.wait_for(std::chrono::seconds(30)) == std::future_status::ready);
  CHECK(f.get());
  std::promise<std::string> stale;
  REQUIRE(writer.submit_config_version(version(1, "again"), [&stale](const store::error* e) {
    stale.set_value(e == nullptr ? std::string() : e->message);
  }));
  auto s = stale.get_future();
  REQUIRE(s.wait_for(std::chrono::seconds(30)) == std::future_status::ready);
  CHECK_THAT(s.get(), Catch::Contains("not after"));
  writer.stop();
  CHECK_FALSE(writer.submit_config_version(version(2, "late"), [](const store::error*) {}));
  auto all = db->read_config_versions(0, 10);
  REQUIRE(all.has_value());
  REQUIRE(all->size() == 1);
  CHECK(all->front().identity == "startup");
}
