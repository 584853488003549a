#pragma once
// Shared by the store tests: a fresh temporary directory per test, and event builders.
#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>

#include <catch2/catch.hpp>

#include "engine/event.hpp"
#include "store/database.hpp"

namespace stockd::store::testing {

class temp_dir {
public:
  temp_dir() {
    std::string pattern = "/tmp/stockd-store-XXXXXX";
    char* made = ::mkdtemp(pattern.data());
    REQUIRE(made != nullptr);
    path_ = made;
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  const std::filesystem::path& path() const noexcept { return path_; }

private:
  std::filesystem::path path_;
};

// A string literal converts to both std::string and std::string_view, so strong IDs need help.
inline engine::sku_id sku(std::string value) {
  return engine::sku_id{std::move(value)};
}
inline engine::location_id location(std::string value) {
  return engine::location_id{std::move(value)};
}

inline engine::journal_entry make_entry(std::string source, std::string id, std::string sku,
                                        std::string location = "wh1", std::int64_t delta = 1) {
  engine::journal_entry entry;
  entry.received_at = engine::timestamp{std::chrono::milliseconds{1'790'000'000'000}};
  entry.ev.source = engine::source_id{std::move(source)};
  entry.ev.id = std::move(id);
  entry.ev.type = engine::event_type::adjusted;
  entry.ev.sku = engine::sku_id{std::move(sku)};
  entry.ev.location = engine::location_id{std::move(location)};
  entry.ev.delta = delta;
  entry.ev.reason = "cycle count";
  entry.ev.occurred_at = entry.received_at - std::chrono::seconds{3};
  return entry;
}

inline std::unique_ptr<database> open_db(const std::filesystem::path& dir,
                                         std::size_t map_size_bytes = std::size_t{1} << 24,
                                         std::size_t map_size_max = std::size_t{1} << 30) {
  options opts;
  opts.dir = dir;
  opts.map_size_bytes = map_size_bytes;
  opts.map_size_max = map_size_max;
  auto db = database::open(opts);
  if (!db) {
    FAIL("open failed: " << db.error().message);
  }
  return std::move(*db);
}

} // namespace stockd::store::testing
