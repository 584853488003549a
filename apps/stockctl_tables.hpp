#pragma once
// stockctl's HTTP commands for people: the server's JSON read with simdjson and printed as
// aligned tables (status, sku, events, out-of-sync, dead-letters, reconcile show) or one line
// saying what was queued or started (repush, reconcile run). With --json stockctl prints the
// answer as it came instead. A field the answer lacks prints as "-"; an answer that is not a
// JSON object is returned after a one-line note.
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

/// GET /v1/skus/{sku}/events: one row per ledger entry, newest first, with its quantity ("+3"
/// for an adjustment's delta, "=5" for a count), then the --before that pages on.
std::string format_events(std::string_view json_body);

/// GET /v1/sync/dead-letters: one row per item a channel refused, oldest first as the server
/// sorts them, with the channel's reason.
std::string format_dead_letters(std::string_view json_body);

/// GET /v1/reconciliation/runs: one row per run, channel runs and snapshot reports alike.
std::string format_runs(std::string_view json_body);

/// GET /v1/reconciliation/runs/{id}: the run's summary, then one row per variance listed.
std::string format_run(std::string_view json_body);

/// POST /v1/admin/channels/{id}/repush: one line, how many SKUs were queued on which lane.
std::string format_repush(std::string_view json_body);

/// POST /v1/admin/reconcile/{channel}: one line, the run started (or the one already on).
std::string format_reconcile_started(std::string_view json_body);

/// A duration for people: "<1s", "42s", "3m12s", "2h05m", "3d04h".
std::string human_duration_ms(std::int64_t ms);

} // namespace stockctl
