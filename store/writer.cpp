#include "store/writer.hpp"

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
  std::uint32_t shard = 0;
  std::uint64_t watermark = 0;
  checkpoint_completion done;
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
  thread_ = std::thread([this] { run(); });
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

void writer::on_commit(std::function<void(std::uint64_t head)> hook) {
  std::lock_guard lock(mutex_);
  on_commit_ = std::move(hook);
}

std::size_t writer::queued_events() const {
  std::lock_guard lock(mutex_);
  return queued_events_;
}

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
  for (;;) {
    std::unique_ptr<checkpoint_job> checkpoint;
    batch.clear();
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !appends_.empty() || !checkpoints_.empty(); });
      if (appends_.empty() && checkpoints_.empty()) {
        return;  // stopping, and everything queued is done
      }
      // Alternate: after an append batch a waiting checkpoint goes next, and after a checkpoint
      // the appends do, so neither a flood of events nor big checkpoints starve the other.
      const bool take_checkpoint =
          !checkpoints_.empty() && (checkpoint_turn_ || appends_.empty());
      if (take_checkpoint) {
        checkpoint = std::move(checkpoints_.front());
        checkpoints_.pop_front();
      } else {
        // Everything queued, up to the batch limit, goes into one commit: that is the group
        // commit. A single submission larger than the limit still goes, alone.
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
      }
      checkpoint_turn_ = !take_checkpoint;
    }
    if (checkpoint) {
      commit_checkpoint(*checkpoint);
    } else {
      commit_appends(batch);
    }
  }
}

void writer::commit_appends(std::vector<std::unique_ptr<append_job>>& jobs) {
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
    return;
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
  auto committed = db_.append(std::span<engine::journal_entry>(all), statuses);

  std::size_t offset = 0;
  for (auto& job : jobs) {
    if (!job->rejected) {
      const auto first = all.begin() + static_cast<std::ptrdiff_t>(offset);
      std::move(first, first + static_cast<std::ptrdiff_t>(job->entries.size()),
                job->entries.begin());
      offset += job->entries.size();
    }
  }

  if (!committed && committed.error().code == errc::map_full && valid_jobs > 1) {
    // The group did not fit even at map_size_max; a smaller submission may still.
    for (auto& job : jobs) {
      std::vector<std::unique_ptr<append_job>> single;
      single.push_back(std::move(job));
      commit_appends(single);
    }
    return;
  }
  if (!committed && is_fatal(committed.error())) {
    // Before the completions, so a completion that resubmits is already refused.
    mark_failed(committed.error());
  }

  offset = 0;
  std::vector<append_status> mine;
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

  if (committed && !all.empty()) {
    commits_.fetch_add(1);
    if (hook) {
      hook(db_.journal_head());
    }
  }
}

void writer::commit_checkpoint(checkpoint_job& job) {
  std::optional<error> fatal;
  {
    std::lock_guard lock(mutex_);
    if (failed_) {
      fatal = failure_;
    }
  }
  if (fatal) {
    job.done(&*fatal);
    return;
  }
  auto written = db_.write_checkpoints(job.records, job.shard, job.watermark);
  if (!written) {
    if (is_fatal(written.error())) {
      mark_failed(written.error());
    }
    job.done(&written.error());
    return;
  }
  job.done(nullptr);
}

} // namespace stockd::store
