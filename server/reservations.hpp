#pragma once
// POST /v1/reservations, DELETE /v1/reservations/{id}, POST /v1/reservations/{id}/commit
// (DESIGN §5). Validates the request, hands it to the actor engine (actors/reservations.hpp says
// who decides and why) and answers from the actor's reply; the handler itself only sends.
#include "server/api.hpp"

namespace stockd::server {

/// Requests in flight past this are answered 503 with Retry-After.
inline constexpr std::int64_t reservations_in_flight_max = 10'000;
/// A reservation body is a handful of fields.
inline constexpr std::size_t reservation_body_bytes_max = 16 * 1024;

/// `path` starts with "/v1/reservations"; the caller has checked the ingest scope.
void handle_reservations(const api_dependencies& deps, std::string_view path, request&& req,
                         responder respond);

} // namespace stockd::server
