#pragma once
// Reservations through the actor engine (DESIGN §5 POST/DELETE /v1/reservations): the messages
// between the HTTP layer, the directory shard and the sku_location actor, and the reservation id.
//
// Why the sku_location actor decides: it is the one owner of its SKU × location state, so
// "reserve if available" is a check and a hold in one message, with nothing in between (atomic per
// SKU × location without a lock). The hold stays "pending" until the reservation_created event it
// journals comes back through normal dispatch and is applied; only then is it part of the engine's
// `reserved` bucket. Pending holds count against availability, so two requests for the last unit
// cannot both pass the check. The HTTP answer is sent after the commit (durable) and after the
// apply (a GET right after the 201 sees the reservation). A kit SKU reserves every component or
// none: actors/kit_reservation.hpp.
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <caf/allowed_unsafe_message_type.hpp>

#include "engine/catalog.hpp"
#include "engine/event.hpp"
#include "engine/ids.hpp"
#include "engine/time.hpp"

namespace stockd::actors {

/// The source of every event the engine originates itself (reservations, expiries). Its event
/// ids ("reservation:<key>", "release:<id>", "commit:<id>", "expire:<id>"; for kits
/// "kit-reservation:<digest>#<component>" and "kit-undo:<id>") are deduplicated by the journal
/// like any source's, which makes retries and re-submits after a restart harmless.
inline constexpr std::string_view engine_source = "stockd";

/// Named limits (STYLE: a limit on everything).
struct reservation_limits {
  static constexpr std::size_t key_bytes_max = 128;
  static constexpr std::int64_t expires_in_s_max = 30LL * 24 * 3600;  // 30 days
  static constexpr std::size_t id_bytes_max = 320;  // keeps "expire:<id>" within LMDB's key limit
  static constexpr std::size_t pending_per_actor_max = 256;  // holds and ends awaiting commit
  static constexpr std::size_t waiters_per_key_max = 16;     // same-key requests while pending
  static constexpr std::size_t expire_batch_max = 64;        // expiries journaled per tick
  /// How far back the SKU's ledger is searched to tell how an ended reservation ended.
  static constexpr std::size_t ledger_lookup_max = 2000;
  /// Components one kit reservation may hold: one prepare, one journal entry and one reply each.
  static constexpr std::size_t kit_components_max = 64;
  /// A component's creation event id ("kit-reservation:<digest>#<component>"): LMDB keys are at
  /// most 511 bytes and the dedup key adds the source and a separator.
  static constexpr std::size_t event_id_bytes_max = 480;
};

/// POST /v1/reservations, validated by the HTTP layer.
struct reserve_request {
  std::string key;         // the client's idempotency key
  std::string key_digest;  // hex digest of the key (32 chars): the id's last part
  engine::sku_id sku;
  std::optional<engine::location_id> location;  // none: the first location that can cover qty
  /// Without `location`, the locations to try, in order: the channel's priority order. Empty:
  /// every configured location in config order.
  std::vector<engine::location_id> candidates;
  std::int64_t qty = 0;
  std::optional<std::chrono::seconds> expires_in;
};

enum class end_kind : std::uint8_t { release, commit };

/// DELETE /v1/reservations/{id} and POST /v1/reservations/{id}/commit.
struct end_request {
  std::string id;
  engine::sku_location_key key;  // parsed from the id
  end_kind kind = end_kind::release;
  std::string order_id;  // commit only
  std::string line_id;   // commit only, optional
};

enum class reservation_status : std::uint8_t {
  created,       // 201: a new hold, or the same key again (replayed = true)
  released,      // 200
  committed,     // 200
  insufficient,  // 409 with `available`
  ended,         // 409: already released / expired / committed otherwise (`detail` says which)
  refused,       // 409: the engine refuses this end of a held reservation (`detail`: its reason,
                 // e.g. the order line exists, for a kit: any component's); the hold stays active
  key_conflict,  // 422: the key was used for a different reservation
  not_found,     // 404
  limit,         // 409: too many reservations at this SKU × location
  overloaded,    // 503
  failed,        // 500 / 503: journal failure or timeout (`detail`)
};

/// One component of a kit reservation, as answered.
struct reservation_component {
  std::string id;  // the component's own reservation id (make_reservation_id)
  engine::sku_id sku;
  std::int64_t qty = 0;  // kits × the component's quantity per kit
};

struct reservation_reply {
  reservation_status status = reservation_status::failed;
  bool replayed = false;
  std::string id;
  engine::sku_id sku;
  engine::location_id location;
  std::int64_t qty = 0;
  std::optional<engine::timestamp> expires_at;
  std::string order_id;         // committed
  std::int64_t available = 0;   // insufficient
  std::string detail;
  std::vector<reservation_component> components;  // a kit reservation: one per component
};
using reservation_callback = std::function<void(reservation_reply)>;

/// A reply that carries only a status and why (no reservation to describe).
reservation_reply error_reply(reservation_status status, std::string detail);

/// The locations a reservation may be placed at, in the order to try them: the named one, else
/// the request's candidates (the channel's priority order), else every configured location in
/// config order. The one rule for plain and kit reservations alike.
std::vector<engine::location_id> reservation_candidates(const reserve_request& req,
                                                        const engine::catalog& catalog);

/// What the journal said about an event the engine submitted; sent to the shard that owns the
/// SKU after the entry, when fresh, was dispatched (so the actor applies it first).
struct journal_result {
  engine::sku_location_key key;
  std::string event_id;
  std::uint64_t seq = 0;
  bool duplicate = false;
  std::optional<std::string> failure;
};

/// DELETE /v1/reservations/{kit id} and POST /v1/reservations/{kit id}/commit
/// (actors/kit_reservation.hpp).
struct kit_end_request {
  std::string id;  // "k.<kit>.<location>.<digest>"
  engine::sku_id kit;
  engine::location_id location;
  std::string key_digest;
  end_kind kind = end_kind::release;
  std::string order_id;  // commit only
  std::string line_id;   // commit only, optional: the kit's line; components get "<line>/<sku>"
};

/// Phase 1 of a kit operation at one component (actors/kit_reservation.hpp): the sku_location
/// actor checks what on_reserve / on_end would check and keeps a pending op (for a creation, a
/// hold that counts against availability), but journals nothing; the coordinator journals every
/// component's entry in one submission.
struct prepare_request {
  engine::sku_location_key key;
  engine::event_type type = engine::event_type::reservation_created;  // or released, committed
  std::string event_id;
  std::string reservation_id;
  std::int64_t qty = 0;                         // created
  std::optional<engine::timestamp> expires_at;  // created: the same for every component
  std::string order_id;                         // committed
  std::string line_id;                          // committed
  /// The pending op lapses after this unless its submission was announced (kit_await) first:
  /// a prepared hold never outlives its coordinator.
  std::chrono::milliseconds hold_for{0};
};

enum class prepare_status : std::uint8_t {
  prepared,   // pending: journal `entry`, then await or abort it by `serial`
  held,       // created: already held under this id (the same key again); `reply` is it
  elsewhere,  // created: this key's entry was journaled at another location, `reply.location`
  ended,      // created: journaled here before and no longer held; `reply.detail` says how
  refused,    // created: journaled here before and never held (refused at apply, or undone)
  answer,     // `reply` is this component's final answer (insufficient, limit, busy, or how
              // an end ended)
};

struct prepare_reply {
  prepare_status status = prepare_status::answer;
  reservation_reply reply;
  engine::journal_entry entry;  // prepared
  std::uint64_t serial = 0;     // prepared
  std::int64_t free = 0;        // what a new hold could take here, before this one
};

/// Names one prepared op, for kit_abort and the op's own lapse timer.
struct prepared_ref {
  engine::sku_location_key key;
  std::string event_id;
  std::uint64_t serial = 0;
};

/// The prefix of the engine's own release of a kit component that undoes a kit reservation the
/// engine could not complete ("kit-undo:<component id>"). Its reservation reads as never made.
inline constexpr std::string_view kit_undo_prefix = "kit-undo:";

/// "r.<sku>.<location>.<key digest>", each part escaped so the id is URL-safe and the SKU and
/// location can be read back: bytes outside [A-Za-z0-9_-] become "~XX" (hex). Deterministic, so
/// the same key at the same SKU × location always names the same reservation. Empty when the id
/// would exceed id_bytes_max.
std::string make_reservation_id(const engine::sku_location_key& key, std::string_view key_digest);
/// The SKU × location an id names; nullopt when it is not one of ours.
std::optional<engine::sku_location_key> parse_reservation_id(std::string_view id);

/// "k.<kit>.<location>.<key digest>", escaped like reservation ids. Every component's id follows
/// from it with the catalog: make_reservation_id({component, location}, key digest). Empty when
/// it would exceed id_bytes_max.
std::string make_kit_reservation_id(const engine::sku_id& kit, const engine::location_id& location,
                                    std::string_view key_digest);
struct kit_reservation_ref {
  engine::sku_id kit;
  engine::location_id location;
  std::string key_digest;
};
/// What a kit reservation id names; nullopt when it is not one.
std::optional<kit_reservation_ref> parse_kit_reservation_id(std::string_view id);
/// The creation event id of one component: "kit-reservation:<key digest>#<component>". Not the
/// plain scheme "reservation:<key>": a plain key may itself contain '#', and the digest of a kit
/// key covers the kit, so two kits under the same key never share an event.
std::string kit_component_event_id(std::string_view key_digest, const engine::sku_id& component);

} // namespace stockd::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stockd::actors::reserve_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stockd::actors::end_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stockd::actors::reservation_reply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stockd::actors::reservation_callback)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stockd::actors::journal_result)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stockd::actors::prepare_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stockd::actors::prepare_reply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stockd::actors::prepared_ref)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stockd::actors::kit_end_request)
