#pragma once
// The single journal writer: one OS thread that owns every LMDB write transaction and turns
// concurrent submissions into group commits. Submitting never blocks on I/O; completions run on
// the writer thread, in journal order, after the commit is durable (fsynced).
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "store/database.hpp"

namespace stockd::store {

struct writer_options {
  std::size_t batch_events_max = 16384;  // events in one commit at most
  std::size_t queue_events_max = 262144; // submissions past this are refused (overloaded)
};

/// Called on the writer thread after the commit: `statuses[i]` belongs to `entries[i]`, whose
/// `seq` is filled in. On a failed commit `failure` is set and nothing was stored.
using append_completion =
    std::function<void(std::vector<engine::journal_entry>& entries,
                       const std::vector<append_status>& statuses, const error* failure)>;
using checkpoint_completion = std::function<void(const error* failure)>;

class writer {
public:
  writer(database& db, writer_options opts);
  ~writer();  // drains the queue, then joins
  writer(const writer&) = delete;
  writer& operator=(const writer&) = delete;

  /// false when the queue is full (the caller answers "overloaded") or the writer has stopped
  /// after a fatal error. `done` is then not called.
  bool submit(std::vector<engine::journal_entry> entries, append_completion done);
  bool submit_checkpoints(std::vector<checkpoint_record> records, std::uint32_t shard,
                          std::uint64_t watermark, checkpoint_completion done);

  /// Called on the writer thread after each successful journal commit (after its completions)
  /// with the new journal head.
  void on_commit(std::function<void(std::uint64_t head)> hook);

  std::size_t queued_events() const;
  std::uint64_t commits() const;
  void stop();

private:
  void run();
  // (implementation detail members)
  struct job;
  database& db_;
  writer_options opts_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<job*> queue_;
  std::size_t queued_events_ = 0;
  bool stopping_ = false;
  bool failed_ = false;
  std::uint64_t commits_ = 0;
  std::function<void(std::uint64_t)> on_commit_;
  std::thread thread_;
};

} // namespace stockd::store
