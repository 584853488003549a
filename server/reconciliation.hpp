#pragma once
// Reconciliation over HTTP (DESIGN §5, issue 7): the runs each channel's sweep stored
// (connectors/reconcile.hpp) and the variance reports of system-of-record snapshots
// (connectors/snapshot_variance.hpp, stored as runs of kind "snapshot"), and starting a
// channel's run now.
//   GET  /v1/reconciliation/runs[?channel=ID|location=ID&limit=N]  summaries, newest first per
//                                                      channel or location
//   GET  /v1/reconciliation/runs/{id}                  one run with its variances (id
//                                                      "<channel>.<seq>" or
//                                                      "snapshot:<location>.<seq>")
//   POST /v1/admin/reconcile/{channel}                 start a run now (202; 200 with
//                                                      "started": false when one is on)
#include <string>
#include <string_view>
#include <vector>

#include "server/api.hpp"

namespace stockd::server {

inline constexpr std::string_view reconciliation_runs_path = "/v1/reconciliation/runs";
inline constexpr std::string_view admin_reconcile_path = "/v1/admin/reconcile/";
/// Summaries one list answers at most.
inline constexpr std::uint64_t reconciliation_list_max = 1'000;

/// A channel's "reconciliation" member of /v1/status.
void write_reconcile_status(connectors::json_writer& w, const actors::channel_status& c);
/// The reconciliation families of /metrics, one series per channel.
std::string reconcile_metrics(const std::vector<actors::channel_status>& channels);

/// GET /v1/reconciliation/runs and /v1/reconciliation/runs/{id}; the caller checked the method
/// and the read scope.
void get_reconciliation(const api_dependencies& deps, std::string_view path, const request& req,
                        responder respond);
/// POST /v1/admin/reconcile/{channel}; the caller checked the method and the admin scope.
void post_reconcile(const api_dependencies& deps, std::string_view path, const request& req,
                    responder respond);

} // namespace stockd::server
