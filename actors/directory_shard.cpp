#include "actors/directory_shard.hpp"

#include <algorithm>
#include <set>

#include <caf/event_based_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/log.hpp"
#include "actors/sku_location.hpp"
#include "engine/apply.hpp"
#include "engine/codec.hpp"

namespace stockd::actors {
namespace {

/// The catalog in force: the context's (a reload swaps it), or the shard's own in tests.
const engine::catalog& catalog_of(const directory_shard_state& st) {
  const engine::catalog* current = st.ctx->catalog.load(std::memory_order_acquire);
  return current != nullptr ? *current : *st.catalog;
}

using self_pointer = directory_shard_actor::stateful_pointer<directory_shard_state>;
using slot = directory_shard_state::slot;

/// The map entry for `key`, spawning its actor on first use. One hash lookup when it exists.
std::pair<const engine::sku_location_key, slot>& entry_for(self_pointer self,
                                                          const engine::sku_location_key& key) {
  auto& st = self->state;
  auto it = st.slots.find(key);
  if (it == st.slots.end()) {
    auto actor = self->spawn(sku_location, key, st.ctx);
    it = st.slots.emplace(key, slot{std::move(actor), false}).first;
  }
  return *it;
}

slot& slot_for(self_pointer self, const engine::sku_location_key& key) {
  return entry_for(self, key).second;
}

void mark_dirty(directory_shard_state& st, const engine::sku_location_key& key, slot& s) {
  if (!s.dirty) {
    s.dirty = true;
    st.dirty.emplace_back(&key, &s);
  }
}

void start_round(self_pointer self);
void confirm_channels(self_pointer self,
                      std::shared_ptr<std::vector<store::checkpoint_record>> records,
                      std::uint64_t watermark, bool all_answered);

void finish_round(self_pointer self, std::shared_ptr<std::vector<store::checkpoint_record>> records,
                  std::uint64_t watermark, bool all_answered) {
  auto& st = self->state;
  // Without every dirty actor's snapshot the watermark must not move: recovery would skip
  // events whose effect is not in any checkpoint.
  std::uint64_t wm = all_answered ? watermark : st.watermark_persisted;
  directory_shard_actor handle = self;
  store::checkpoint_completion done = [handle, wm, all_answered](const store::error* failure) {
    caf::anon_send(handle, ckpt_done_atom::value, wm, all_answered && failure == nullptr);
  };
  auto n = records->size();
  if (!st.ctx->persist(std::move(*records), st.index, wm, std::move(done))) {
    self->send(self, ckpt_done_atom::value, wm, false);
    return;
  }
  st.ctx->counters->checkpoint_records.fetch_add(n, std::memory_order_relaxed);
}

void start_round(self_pointer self) {
  auto& st = self->state;
  if (st.round_running) {
    return;
  }
  std::uint64_t watermark = st.head_seen;
  if (st.dirty.empty() && watermark <= st.watermark_persisted) {
    for (auto& waiter : st.flush_waiters) {
      waiter.deliver(st.watermark_persisted);
    }
    st.flush_waiters.clear();
    return;
  }
  st.round_running = true;
  st.ctx->counters->checkpoint_rounds.fetch_add(1, std::memory_order_relaxed);
  st.round_keys = std::move(st.dirty);
  st.dirty.clear();
  for (auto& [key, s] : st.round_keys) {
    s->dirty = false;
  }
  auto records = std::make_shared<std::vector<store::checkpoint_record>>();
  records->reserve(st.round_keys.size());
  if (st.round_keys.empty()) {
    finish_round(self, records, watermark, true);
    return;
  }
  struct progress {
    std::size_t remaining;
    bool all_answered = true;
  };
  auto prog = std::make_shared<progress>(progress{st.round_keys.size()});
  for (auto& [key, s] : st.round_keys) {
    const engine::sku_location_key* k = key;
    // The snapshot request is queued behind every delivery this shard already forwarded, so the
    // state it returns includes every event up to `watermark` for this key.
    self->request(s->actor, st.ctx->opts.request_timeout, snapshot_atom::value)
        .then(
            [self, records, prog, k, watermark, actor = s->actor](state_snapshot& snap) {
              if (!snap.forgotten_lines.empty()) {
                self->state.round_forgotten.emplace_back(actor, snap.forgotten_through);
              }
              records->push_back(store::checkpoint_record{*k, std::move(snap.bytes),
                                                          std::move(snap.forgotten_lines)});
              if (--prog->remaining == 0) {
                confirm_channels(self, records, watermark, prog->all_answered);
              }
            },
            [self, records, prog, watermark](caf::error&) {
              prog->all_answered = false;
              if (--prog->remaining == 0) {
                confirm_channels(self, records, watermark, false);
              }
            });
  }
}

void on_round_done(self_pointer self, std::uint64_t watermark, bool ok);

/// Stores a round's checkpoints once every channel has stored the stock updates it took (its
/// outbox): a checkpoint that passed an own order a channel took but had not stored would leave
/// nothing to replay it after a restart, and the shop's shadow would never drop (the
/// deterministic simulation's seeds 3056, 3126, 3286, 4973). Each actor sent its updates before
/// answering the snapshot request, so they are in the channels' mailboxes before this request.
/// A channel that does not answer in time fails the round (its keys are dirty again); one that
/// is gone (removed by a reload) has nothing left to store.
void confirm_channels(self_pointer self,
                      std::shared_ptr<std::vector<store::checkpoint_record>> records,
                      std::uint64_t watermark, bool all_answered) {
  auto& st = self->state;
  std::vector<channel_actor> channels;
  if (const channel_routes* routes = st.ctx->channels_by_location.load(std::memory_order_acquire);
      routes != nullptr && !records->empty()) {
    std::set<caf::actor_addr> seen;
    for (const auto& [location, actors] : *routes) {
      for (const auto& actor : actors) {
        if (seen.insert(actor.address()).second) {
          channels.push_back(actor);
        }
      }
    }
  }
  if (channels.empty()) {
    finish_round(self, std::move(records), watermark, all_answered);
    return;
  }
  struct progress {
    std::size_t remaining;
    bool stored = true;
  };
  auto prog = std::make_shared<progress>(progress{channels.size()});
  auto answered = [self, records, prog, watermark, all_answered] {
    if (--prog->remaining != 0) {
      return;
    }
    if (prog->stored) {
      finish_round(self, records, watermark, all_answered);
    } else {
      on_round_done(self, watermark, false);
    }
  };
  for (const auto& channel : channels) {
    self->request(channel, st.ctx->opts.request_timeout, flush_atom::value)
        .then([answered](bool) { answered(); },
              [answered, prog, shard = st.index](caf::error& err) {
                if (err != caf::sec::request_receiver_down) {
                  prog->stored = false;
                  log_json(log_level::warn, "checkpoint round waits for a channel's outbox",
                           {{"shard", std::to_string(shard)}, {"error", caf::to_string(err)}});
                }
                answered();
              });
  }
}

void on_round_done(self_pointer self, std::uint64_t watermark, bool ok) {
  auto& st = self->state;
  st.round_running = false;
  if (ok) {
    st.watermark_persisted = std::max(st.watermark_persisted, watermark);
    (*st.ctx->watermarks)[st.index].store(st.watermark_persisted, std::memory_order_relaxed);
    // Their forgotten lines are in the index now: the actors may drop their copies. After a
    // failure they keep them, and send them again with their next snapshot.
    for (auto& [actor, through] : st.round_forgotten) {
      self->send(actor, lines_stored_atom::value, through);
    }
  } else {
    // Nothing of this round is known to be durable: its keys are dirty again.
    st.ctx->counters->checkpoint_failures.fetch_add(1, std::memory_order_relaxed);
    for (auto& [key, s] : st.round_keys) {
      mark_dirty(st, *key, *s);
    }
  }
  st.round_keys.clear();
  st.round_forgotten.clear();
  if (!st.flush_waiters.empty()) {
    if (!ok) {
      for (auto& waiter : st.flush_waiters) {
        waiter.deliver(caf::make_error(caf::sec::request_timeout));
      }
      st.flush_waiters.clear();
      return;
    }
    start_round(self);  // delivers the waiters when nothing is left to persist
  } else if (st.dirty.size() >= st.ctx->opts.checkpoint_dirty_max) {
    start_round(self);
  }
}

/// What a shard read of some keys' states: one entry each, in the order asked.
struct states_read {
  enum class found : std::uint8_t { state, none, failed };
  /// A key's state; with `none` a fresh state of the key (never seen); nullopt when `failed`
  /// (no answer in time, an unreadable checkpoint).
  key_states states;
  std::vector<found> kinds;
};

/// A read waiting for live actors.
struct pending_read {
  states_read read;
  std::size_t remaining = 0;
  std::uint64_t id = 0;
  std::function<void(states_read)> done;  // empty once called
};

/// Answers a read once: when its last actor answered, or at its lapse.
void finish_read(self_pointer self, pending_read& p) {
  if (!p.done) {
    return;
  }
  self->state.reads_lapsing.erase(p.id);
  auto done = std::move(p.done);
  p.done = nullptr;
  done(std::move(p.read));
}

/// Each key's state: its live actor's, else its checkpoint's, which is current for an actor that
/// is not live because recovery replays every event past it. `done` runs once, on this shard's
/// thread.
///
/// The live actors are asked without a timeout each and the whole read has one: a snapshot
/// reads a state per line, and a request timer each (CAF keeps every one until it fires) made a
/// 1,000,000-line snapshot grow the server by 120 MiB and take six times as long. An actor that
/// has not answered at the lapse is `failed`.
void gather_states(self_pointer self, const std::vector<engine::sku_location_key>& keys,
                   std::function<void(states_read)> done) {
  using found = states_read::found;
  auto& st = self->state;
  auto p = std::make_shared<pending_read>();
  p->read.states.resize(keys.size());
  p->read.kinds.resize(keys.size(), found::none);
  p->done = std::move(done);
  std::vector<std::pair<std::size_t, sku_location_actor>> live;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    auto it = st.slots.find(keys[i]);
    if (it != st.slots.end()) {
      p->read.kinds[i] = found::failed;  // until it answers
      live.emplace_back(i, it->second.actor);
      continue;
    }
    auto bytes = st.ctx->db != nullptr ? st.ctx->db->read_checkpoint(keys[i])
                                       : store::result<std::optional<std::string>>(std::nullopt);
    if (!bytes) {
      p->read.kinds[i] = found::failed;
    } else if (!bytes->has_value()) {
      p->read.states[i].emplace().key = keys[i];
    } else if (auto state = engine::decode_state(**bytes)) {
      p->read.kinds[i] = found::state;
      p->read.states[i] = std::move(*state);
    } else {
      p->read.kinds[i] = found::failed;
    }
  }
  if (live.empty()) {
    finish_read(self, *p);
    return;
  }
  p->id = ++st.next_read;
  p->remaining = live.size();
  st.reads_lapsing.emplace(p->id, [self, p] { finish_read(self, *p); });
  self->delayed_send(self, st.ctx->opts.request_timeout, read_lapse_atom::value, p->id);
  for (auto& [index, actor] : live) {
    self->request(actor, caf::infinite, get_atom::value)
        .then(
            [self, p, i = index](engine::sku_location_state& state) {
              if (p->done) {
                p->read.kinds[i] = found::state;
                p->read.states[i] = std::move(state);
              }
              if (--p->remaining == 0) {
                finish_read(self, *p);
              }
            },
            [self, p](caf::error&) {
              if (--p->remaining == 0) {
                finish_read(self, *p);
              }
            });
  }
}

void on_get(self_pointer self, const engine::sku_id& sku, sku_view_callback& reply) {
  std::vector<engine::sku_location_key> keys;
  for (const auto& info : catalog_of(self->state).locations()) {
    keys.push_back(engine::sku_location_key{sku, info.id});
  }
  gather_states(self, keys, [reply = std::move(reply)](states_read read) {
    sku_view view;
    for (std::size_t i = 0; i < read.kinds.size(); ++i) {
      if (read.kinds[i] == states_read::found::state) {
        view.locations.push_back(std::move(*read.states[i]));
      } else if (read.kinds[i] == states_read::found::failed) {
        view.complete = false;
      }
    }
    std::sort(view.locations.begin(), view.locations.end(),
              [](const auto& a, const auto& b) { return a.key < b.key; });
    reply(std::move(view));
  });
}

/// The locations of `sku` whose index of forgotten closed lines holds line `hash`, in catalog
/// order: those of the store (lines in stored checkpoints' index) and the live actors that
/// forgot it since their last stored checkpoint. `reply` once; an actor that does not answer in
/// time counts as not holding it, and so does a store that cannot be read: both are logged (the
/// event is then refused for want of a location, and the sender can name it).
void on_find_line(self_pointer self, const engine::sku_id& sku, std::uint64_t hash,
                  line_locations_callback& reply) {
  auto& st = self->state;
  struct search {
    std::vector<engine::location_id> candidates;
    std::vector<char> found;
    std::size_t remaining = 0;
    line_locations_callback reply;
    void finish() {
      std::vector<engine::location_id> out;
      for (std::size_t i = 0; i < candidates.size(); ++i) {
        if (found[i] != 0) {
          out.push_back(candidates[i]);
        }
      }
      reply(std::move(out));
    }
  };
  auto sr = std::make_shared<search>();
  sr->reply = std::move(reply);
  for (const auto& info : catalog_of(st).locations()) {
    sr->candidates.push_back(info.id);
  }
  sr->found.assign(sr->candidates.size(), 0);
  if (st.ctx->db != nullptr) {
    if (auto stored = st.ctx->db->closed_line_locations(sku, hash)) {
      for (const auto& location : *stored) {
        auto it = std::find(sr->candidates.begin(), sr->candidates.end(), location);
        if (it != sr->candidates.end()) {
          sr->found[static_cast<std::size_t>(it - sr->candidates.begin())] = 1;
        }
      }
    } else {
      log_json(log_level::error, "closed line index could not be read",
               {{"sku", sku.str()}, {"error", stored.error().message}});
    }
  }
  std::vector<std::pair<std::size_t, sku_location_actor>> live;
  for (std::size_t i = 0; i < sr->candidates.size(); ++i) {
    auto it = st.slots.find(engine::sku_location_key{sku, sr->candidates[i]});
    if (sr->found[i] == 0 && it != st.slots.end()) {
      live.emplace_back(i, it->second.actor);
    }
  }
  sr->remaining = live.size();
  if (live.empty()) {
    sr->finish();
    return;
  }
  for (auto& [index, actor] : live) {
    self->request(actor, st.ctx->opts.request_timeout, line_atom::value, hash)
        .then(
            [sr, i = index](bool held) {
              sr->found[i] = held ? 1 : 0;
              if (--sr->remaining == 0) {
                sr->finish();
              }
            },
            [sr, sku, i = index](caf::error& err) {
              log_json(log_level::warn, "forgotten line lookup unanswered",
                       {{"sku", sku.str()},
                        {"location", sr->candidates[i].str()},
                        {"error", caf::to_string(err)}});
              if (--sr->remaining == 0) {
                sr->finish();
              }
            });
  }
}

void on_get_states(self_pointer self, const key_list& keys, key_states_callback& reply) {
  gather_states(self, keys, [reply = std::move(reply)](states_read read) {
    reply(std::move(read.states));
  });
}

/// One reservation request walking the candidate locations (DESIGN §5: without a location, the
/// first location that can cover the quantity, in the channel's priority order when the request
/// has one, else in config order).
struct reserve_attempt {
  reserve_request req;
  reservation_callback reply;
  std::vector<engine::location_id> candidates;
  std::size_t next = 0;
  std::int64_t best_available = 0;  // the most any tried location could have given
};

void try_next_location(self_pointer self, std::shared_ptr<reserve_attempt> attempt) {
  auto& st = self->state;
  engine::sku_location_key key{attempt->req.sku, attempt->candidates[attempt->next]};
  ++attempt->next;
  reserve_request req = attempt->req;
  req.location = key.location;
  slot& target = slot_for(self, key);
  self->request(target.actor, st.ctx->opts.request_timeout, reserve_atom::value, std::move(req))
      .then(
          [self, attempt](reservation_reply& reply) {
            if (reply.status == reservation_status::insufficient) {
              attempt->best_available = std::max(attempt->best_available, reply.available);
              if (attempt->next < attempt->candidates.size()) {
                try_next_location(self, attempt);
                return;
              }
              reply.available = attempt->best_available;
            }
            attempt->reply(std::move(reply));
          },
          [attempt](caf::error&) {
            attempt->reply(
                error_reply(reservation_status::failed, "timed out; retry with the same key"));
          });
}

void on_reserve(self_pointer self, reserve_request& req, reservation_callback& reply) {
  auto attempt = std::make_shared<reserve_attempt>();
  attempt->candidates = reservation_candidates(req, catalog_of(self->state));
  attempt->req = std::move(req);
  attempt->reply = std::move(reply);
  if (attempt->candidates.empty()) {
    reservation_reply none;
    none.status = reservation_status::insufficient;
    attempt->reply(std::move(none));
    return;
  }
  try_next_location(self, std::move(attempt));
}

void on_end(self_pointer self, end_request& req, reservation_callback& reply) {
  auto& st = self->state;
  if (!catalog_of(st).has_location(req.key.location)) {
    reply(error_reply(reservation_status::not_found, "unknown reservation"));
    return;
  }
  slot& target = slot_for(self, req.key);
  self->request(target.actor, st.ctx->opts.request_timeout, end_atom::value, std::move(req))
      .then([reply](reservation_reply& answer) { reply(std::move(answer)); },
            [reply](caf::error&) {
              reply(error_reply(reservation_status::failed, "timed out; retry"));
            });
}

} // namespace

std::uint32_t shard_of(const engine::sku_id& sku, std::uint32_t shards) noexcept {
  std::uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : sku.str()) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return static_cast<std::uint32_t>(h % shards);
}

directory_shard_actor::behavior_type
directory_shard(directory_shard_actor::stateful_pointer<directory_shard_state> self,
                std::uint32_t index, const context* ctx, const engine::catalog* catalog) {
  auto& st = self->state;
  st.index = index;
  st.ctx = ctx;
  st.catalog = catalog;
  st.watermark_persisted = (*ctx->watermarks)[index].load(std::memory_order_relaxed);
  st.head_seen = st.watermark_persisted;
  self->delayed_send(self, ctx->opts.checkpoint_interval, tick_atom::value);
  // The sku_location actors are not linked (a link costs a heap node per actor); they go down
  // with their shard here instead, so one with an expiry timer pending cannot hold the actor
  // system's shutdown until its timer fires.
  self->set_exit_handler([self](caf::exit_msg& msg) {
    for (auto& [key, s] : self->state.slots) {
      self->send_exit(s.actor, msg.reason);
    }
    self->quit(msg.reason);
  });
  return {
      [self](deliver_atom, entry_batch& batch) {
        auto& s = self->state;
        for (auto& entry : batch) {
          auto keys = engine::touched_keys(entry.ev);
          for (std::size_t i = 0; i < keys.size(); ++i) {
            auto& [key, target] = entry_for(self, keys[i]);
            mark_dirty(s, key, target);
            if (i + 1 == keys.size()) {
              self->send(target.actor, apply_atom::value, std::move(entry));
            } else {
              self->send(target.actor, apply_atom::value, entry);
            }
          }
        }
        if (s.dirty.size() >= s.ctx->opts.checkpoint_dirty_max) {
          start_round(self);
        }
      },
      [self](head_atom, std::uint64_t head) {
        self->state.head_seen = std::max(self->state.head_seen, head);
      },
      [self](get_atom, engine::sku_id& sku, sku_view_callback& reply) { on_get(self, sku, reply); },
      [self](get_atom, key_list& keys, key_states_callback& reply) {
        on_get_states(self, keys, reply);
      },
      [self](line_atom, engine::sku_id& sku, std::uint64_t hash, line_locations_callback& reply) {
        on_find_line(self, sku, hash, reply);
      },
      [self](read_lapse_atom, std::uint64_t id) {
        auto it = self->state.reads_lapsing.find(id);
        if (it != self->state.reads_lapsing.end()) {
          auto finish = std::move(it->second);
          finish();  // erases the entry
        }
      },
      [self](tick_atom) {
        start_round(self);
        self->delayed_send(self, self->state.ctx->opts.checkpoint_interval, tick_atom::value);
      },
      [self](ckpt_done_atom, std::uint64_t watermark, bool ok) {
        on_round_done(self, watermark, ok);
      },
      [self](flush_atom) -> caf::typed_response_promise<std::uint64_t> {
        auto promise = self->make_response_promise<std::uint64_t>();
        self->state.flush_waiters.push_back(promise);
        if (!self->state.round_running) {
          start_round(self);
        }
        return promise;
      },
      [self](reserve_atom, reserve_request& req, reservation_callback& reply) {
        on_reserve(self, req, reply);
      },
      [self](end_atom, end_request& req, reservation_callback& reply) { on_end(self, req, reply); },
      [self](wake_atom, const engine::sku_location_key& key) { slot_for(self, key); },
      [self](kit_prepare_atom, prepare_request& req) -> caf::delegated<prepare_reply> {
        auto& target = slot_for(self, req.key).actor;
        return self->delegate(target, kit_prepare_atom::value, std::move(req));
      },
      [self](kit_await_atom, prepare_request& req,
             std::uint64_t serial) -> caf::delegated<reservation_reply> {
        auto& target = slot_for(self, req.key).actor;
        return self->delegate(target, kit_await_atom::value, std::move(req), serial);
      },
      [self](kit_abort_atom, prepared_ref& ref) {
        auto it = self->state.slots.find(ref.key);
        if (it != self->state.slots.end()) {
          self->send(it->second.actor, kit_abort_atom::value, std::move(ref));
        }
      },
      [self](journaled_atom, journal_result& result) {
        // Sent after the entry's own delivery (when fresh) from the same thread, so the actor
        // receives it after it applied the entry.
        auto it = self->state.slots.find(result.key);
        if (it != self->state.slots.end()) {
          self->send(it->second.actor, journaled_atom::value, std::move(result));
        }
      },
  };
}

} // namespace stockd::actors
