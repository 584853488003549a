#include "server/snapshots.hpp"

#include <cassert>
#include <cstdio>
#include <limits>
#include <span>
#include <utility>

#include "engine/time.hpp"
#include "connectors/json_writer.hpp"
#include "server/url.hpp"
#include "store/database.hpp"

namespace stockd::server {

using connectors::json_writer;
namespace {

constexpr std::string_view prefix = "/v1/snapshots/";

response refusal(http::status status, const request& header, std::string_view message,
                 std::string_view field = {}) {
  return api::error(status, header.version(), header.keep_alive(), message, field);
}

response unavailable(const api_dependencies& deps, const request& header,
                     std::string_view message) {
  auto res = refusal(http::status::service_unavailable, header, message);
  res.set(http::field::retry_after, std::to_string(deps.opts->retry_after.count()));
  return res;
}

/// A query parameter, percent-decoded; "" when absent. nullopt on a malformed escape.
std::optional<std::string> parameter(std::string_view query, std::string_view name) {
  const auto raw = query_param(query, name);
  return raw ? percent_decode(*raw) : std::string{};
}

/// The envelope from the path and the query; a field_error names the part that is malformed.
result<connectors::snapshot_envelope, connectors::field_error> read_envelope(
    std::string_view target) {
  const std::string_view path = target.substr(0, target.find('?'));
  const std::string_view segment = path.substr(prefix.size());
  auto location = segment.find('/') == std::string_view::npos ? percent_decode(segment)
                                                              : std::nullopt;
  if (!location || location->empty()) {
    return unexpected{connectors::field_error{"location", "malformed location in the path"}};
  }
  connectors::snapshot_envelope envelope;
  envelope.location = std::move(*location);
  const std::string_view query = query_of(target);
  for (auto [name, out] : {std::pair{"source", &envelope.source}, std::pair{"id", &envelope.id},
                           std::pair{"as_of", &envelope.as_of}}) {
    auto value = parameter(query, name);
    if (!value) {
      return unexpected{connectors::field_error{name, "malformed percent-encoding"}};
    }
    *out = std::move(*value);
  }
  return envelope;
}

/// `dry_run`: absent or "false"/"0" is false, "true"/"1" true; nullopt for anything else.
std::optional<bool> read_dry_run(std::string_view target) {
  const auto value = query_param(query_of(target), "dry_run");
  if (!value || *value == "false" || *value == "0") {
    return false;
  }
  if (*value == "true" || *value == "1") {
    return true;
  }
  return std::nullopt;
}

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

} // namespace

store::result<std::uint64_t> snapshot_run_seqs::next(const store::database& db,
                                                     const engine::location_id& location) {
  std::lock_guard lock(mutex_);
  auto it = last_.find(location);
  if (it == last_.end()) {
    // Run ids go on from the last stored run: they name runs across restarts.
    auto last = db.read_runs(connectors::snapshot_runs_owner(location), 1);
    if (!last) {
      return unexpected(last.error());
    }
    it = last_.emplace(location, last->empty() ? 0 : last->front().seq).first;
  }
  return ++it->second;
}

bool is_snapshot_target(std::string_view target) { return target.starts_with(prefix); }

snapshot_start begin_snapshot(const api_dependencies& deps, catalog_misses& misses,
                              std::atomic<std::size_t>& active, snapshot_run_seqs& run_seqs,
                              const request& header, boost::asio::any_io_executor executor) {
  const std::string_view target(header.target().data(), header.target().size());
  assert(is_snapshot_target(target));
  if (header.method() != http::verb::post) {
    return {refusal(http::status::method_not_allowed, header, "use POST"), nullptr};
  }
  if (!deps.counters->ready.load(std::memory_order_relaxed)) {
    return {unavailable(deps, header, "recovering: not ready to accept events"), nullptr};
  }
  auto envelope = read_envelope(target);
  if (!envelope) {
    return {refusal(http::status::bad_request, header, envelope.error().reason,
                    envelope.error().field),
            nullptr};
  }
  const auto dry_run = read_dry_run(target);
  if (!dry_run) {
    return {refusal(http::status::bad_request, header, "must be true or false", "dry_run"),
            nullptr};
  }
  connectors::snapshot_limits limits;
  limits.line_bytes_max = deps.opts->snapshot_line_bytes_max;
  if (auto e = connectors::check_snapshot_envelope(*envelope, *deps.catalog, *deps.limits,
                                                   limits)) {
    // A location the source does not know is a resource that is not there; the rest is a
    // malformed request.
    const auto status =
        e->field == "location" ? http::status::not_found : http::status::bad_request;
    return {refusal(status, header, e->reason, e->field), nullptr};
  }
  if (active.fetch_add(1, std::memory_order_relaxed) >= deps.opts->snapshots_concurrent_max) {
    active.fetch_sub(1, std::memory_order_relaxed);
    deps.counters->http_overloaded.fetch_add(1, std::memory_order_relaxed);
    return {unavailable(deps, header,
                        "overloaded: " + std::to_string(deps.opts->snapshots_concurrent_max) +
                            " snapshots in progress; retry later"),
            nullptr};
  }
  snapshot_upload::setup s;
  s.deps = &deps;
  s.misses = &misses;
  s.active = &active;
  s.run_seqs = &run_seqs;
  s.dry_run = *dry_run;
  s.location = *deps.catalog->resolve_location(engine::source_id(envelope->source),
                                               envelope->location);
  s.envelope = std::move(*envelope);
  s.limits = limits;
  s.deadline = std::chrono::steady_clock::now() + deps.opts->snapshot_timeout;
  s.version = header.version();
  s.keep_alive = header.keep_alive();
  return {std::nullopt, std::make_shared<snapshot_upload>(std::move(s), std::move(executor))};
}

snapshot_upload::snapshot_upload(setup s, boost::asio::any_io_executor executor)
    : setup_(std::move(s)), timer_(std::move(executor)),
      decoder_(setup_.envelope, *setup_.deps->catalog, *setup_.deps->limits, setup_.limits),
      started_at_ms_(wall_ms()) {
  batch_.reserve(snapshot_batch_events_max);
}

snapshot_upload::~snapshot_upload() { setup_.active->fetch_sub(1, std::memory_order_relaxed); }

void snapshot_upload::refuse(http::status status, std::string message) {
  std::lock_guard lock(mutex_);
  if (!failure_) {
    failure_ = failure{status, std::move(message), false};
  }
}

void snapshot_upload::abort() {
  over_ = true;
  timer_.cancel();
  std::lock_guard lock(mutex_);
  resume_ = nullptr;
}

snapshot_upload::step snapshot_upload::feed(std::string_view bytes, bool end,
                                            std::function<void()> resume) {
  assert(!over_);
  if (finishing_) {
    return answer_when_stored(resume);
  }
  if (!bytes.empty()) {
    decoder_.feed(bytes);
  }
  if (end && !finished_) {
    finished_ = true;
    decoder_.finish();
  }
  // Each turn decodes up to one batch, compares it with the engine's states and submits it (a
  // dry run only counts it); the loop ends when the decoder needs bytes, when the batches in
  // flight (or the engine's backlog) are at their limit, while the states are on their way,
  // or at the end, once every batch is durable.
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      if (failure_) {
        if (in_flight_ > 0) {
          resume_ = std::move(resume);
          return {step_kind::wait, std::nullopt};
        }
        std::optional<failure> failed = failure_;
        lock.unlock();
        return finish(std::move(failed), resume);
      }
    }
    fill_batch();
    if (batch_.size() < snapshot_batch_events_max && !finished_) {
      return {step_kind::read_more, std::nullopt};
    }
    if (!batch_.empty()) {
      if (!setup_.dry_run) {
        if (setup_.deps->counters->in_flight.load(std::memory_order_relaxed) >
            snapshot_engine_backlog_max) {
          if (std::chrono::steady_clock::now() < setup_.deadline) {
            return wait_for_engine(std::move(resume));
          }
          std::lock_guard lock(mutex_);
          if (!failure_) {
            failure_ = failure{http::status::service_unavailable,
                               "overloaded: the engine's backlog did not drain before the "
                               "snapshot's deadline; re-post it later (journaled lines answer "
                               "duplicate)",
                               true};
          }
          continue;
        }
        std::lock_guard lock(mutex_);
        if (in_flight_ >= snapshot_batches_in_flight_max) {
          resume_ = std::move(resume);
          return {step_kind::wait, std::nullopt};
        }
      }
      // Compared as late as possible, right before the batch is journaled: only feed() adds
      // batches in flight, so the slot checked above is still free once the states are here.
      if (!compare_batch(resume)) {
        return {step_kind::wait, std::nullopt};
      }
      if (setup_.dry_run) {
        preview_batch();
        continue;
      }
      {
        std::lock_guard lock(mutex_);
        ++in_flight_;
      }
      submit_batch();
      continue;
    }
    assert(decoder_.exhausted());
    {
      std::lock_guard lock(mutex_);
      if (in_flight_ > 0) {
        resume_ = std::move(resume);
        return {step_kind::wait, std::nullopt};
      }
    }
    return finish(std::nullopt, resume);
  }
}

snapshot_upload::step snapshot_upload::wait_for_engine(std::function<void()> resume) {
  timer_.expires_after(snapshot_engine_poll);
  timer_.async_wait([self = shared_from_this(), resume = std::move(resume)](
                        const boost::system::error_code& ec) {
    if (!ec) {
      resume();
    }
  });
  return {step_kind::wait, std::nullopt};
}

void snapshot_upload::fill_batch() {
  while (batch_.size() < snapshot_batch_events_max) {
    auto line = decoder_.next();
    if (!line) {
      return;
    }
    ++lines_;
    connectors::decoded_event& decoded = line->decoded;
    if (!decoded.ev) {
      if (decoded.miss.kind != connectors::miss_kind::none && !setup_.dry_run) {
        setup_.misses->record(std::span<const connectors::decoded_event>(&decoded, 1));
      }
      reject(*line, std::move(decoded.error.field), std::move(decoded.error.reason));
      continue;
    }
    engine::journal_entry entry{0, {}, std::move(*decoded.ev)};
    // The journal's own key rules (no NUL in a SKU, keys within LMDB's size): checked per line
    // here, since the writer refuses a whole submission that breaks them.
    if (auto storable = setup_.deps->db->check(entry); !storable) {
      reject(*line, "sku", storable.error().message);
      continue;
    }
    batch_.push_back(std::move(entry));
  }
}

void snapshot_upload::reject(connectors::snapshot_line& line, std::string field,
                             std::string reason) {
  ++rejected_;
  if (!setup_.dry_run) {
    setup_.deps->counters->events_rejected.fetch_add(1, std::memory_order_relaxed);
  }
  if (errors_.size() < snapshot_errors_listed_max) {
    errors_.push_back(line_error{line.number, std::move(field), std::move(reason)});
  }
}

bool snapshot_upload::compare_batch(std::function<void()>& resume) {
  if (!compared_.empty()) {
    return true;
  }
  if (!states_asked_) {
    ask_states();
  }
  std::optional<actors::key_states> states;
  {
    std::lock_guard lock(mutex_);
    if (!states_) {
      resume_ = std::move(resume);
      return false;
    }
    states = std::move(states_);
    states_.reset();
  }
  states_asked_ = false;
  assert(states->size() == asked_.size());
  compared_.assign(batch_.size(),
                   connectors::line_comparison{connectors::line_comparison::result::journaled});
  for (std::size_t j = 0; j < asked_.size(); ++j) {
    const std::size_t i = asked_[j];
    compared_[i] = connectors::compare_line(std::move((*states)[j]), batch_[i].ev);
  }
  return true;
}

void snapshot_upload::ask_states() {
  // A line the journal has already (a re-post after a failure, or of the same snapshot) will
  // answer duplicate and change nothing: no state to read for it. A failed read of the dedup
  // index is no answer: the line is compared.
  actors::key_list keys;
  keys.reserve(batch_.size());
  asked_.clear();
  for (std::size_t i = 0; i < batch_.size(); ++i) {
    const engine::event& ev = batch_[i].ev;
    if (auto seen = setup_.deps->db->find_event(ev.source, ev.id); seen && *seen) {
      continue;
    }
    keys.push_back(engine::sku_location_key{ev.sku, ev.location});
    asked_.push_back(i);
  }
  states_asked_ = true;
  // The answer comes on a shard's thread: keep it, and let the transport go on if it waits.
  setup_.deps->engine->read_states(std::move(keys), [self = shared_from_this()](
                                                        actors::key_states states) {
    std::function<void()> resume;
    {
      std::lock_guard lock(self->mutex_);
      self->states_ = std::move(states);
      resume = std::exchange(self->resume_, nullptr);
    }
    if (resume) {
      resume();
    }
  });
}

void snapshot_upload::preview_batch() {
  {
    std::lock_guard lock(mutex_);
    for (std::size_t i = 0; i < batch_.size(); ++i) {
      const bool journaled =
          compared_[i].kind == connectors::line_comparison::result::journaled;
      report_.add(batch_[i].ev.sku, batch_[i].ev.counted, compared_[i], journaled, false);
    }
  }
  batch_.clear();
  compared_.clear();
}

void snapshot_upload::submit_batch() {
  const auto now =
      std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
  for (auto& entry : batch_) {
    entry.received_at = now;
  }
  std::vector<engine::journal_entry> entries;
  entries.swap(batch_);
  batch_.reserve(snapshot_batch_events_max);
  std::vector<connectors::line_comparison> comparisons;
  comparisons.swap(compared_);
  auto self = shared_from_this();
  const bool queued = setup_.deps->writer->submit(
      std::move(entries),
      [self, comparisons = std::move(comparisons)](
          std::vector<engine::journal_entry>& journaled,
          const std::vector<store::append_status>& statuses, const store::error* failed) {
        self->on_commit(journaled, statuses, failed, comparisons);
      });
  if (!queued) {
    setup_.deps->counters->http_overloaded.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard lock(mutex_);
    --in_flight_;
    if (!failure_) {
      failure_ = failure{http::status::service_unavailable,
                         "overloaded: the journal writer's queue is full; re-post the snapshot "
                         "later (journaled lines answer duplicate)",
                         true};
    }
  }
}

// On the writer thread, after the commit: the same steps as every commit (count, dispatch what
// is new: runtime::dispatch_journaled), then let the transport go on if it was waiting for this.
void snapshot_upload::on_commit(std::vector<engine::journal_entry>& journaled,
                                const std::vector<store::append_status>& statuses,
                                const store::error* failed,
                                const std::vector<connectors::line_comparison>& comparisons) {
  std::function<void()> resume;
  if (failed != nullptr) {
    const auto status =
        failed->code == store::errc::map_full || failed->code == store::errc::disk_full
            ? http::status::insufficient_storage
            : http::status::internal_server_error;
    std::lock_guard lock(mutex_);
    --in_flight_;
    if (!failure_) {
      failure_ = failure{status,
                         "journal: " + std::string(store::to_string(failed->code)) + ": " +
                             failed->message,
                         false};
    }
    resume = std::exchange(resume_, nullptr);
  } else {
    {
      // Before the dispatch, which moves the accepted entries out. A line the journal had
      // already (a re-post, a SKU listed twice) changed nothing: counted as duplicate.
      assert(comparisons.size() == journaled.size() && statuses.size() == journaled.size());
      std::lock_guard lock(mutex_);
      for (std::size_t i = 0; i < journaled.size(); ++i) {
        report_.add(journaled[i].ev.sku, journaled[i].ev.counted, comparisons[i],
                    statuses[i].duplicate, true);
      }
    }
    const auto counts = setup_.deps->engine->dispatch_journaled(journaled, statuses);
    std::lock_guard lock(mutex_);
    --in_flight_;
    accepted_ += counts.accepted;
    duplicate_ += counts.duplicate;
    resume = std::exchange(resume_, nullptr);
  }
  if (resume) {
    resume();
  }
}

snapshot_upload::step snapshot_upload::finish(std::optional<failure> failed,
                                              std::function<void()>& resume) {
  assert(!finishing_);
  finishing_ = true;
  failed_ = std::move(failed);
  connectors::snapshot_run run;
  {
    std::lock_guard lock(mutex_);
    run = report_.take();
  }
  run.location = setup_.location;
  run.source = setup_.envelope.source;
  run.snapshot = setup_.envelope.id;
  run.as_of = setup_.envelope.as_of;
  run.dry_run = setup_.dry_run;
  if (failed_) {
    run.status = "failed";
    run.error = failed_->message;
  }
  run.started_at_ms = started_at_ms_;
  run.finished_at_ms = wall_ms();
  run.lines = lines_;
  run.rejected = rejected_;
  if (!setup_.dry_run && !failed_) {
    // The variance alert judges every applied snapshot of the location (a clean one resolves
    // it), with the channel runs' thresholds.
    std::uint64_t units = run.shrinkage_units;
    if (__builtin_add_overflow(units, run.missed_receipt_units, &units) ||
        units > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      units = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
    }
    actors::variance_report report;
    report.location = run.location.str();
    report.skus_checked = run.compared;
    report.skus_different = run.variances;
    report.units_different = static_cast<std::int64_t>(units);
    setup_.deps->engine->report_variance(std::move(report));
  }
  run_ = std::move(run);
  store_run();
  return answer_when_stored(resume);
}

// Stored through the writer's outbox path, like a channel's runs (store::channel_table::
// reconcile_runs); the run `snapshot_runs_kept` older is deleted in the same commit.
void snapshot_upload::store_run() {
  auto seq = setup_.run_seqs->next(*setup_.deps->db, setup_.location);
  if (!seq) {
    std::lock_guard lock(mutex_);
    run_settled_ = true;
    run_error_ = "reading the last run: " + seq.error().message;
    return;
  }
  run_->seq = *seq;
  const engine::channel_id owner = connectors::snapshot_runs_owner(setup_.location);
  std::vector<store::outbox_record> records;
  records.push_back({owner, engine::sku_id(store::run_key(*seq)),
                     connectors::encode_snapshot_run(*run_), store::channel_table::reconcile_runs});
  if (*seq > connectors::snapshot_runs_kept) {
    records.push_back({owner, engine::sku_id(store::run_key(*seq - connectors::snapshot_runs_kept)),
                       std::string(), store::channel_table::reconcile_runs});
  }
  auto self = shared_from_this();
  const bool queued =
      setup_.deps->writer->submit_outbox(std::move(records), [self](const store::error* failed) {
        std::function<void()> resume;
        {
          std::lock_guard lock(self->mutex_);
          self->run_settled_ = true;
          if (failed != nullptr) {
            self->run_error_ = "storing the run: " + std::string(store::to_string(failed->code)) +
                               ": " + failed->message;
          }
          resume = std::exchange(self->resume_, nullptr);
        }
        if (resume) {
          resume();
        }
      });
  if (!queued) {
    std::lock_guard lock(mutex_);
    run_settled_ = true;
    run_error_ = "storing the run: the journal writer refused it (queue full or stopped)";
  }
}

snapshot_upload::step snapshot_upload::answer_when_stored(std::function<void()>& resume) {
  std::lock_guard lock(mutex_);
  if (!run_settled_) {
    resume_ = std::move(resume);
    return {step_kind::wait, std::nullopt};
  }
  if (!run_error_.empty()) {
    std::fprintf(stderr, "stockd: snapshot %s at %s: %s\n", setup_.envelope.id.c_str(),
                 setup_.location.str().c_str(), run_error_.c_str());
  }
  over_ = true;
  return {step_kind::done, answer(failed_ ? &*failed_ : nullptr)};
}

response snapshot_upload::answer(const failure* failed) {
  json_writer w;
  w.begin_object();
  if (failed != nullptr) {
    w.field("error", failed->message);
  }
  w.field("snapshot", setup_.envelope.id);
  w.field("source", setup_.envelope.source);
  w.field("location", setup_.location.str());
  w.key("as_of");
  if (setup_.envelope.as_of.empty()) {
    w.null();
  } else {
    w.value(setup_.envelope.as_of);
  }
  w.field("dry_run", setup_.dry_run);
  w.field("lines", lines_);
  w.field("accepted", accepted_);
  w.field("duplicate", duplicate_);
  w.field("rejected", rejected_);
  if (failed != nullptr) {
    // Journaled lines are applied and stay; a re-post of the same snapshot finds them
    // duplicate and journals the rest.
    w.field("durable", accepted_ + duplicate_);
  }
  assert(run_);
  w.key("variance").begin_object();
  w.key("run");
  if (run_error_.empty()) {
    w.value(run_->id());
  } else {
    w.null();
  }
  w.field("compared", run_->compared);
  w.field("variances", run_->variances);
  w.field("shrinkage_units", run_->shrinkage_units);
  w.field("missed_receipt_units", run_->missed_receipt_units);
  w.field("stale", run_->stale);
  if (!run_error_.empty()) {
    w.field("run_error", run_error_);
  }
  w.end_object();
  w.key("errors").begin_array();
  for (const auto& e : errors_) {
    w.begin_object().field("line", e.line).field("field", e.field).field("error", e.reason);
    w.end_object();
  }
  w.end_array();
  w.end_object();
  response res{failed != nullptr ? failed->status : http::status::ok, setup_.version};
  res.set(http::field::server, "stockd");
  res.set(http::field::content_type, "application/json");
  if (failed != nullptr && failed->retry_after) {
    res.set(http::field::retry_after, std::to_string(setup_.deps->opts->retry_after.count()));
  }
  res.keep_alive(setup_.keep_alive);
  res.body() = w.take();
  res.prepare_payload();
  return res;
}

} // namespace stockd::server
