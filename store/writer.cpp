#include "store/writer.hpp"

#include <pthread.h>

#include <algorithm>
#include <cassert>
#include <iterator>
#include <optional>
#include <span>
#include <utility>

namespace stockd::store {

struct writer::append_job {
  std::vector<engine::journal_entry> entries;
  append_completion done;
  std::optional<error> rejected;  // set when the submission itself cannot be stored
};

struct writer::checkpoint_job {
  std::vector<checkpoint_record> records;
  std::size_t offset = 0;  // records before it are committed (writer thread only)
  std::uint32_t shard = 0;
  std::uint64_t watermark = 0;
  checkpoint_completion done;
};

struct writer::outbox_job {
  std::vector<outbox_record> records;
  outbox_completion done;
};

struct writer::config_job {
  config_version_record record;
  outbox_completion done;
};

namespace {

// io_error and corrupt mean the store can no longer be trusted to keep what it acknowledges;
// the others are about one batch (too big, disk momentarily full, a bad key).
bool is_fatal(const error& failure) noexcept {
  return failure.code == errc::io_error || failure.code == errc::corrupt;
}

} // namespace

writer::writer(database& db, writer_options opts) : db_(db), opts_(opts) {
  assert(opts_.batch_events_max > 0);
  // Started last: run() uses every other member.
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "stockd-writer");  // visible in top -H, perf, gdb
    run();
  });
}

writer::~writer() {
  stop();
}

bool writer::submit(std::vector<engine::journal_entry> entries, append_completion done) {
  assert(done);
  const std::size_t count = entries.size();
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || failed_) {
      return false;
    }
    assert(queued_events_ <= opts_.queue_events_max);
    if (count > opts_.queue_events_max - queued_events_) {
      return false;
    }
    auto job = std::make_unique<append_job>();
    job->entries = std::move(entries);
    job->done = std::move(done);
    appends_.push_back(std::move(job));
    queued_events_ += count;
  }
  wake_.notify_one();
  return true;
}

bool writer::submit_checkpoints(std::vector<checkpoint_record> records, std::uint32_t shard,
                                std::uint64_t watermark, checkpoint_completion done) {
  assert(done);
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || failed_ || checkpoints_.size() >= opts_.queue_checkpoint_jobs_max) {
      return false;
    }
    auto job = std::make_unique<checkpoint_job>();
    job->records = std::move(records);
    job->shard = shard;
    job->watermark = watermark;
    job->done = std::move(done);
    checkpoints_.push_back(std::move(job));
  }
  wake_.notify_one();
  return true;
}

bool writer::submit_outbox(std::vector<outbox_record> records, outbox_completion done) {
  assert(done);
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || failed_ || outboxes_.size() >= opts_.queue_outbox_jobs_max) {
      return false;
    }
    auto job = std::make_unique<outbox_job>();
    job->records = std::move(records);
    job->done = std::move(done);
    outboxes_.push_back(std::move(job));
  }
  wake_.notify_one();
  return true;
}

bool writer::submit_config_version(config_version_record record, outbox_completion done) {
  assert(done);
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || failed_ || configs_.size() >= opts_.queue_config_jobs_max) {
      return false;
    }
    auto job = std::make_unique<config_job>();
    job->record = std::move(record);
    job->done = std::move(done);
    configs_.push_back(std::move(job));
  }
  wake_.notify_one();
  return true;
}

void writer::on_commit(std::function<void(std::uint64_t head)> hook) {
  std::lock_guard lock(mutex_);
  on_commit_ = std::move(hook);
}

std::size_t writer::queued_events() const {
  std::lock_guard lock(mutex_);
  return queued_events_;
}

writer::timing writer::read_timing() const {
  timing t;
  t.journal_commits = commits_.load(std::memory_order_relaxed);
  t.journal_events = journal_events_.load(std::memory_order_relaxed);
  t.journal_commit_ns = journal_commit_ns_.load(std::memory_order_relaxed);
  t.completion_ns = completion_ns_.load(std::memory_order_relaxed);
  t.checkpoint_commits = checkpoint_commits_.load(std::memory_order_relaxed);
  return t;
}

namespace {
std::uint64_t nanoseconds_since(std::chrono::steady_clock::time_point start) {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start)
          .count());
}
} // namespace

std::uint64_t writer::commits() const {
  return commits_.load();
}

void writer::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) {
    assert(thread_.get_id() != std::this_thread::get_id());
    thread_.join();
  }
}

void writer::mark_failed(const error& failure) {
  std::lock_guard lock(mutex_);
  if (!failed_) {
    failed_ = true;
    failure_ = failure;
  }
}

void writer::run() {
  std::vector<std::unique_ptr<append_job>> batch;
  std::vector<checkpoint_part> parts;
  std::vector<std::unique_ptr<checkpoint_job>> finished;
  std::vector<std::unique_ptr<outbox_job>> outboxes;
  std::unique_ptr<config_job> config;
  for (;;) {
    batch.clear();
    parts.clear();
    finished.clear();
    outboxes.clear();
    config.reset();
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] {
        return stopping_ || !appends_.empty() || !checkpoints_.empty() || partial_ != nullptr ||
               !outboxes_.empty() || !configs_.empty();
      });
      if (appends_.empty() && checkpoints_.empty() && partial_ == nullptr && outboxes_.empty() &&
          configs_.empty()) {
        return;  // stopping, and everything queued is done
      }
      if (!configs_.empty()) {
        config = std::move(configs_.front());
        configs_.pop_front();
      }
      // Everything queued, up to the batch limits, goes into one commit: that is the group
      // commit. Checkpoints ride in the same transaction as the events, so a checkpoint round
      // costs no fsync of its own and a flood of events cannot starve it (nor it them).
      // A single submission larger than the limit still goes, alone.
      std::size_t events = 0;
      while (!appends_.empty()) {
        const std::size_t next = appends_.front()->entries.size();
        if (!batch.empty() && events + next > opts_.batch_events_max) {
          break;
        }
        events += next;
        batch.push_back(std::move(appends_.front()));
        appends_.pop_front();
      }
      queued_events_ -= events;
      std::size_t budget = std::max<std::size_t>(
          1, batch.empty() ? std::max(opts_.checkpoint_records_per_commit_max,
                                      opts_.checkpoint_records_per_idle_commit_max)
                           : opts_.checkpoint_records_per_commit_max);
      auto take = [&](checkpoint_job& job) {
        const std::size_t n = std::min(budget, job.records.size() - job.offset);
        parts.push_back({&job, job.offset, job.offset + n, job.offset + n == job.records.size()});
        job.offset += n;
        budget -= n;
        return job.offset == job.records.size();
      };
      if (partial_ != nullptr && take(*partial_)) {
        finished.push_back(std::move(partial_));
      }
      while (partial_ == nullptr && budget > 0 && !checkpoints_.empty()) {
        auto job = std::move(checkpoints_.front());
        checkpoints_.pop_front();
        if (take(*job)) {
          finished.push_back(std::move(job));
        } else {
          partial_ = std::move(job);
        }
      }
      // Outbox entries ride in the same commit too: a channel's change waits for this commit
      // before it is first sent, so it should cost no fsync of its own.
      std::size_t outbox_records = 0;
      while (!outboxes_.empty() &&
             (outboxes.empty() || outbox_records + outboxes_.front()->records.size() <=
                                      opts_.outbox_records_per_commit_max)) {
        outbox_records += outboxes_.front()->records.size();
        outboxes.push_back(std::move(outboxes_.front()));
        outboxes_.pop_front();
      }
    }
    if (!batch.empty() || !parts.empty() || !outboxes.empty()) {
      commit_group(batch, parts, finished, outboxes);
    }
    if (config) {
      // Its own transaction: a config version is rare, and must not fail the group with it.
      bool failed_already = false;
      error failure;
      {
        std::lock_guard lock(mutex_);
        failed_already = failed_;
        failure = failure_;
      }
      if (failed_already) {
        config->done(&failure);
        continue;
      }
      auto stored = db_.put_config_version(config->record);
      if (!stored && is_fatal(stored.error())) {
        mark_failed(stored.error());
      }
      config->done(stored ? nullptr : &stored.error());
    }
  }
}

void writer::commit_group(std::vector<std::unique_ptr<append_job>>& jobs,
                          const std::vector<checkpoint_part>& parts,
                          std::vector<std::unique_ptr<checkpoint_job>>& finished,
                          std::vector<std::unique_ptr<outbox_job>>& outboxes) {
  std::vector<outbox_record> outbox;
  if (outboxes.size() == 1) {
    outbox = std::move(outboxes.front()->records);
  } else {
    for (auto& job : outboxes) {
      std::move(job->records.begin(), job->records.end(), std::back_inserter(outbox));
    }
  }
  std::vector<database::checkpoint_batch> batches;
  batches.reserve(parts.size());
  for (const auto& part : parts) {
    // Watermark 0 writes none: only a round's last part may move the shard's watermark.
    batches.push_back({std::span<const checkpoint_record>(part.job->records)
                           .subspan(part.begin, part.end - part.begin),
                       part.job->shard, part.last ? part.job->watermark : 0});
  }
  std::optional<error> failure = commit_appends(jobs, batches, outbox);
  if (!parts.empty()) {
    checkpoint_commits_.fetch_add(1, std::memory_order_relaxed);
  }
  if (failure && partial_ != nullptr) {
    // A round that failed part-way is failed whole: its shard marks its keys dirty again.
    std::lock_guard lock(mutex_);
    finished.push_back(std::move(partial_));
  }
  for (auto& job : finished) {
    job->done(failure ? &*failure : nullptr);
  }
  for (auto& job : outboxes) {
    job->done(failure ? &*failure : nullptr);
  }
}

std::optional<error> writer::commit_appends(std::vector<std::unique_ptr<append_job>>& jobs,
                                           std::span<const database::checkpoint_batch> checkpoints,
                                           std::span<const outbox_record> outbox) {
  std::optional<error> fatal;
  std::function<void(std::uint64_t)> hook;
  {
    std::lock_guard lock(mutex_);
    if (failed_) {
      fatal = failure_;
    }
    hook = on_commit_;
  }
  if (fatal) {
    std::vector<append_status> none;
    for (auto& job : jobs) {
      none.assign(job->entries.size(), append_status{});
      job->done(job->entries, none, &*fatal);
    }
    return fatal;
  }

  // Check each submission on its own so one bad key fails only its submitter, not the group.
  std::vector<engine::journal_entry> all;
  std::size_t valid_jobs = 0;
  for (auto& job : jobs) {
    for (const auto& entry : job->entries) {
      if (auto checked = db_.check(entry); !checked) {
        job->rejected = checked.error();
        break;
      }
    }
    if (!job->rejected) {
      ++valid_jobs;
      // Moving elements (not the vector) keeps each job's size, so they can be moved back.
      std::move(job->entries.begin(), job->entries.end(), std::back_inserter(all));
    }
  }

  std::vector<append_status> statuses;
  const auto commit_started = std::chrono::steady_clock::now();
  auto committed =
      db_.commit(std::span<engine::journal_entry>(all), statuses, checkpoints, outbox);
  journal_commit_ns_.fetch_add(nanoseconds_since(commit_started), std::memory_order_relaxed);

  std::size_t offset = 0;
  for (auto& job : jobs) {
    if (!job->rejected) {
      const auto first = all.begin() + static_cast<std::ptrdiff_t>(offset);
      std::move(first, first + static_cast<std::ptrdiff_t>(job->entries.size()),
                job->entries.begin());
      offset += job->entries.size();
    }
  }

  // Parts the group can be split into: each submission, and the state (checkpoints, outbox)
  // as one. Splitting a single part would only retry it, forever.
  const std::size_t parts = valid_jobs + (checkpoints.empty() && outbox.empty() ? 0 : 1);
  if (!committed && committed.error().code == errc::map_full && parts > 1) {
    // The group did not fit even at map_size_max; a smaller submission may still. Events go
    // first, alone; the checkpoints and outbox entries after them, on their own.
    for (auto& job : jobs) {
      std::vector<std::unique_ptr<append_job>> single;
      single.push_back(std::move(job));
      commit_appends(single, {}, {});
    }
    if (checkpoints.empty() && outbox.empty()) {
      return std::nullopt;
    }
    std::vector<std::unique_ptr<append_job>> none;
    return commit_appends(none, checkpoints, outbox);
  }
  if (!committed && is_fatal(committed.error())) {
    // Before the completions, so a completion that resubmits is already refused.
    mark_failed(committed.error());
  }

  offset = 0;
  std::vector<append_status> mine;
  const auto completions_started = std::chrono::steady_clock::now();
  for (auto& job : jobs) {
    const std::size_t count = job->entries.size();
    if (job->rejected) {
      mine.assign(count, append_status{});
      job->done(job->entries, mine, &*job->rejected);
      continue;
    }
    if (!committed) {
      mine.assign(count, append_status{});
      job->done(job->entries, mine, &committed.error());
      continue;
    }
    const auto first = statuses.begin() + static_cast<std::ptrdiff_t>(offset);
    mine.assign(first, first + static_cast<std::ptrdiff_t>(count));
    offset += count;
    job->done(job->entries, mine, nullptr);
  }

  completion_ns_.fetch_add(nanoseconds_since(completions_started), std::memory_order_relaxed);
  if (committed && !all.empty()) {
    journal_events_.fetch_add(all.size(), std::memory_order_relaxed);
    commits_.fetch_add(1);
    if (hook) {
      hook(db_.journal_head());
    }
  }
  if (!committed) {
    return committed.error();
  }
  return std::nullopt;
}

} // namespace stockd::store
