#pragma once
// GET /v1/trace/{source}/{id} (issue 7, read scope): one event's whole path. The journal says
// when it was accepted and its seq (the dedup index: source:id → seq); its SKU × location actor
// says whether it has applied it; each channel that sells from the location says which of its
// pushes carried the event's effect (the first whose pushed value reflected a seq at or past the
// event's), under which idempotency key, and what the channel answered, with its request id.
// The channels remember a bounded number of recent pushes (actors/push_trace.hpp): an old event's
// pushes may be gone, which the answer says ("status": "unknown_truncated").
#include <string_view>

#include "server/api.hpp"

namespace stockd::server {

/// `path` starts with "/v1/trace/"; the caller has checked the read scope and the GET method.
void handle_trace(const api_dependencies& deps, std::string_view path, const request& req,
                  responder respond);

} // namespace stockd::server
