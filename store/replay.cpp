#include "store/replay.hpp"

#include <algorithm>
#include <optional>
#include <utility>

#include "engine/apply.hpp"
#include "engine/codec.hpp"

namespace stockd::store {

namespace {

struct checkpointed {
  engine::sku_location_state state;
  bool compared = false;
};

result<std::map<engine::sku_location_key, checkpointed>> load_checkpoints(const database& db) {
  std::map<engine::sku_location_key, checkpointed> out;
  std::optional<engine::sku_location_key> after;
  constexpr std::size_t page = 4096;
  for (;;) {
    auto records = db.read_checkpoints(after, page);
    if (!records) {
      return unexpected(records.error());
    }
    for (auto& record : *records) {
      auto decoded = engine::decode_state(record.state_bytes);
      if (!decoded || !(decoded->key == record.key)) {
        return unexpected(error{errc::corrupt, "checkpoint of " + record.key.sku.str() + " at " +
                                                   record.key.location.str() +
                                                   " does not decode"});
      }
      out.emplace(record.key, checkpointed{std::move(*decoded)});
    }
    if (records->size() < page) {
      return out;
    }
    after = records->back().key;
  }
}

void compare(replay_report& report, const engine::sku_location_key& key,
             const engine::sku_location_state& rebuilt, checkpointed& live,
             std::size_t mismatches_max) {
  live.compared = true;
  ++report.checkpoints;
  std::string what = first_difference(rebuilt, live.state);
  if (what.empty()) {
    ++report.matched;
    return;
  }
  ++report.mismatched;
  if (report.mismatches.size() < mismatches_max) {
    report.mismatches.push_back({key, live.state.last_seq, std::move(what)});
  }
}

template <class T>
std::string versus(std::string_view field, const T& a, const T& b) {
  return std::string(field) + ": replayed " + std::to_string(a) + " vs live " + std::to_string(b);
}

} // namespace

std::string first_difference(const engine::sku_location_state& a,
                             const engine::sku_location_state& b) {
  const std::pair<std::string_view, std::int64_t engine::buckets::*> buckets[] = {
      {"available", &engine::buckets::available},
      {"committed", &engine::buckets::committed},
      {"reserved", &engine::buckets::reserved},
      {"safety_stock", &engine::buckets::safety_stock},
      {"damaged", &engine::buckets::damaged},
      {"quality_control", &engine::buckets::quality_control},
      {"incoming", &engine::buckets::incoming},
  };
  for (const auto& [name, member] : buckets) {
    if (a.qty.*member != b.qty.*member) {
      return versus(name, a.qty.*member, b.qty.*member);
    }
  }
  if (a.oversold_units != b.oversold_units) {
    return versus("oversold", a.oversold_units, b.oversold_units);
  }
  if (a.last_seq != b.last_seq) {
    return versus("last_seq", a.last_seq, b.last_seq);
  }
  if (a.open_lines.size() != b.open_lines.size()) {
    return versus("open order lines", a.open_lines.size(), b.open_lines.size());
  }
  if (a.reservations.size() != b.reservations.size()) {
    return versus("reservations", a.reservations.size(), b.reservations.size());
  }
  if (a.parked.size() != b.parked.size()) {
    return versus("parked events", a.parked.size(), b.parked.size());
  }
  if (a == b) {
    return {};
  }
  // Same counts and buckets, different contents: name the part.
  if (a.open_lines != b.open_lines) return "open order lines differ";
  if (a.closed_lines != b.closed_lines) return "closed order lines differ";
  if (a.reservations != b.reservations) return "reservations differ";
  if (a.parked != b.parked) return "parked events differ";
  if (a.oversold_by_channel != b.oversold_by_channel) return "oversold by channel differs";
  if (a.last_event != b.last_event) return "last event differs";
  if (a.last_count_as_of != b.last_count_as_of) return "last count time differs";
  if (a.physical_history != b.physical_history) return "physical history differs";
  return "history floor differs";
}

result<replay_report> replay(const database& db, const replay_options& opts) {
  replay_report report;
  std::map<engine::sku_location_key, checkpointed> live;
  if (opts.compare) {
    auto loaded = load_checkpoints(db);
    if (!loaded) {
      return unexpected(loaded.error());
    }
    live = std::move(*loaded);
  }
  // A live stockd may have checkpointed past the head this process saw at open; the journal
  // holds every seq a checkpoint reflects (checkpoints follow the journal commit).
  std::uint64_t through = opts.through;
  if (through == 0) {
    through = db.journal_head();
    for (const auto& [key, c] : live) {
      through = std::max(through, c.state.last_seq);
    }
  }
  report.through = through;
  const std::size_t page = opts.page == 0 ? 4096 : opts.page;
  std::uint64_t next = 1;
  while (next <= through) {
    const std::size_t want =
        static_cast<std::size_t>(std::min<std::uint64_t>(page, through - next + 1));
    // Entries are copied out of the read transaction before apply runs (keep it short).
    std::vector<engine::journal_entry> entries;
    entries.reserve(want);
    auto read = db.read_journal(next, want, [&entries](const engine::journal_entry& e) {
      entries.push_back(e);
      return true;
    });
    if (!read) {
      return unexpected(read.error());
    }
    if (entries.empty()) {
      return unexpected(error{errc::corrupt, "journal ends at " + std::to_string(next - 1) +
                                                 ", before seq " + std::to_string(through)});
    }
    for (const auto& entry : entries) {
      if (entry.seq != next) {
        return unexpected(error{errc::corrupt, "journal seq " + std::to_string(entry.seq) +
                                                   " where " + std::to_string(next) +
                                                   " was expected"});
      }
      for (const auto& key : engine::touched_keys(entry.ev)) {
        auto [it, fresh] = report.states.try_emplace(key);
        if (fresh) {
          it->second.key = key;
        }
        if (auto c = live.find(key); c != live.end() && !c->second.compared &&
                                     c->second.state.last_seq < entry.seq) {
          compare(report, key, it->second, c->second, opts.mismatches_max);
        }
        auto& index = report.forgotten_lines[key];
        const auto remember = [&index](const std::vector<engine::closed_line>& lines) {
          for (const auto& line : lines) {
            index[line.line_hash] = line.returnable;
          }
        };
        // As the sku_location actor does (actors/sku_location.cpp): a line the state forgot is
        // recalled before the event that names it.
        if (auto hash = engine::line_to_recall(it->second, entry)) {
          if (auto found = index.find(*hash); found != index.end()) {
            remember(engine::recall_closed_line(it->second, {*hash, found->second}));
          }
        }
        const engine::outcome out = engine::apply(it->second, entry, entry.received_at);
        remember(out.forgotten_lines);
        if (out.kind == engine::outcome_kind::rejected) {
          ++report.rejected;
        }
      }
      ++next;
      ++report.events;
    }
    if (opts.progress) {
      opts.progress(report.events, through);
    }
  }
  if (opts.progress && report.events == 0) {
    opts.progress(0, 0);
  }
  for (auto& [key, c] : live) {
    if (c.compared || c.state.last_seq > through) {
      continue;  // compared already, or past an explicit `through`
    }
    auto it = report.states.find(key);
    if (it == report.states.end()) {
      // A checkpoint of a key no replayed event touched.
      engine::sku_location_state empty;
      empty.key = key;
      compare(report, key, empty, c, opts.mismatches_max);
    } else {
      compare(report, key, it->second, c, opts.mismatches_max);
    }
  }
  for (const auto& [key, state] : report.states) {
    if (opts.compare && !live.contains(key)) {
      ++report.not_checkpointed;
    }
  }
  return report;
}

} // namespace stockd::store
