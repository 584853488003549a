#pragma once
// `stockctl status`, `sku SKU` and `out-of-sync` for people: the server's JSON (GET /v1/status,
// GET /v1/skus/{sku}, GET /v1/sync/out-of-sync) read with simdjson and printed as aligned
// tables. With --json stockctl prints the answer as it came instead. A field the answer lacks
// prints as "-"; an answer that is not a JSON object is returned after a one-line note.
#include <cstdint>
#include <string>
#include <string_view>

namespace stockctl {

/// A header block (readiness, uptime, journal, ingest counters) and one row per channel.
std::string format_status(std::string_view json_body);

/// The buckets per location (or a kit's components), then each channel's expected value, last
/// pushed value, in sync and reason.
std::string format_sku(std::string_view json_body);

/// One row per SKU x channel out of sync, oldest first as the server sorts them.
std::string format_out_of_sync(std::string_view json_body);

/// A duration for people: "<1s", "42s", "3m12s", "2h05m", "3d04h".
std::string human_duration_ms(std::int64_t ms);

} // namespace stockctl
