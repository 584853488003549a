// RFC 3339 parsing and formatting, including the edges adapters actually send.
#include <catch2/catch.hpp>

#include "engine/time.hpp"

using namespace stockd::engine;
using namespace std::chrono;

namespace {
timestamp utc(int y, unsigned mo, unsigned d, int h, int mi, int s, int ms = 0) {
  return timestamp{sys_days{year{y} / month{mo} / day{d}} + hours{h} + minutes{mi} + seconds{s} +
                   milliseconds{ms}};
}
} // namespace

TEST_CASE("parse_rfc3339 reads a UTC time with Z", "[engine]") {
  CHECK(parse_rfc3339("2026-11-27T10:15:00Z") == utc(2026, 11, 27, 10, 15, 0));
  CHECK(parse_rfc3339("2026-11-27t10:15:00z") == utc(2026, 11, 27, 10, 15, 0));
  CHECK(parse_rfc3339("2026-11-27 10:15:00Z") == utc(2026, 11, 27, 10, 15, 0));
}

TEST_CASE("parse_rfc3339 applies positive and negative offsets", "[engine]") {
  CHECK(parse_rfc3339("2026-11-27T10:15:00+01:00") == utc(2026, 11, 27, 9, 15, 0));
  CHECK(parse_rfc3339("2026-11-27T10:15:00-05:30") == utc(2026, 11, 27, 15, 45, 0));
  CHECK(parse_rfc3339("2026-11-27T10:15:00-00:00") == utc(2026, 11, 27, 10, 15, 0));
  // An offset can move the instant across a day and a year boundary.
  CHECK(parse_rfc3339("2027-01-01T00:30:00+01:00") == utc(2026, 12, 31, 23, 30, 0));
}

TEST_CASE("parse_rfc3339 keeps milliseconds and truncates finer fractions", "[engine]") {
  CHECK(parse_rfc3339("2026-11-27T10:15:00.250+01:00") == utc(2026, 11, 27, 9, 15, 0, 250));
  CHECK(parse_rfc3339("2026-11-27T10:15:00.5Z") == utc(2026, 11, 27, 10, 15, 0, 500));
  CHECK(parse_rfc3339("2026-11-27T10:15:00.123456789Z") == utc(2026, 11, 27, 10, 15, 0, 123));
}

TEST_CASE("parse_rfc3339 accepts Feb 29 only in leap years", "[engine]") {
  CHECK(parse_rfc3339("2028-02-29T00:00:00Z").has_value());
  CHECK_FALSE(parse_rfc3339("2026-02-29T00:00:00Z").has_value());
  CHECK_FALSE(parse_rfc3339("2100-02-29T00:00:00Z").has_value());
  CHECK(parse_rfc3339("2000-02-29T00:00:00Z").has_value());
}

TEST_CASE("parse_rfc3339 maps a leap second to the last millisecond before it", "[engine]") {
  CHECK(parse_rfc3339("2016-12-31T23:59:60Z") == utc(2016, 12, 31, 23, 59, 59, 999));
}

TEST_CASE("parse_rfc3339 refuses what is not RFC 3339", "[engine]") {
  for (const char* bad :
       {"", "2026-11-27", "2026-11-27T10:15:00", "2026-11-27T10:15Z", "2026-13-01T00:00:00Z",
        "2026-11-31T00:00:00Z", "2026-11-27T24:00:00Z", "2026-11-27T10:60:00Z",
        "2026-11-27T10:15:61Z", "2026-11-27T10:15:00.Z", "2026-11-27T10:15:00+0100",
        "2026-11-27T10:15:00+24:00", "2026-11-27T10:15:00Zjunk", "26-11-27T10:15:00Z",
        "2026/11/27T10:15:00Z", "2026-11-27T10:15:00 Z", "２026-11-27T10:15:00Z",
        "2026-11-27T10:15:00.00000000000000000000000000000000000000000000000000000001Z"}) {
    INFO(bad);
    CHECK_FALSE(parse_rfc3339(bad).has_value());
  }
}

// Found by fuzz_event_decoder's round trip (fuzz/corpus/event_decoder/offset_out_of_years.ndjson):
// an accepted occurred_at printed back as a different, clamped time.
TEST_CASE("parse_rfc3339 refuses an offset that carries the instant out of years 0000 to 9999",
          "[engine]") {
  CHECK_FALSE(parse_rfc3339("0000-01-01T00:00:00+01:00").has_value());
  CHECK_FALSE(parse_rfc3339("0000-01-01T00:59:59.999+01:00").has_value());
  CHECK_FALSE(parse_rfc3339("9999-12-31T23:30:00-00:30").has_value());
  CHECK(parse_rfc3339("0000-01-01T01:00:00+01:00") == utc(0, 1, 1, 0, 0, 0));
  CHECK(parse_rfc3339("0000-01-01T00:00:00-01:00") == utc(0, 1, 1, 1, 0, 0));
  CHECK(parse_rfc3339("9999-12-31T23:59:59.999Z") == utc(9999, 12, 31, 23, 59, 59, 999));
  CHECK(parse_rfc3339("9999-12-31T22:59:59.999-01:00") == utc(9999, 12, 31, 23, 59, 59, 999));
  CHECK(format_rfc3339(*parse_rfc3339("0000-01-01T00:00:00Z")) == "0000-01-01T00:00:00.000Z");
  CHECK(format_rfc3339(*parse_rfc3339("9999-12-31T23:59:59.999Z")) == "9999-12-31T23:59:59.999Z");
}

TEST_CASE("format_rfc3339 writes UTC with milliseconds and round-trips", "[engine]") {
  const timestamp t = utc(2026, 11, 27, 10, 15, 0, 250);
  CHECK(format_rfc3339(t) == "2026-11-27T10:15:00.250Z");
  CHECK(parse_rfc3339(format_rfc3339(t)) == t);
  CHECK(format_rfc3339(timestamp{}) == "1970-01-01T00:00:00.000Z");
  CHECK(format_rfc3339(utc(1969, 12, 31, 23, 59, 59, 1)) == "1969-12-31T23:59:59.001Z");
}

TEST_CASE("format_rfc3339 clamps times RFC 3339 cannot spell", "[engine]") {
  CHECK(format_rfc3339(timestamp{milliseconds{INT64_MAX}}) == "9999-12-31T23:59:59.999Z");
  CHECK(format_rfc3339(timestamp{milliseconds{INT64_MIN}}) == "0000-01-01T00:00:00.000Z");
}
