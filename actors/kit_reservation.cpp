#include "actors/kit_reservation.hpp"

#include <algorithm>
#include <chrono>
#include <limits>
#include <memory>
#include <optional>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/directory_shard.hpp"

namespace stockd::actors {
namespace {

using engine::event_type;
using steady = std::chrono::steady_clock;

struct kit_state;
/// The coordinator takes no messages of its own: it sends requests, handles their replies, and
/// terminates when the last reply is handled (an actor without a behavior lives as long as it
/// awaits responses). CAF has no typed handle without messages, hence the plain actor type; its
/// behavior is empty, so nothing untyped is ever matched.
using self_pointer = caf::stateful_actor<kit_state>*;

/// One component's part in one round of the protocol.
struct component_op {
  engine::kit_component component;
  prepare_request req;
  prepare_reply prepared;    // phase 1
  reservation_reply result;  // phase 2: what the journal and the apply made of it
};
using round_ptr = std::shared_ptr<std::vector<component_op>>;

struct kit_state {
  kit_routes routes;
  std::vector<engine::kit_component> components;
  reservation_callback reply;
  bool answered = false;
  steady::time_point deadline;
  // A reservation.
  reserve_request req;
  std::vector<engine::location_id> candidates;
  std::size_t next = 0;
  bool redirected = false;
  std::int64_t best_available = 0;  // the most kits any tried location could give
  std::optional<engine::timestamp> expires_at;
  // An end.
  kit_end_request end;

  kit_state() = default;
  kit_state(const kit_state&) = delete;
  kit_state& operator=(const kit_state&) = delete;
  // Every request is answered exactly once (the HTTP layer counts it in flight until then): an
  // actor that ends without answering — a path that forgot to — still answers, and retryably.
  ~kit_state() {
    if (!answered && reply) {
      reservation_reply r;
      r.status = reservation_status::failed;
      r.detail = "not answered; retry with the same key or id";
      reply(std::move(r));
    }
  }
  static inline const char* name = "kit_reservation";
};

void finish(self_pointer self, reservation_reply reply) {
  auto& st = self->state;
  if (st.answered) {
    return;
  }
  st.answered = true;
  st.reply(std::move(reply));
}

/// The coordinator goes down with any shard it talks to: a shard stops only at shutdown, and a
/// reply promised by one of its actors would otherwise be awaited until the request timeout,
/// holding the actor system's shutdown that long.
void watch_shards(self_pointer self) {
  std::vector<std::uint32_t> watched;
  const auto n = static_cast<std::uint32_t>(self->state.routes.shards.size());
  for (const auto& c : self->state.components) {
    const std::uint32_t index = shard_of(c.sku, n);
    if (std::find(watched.begin(), watched.end(), index) == watched.end()) {
      watched.push_back(index);
      self->monitor(self->state.routes.shards[index]);
    }
  }
  self->set_down_handler([self](caf::down_msg&) {
    finish(self, error_reply(reservation_status::failed, "shutting down; retry"));
    self->quit();
  });
}

std::chrono::milliseconds time_left(const kit_state& st) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(st.deadline - steady::now());
  return std::max(left, std::chrono::milliseconds{1});
}

void restart_deadline(kit_state& st) {
  st.deadline = steady::now() + st.routes.ctx->opts.request_timeout;
}

const directory_shard_actor& shard_for(const kit_state& st, const engine::sku_id& sku) {
  return st.routes.shards[shard_of(sku, static_cast<std::uint32_t>(st.routes.shards.size()))];
}

/// Kits one location could give, from what each component had free when it was asked.
std::int64_t kits_from(const std::vector<component_op>& round) {
  std::int64_t kits = std::numeric_limits<std::int64_t>::max();
  for (const auto& op : round) {
    kits = std::min(kits, std::max<std::int64_t>(0, op.prepared.free) / op.component.qty);
  }
  return round.empty() ? 0 : kits;
}

/// Sends every op's prepare. `done` runs once, after the last answer (or timeout). Non-empty.
template <class Done>
void prepare_all(self_pointer self, const round_ptr& round, Done done) {
  auto remaining = std::make_shared<std::size_t>(round->size());
  const auto timeout = time_left(self->state);
  for (std::size_t i = 0; i < round->size(); ++i) {
    component_op& op = (*round)[i];
    op.req.hold_for = timeout;
    auto one_done = [remaining, done] {
      if (--*remaining == 0) {
        done();
      }
    };
    self->request(shard_for(self->state, op.req.key.sku), timeout, kit_prepare_atom::value, op.req)
        .then(
            [round, i, one_done](prepare_reply& reply) {
              (*round)[i].prepared = std::move(reply);
              one_done();
            },
            [round, i, one_done](caf::error&) {
              // Not known to be prepared: if it was, its lapse timer drops it.
              (*round)[i].prepared.status = prepare_status::answer;
              (*round)[i].prepared.reply =
                  error_reply(reservation_status::failed, "timed out; retry");
              one_done();
            });
  }
}

/// The ops of `round` that prepared: the ones to journal (or abort).
round_ptr prepared_of(const std::vector<component_op>& round) {
  auto prepared = std::make_shared<std::vector<component_op>>();
  for (const auto& op : round) {
    if (op.prepared.status == prepare_status::prepared) {
      prepared->push_back(op);
    }
  }
  return prepared;
}

void abort_prepared(self_pointer self, const std::vector<component_op>& round) {
  for (const auto& op : round) {
    if (op.prepared.status == prepare_status::prepared) {
      self->send(shard_for(self->state, op.req.key.sku), kit_abort_atom::value,
                 prepared_ref{op.req.key, op.req.event_id, op.prepared.serial});
    }
  }
}

/// Journals every op's prepared entry in one submission and collects each actor's answer.
/// `done(refused)` runs once; `refused`: the journal took nothing (the ops are aborted).
template <class Done>
void commit_all(self_pointer self, const round_ptr& round, Done done) {
  auto& st = self->state;
  auto remaining = std::make_shared<std::size_t>(round->size());
  auto refused = std::make_shared<bool>(false);
  const auto timeout = time_left(st);
  std::vector<engine::journal_entry> entries;
  entries.reserve(round->size());
  // Announce first, then submit: each shard has the announcement in its mailbox before the
  // writer thread sends it the entry's delivery and result, and forwards them to the actor in
  // that order, so the actor holds our waiter when it hears the result.
  for (std::size_t i = 0; i < round->size(); ++i) {
    component_op& op = (*round)[i];
    entries.push_back(op.prepared.entry);
    auto one_done = [remaining, refused, done] {
      if (--*remaining == 0) {
        done(*refused);
      }
    };
    self->request(shard_for(st, op.req.key.sku), timeout, kit_await_atom::value, op.req,
                  op.prepared.serial)
        .then(
            [round, i, one_done](reservation_reply& reply) {
              (*round)[i].result = std::move(reply);
              one_done();
            },
            [round, i, one_done](caf::error&) {
              // Not known: the entry may still be journaled and applied.
              (*round)[i].result = error_reply(reservation_status::failed,
                                               "timed out; retry with the same key or id");
              one_done();
            });
  }
  if (!st.routes.ctx->submit_batch || !st.routes.ctx->submit_batch(std::move(entries))) {
    *refused = true;
    abort_prepared(self, *round);  // answers the announcements with `failed`
  }
}

// ---- ends: DELETE, commit, and the engine's own undo ----------------------------------------

/// The round that ends the component reservations `ids` (by component) at `location`.
round_ptr end_round(const std::vector<std::pair<engine::kit_component, std::string>>& ids,
                    const engine::location_id& location, event_type type,
                    std::string_view event_prefix, const std::string& order_id,
                    const std::string& line_base) {
  auto round = std::make_shared<std::vector<component_op>>();
  for (const auto& [component, id] : ids) {
    component_op op;
    op.component = component;
    op.req.key = {component.sku, location};
    op.req.type = type;
    op.req.event_id = std::string(event_prefix) + id;
    op.req.reservation_id = id;
    op.req.order_id = order_id;
    if (type == event_type::reservation_committed) {
      op.req.line_id = line_base + "/" + component.sku.str();
    }
    round->push_back(std::move(op));
  }
  return round;
}

/// Undoes (or, after a partial end, releases) the given component reservations as one journal
/// submission. `then(ok)`: ok when none of them is held any more.
template <class Then>
void release_components(self_pointer self,
                        const std::vector<std::pair<engine::kit_component, std::string>>& ids,
                        const engine::location_id& location, std::string_view event_prefix,
                        Then then) {
  restart_deadline(self->state);  // putting the journal right is worth its own time budget
  auto round = end_round(ids, location, event_type::reservation_released, event_prefix, {}, {});
  prepare_all(self, round, [self, round, then] {
    auto prepared = prepared_of(*round);
    bool ok = true;
    for (const auto& op : *round) {
      if (op.prepared.status != prepare_status::prepared &&
          (op.prepared.reply.status == reservation_status::overloaded ||
           op.prepared.reply.status == reservation_status::failed)) {
        ok = false;  // still held, or not known
      }  // else prepared, or not held any more: nothing to release
    }
    if (!ok) {
      abort_prepared(self, *prepared);
      then(false);
      return;
    }
    if (prepared->empty()) {
      then(true);
      return;
    }
    commit_all(self, prepared, [prepared, then](bool refused) {
      bool all = !refused;
      for (const auto& op : *prepared) {
        all = all && op.result.status == reservation_status::released;
      }
      then(all);
    });
  });
}

std::vector<std::pair<engine::kit_component, std::string>>
ids_of(const std::vector<component_op>& round, bool (*pick)(const component_op&)) {
  std::vector<std::pair<engine::kit_component, std::string>> ids;
  for (const auto& op : round) {
    if (pick(op)) {
      ids.emplace_back(op.component, op.req.reservation_id);
    }
  }
  return ids;
}

// ---- reserve ---------------------------------------------------------------------------------

reservation_reply kit_reply(const kit_state& st, reservation_status status,
                            const engine::location_id& location,
                            std::optional<engine::timestamp> expires_at) {
  reservation_reply r;
  r.status = status;
  r.id = make_kit_reservation_id(st.req.sku, location, st.req.key_digest);
  r.sku = st.req.sku;
  r.location = location;
  r.qty = st.req.qty;
  r.expires_at = expires_at;
  for (const auto& c : st.components) {
    r.components.push_back(reservation_component{
        make_reservation_id({c.sku, location}, st.req.key_digest), c.sku, st.req.qty * c.qty});
  }
  return r;
}

reservation_reply insufficient(std::int64_t kits) {
  auto r = error_reply(reservation_status::insufficient, "insufficient");
  r.available = kits;
  return r;
}

void reserve_at(self_pointer self, const engine::location_id& location);

/// How bad a component's final answer is for the kit: the worst decides the kit's answer.
int severity(reservation_status status) {
  switch (status) {
    case reservation_status::key_conflict: return 4;  // the client's mistake: say so
    case reservation_status::limit: return 3;
    case reservation_status::overloaded: return 2;
    default: return 1;  // failed, or an answer a creation should not get
  }
}

/// This key's kit was journaled at `location` before and is not (wholly) held now: it is over.
/// Nothing of it may stay held, so the components still held are released; then the answer is
/// the one the first request got — the kit as created (it ended later), or 409 when the engine
/// refused or undid it.
void settle_history(self_pointer self, const round_ptr& round, const engine::location_id& location,
                    bool refused) {
  auto& st = self->state;
  std::optional<engine::timestamp> expires_at;
  for (const auto& op : *round) {
    if (op.prepared.status == prepare_status::held || op.prepared.status == prepare_status::ended ||
        op.prepared.status == prepare_status::refused) {
      expires_at = op.prepared.reply.expires_at;
      break;
    }
  }
  auto answer = refused ? insufficient(kits_from(*round))
                        : kit_reply(st, reservation_status::created, location, expires_at);
  answer.replayed = !refused;
  auto held = ids_of(*round, [](const component_op& op) {
    return op.prepared.status == prepare_status::held;
  });
  if (held.empty()) {
    finish(self, std::move(answer));
    return;
  }
  // An undone kit stays undone ("kit-undo:"); a kit that ended otherwise is released.
  const std::string_view prefix = refused ? kit_undo_prefix : std::string_view("release:");
  release_components(self, held, location, prefix, [self, answer](bool ok) {
    finish(self, ok ? answer
                    : error_reply(reservation_status::failed,
                                  "partially held; retry with the same key"));
  });
}

void on_created(self_pointer self, const round_ptr& round, const engine::location_id& location,
                bool refused_submission) {
  auto& st = self->state;
  if (refused_submission) {
    finish(self, error_reply(reservation_status::overloaded, "journal queue full"));
    return;
  }
  bool all_created = true;
  bool all_replayed = true;
  bool unknown = false;  // a component whose fate is not known: failed commit, or a timeout
  std::optional<reservation_reply> worst;
  std::int64_t kits = std::numeric_limits<std::int64_t>::max();
  for (const auto& op : *round) {
    const reservation_reply& r = op.result;
    const std::int64_t per_kit = op.component.qty;
    if (r.status == reservation_status::created) {
      all_replayed = all_replayed && r.replayed;
      kits = std::min(kits, op.prepared.free / per_kit);
      continue;
    }
    all_created = false;
    if (r.status == reservation_status::insufficient) {
      kits = std::min(kits, r.available / per_kit);
    } else if (r.status == reservation_status::failed ||
               r.status == reservation_status::overloaded) {
      unknown = true;
    } else if (!worst || severity(r.status) > severity(worst->status)) {
      worst = r;
    }
  }
  if (all_created) {
    // A duplicate (the same key raced in from elsewhere) answers where the original was placed.
    const auto& first = round->front().result;
    auto reply = kit_reply(st, reservation_status::created, first.location, first.expires_at);
    reply.replayed = all_replayed;
    finish(self, std::move(reply));
    return;
  }
  reservation_reply answer = unknown ? error_reply(reservation_status::failed,
                                                   "not known to be held; retry with the same key")
                             : worst ? *worst
                                     : insufficient(std::max<std::int64_t>(0, kits));
  auto applied = ids_of(*round, [](const component_op& op) {
    return op.result.status == reservation_status::created && !op.result.replayed;
  });
  if (applied.empty()) {
    finish(self, std::move(answer));
    return;
  }
  // The engine refused a component at apply time: undo the others, so the net effect is none.
  release_components(self, applied, location, kit_undo_prefix, [self, answer](bool ok) {
    finish(self, ok ? answer
                    : error_reply(reservation_status::failed,
                                  "partially held; retry with the same key"));
  });
}

void on_prepared(self_pointer self, const round_ptr& round, const engine::location_id& location) {
  auto& st = self->state;
  const reservation_reply* worst = nullptr;
  std::optional<engine::location_id> elsewhere;
  bool all_prepared = true;
  bool all_held = true;
  bool history = false;
  bool refused = false;
  for (const auto& op : *round) {
    const auto status = op.prepared.status;
    all_prepared = all_prepared && status == prepare_status::prepared;
    all_held = all_held && status == prepare_status::held;
    history = history || status == prepare_status::held || status == prepare_status::ended ||
              status == prepare_status::refused;
    refused = refused || status == prepare_status::refused;
    if (status == prepare_status::elsewhere) {
      elsewhere = op.prepared.reply.location;
    }
    if (status == prepare_status::answer) {
      const auto& r = op.prepared.reply;
      if (r.status == reservation_status::insufficient) {
        refused = true;  // counts as refused only where the key has history
      } else if (worst == nullptr || severity(r.status) > severity(worst->status)) {
        worst = &r;
      }
    }
  }
  if (all_prepared) {
    commit_all(self, round, [self, round, location](bool refused_submission) {
      on_created(self, round, location, refused_submission);
    });
    return;
  }
  abort_prepared(self, *round);
  if (worst != nullptr) {
    finish(self, *worst);
    return;
  }
  if (elsewhere) {
    // The key was placed at another location before: answer from there, as a plain
    // reservation does ("wherever it was placed").
    if (!st.redirected && *elsewhere != location) {
      st.redirected = true;
      reserve_at(self, *elsewhere);
    } else {
      finish(self, error_reply(reservation_status::failed, "the key's components disagree"));
    }
    return;
  }
  if (all_held) {
    auto reply = kit_reply(st, reservation_status::created, location,
                           round->front().prepared.reply.expires_at);
    reply.replayed = true;
    finish(self, std::move(reply));
    return;
  }
  if (history) {
    settle_history(self, round, location, refused);
    return;
  }
  // Some component cannot cover its share here.
  st.best_available = std::max(st.best_available, kits_from(*round));
  if (st.next < st.candidates.size()) {
    reserve_at(self, st.candidates[st.next++]);
    return;
  }
  finish(self, insufficient(st.best_available));
}

void reserve_at(self_pointer self, const engine::location_id& location) {
  auto& st = self->state;
  auto round = std::make_shared<std::vector<component_op>>();
  for (const auto& c : st.components) {
    component_op op;
    op.component = c;
    op.req.key = {c.sku, location};
    op.req.type = event_type::reservation_created;
    op.req.event_id = kit_component_event_id(st.req.key_digest, c.sku);
    op.req.reservation_id = make_reservation_id(op.req.key, st.req.key_digest);
    op.req.qty = st.req.qty * c.qty;
    op.req.expires_at = st.expires_at;
    if (op.req.reservation_id.empty()) {
      finish(self, error_reply(reservation_status::failed, "reservation id too long"));
      return;
    }
    round->push_back(std::move(op));
  }
  prepare_all(self, round, [self, round, location] { on_prepared(self, round, location); });
}

caf::behavior
kit_reserve(self_pointer self, kit_routes routes, std::vector<engine::kit_component> components,
            std::vector<engine::location_id> candidates, reserve_request req,
            reservation_callback reply) {
  auto& st = self->state;
  st.routes = std::move(routes);
  st.components = std::move(components);
  st.candidates = std::move(candidates);
  st.req = std::move(req);
  st.reply = std::move(reply);
  restart_deadline(st);
  watch_shards(self);
  const context& ctx = *st.routes.ctx;
  if (st.req.expires_in && ctx.clock) {
    // One expiry for every component: they are released together when it comes.
    st.expires_at = ctx.clock() + *st.req.expires_in;
  }
  if (st.candidates.empty() || st.components.empty()) {
    finish(self, insufficient(0));
    return {};
  }
  st.next = 1;
  reserve_at(self, st.candidates.front());
  return {};
}

// ---- release and commit ----------------------------------------------------------------------

reservation_reply kit_end_reply(const kit_state& st, reservation_status status,
                                const std::vector<component_op>& round) {
  reservation_reply r;
  r.status = status;
  r.id = st.end.id;
  r.sku = st.end.kit;
  r.location = st.end.location;
  for (const auto& op : round) {
    const auto& known = op.prepared.reply;
    if (known.qty > 0 && r.qty == 0) {
      r.qty = known.qty / op.component.qty;
      r.expires_at = known.expires_at;
    }
    r.components.push_back(
        reservation_component{op.req.reservation_id, op.component.sku, known.qty});
  }
  if (status == reservation_status::committed) {
    r.order_id = st.end.order_id;
  }
  return r;
}

/// How a component that is no longer held ended, in the words of a 409.
std::string ended_how(const reservation_reply& r) {
  switch (r.status) {
    case reservation_status::released: return "released";
    case reservation_status::committed: return "committed";
    case reservation_status::not_found: return "undone";
    default: return r.detail.empty() ? "ended" : r.detail;
  }
}

/// A release takes whatever is still held (and is done when nothing is); a commit needs every
/// component held, so a kit that is partly ended is not half-committed.
void on_end_prepared(self_pointer self, const round_ptr& round) {
  auto& st = self->state;
  const bool commit = st.end.kind == end_kind::commit;
  const auto done_status = commit ? reservation_status::committed : reservation_status::released;
  const reservation_reply* busy = nullptr;       // busy, failed, or refused: answers the kit
  const reservation_reply* other_end = nullptr;  // not held, and not ended the way asked
  std::size_t prepared = 0;
  std::size_t not_found = 0;
  for (const auto& op : *round) {
    const auto& r = op.prepared.reply;
    if (op.prepared.status == prepare_status::prepared) {
      ++prepared;
    } else if (r.status == reservation_status::overloaded ||
               r.status == reservation_status::failed ||
               r.status == reservation_status::refused) {
      busy = busy != nullptr ? busy : &r;  // a final answer for the kit
    } else if (r.status == reservation_status::not_found) {
      ++not_found;
      if (commit && other_end == nullptr) {
        other_end = &r;
      }
    } else if (r.status != done_status && other_end == nullptr) {
      other_end = &r;
    }
  }
  if (busy != nullptr) {
    abort_prepared(self, *round);
    finish(self, *busy);
    return;
  }
  if (not_found == round->size()) {
    finish(self, error_reply(reservation_status::not_found, "unknown reservation"));
    return;
  }
  if (other_end != nullptr && (commit || prepared == 0)) {
    abort_prepared(self, *round);
    auto reply = kit_end_reply(st, reservation_status::ended, *round);
    reply.detail = ended_how(*other_end);
    finish(self, std::move(reply));
    return;
  }
  if (prepared == 0) {
    finish(self, kit_end_reply(st, done_status, *round));  // a retried end: already done
    return;
  }
  auto to_end = prepared_of(*round);
  commit_all(self, to_end, [self, round, to_end, done_status](bool refused) {
    auto& s = self->state;
    if (refused) {
      finish(self, error_reply(reservation_status::overloaded, "journal queue full"));
      return;
    }
    const reservation_reply* bad = nullptr;
    for (const auto& op : *to_end) {
      if (op.result.status != done_status && bad == nullptr) {
        bad = &op.result;
      }
    }
    if (bad == nullptr) {
      finish(self, kit_end_reply(s, done_status, *round));
    } else if (bad->status == reservation_status::failed ||
               bad->status == reservation_status::overloaded) {
      finish(self, error_reply(reservation_status::failed, bad->detail + "; retry"));
    } else {
      // Only an op that lapsed before its announcement can lose to another end.
      auto reply = kit_end_reply(s, reservation_status::ended, *round);
      reply.detail = ended_how(*bad);
      finish(self, std::move(reply));
    }
  });
}

caf::behavior
kit_end(self_pointer self, kit_routes routes, std::vector<engine::kit_component> components,
        kit_end_request req, reservation_callback reply) {
  auto& st = self->state;
  st.routes = std::move(routes);
  st.components = std::move(components);
  st.end = std::move(req);
  st.reply = std::move(reply);
  restart_deadline(st);
  watch_shards(self);
  const bool commit = st.end.kind == end_kind::commit;
  std::vector<std::pair<engine::kit_component, std::string>> ids;
  for (const auto& c : st.components) {
    std::string id = make_reservation_id({c.sku, st.end.location}, st.end.key_digest);
    if (id.empty()) {
      finish(self, error_reply(reservation_status::not_found, "unknown reservation"));
      return {};
    }
    ids.emplace_back(c, std::move(id));
  }
  if (ids.empty()) {
    finish(self, error_reply(reservation_status::not_found, "unknown reservation"));
    return {};
  }
  // The kit's order line is named like a kit order's (engine::expand_kit_event): a later cancel
  // of "<line>" for the kit finds every "<line>/<component>".
  const std::string line = st.end.line_id.empty() ? st.end.id : st.end.line_id;
  auto round = end_round(ids, st.end.location,
                         commit ? event_type::reservation_committed
                                : event_type::reservation_released,
                         commit ? "commit:" : "release:", st.end.order_id, line);
  prepare_all(self, round, [self, round] { on_end_prepared(self, round); });
  return {};
}

} // namespace

void reserve_kit(caf::actor_system& system, kit_routes routes,
                 std::vector<engine::kit_component> components,
                 std::vector<engine::location_id> candidates, reserve_request req,
                 reservation_callback reply) {
  system.spawn(kit_reserve, std::move(routes), std::move(components), std::move(candidates),
               std::move(req), std::move(reply));
}

void end_kit(caf::actor_system& system, kit_routes routes,
             std::vector<engine::kit_component> components, kit_end_request req,
             reservation_callback reply) {
  system.spawn(kit_end, std::move(routes), std::move(components), std::move(req),
               std::move(reply));
}

} // namespace stockd::actors
