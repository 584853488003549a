#include "apps/stockctl_data.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>

#include "connectors/event_json.hpp"
#include "connectors/json_writer.hpp"
#include "engine/codec.hpp"
#include "store/database.hpp"
#include "store/replay.hpp"

namespace stockd::stockctl {

namespace {

/// A progress bar on stderr, drawn only when stderr is a terminal, at most 10 times a second.
class progress_bar {
public:
  explicit progress_bar(std::string label) : label_(std::move(label)), tty_(::isatty(2) == 1) {}
  ~progress_bar() { finish(); }
  progress_bar(const progress_bar&) = delete;
  progress_bar& operator=(const progress_bar&) = delete;

  void update(std::uint64_t done, std::uint64_t total) {
    if (!tty_) {
      return;
    }
    const auto now = std::chrono::steady_clock::now();
    if (drawn_ && done != total && now - last_ < std::chrono::milliseconds(100)) {
      return;
    }
    last_ = now;
    drawn_ = true;
    constexpr int width = 30;
    const double share = total == 0 ? 1.0 : static_cast<double>(done) / static_cast<double>(total);
    const int filled = static_cast<int>(share * width);
    std::fprintf(stderr, "\r%s [%.*s%*s] %3d%% %llu/%llu", label_.c_str(), filled,
                 "##############################", width - filled, "",
                 static_cast<int>(share * 100), static_cast<unsigned long long>(done),
                 static_cast<unsigned long long>(total));
  }
  void finish() {
    if (drawn_) {
      std::fputc('\n', stderr);
      drawn_ = false;
    }
  }

private:
  std::string label_;
  bool tty_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point last_{};
};

std::unique_ptr<store::database> open_store(const std::string& dir, bool read_only) {
  store::options opts;
  opts.dir = dir;
  opts.read_only = read_only;
  auto db = store::database::open(opts);
  if (!db) {
    std::fprintf(stderr, "stockctl: cannot open the store in %s: %s\n", dir.c_str(),
                 db.error().message.c_str());
    return nullptr;
  }
  return std::move(*db);
}

/// Copies the journal 1..through of `from` into the empty store `to`, keeping every seq.
bool copy_journal(const store::database& from, store::database& to, std::uint64_t through) {
  progress_bar bar("copy journal");
  constexpr std::size_t page = 4096;
  std::vector<store::append_status> statuses;
  for (std::uint64_t next = 1; next <= through;) {
    std::vector<engine::journal_entry> entries;
    auto read = from.read_journal(next, page, [&](const engine::journal_entry& e) {
      if (e.seq > through) {
        return false;
      }
      entries.push_back(e);
      return true;
    });
    if (!read || entries.empty()) {
      std::fprintf(stderr, "stockctl: cannot read the journal at seq %llu%s%s\n",
                   static_cast<unsigned long long>(next), read ? "" : ": ",
                   read ? "" : read.error().message.c_str());
      return false;
    }
    if (auto r = to.append(entries, statuses); !r) {
      std::fprintf(stderr, "stockctl: cannot write the new journal: %s\n", r.error().message.c_str());
      return false;
    }
    next += entries.size();
    bar.update(next - 1, through);
  }
  return true;
}

bool write_states(store::database& to, const store::replay_report& report) {
  // One shard, watermark = the replayed head: a stockd with any shard count starts from here
  // (store::database::prepare_recovery resets every shard to the recorded minimum).
  if (auto r = to.prepare_recovery(1); !r) {
    std::fprintf(stderr, "stockctl: %s\n", r.error().message.c_str());
    return false;
  }
  std::vector<store::checkpoint_record> records;
  records.reserve(report.states.size());
  for (const auto& [key, state] : report.states) {
    store::checkpoint_record record{key, {}, {}};
    engine::encode(state, record.state_bytes);
    // The replay's index of the lines each state forgot goes with it, as stockd stores it.
    if (auto index = report.forgotten_lines.find(key); index != report.forgotten_lines.end()) {
      for (const auto& [hash, returnable] : index->second) {
        record.forgotten_lines.push_back({hash, returnable});
      }
    }
    records.push_back(std::move(record));
  }
  if (auto r = to.write_checkpoints(records, 0, report.through); !r) {
    std::fprintf(stderr, "stockctl: cannot write checkpoints: %s\n", r.error().message.c_str());
    return false;
  }
  return true;
}

std::string key_text(const engine::sku_location_key& key) {
  return key.sku.str() + " @ " + key.location.str();
}

} // namespace

int replay(const data_flags& flags) {
  if (flags.data.empty()) {
    std::fputs("stockctl: replay needs --data DIR\n", stderr);
    return exit_usage;
  }
  auto live = open_store(flags.data, true);
  if (!live) {
    return exit_failed;
  }
  std::unique_ptr<store::database> fresh;
  if (!flags.into.empty()) {
    fresh = open_store(flags.into, false);
    if (!fresh) {
      return exit_failed;
    }
    if (fresh->journal_head() != 0) {
      std::fprintf(stderr, "stockctl: %s already holds a journal; replay --into needs a fresh dir\n",
                   flags.into.c_str());
      return exit_usage;
    }
  }
  progress_bar bar("replay");
  store::replay_options opts;
  opts.progress = [&bar](std::uint64_t done, std::uint64_t total) { bar.update(done, total); };
  auto report = store::replay(*live, opts);
  bar.finish();
  if (!report) {
    std::fprintf(stderr, "stockctl: replay failed: %s\n", report.error().message.c_str());
    return exit_failed;
  }
  if (fresh && (!copy_journal(*live, *fresh, report->through) || !write_states(*fresh, *report))) {
    return exit_failed;
  }
  if (flags.json) {
    connectors::json_writer w;
    w.begin_object();
    w.field("through", report->through);
    w.field("events", report->events);
    w.field("keys", static_cast<std::uint64_t>(report->states.size()));
    w.field("checkpoints_compared", static_cast<std::uint64_t>(report->checkpoints));
    w.field("matched", static_cast<std::uint64_t>(report->matched));
    w.field("mismatched", static_cast<std::uint64_t>(report->mismatched));
    w.field("not_checkpointed", static_cast<std::uint64_t>(report->not_checkpointed));
    w.field("agrees", report->agrees());
    w.key("mismatches").begin_array();
    for (const auto& m : report->mismatches) {
      w.begin_object()
          .field("sku", m.key.sku.str())
          .field("location", m.key.location.str())
          .field("at_seq", m.at_seq)
          .field("what", m.what)
          .end_object();
    }
    w.end_array();
    if (!flags.into.empty()) {
      w.field("into", flags.into);
    }
    w.end_object();
    std::cout << w.take() << '\n';
  } else {
    std::printf("replayed %llu events (seq 1..%llu) into %zu SKU x location states\n",
                static_cast<unsigned long long>(report->events),
                static_cast<unsigned long long>(report->through), report->states.size());
    std::printf("checkpoints compared: %zu, equal: %zu, different: %zu, not yet checkpointed: %zu\n",
                report->checkpoints, report->matched, report->mismatched, report->not_checkpointed);
    for (const auto& m : report->mismatches) {
      std::printf("  DIFFERENT  %-40s at seq %-10llu %s\n", key_text(m.key).c_str(),
                  static_cast<unsigned long long>(m.at_seq), m.what.c_str());
    }
    if (report->mismatched > report->mismatches.size()) {
      std::printf("  ... and %zu more\n", report->mismatched - report->mismatches.size());
    }
    if (!flags.into.empty()) {
      std::printf("rebuilt store written to %s\n", flags.into.c_str());
    }
    std::printf("%s\n", report->agrees() ? "live state agrees with the journal"
                                         : "LIVE STATE DIFFERS FROM THE JOURNAL");
  }
  return report->agrees() ? exit_ok : exit_differs;
}

int export_data(const data_flags& flags) {
  if (flags.data.empty()) {
    std::fputs("stockctl: export needs --data DIR\n", stderr);
    return exit_usage;
  }
  auto db = open_store(flags.data, true);
  if (!db) {
    return exit_failed;
  }
  std::ofstream file;
  if (!flags.out.empty()) {
    file.open(flags.out, std::ios::out | std::ios::trunc);
    if (!file) {
      std::fprintf(stderr, "stockctl: cannot write %s\n", flags.out.c_str());
      return exit_failed;
    }
  }
  std::ostream& out = flags.out.empty() ? std::cout : file;
  std::uint64_t lines = 0;
  if (flags.events) {
    progress_bar bar("export");
    const std::uint64_t head = db->journal_head();
    std::uint64_t next = 1;
    while (next <= head) {
      std::vector<engine::journal_entry> entries;
      auto read = db->read_journal(next, 4096, [&](const engine::journal_entry& e) {
        if (e.seq > head) {
          return false;
        }
        entries.push_back(e);
        return true;
      });
      if (!read || entries.empty()) {
        std::fprintf(stderr, "stockctl: cannot read the journal at seq %llu\n",
                     static_cast<unsigned long long>(next));
        return exit_failed;
      }
      for (const auto& e : entries) {
        out << connectors::journal_entry_json(e) << '\n';
      }
      next += entries.size();
      lines += entries.size();
      bar.update(next - 1, head);
    }
  } else {
    progress_bar bar("export");
    store::replay_options opts;
    opts.compare = false;
    opts.progress = [&bar](std::uint64_t done, std::uint64_t total) { bar.update(done, total); };
    auto report = store::replay(*db, opts);
    bar.finish();
    if (!report) {
      std::fprintf(stderr, "stockctl: replay failed: %s\n", report.error().message.c_str());
      return exit_failed;
    }
    for (const auto& [key, s] : report->states) {
      connectors::json_writer w;
      w.begin_object()
          .field("sku", key.sku.str())
          .field("location", key.location.str())
          .field("available", s.qty.available)
          .field("committed", s.qty.committed)
          .field("reserved", s.qty.reserved)
          .field("safety_stock", s.qty.safety_stock)
          .field("damaged", s.qty.damaged)
          .field("quality_control", s.qty.quality_control)
          .field("incoming", s.qty.incoming)
          .field("on_hand", s.qty.on_hand())
          .field("oversold", s.oversold_units)
          .field("last_seq", s.last_seq)
          .end_object();
      out << w.take() << '\n';
      ++lines;
    }
  }
  out.flush();
  if (!out) {
    std::fputs("stockctl: writing the export failed\n", stderr);
    return exit_failed;
  }
  std::fprintf(stderr, "stockctl: exported %llu lines\n", static_cast<unsigned long long>(lines));
  return exit_ok;
}

int import_journal(const data_flags& flags, const std::string& file) {
  if (flags.data.empty()) {
    return exit_usage;
  }
  std::ifstream in_file;
  if (file != "-") {
    in_file.open(file);
    if (!in_file) {
      std::fprintf(stderr, "stockctl: cannot read %s\n", file.c_str());
      return exit_failed;
    }
  }
  std::istream& in = file == "-" ? std::cin : in_file;
  auto db = open_store(flags.data, false);
  if (!db) {
    return exit_failed;
  }
  const std::uint64_t head_before = db->journal_head();
  std::uint64_t skipped = 0;
  std::uint64_t appended = 0;
  std::uint64_t line_no = 0;
  std::vector<engine::journal_entry> batch;
  std::vector<store::append_status> statuses;
  // A batch is one durable transaction; an error stops the import after the last whole batch,
  // and running it again resumes there.
  auto flush = [&]() -> bool {
    if (batch.empty()) {
      return true;
    }
    const std::uint64_t first = batch.front().seq;
    if (auto r = db->append(batch, statuses); !r) {
      std::fprintf(stderr, "stockctl: cannot append: %s\n", r.error().message.c_str());
      return false;
    }
    for (std::size_t i = 0; i < statuses.size(); ++i) {
      if (statuses[i].duplicate || statuses[i].seq != first + i) {
        // The transaction is already durable; say exactly what happened.
        std::fprintf(stderr,
                     "stockctl: entry seq %llu was stored as %s seq %llu: the file repeats an "
                     "event (source, id); the store holds everything up to seq %llu\n",
                     static_cast<unsigned long long>(first + i),
                     statuses[i].duplicate ? "a duplicate of" : "",
                     static_cast<unsigned long long>(statuses[i].seq),
                     static_cast<unsigned long long>(db->journal_head()));
        return false;
      }
    }
    appended += batch.size();
    batch.clear();
    return true;
  };
  std::string line;
  std::uint64_t expected = head_before + 1;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty()) {
      continue;
    }
    auto entry = connectors::parse_journal_entry_json(line);
    if (!entry) {
      std::fprintf(stderr, "stockctl: line %llu: %s (nothing from this line on was imported)\n",
                   static_cast<unsigned long long>(line_no), entry.error().c_str());
      flush();
      return exit_failed;
    }
    if (entry->seq <= head_before) {
      // Already imported (a resumed run): it must be the same event.
      auto seq = db->find_event(entry->ev.source, entry->ev.id);
      if (!seq || *seq != std::optional<std::uint64_t>{entry->seq}) {
        std::fprintf(stderr, "stockctl: line %llu: seq %llu is already taken by another event\n",
                     static_cast<unsigned long long>(line_no),
                     static_cast<unsigned long long>(entry->seq));
        return exit_failed;
      }
      ++skipped;
      continue;
    }
    if (entry->seq != expected) {
      std::fprintf(stderr, "stockctl: line %llu: seq %llu where %llu was expected (the file must "
                           "be a journal in order, as export --events writes it)\n",
                   static_cast<unsigned long long>(line_no),
                   static_cast<unsigned long long>(entry->seq),
                   static_cast<unsigned long long>(expected));
      flush();
      return exit_failed;
    }
    ++expected;
    batch.push_back(std::move(*entry));
    if (batch.size() == 4096 && !flush()) {
      return exit_failed;
    }
  }
  if (!flush()) {
    return exit_failed;
  }
  if (flags.json) {
    connectors::json_writer w;
    w.begin_object()
        .field("appended", appended)
        .field("skipped", skipped)
        .field("journal_head", db->journal_head())
        .end_object();
    std::cout << w.take() << '\n';
  } else {
    std::printf("imported %llu journal entries (%llu already present); journal head %llu\n",
                static_cast<unsigned long long>(appended), static_cast<unsigned long long>(skipped),
                static_cast<unsigned long long>(db->journal_head()));
  }
  return exit_ok;
}

} // namespace stockd::stockctl
