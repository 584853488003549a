#pragma once
// The single journal writer: one OS thread that owns every LMDB write transaction and turns
// concurrent submissions into group commits. Submitting never blocks on I/O; completions run on
// the writer thread, in journal order, after the commit is durable (fsynced).
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <thread>
#include <vector>

#include "store/database.hpp"

namespace stockd::store {

struct writer_options {
  std::size_t batch_events_max = 16384;  // events in one commit at most (one larger submission
                                         // is still committed, alone)
  std::size_t queue_events_max = 262144; // submissions past this are refused (overloaded)
  std::size_t queue_checkpoint_jobs_max = 1024;  // checkpoint submissions past this are refused
  // Checkpoint states written in one commit at most: each is a random-key write (a page of its
  // own), so an unbounded round would stall the events committed with it. A larger round is
  // spread over several commits; its watermark is written with its last part only. Measured at
  // 50k events/s: ack p99 66 ms with 1024, 45 ms with 256, 25 ms with 64 (= no checkpoints at
  // all). The cost: under sustained load checkpoints advance by this many states per commit.
  std::size_t checkpoint_records_per_commit_max = 64;
  // The same for a commit that carries no events (none were queued when it was put together):
  // no acknowledgement waits inside it, so it may be larger; an event that arrives meanwhile
  // waits for at most one such commit. Without it a catalog's first checkpoints (1M SKUs × 4
  // locations seeded by snapshots) and the final flush at shutdown went 64 states per
  // two-fsync commit: stopping stockd with 4M live states took 103 s.
  std::size_t checkpoint_records_per_idle_commit_max = 1024;
  std::size_t queue_outbox_jobs_max = 1024;  // outbox submissions past this are refused
  // Channel outbox entries in one commit at most (whole submissions; one larger still goes).
  // An entry is a few dozen bytes, written where its channel's others are.
  std::size_t outbox_records_per_commit_max = 4096;
  std::size_t queue_config_jobs_max = 16;  // config versions waiting (reloads are rare)
};

/// Called on the writer thread after the commit: `statuses[i]` belongs to `entries[i]`, whose
/// `seq` is filled in. On a failed commit `failure` is set and nothing was stored.
using append_completion =
    std::function<void(std::vector<engine::journal_entry>& entries,
                       const std::vector<append_status>& statuses, const error* failure)>;
using checkpoint_completion = std::function<void(const error* failure)>;
using outbox_completion = std::function<void(const error* failure)>;

/// Thread rules: submit*, on_commit, queued_events, commits and stop may be called from any
/// thread. Completions and the hook run on the writer thread: they must not throw, must not block
/// for long (every later commit waits for them) and must not call stop().
///
/// Failure: map_full, disk_full and invalid fail only the submissions concerned (an invalid
/// submission is rejected on its own; when a group commit hits map_full its submissions are
/// retried one by one so a small one can still fit). io_error and corrupt are fatal: the writer
/// stays failed, submissions already queued complete with that failure, and every later submit
/// returns false until the process restarts.
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
  /// A channel's outbox entries (connectors/outbox.hpp), committed with the next group; `done`
  /// after the commit (failure set when nothing was stored). False as for submit_checkpoints.
  bool submit_outbox(std::vector<outbox_record> records, outbox_completion done);

  /// A config version (database::put_config_version), committed on its own after the group it
  /// is queued behind; `done` after the commit (failure set when nothing was stored). False
  /// when stopping, failed, or `queue_config_jobs_max` are queued.
  bool submit_config_version(config_version_record record, outbox_completion done);

  /// Called on the writer thread after each successful journal commit (after its completions)
  /// with the new journal head.
  void on_commit(std::function<void(std::uint64_t head)> hook);

  std::size_t queued_events() const;
  /// Where the writer thread's time goes; for status and benchmarks.
  struct timing {
    std::uint64_t journal_commits = 0;
    std::uint64_t journal_events = 0;
    std::uint64_t journal_commit_ns = 0;   // inside database::append (incl. fsync)
    std::uint64_t completion_ns = 0;       // in the submitters' completions
    std::uint64_t checkpoint_commits = 0;  // commits that carried checkpoint batches
  };
  timing read_timing() const;
  /// Successful journal commits so far (each may carry many submissions).
  std::uint64_t commits() const;
  /// Refuses new submissions, finishes every queued job, then joins. Idempotent; call it from
  /// one owner thread, never from a completion.
  void stop();

private:
  struct append_job;
  struct checkpoint_job;
  struct outbox_job;
  struct config_job;
  void run();
  struct checkpoint_part {
    checkpoint_job* job = nullptr;
    std::size_t begin = 0;
    std::size_t end = 0;
    bool last = false;  // the job's last part: carries its watermark, completes it
  };
  void commit_group(std::vector<std::unique_ptr<append_job>>& jobs,
                    const std::vector<checkpoint_part>& parts,
                    std::vector<std::unique_ptr<checkpoint_job>>& finished,
                    std::vector<std::unique_ptr<outbox_job>>& outboxes);
  /// Commits the jobs, the checkpoints and the outbox entries together; returns the failure that
  /// applies to the checkpoints and outbox entries (nullopt when they are stored).
  std::optional<error> commit_appends(std::vector<std::unique_ptr<append_job>>& jobs,
                                      std::span<const database::checkpoint_batch> checkpoints,
                                      std::span<const outbox_record> outbox);
  void mark_failed(const error& failure);

  database& db_;
  writer_options opts_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  // Guarded by mutex_.
  std::deque<std::unique_ptr<append_job>> appends_;
  std::deque<std::unique_ptr<checkpoint_job>> checkpoints_;
  std::size_t queued_events_ = 0;
  bool stopping_ = false;
  bool failed_ = false;
  error failure_;  // the fatal failure, once failed_
  std::function<void(std::uint64_t)> on_commit_;
  std::deque<std::unique_ptr<outbox_job>> outboxes_;
  std::deque<std::unique_ptr<config_job>> configs_;
  std::unique_ptr<checkpoint_job> partial_;  // a round spread over commits, begun not finished
  // Writer thread only.
  std::atomic<std::uint64_t> commits_{0};
  std::atomic<std::uint64_t> journal_events_{0};
  std::atomic<std::uint64_t> journal_commit_ns_{0};
  std::atomic<std::uint64_t> completion_ns_{0};
  std::atomic<std::uint64_t> checkpoint_commits_{0};
  std::thread thread_;
};

} // namespace stockd::store
