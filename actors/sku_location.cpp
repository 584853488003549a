#include "actors/sku_location.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include <caf/send.hpp>

#include "engine/apply.hpp"
#include "engine/codec.hpp"
#include "engine/kits.hpp"

namespace stockd::actors {
namespace {

// A checkpoint that cannot be read means the engine no longer knows the stock: refuse to run
// rather than serve invented quantities. The operator restores the data dir or replays.
[[noreturn]] void die_on_checkpoint(const engine::sku_location_key& key, const char* what) {
  std::fprintf(stderr, "stockd: fatal: checkpoint of %s@%s %s\n", key.sku.str().c_str(),
               key.location.str().c_str(), what);
  std::abort();
}

engine::sku_location_state load(const engine::sku_location_key& key, const context& ctx) {
  engine::sku_location_state state;
  state.key = key;
  if (ctx.db == nullptr) {
    return state;
  }
  auto bytes = ctx.db->read_checkpoint(key);
  if (!bytes) {
    die_on_checkpoint(key, "could not be read");
  }
  if (!bytes->has_value()) {
    return state;
  }
  auto decoded = engine::decode_state(**bytes);
  if (!decoded || !(decoded->key == key)) {
    die_on_checkpoint(key, "is corrupt");
  }
  return std::move(*decoded);
}

// ---- forgotten closed lines ---------------------------------------------------------------
//
// A state keeps only its closed_lines_max newest closed lines; the engine reports each one it
// pushes out (outcome::forgotten_lines, recall_closed_line) and this actor indexes it: first in
// `forgotten` (in memory), then, with the next stored checkpoint of the state, in the store's
// closed_lines index, in the SAME transaction as the state bytes that no longer hold it. Before
// an event whose line the state does not hold, the actor looks the line up (`forgotten`, newest
// first, then the store) and recalls it into the state, so the engine sees every line ever
// closed here.
//
// Crash recovery. The index only ever holds lines pushed out by events at or before the stored
// checkpoint's last_seq (written with it), each with its returnable quantity at its last push.
// Recovery loads that checkpoint and replays the journal after it through this same code: every
// push-out after the checkpoint happens again, in the same order, into `forgotten`, which is
// looked up before the store, so a lookup during replay finds what it found live. A line the
// state holds is never looked up (its own record is newer than the index); a line pushed out
// again overwrites its index entry with its current quantity. A skipped event (seq <= last_seq)
// recalls nothing (engine::line_to_recall), so replay never changes a state it does not apply.

/// The forgotten record of the line `entry` names, when the state does not hold it: from
/// `forgotten`, else from the store. A store that cannot be read is fatal, as for a checkpoint:
/// going on without the line would park or accept what a replay of the journal rejects.
std::optional<engine::closed_line> forgotten_line(const sku_location_holder& h,
                                                  const engine::sku_location_state& state,
                                                  const engine::journal_entry& entry) {
  const auto hash = engine::line_to_recall(state, entry);
  if (!hash) {
    return std::nullopt;
  }
  for (auto it = h.forgotten.rbegin(); it != h.forgotten.rend(); ++it) {
    if (it->line_hash == *hash) {
      return *it;
    }
  }
  if (h.ctx->db == nullptr) {
    return std::nullopt;
  }
  auto stored = h.ctx->db->find_closed_line(state.key, *hash);
  if (!stored) {
    std::fprintf(stderr, "stockd: fatal: closed line index of %s@%s could not be read: %s\n",
                 state.key.sku.str().c_str(), state.key.location.str().c_str(),
                 stored.error().message.c_str());
    std::abort();
  }
  if (!stored->has_value()) {
    return std::nullopt;
  }
  return engine::closed_line{*hash, **stored};
}

void keep_forgotten(sku_location_holder& h, const std::vector<engine::closed_line>& lines) {
  h.forgotten.insert(h.forgotten.end(), lines.begin(), lines.end());
}

/// Puts the line `entry` names back into the state when it was forgotten (before apply).
void recall_for(sku_location_holder& h, const engine::journal_entry& entry) {
  if (auto line = forgotten_line(h, h.state, entry)) {
    keep_forgotten(h, engine::recall_closed_line(h.state, *line));
    h.ctx->counters->closed_lines_recalled.fetch_add(1, std::memory_order_relaxed);
  }
}

/// `h.state` as apply() would see `entry` next (its seq past the state's): a copy, with the line
/// `entry` names recalled when the state forgot it. For checks made before journaling.
engine::sku_location_state trial_for(const sku_location_holder& h,
                                     const engine::journal_entry& entry) {
  engine::sku_location_state trial = h.state;
  if (auto line = forgotten_line(h, trial, entry)) {
    engine::recall_closed_line(trial, *line);
  }
  return trial;
}

/// A checkpoint carrying the lines pushed out up to count `through` is stored: drop them.
void on_lines_stored(sku_location_holder& h, std::uint64_t through) {
  if (through <= h.forgotten_dropped) {
    return;
  }
  const auto n = std::min<std::uint64_t>(through - h.forgotten_dropped, h.forgotten.size());
  h.forgotten.erase(h.forgotten.begin(), h.forgotten.begin() + static_cast<std::ptrdiff_t>(n));
  h.forgotten_dropped += n;
}

void count(metrics& m, const engine::outcome& out, const engine::event& ev) {
  switch (out.kind) {
    case engine::outcome_kind::applied: m.apply_applied.fetch_add(1, std::memory_order_relaxed); break;
    case engine::outcome_kind::rejected: m.apply_rejected.fetch_add(1, std::memory_order_relaxed); break;
    case engine::outcome_kind::parked: m.apply_parked.fetch_add(1, std::memory_order_relaxed); break;
    case engine::outcome_kind::stale: m.apply_stale.fetch_add(1, std::memory_order_relaxed); break;
    case engine::outcome_kind::skipped: m.apply_skipped.fetch_add(1, std::memory_order_relaxed); break;
  }
  if (out.oversold_units > 0) {
    m.oversold_units.fetch_add(static_cast<std::uint64_t>(out.oversold_units),
                               std::memory_order_relaxed);
    if (ev.type == engine::event_type::order_created && !ev.channel.empty()) {
      m.oversold_by_channel.add(ev.channel.str(), static_cast<std::uint64_t>(out.oversold_units));
    }
  }
}

using self_pointer = sku_location_actor::stateful_pointer<sku_location_holder>;

/// Tells the channels that sell from this location what they may show changed, or that one of
/// their orders was applied (their shadow drops: DESIGN §3). Nothing when no channel sells here.
void tell_channels(const sku_location_holder& h, const engine::buckets& before,
                   const engine::journal_entry& entry, const engine::outcome& out) {
  const engine::event& ev = entry.ev;
  const channel_routes* subscribers = h.ctx->channels_by_location.load(std::memory_order_acquire);
  if (subscribers == nullptr || subscribers->empty()) {
    return;
  }
  auto it = subscribers->find(h.state.key.location.str());
  if (it == subscribers->end()) {
    return;
  }
  const auto& now = h.state.qty;
  const bool own_order = ev.type == engine::event_type::order_created &&
                         out.kind == engine::outcome_kind::applied && !ev.channel.empty();
  if (!own_order && now.available == before.available && now.incoming == before.incoming) {
    return;
  }
  stock_update u;
  u.key = h.state.key;
  u.available = now.available;
  u.incoming = now.incoming;
  u.seq = entry.seq;
  if (own_order) {
    u.order_channel = ev.channel;
    u.order_qty = ev.qty;
    u.order_occurred_at = ev.occurred_at;
    u.kit_component = engine::is_kit_component_event(ev);
  }
  u.accepted_at = entry.received_at;
  for (const auto& channel : it->second) {
    caf::anon_send(channel, stock_atom::value, u);
  }
}
using pending_op = sku_location_holder::pending_op;
using limits = reservation_limits;
using engine::event_type;

const engine::reservation* find_reservation(const engine::sku_location_state& s,
                                            std::string_view id) {
  for (const auto& r : s.reservations) {
    if (r.id == id) {
      return &r;
    }
  }
  return nullptr;
}

reservation_reply make_reply(reservation_status status, const engine::sku_location_key& key,
                             std::string id, std::int64_t qty,
                             std::optional<engine::timestamp> expires_at) {
  reservation_reply r;
  r.status = status;
  r.id = std::move(id);
  r.sku = key.sku;
  r.location = key.location;
  r.qty = qty;
  r.expires_at = expires_at;
  return r;
}

/// What stock a new hold may take: the engine's available minus holds still in flight.
std::int64_t free_to_reserve(const sku_location_holder& h) { return h.state.qty.available - h.held; }

/// The `limit` answer when a new hold would pass reservations_max here, counting the holds still
/// in flight; nullopt when there is room.
std::optional<reservation_reply> at_reservation_limit(const sku_location_holder& h) {
  std::size_t holds = 0;
  for (const auto& [_, op] : h.pending) {
    holds += op.hold > 0 ? 1 : 0;
  }
  if (h.state.reservations.size() + holds < engine::state_limits::reservations_max) {
    return std::nullopt;
  }
  return error_reply(reservation_status::limit,
                     "at most " + std::to_string(engine::state_limits::reservations_max) +
                         " reservations per SKU and location");
}

engine::journal_entry engine_event(const sku_location_holder& h, event_type type,
                                   std::string event_id, std::string reservation_id) {
  engine::journal_entry e;
  e.received_at = h.ctx->clock();
  e.ev.source = engine::source_id(engine_source);
  e.ev.id = std::move(event_id);
  e.ev.type = type;
  e.ev.sku = h.state.key.sku;
  e.ev.location = h.state.key.location;
  e.ev.occurred_at = e.received_at;
  e.ev.reservation_id = std::move(reservation_id);
  return e;
}

/// A reservation's story in the SKU's durable ledger (so it survives restarts): its creation
/// and the first end after it — only one end can apply to a hold, and it is the first one
/// journaled while the hold was there. Bounded by ledger_lookup_max entries of the SKU's
/// history; older reservations read as unknown (no creation).
struct ledger_story {
  std::optional<engine::journal_entry> created;
  std::optional<engine::journal_entry> ended;  // only when after `created`
};

store::result<ledger_story> read_story(const sku_location_holder& h,
                                       const engine::location_id& location,
                                       const std::string& id) {
  ledger_story story;
  if (h.ctx->db == nullptr) {
    return story;
  }
  auto ledger = h.ctx->db->sku_ledger(h.state.key.sku, 0, limits::ledger_lookup_max);
  if (!ledger) {
    return stockd::unexpected{ledger.error()};
  }
  const engine::journal_entry* created = nullptr;
  const engine::journal_entry* ended = nullptr;
  for (const auto& e : *ledger) {  // newest first: the last match is the oldest
    if (e.ev.location != location || e.ev.reservation_id != id) {
      continue;
    }
    if (e.ev.type == event_type::reservation_created) {
      created = &e;
    } else if (e.ev.type == event_type::reservation_released ||
               e.ev.type == event_type::reservation_expired ||
               e.ev.type == event_type::reservation_committed) {
      ended = &e;
    }
  }
  if (created != nullptr) {
    story.created = *created;
    if (ended != nullptr && ended->seq > created->seq) {
      story.ended = *ended;
    }
  }
  return story;
}

bool undone(const engine::journal_entry& end) { return end.ev.id.starts_with(kit_undo_prefix); }

const char* how_ended(event_type type) {
  return type == event_type::reservation_released  ? "released"
         : type == event_type::reservation_expired ? "expired"
                                                   : "committed";
}

/// How a reservation that is no longer held ended. A kit component the engine undid (its kit
/// could not be completed) reads as never made: 404.
reservation_reply lookup_ended(const sku_location_holder& h, const std::string& id, end_kind kind,
                               const std::string& order_id) {
  const auto& key = h.state.key;
  if (h.ctx->db == nullptr) {
    return error_reply(reservation_status::not_found, "unknown reservation");
  }
  auto story = read_story(h, key.location, id);
  if (!story) {
    return error_reply(reservation_status::failed, "ledger: " + story.error().message);
  }
  if (!story->created || !story->ended || undone(*story->ended)) {
    return error_reply(reservation_status::not_found, "unknown reservation");
  }
  const engine::journal_entry& created = *story->created;
  const engine::journal_entry& ended = *story->ended;
  reservation_reply r = make_reply(reservation_status::ended, key, id, created.ev.qty,
                                   created.ev.expires_at);
  const event_type how = ended.ev.type;
  r.order_id = how == event_type::reservation_committed ? ended.ev.order_id : std::string{};
  if (kind == end_kind::release && how == event_type::reservation_released) {
    r.status = reservation_status::released;  // a retried DELETE
  } else if (kind == end_kind::commit && how == event_type::reservation_committed &&
             ended.ev.order_id == order_id) {
    r.status = reservation_status::committed;  // a retried commit
  } else {
    r.detail = how_ended(how);
  }
  return r;
}

/// The journal id of a hold's expiry: "expire:<reservation id>#<16 hex>", the hex naming this
/// hold (SKU, location, expires_at). A sender's reservation id may be used at several SKUs (a
/// cart) or again after its hold ended; without the suffix the second hold's expiry would be a
/// journal duplicate of the first's and never apply. Deterministic, so a re-submit after a
/// restart is still a duplicate.
std::string expiry_event_id(const engine::sku_location_key& key, const engine::reservation& r) {
  std::string material = key.sku.str();
  material += '\0';
  material += key.location.str();
  material += '\0';
  material += r.expires_at ? std::to_string(r.expires_at->time_since_epoch().count()) : "-";
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx",
                static_cast<unsigned long long>(engine::line_hash(material, r.id)));
  return "expire:" + r.id + "#" + hex;
}

/// The event-id prefixes of the ends of a reservation other than its expiry: "<prefix><id>".
constexpr std::string_view end_prefixes[] = {"release:", "commit:", kit_undo_prefix};

/// Whether an end of reservation `id` is pending here (a release, commit or expiry in flight,
/// or one a kit coordinator prepared): its expiry waits, and other ends are told to retry.
/// `held`: the reservation `id` in the state, or nullptr when it is not held (no expiry then).
bool ending(const sku_location_holder& h, const std::string& id,
            const engine::reservation* held) {
  if (held != nullptr && h.pending.contains(expiry_event_id(h.state.key, *held))) {
    return true;
  }
  for (std::string_view prefix : end_prefixes) {
    std::string event_id(prefix);
    event_id += id;
    if (h.pending.contains(event_id)) {
      return true;
    }
  }
  return false;
}

/// Whether a kit coordinator's end of `id` is pending under another event id than `event_id`.
bool kit_ending(const sku_location_holder& h, const std::string& id, const std::string& event_id) {
  for (std::string_view prefix : end_prefixes) {
    std::string other(prefix);
    other += id;
    if (other == event_id) {
      continue;
    }
    auto it = h.pending.find(other);
    if (it != h.pending.end() && it->second.kit) {
      return true;
    }
  }
  return false;
}

/// Answers every waiter of a finished op.
void answer(pending_op& op, const reservation_reply& reply) {
  for (auto& waiter : op.waiters) {
    waiter.deliver(reply);
  }
  op.waiters.clear();
}

void schedule_expiry(self_pointer self);

void retry_expiry_later(self_pointer self) {
  auto& h = self->state;
  constexpr std::chrono::seconds retry{1};
  const auto at = h.ctx->clock() + retry;
  if (!h.expiry_timer_at || at < *h.expiry_timer_at) {
    h.expiry_timer_at = at;
    self->delayed_send(self, retry, expire_atom::value);
  }
}


/// Keeps one timer for the earliest expiry not yet being journaled. Earlier timers are cheap to
/// leave running: a timer that finds nothing expired does nothing but re-arm.
void schedule_expiry(self_pointer self) {
  auto& h = self->state;
  std::optional<engine::timestamp> earliest;
  for (const auto& r : h.state.reservations) {
    if (r.expires_at && (!earliest || *r.expires_at < *earliest) && !ending(h, r.id, &r)) {
      earliest = r.expires_at;
    }
  }
  if (!earliest || (h.expiry_timer_at && *h.expiry_timer_at <= *earliest)) {
    return;
  }
  h.expiry_timer_at = earliest;
  // Capped so a clock step (NTP) is noticed within the hour rather than at a stale deadline.
  const auto delay = std::clamp<std::chrono::milliseconds>(*earliest - h.ctx->clock(),
                                                           std::chrono::milliseconds{0},
                                                           std::chrono::hours{1});
  self->delayed_send(self, delay, expire_atom::value);
}

/// Journals reservation_expired for what has expired by the engine's clock, a bounded batch per
/// tick. The event id (expiry_event_id) makes a re-submit after a restart a journal duplicate.
void on_expire(self_pointer self) {
  auto& h = self->state;
  h.expiry_timer_at.reset();
  const context& ctx = *h.ctx;
  if (!ctx.submit || !ctx.counters->ready.load(std::memory_order_relaxed)) {
    retry_expiry_later(self);  // recovering: the journal is not ours to write yet
    return;
  }
  const auto ids = engine::expired_reservations(h.state, ctx.clock());
  std::size_t submitted = 0;
  for (const auto& id : ids) {
    const engine::reservation* held = find_reservation(h.state, id);
    if (held == nullptr || ending(h, id, held)) {
      continue;  // in flight already, or a release or commit will end it first
    }
    if (submitted == limits::expire_batch_max ||
        h.pending.size() >= limits::pending_per_actor_max) {
      break;
    }
    std::string event_id = expiry_event_id(h.state.key, *held);
    auto entry = engine_event(h, event_type::reservation_expired, event_id, id);
    entry.ev.qty = held->qty;
    if (!ctx.submit(std::move(entry))) {
      retry_expiry_later(self);
      return;
    }
    pending_op op;
    op.type = event_type::reservation_expired;
    op.reservation_id = id;
    h.pending.emplace(std::move(event_id), std::move(op));
    ++submitted;
  }
  schedule_expiry(self);
}

caf::typed_response_promise<reservation_reply> on_reserve(self_pointer self,
                                                          const reserve_request& req) {
  auto promise = self->make_response_promise<reservation_reply>();
  auto& h = self->state;
  const context& ctx = *h.ctx;
  const auto& key = h.state.key;
  std::string id = make_reservation_id(key, req.key_digest);
  if (id.empty()) {
    promise.deliver(error_reply(reservation_status::failed, "reservation id too long"));
    return promise;
  }
  if (const auto* r = find_reservation(h.state, id)) {
    if (r->qty != req.qty) {
      promise.deliver(error_reply(reservation_status::key_conflict,
                                  "key already used for a different reservation"));
      return promise;
    }
    auto reply = make_reply(reservation_status::created, key, id, r->qty, r->expires_at);
    reply.replayed = true;
    promise.deliver(std::move(reply));
    return promise;
  }
  std::string event_id = "reservation:" + req.key;
  if (auto it = h.pending.find(event_id); it != h.pending.end()) {
    if (it->second.waiters.size() >= limits::waiters_per_key_max) {
      promise.deliver(error_reply(reservation_status::overloaded, "too many retries in flight"));
    } else {
      it->second.waiters.push_back(promise);
    }
    return promise;
  }
  if (!ctx.submit || !ctx.counters->ready.load(std::memory_order_relaxed) ||
      h.pending.size() >= limits::pending_per_actor_max) {
    promise.deliver(error_reply(reservation_status::overloaded, "reservations in flight"));
    return promise;
  }
  if (auto full = at_reservation_limit(h)) {
    promise.deliver(std::move(*full));
    return promise;
  }
  if (const std::int64_t free = free_to_reserve(h); free < req.qty) {
    auto reply = error_reply(reservation_status::insufficient, "insufficient");
    reply.available = std::max<std::int64_t>(0, free);
    promise.deliver(std::move(reply));
    return promise;
  }
  auto entry = engine_event(h, event_type::reservation_created, event_id, id);
  entry.ev.qty = req.qty;
  if (req.expires_in) {
    entry.ev.expires_at = entry.received_at + *req.expires_in;
  }
  pending_op op;
  op.type = event_type::reservation_created;
  op.reservation_id = id;
  op.qty = req.qty;
  op.hold = req.qty;
  op.expires_at = entry.ev.expires_at;
  if (!ctx.submit(std::move(entry))) {
    promise.deliver(error_reply(reservation_status::overloaded, "journal queue full"));
    return promise;
  }
  op.waiters.push_back(promise);
  h.held += op.hold;
  h.pending.emplace(std::move(event_id), std::move(op));
  return promise;
}

/// Why apply() would refuse `entry` in the current state, found on a copy; nullopt when it
/// would apply it. Holds and ends still in flight are not in the state: the journaled entry may
/// still be refused, and fresh_answer() says so then.
std::optional<std::string> refusal(const sku_location_holder& h, engine::journal_entry entry) {
  entry.seq = h.state.last_seq + 1;
  engine::sku_location_state trial = trial_for(h, entry);
  const engine::outcome out = engine::apply(trial, entry, entry.received_at);
  if (out.kind == engine::outcome_kind::applied) {
    return std::nullopt;
  }
  return out.reason;
}

caf::typed_response_promise<reservation_reply> on_end(self_pointer self, const end_request& req) {
  auto promise = self->make_response_promise<reservation_reply>();
  auto& h = self->state;
  const context& ctx = *h.ctx;
  const bool commit = req.kind == end_kind::commit;
  std::string event_id = (commit ? "commit:" : "release:") + req.id;
  if (kit_ending(h, req.id, event_id)) {
    // Its kit is being released or committed as a whole: the kit's end decides.
    promise.deliver(error_reply(reservation_status::overloaded, "its kit is being ended; retry"));
    return promise;
  }
  if (auto it = h.pending.find(event_id); it != h.pending.end()) {
    if (commit && it->second.order_id != req.order_id) {
      auto reply = error_reply(reservation_status::ended, "being committed to another order");
      promise.deliver(std::move(reply));
    } else if (it->second.waiters.size() >= limits::waiters_per_key_max) {
      promise.deliver(error_reply(reservation_status::overloaded, "too many retries in flight"));
    } else {
      it->second.waiters.push_back(promise);
    }
    return promise;
  }
  const engine::reservation* r = find_reservation(h.state, req.id);
  if (r == nullptr) {
    promise.deliver(lookup_ended(h, req.id, req.kind, req.order_id));
    return promise;
  }
  if (!ctx.submit || !ctx.counters->ready.load(std::memory_order_relaxed) ||
      h.pending.size() >= limits::pending_per_actor_max) {
    promise.deliver(error_reply(reservation_status::overloaded, "reservations in flight"));
    return promise;
  }
  const auto type = commit ? event_type::reservation_committed : event_type::reservation_released;
  auto entry = engine_event(h, type, event_id, req.id);
  entry.ev.qty = r->qty;
  entry.ev.order_id = req.order_id;
  entry.ev.line_id = req.line_id;
  // An end the engine would refuse (a commit to an order line that already exists) is answered
  // here, not journaled: once journaled, its id ("commit:<id>") would be spent by the dedup and
  // a later commit of the same hold to another line could never be journaled.
  if (auto why = refusal(h, entry)) {
    auto reply = make_reply(reservation_status::refused, h.state.key, req.id, r->qty,
                            r->expires_at);
    reply.detail = std::move(*why);
    promise.deliver(std::move(reply));
    return promise;
  }
  pending_op op;
  op.type = type;
  op.reservation_id = req.id;
  op.qty = r->qty;
  op.expires_at = r->expires_at;
  op.order_id = req.order_id;
  if (!ctx.submit(std::move(entry))) {
    promise.deliver(error_reply(reservation_status::overloaded, "journal queue full"));
    return promise;
  }
  op.waiters.push_back(promise);
  h.pending.emplace(std::move(event_id), std::move(op));
  return promise;
}

/// A journaled entry of ours was applied: remember the outcome for the answer, and drop the
/// hold, which the engine's `reserved` bucket (or nothing, when rejected) now stands for.
void note_applied(sku_location_holder& h, const engine::journal_entry& entry,
                  const engine::outcome& out) {
  auto it = h.pending.find(entry.ev.id);
  if (it == h.pending.end()) {
    return;
  }
  auto& op = it->second;
  op.outcome = out.kind;
  op.reason = out.reason;
  h.held -= op.hold;
  op.hold = 0;
}

/// The answer to a reservation_created of `qty` the journal already had under this key: the
/// original reservation, wherever it was placed, read back from the journal at its seq.
reservation_reply replay_original(const sku_location_holder& h, std::uint64_t seq,
                                  std::int64_t qty) {
  if (h.ctx->db == nullptr) {
    return error_reply(reservation_status::failed, "no journal to read the original from");
  }
  std::optional<engine::journal_entry> original;
  auto read = h.ctx->db->read_journal(seq, 1, [&original](const engine::journal_entry& e) {
    original = e;
    return false;
  });
  if (!read || !original || original->seq != seq) {
    return error_reply(reservation_status::failed, "journal: original reservation unreadable");
  }
  const engine::event& ev = original->ev;
  if (ev.type != event_type::reservation_created || ev.sku != h.state.key.sku || ev.qty != qty) {
    return error_reply(reservation_status::key_conflict,
                       "key already used for a different reservation");
  }
  auto reply = make_reply(reservation_status::created, {ev.sku, ev.location}, ev.reservation_id,
                          ev.qty, ev.expires_at);
  reply.replayed = true;
  return reply;
}

reservation_reply fresh_answer(const sku_location_holder& h, const pending_op& op) {
  const auto& key = h.state.key;
  if (!op.outcome) {
    return error_reply(reservation_status::failed, "journaled but not applied");
  }
  if (*op.outcome == engine::outcome_kind::applied) {
    auto reply = make_reply(reservation_status::created, key, op.reservation_id, op.qty,
                            op.expires_at);
    if (op.type == event_type::reservation_released) {
      reply.status = reservation_status::released;
    } else if (op.type == event_type::reservation_committed) {
      reply.status = reservation_status::committed;
      reply.order_id = op.order_id;
    }
    return reply;
  }
  if (op.type == event_type::reservation_created) {
    // Only an event the engine applied in between (an order taking the stock) gets here: the
    // engine refused to reserve what was not there.
    if (op.reason.starts_with("limit")) {
      return error_reply(reservation_status::limit, op.reason);
    }
    auto reply = error_reply(reservation_status::insufficient, "insufficient");
    reply.available = std::max<std::int64_t>(0, free_to_reserve(h));
    return reply;
  }
  if (const auto* r = find_reservation(h.state, op.reservation_id)) {
    // Refused while the hold is still there (an order opened the line between the check in
    // on_end and the apply): say why. The hold stays active.
    auto reply = make_reply(reservation_status::refused, key, op.reservation_id, r->qty,
                            r->expires_at);
    reply.detail = op.reason;
    return reply;
  }
  // Another end (a concurrent release, commit or expiry) was journaled first.
  return lookup_ended(h, op.reservation_id,
                      op.type == event_type::reservation_committed ? end_kind::commit
                                                                   : end_kind::release,
                      op.order_id);
}

void on_journaled(self_pointer self, const journal_result& result) {
  auto& h = self->state;
  auto it = h.pending.find(result.event_id);
  if (it == h.pending.end()) {
    return;
  }
  pending_op op = std::move(it->second);
  h.pending.erase(it);
  h.held -= op.hold;  // a duplicate or a failed commit never applies: its hold goes now
  op.hold = 0;
  if (op.type == event_type::reservation_expired) {
    if (result.failure) {
      retry_expiry_later(self);
    }
    return;
  }
  if (op.type != event_type::reservation_created && h.ctx->clock) {
    schedule_expiry(self);  // an end that failed leaves its reservation to expire
  }
  reservation_reply reply;
  if (result.failure) {
    reply = error_reply(reservation_status::failed, "journal: " + *result.failure);
  } else if (result.duplicate) {
    reply = op.type == event_type::reservation_created
                ? replay_original(h, result.seq, op.qty)
                : lookup_ended(h, op.reservation_id,
                               op.type == event_type::reservation_committed ? end_kind::commit
                                                                            : end_kind::release,
                               op.order_id);
  } else {
    reply = fresh_answer(h, op);
  }
  answer(op, reply);
}

// ---- kit reservations, two-phase (actors/kit_reservation.hpp) ---------------------------------

/// Whether this component's creation was journaled before under the same event id, and what
/// became of it: `elsewhere`, `ended`, `refused` (or an `answer` on a conflict or a read error).
/// False when it never was: the caller prepares a new hold.
bool journaled_before(const sku_location_holder& h, const prepare_request& req,
                      prepare_reply& out) {
  const auto& key = h.state.key;
  if (h.ctx->db == nullptr) {
    return false;
  }
  auto seq = h.ctx->db->find_event(engine::source_id(engine_source), req.event_id);
  if (!seq) {
    out.reply = error_reply(reservation_status::failed, "journal: " + seq.error().message);
    return true;
  }
  if (!seq->has_value()) {
    return false;
  }
  out.reply = replay_original(h, **seq, req.qty);
  if (out.reply.status != reservation_status::created) {
    return true;  // unreadable, or the key names another reservation
  }
  if (out.reply.location != key.location) {
    out.status = prepare_status::elsewhere;
    return true;
  }
  // Journaled here and not held now (the caller looked): ended, or never held at all.
  auto story = read_story(h, key.location, out.reply.id);
  if (!story) {
    out.reply = error_reply(reservation_status::failed, "ledger: " + story.error().message);
    return true;
  }
  if (!story->created) {
    out.status = prepare_status::ended;  // older than the ledger lookup: ended, how is unknown
    out.reply.detail = "ended";
  } else if (!story->ended || undone(*story->ended)) {
    out.status = prepare_status::refused;
  } else {
    out.status = prepare_status::ended;
    out.reply.detail = how_ended(story->ended->ev.type);
  }
  return true;
}

/// Keeps `op` pending as a kit op and starts its lapse timer.
std::uint64_t keep_prepared(self_pointer self, const prepare_request& req, pending_op op) {
  auto& h = self->state;
  op.kit = true;
  op.submitted = false;
  op.serial = ++h.kit_serial_last;
  h.held += op.hold;
  h.pending.emplace(req.event_id, std::move(op));
  self->delayed_send(self, req.hold_for, kit_lapse_atom::value,
                     prepared_ref{h.state.key, req.event_id, h.kit_serial_last});
  return h.kit_serial_last;
}

prepare_reply prepare_create(self_pointer self, const prepare_request& req, prepare_reply out) {
  auto& h = self->state;
  const context& ctx = *h.ctx;
  const auto& key = h.state.key;
  if (const auto* r = find_reservation(h.state, req.reservation_id)) {
    if (r->qty != req.qty) {
      out.reply = error_reply(reservation_status::key_conflict,
                              "key already used for a different reservation");
      return out;
    }
    out.status = prepare_status::held;
    out.reply = make_reply(reservation_status::created, key, r->id, r->qty, r->expires_at);
    out.reply.replayed = true;
    return out;
  }
  if (h.pending.contains(req.event_id)) {
    out.reply = error_reply(reservation_status::overloaded, "the same key is in flight; retry");
    return out;
  }
  if (journaled_before(h, req, out)) {
    return out;
  }
  if (!ctx.submit_batch || !ctx.counters->ready.load(std::memory_order_relaxed) ||
      h.pending.size() >= limits::pending_per_actor_max) {
    out.reply = error_reply(reservation_status::overloaded, "reservations in flight");
    return out;
  }
  if (auto full = at_reservation_limit(h)) {
    out.reply = std::move(*full);
    return out;
  }
  if (out.free < req.qty) {
    out.reply = error_reply(reservation_status::insufficient, "insufficient");
    out.reply.available = out.free;
    return out;
  }
  out.entry = engine_event(h, event_type::reservation_created, req.event_id, req.reservation_id);
  out.entry.ev.qty = req.qty;
  out.entry.ev.expires_at = req.expires_at;
  pending_op op;
  op.type = event_type::reservation_created;
  op.reservation_id = req.reservation_id;
  op.qty = req.qty;
  op.hold = req.qty;
  op.expires_at = req.expires_at;
  out.serial = keep_prepared(self, req, std::move(op));
  out.status = prepare_status::prepared;
  out.reply = make_reply(reservation_status::created, key, req.reservation_id, req.qty,
                         req.expires_at);
  return out;
}

prepare_reply prepare_end(self_pointer self, const prepare_request& req, prepare_reply out) {
  auto& h = self->state;
  const context& ctx = *h.ctx;
  const auto& key = h.state.key;
  const bool commit = req.type == event_type::reservation_committed;
  const engine::reservation* r = find_reservation(h.state, req.reservation_id);
  if (ending(h, req.reservation_id, r)) {
    out.reply = error_reply(reservation_status::overloaded, "being ended; retry");
    return out;
  }
  if (r == nullptr) {
    out.reply = lookup_ended(h, req.reservation_id, commit ? end_kind::commit : end_kind::release,
                             req.order_id);
    return out;
  }
  if (!ctx.submit_batch || !ctx.counters->ready.load(std::memory_order_relaxed) ||
      h.pending.size() >= limits::pending_per_actor_max) {
    out.reply = error_reply(reservation_status::overloaded, "reservations in flight");
    return out;
  }
  out.entry = engine_event(h, req.type, req.event_id, req.reservation_id);
  out.entry.ev.qty = r->qty;
  out.entry.ev.order_id = req.order_id;
  out.entry.ev.line_id = req.line_id;
  if (commit) {
    // Refused at apply, this component would stay reserved while its siblings commit.
    // On a copy with the line recalled when this state forgot it: an order line closed long
    // ago is still known.
    engine::journal_entry probe = out.entry;
    probe.seq = h.state.last_seq + 1;
    if (std::string refusal =
            engine::reservation_commit_refusal(trial_for(h, probe), out.entry.ev);
        !refusal.empty()) {
      out.reply = error_reply(reservation_status::refused, std::move(refusal));
      return out;
    }
  }
  pending_op op;
  op.type = req.type;
  op.reservation_id = req.reservation_id;
  op.qty = r->qty;
  op.expires_at = r->expires_at;
  op.order_id = req.order_id;
  out.reply = make_reply(reservation_status::created, key, r->id, r->qty, r->expires_at);
  out.serial = keep_prepared(self, req, std::move(op));
  out.status = prepare_status::prepared;
  return out;
}

prepare_reply on_prepare(self_pointer self, const prepare_request& req) {
  prepare_reply out;
  out.free = std::max<std::int64_t>(0, free_to_reserve(self->state));
  if (req.type == event_type::reservation_created) {
    return prepare_create(self, req, std::move(out));
  }
  return prepare_end(self, req, std::move(out));
}

/// The coordinator is about to journal this op's entry: from now on it is answered by the
/// journal (on_journaled), never dropped by its lapse timer.
caf::typed_response_promise<reservation_reply> on_await(self_pointer self,
                                                        const prepare_request& req,
                                                        std::uint64_t serial) {
  auto promise = self->make_response_promise<reservation_reply>();
  auto& h = self->state;
  auto it = h.pending.find(req.event_id);
  if (it == h.pending.end()) {
    // The op lapsed before this announcement arrived (a coordinator slower than its own
    // deadline). Track the entry without a hold, so its journal result still finds the waiter;
    // the engine checks the stock at apply time as it always does.
    pending_op op;
    op.type = req.type;
    op.reservation_id = req.reservation_id;
    op.qty = req.qty;
    op.expires_at = req.expires_at;
    op.order_id = req.order_id;
    op.kit = true;
    op.serial = serial;
    it = h.pending.emplace(req.event_id, std::move(op)).first;
  }
  pending_op& op = it->second;
  if (op.waiters.size() >= limits::waiters_per_key_max) {
    promise.deliver(error_reply(reservation_status::overloaded, "too many retries in flight"));
    return promise;
  }
  op.submitted = true;
  op.waiters.push_back(promise);
  return promise;
}

/// Drops a prepared op: the coordinator gave up on it (`lapse` false: even if it announced the
/// submission, which was then refused), or its lapse timer fired before any announcement.
void on_abort(self_pointer self, const prepared_ref& ref, bool lapse) {
  auto& h = self->state;
  auto it = h.pending.find(ref.event_id);
  if (it == h.pending.end() || !it->second.kit || it->second.serial != ref.serial ||
      (lapse && it->second.submitted)) {
    return;
  }
  pending_op op = std::move(it->second);
  h.pending.erase(it);
  h.held -= op.hold;
  answer(op, error_reply(reservation_status::failed, lapse ? "prepared op lapsed" : "aborted"));
  if (op.type != event_type::reservation_created && h.ctx->clock) {
    schedule_expiry(self);  // its expiry waited for this end
  }
}

} // namespace

sku_location_actor::behavior_type
sku_location(sku_location_actor::stateful_pointer<sku_location_holder> self,
             engine::sku_location_key key, const context* ctx) {
  self->state.state = load(key, *ctx);
  ctx->counters->live_actors.fetch_add(1, std::memory_order_relaxed);
  self->state.ctx = ctx;
  if (ctx->clock) {
    schedule_expiry(self);  // holds loaded from a checkpoint still have to expire
  }
  return {
      [self, ctx](apply_atom, const engine::journal_entry& entry) {
        // The engine's clock is the journal's: replay gives the same state (DESIGN §2).
        const engine::buckets before = self->state.state.qty;
        recall_for(self->state, entry);
        engine::outcome out = engine::apply(self->state.state, entry, entry.received_at);
        keep_forgotten(self->state, out.forgotten_lines);
        count(*ctx->counters, out, entry.ev);
        tell_channels(self->state, before, entry, out);
        ctx->counters->in_flight.fetch_sub(1, std::memory_order_relaxed);
        if (entry.ev.source.str() == engine_source) {
          note_applied(self->state, entry, out);
        }
        if (entry.ev.type == event_type::reservation_created && entry.ev.expires_at &&
            out.kind == engine::outcome_kind::applied && ctx->clock) {
          schedule_expiry(self);
        }
      },
      [self](get_atom) { return self->state.state; },
      [self](snapshot_atom) {
        auto& h = self->state;
        state_snapshot snap;
        engine::encode(h.state, snap.bytes);
        snap.forgotten_lines = h.forgotten;
        snap.forgotten_through = h.forgotten_dropped + h.forgotten.size();
        return snap;
      },
      [self](lines_stored_atom, std::uint64_t through) { on_lines_stored(self->state, through); },
      [self](line_atom, std::uint64_t hash) {
        const auto& lines = self->state.forgotten;
        return std::any_of(lines.begin(), lines.end(),
                           [hash](const engine::closed_line& l) { return l.line_hash == hash; });
      },
      [self](reserve_atom, const reserve_request& req) { return on_reserve(self, req); },
      [self](end_atom, const end_request& req) { return on_end(self, req); },
      [self](journaled_atom, const journal_result& result) { on_journaled(self, result); },
      [self](expire_atom) { on_expire(self); },
      [self](kit_prepare_atom, const prepare_request& req) { return on_prepare(self, req); },
      [self](kit_await_atom, const prepare_request& req, std::uint64_t serial) {
        return on_await(self, req, serial);
      },
      [self](kit_abort_atom, const prepared_ref& ref) { on_abort(self, ref, false); },
      [self](kit_lapse_atom, const prepared_ref& ref) { on_abort(self, ref, true); },
  };
}

} // namespace stockd::actors
