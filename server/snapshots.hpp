#pragma once
// POST /v1/snapshots/{location} (DESIGN §5): a full on-hand snapshot from a system of record,
// NDJSON, streamed; every line becomes a `counted` event (docs/semantics.md, "Snapshots").
//
// The transport reads the body in chunks and feeds each to a snapshot_upload, which decodes the
// complete lines (connectors/snapshot_decoder.hpp), journals them in batches and says when the
// transport may read again. At most `snapshot_batches_in_flight_max` batches wait for their
// commit, so a slow disk slows the sender down instead of filling memory: an upload holds one
// chunk, one unfinished line and a few batches, whatever the size of the snapshot.
//
// The variance report (connectors/snapshot_variance.hpp): before a batch is journaled, the
// upload asks the engine for the current state of each of its SKUs at the location
// (runtime::read_states, one request per batch) and compares every line with it (a line whose
// id the journal has already, as in a re-post, is not compared: it will answer duplicate); once the
// batch is committed, each line's comparison is counted by what the journal did with it (a
// duplicate changed nothing). The comparison is taken at journaling time: an event applied
// between the read and the count's own apply can make the count's real effect differ from the
// reported one; the apply stays the truth. With `dry_run=true` the lines are decoded and
// compared and nothing is journaled. Either way the report is stored as a reconciliation run
// of kind "snapshot" once the upload is over, and the answer names it. An upload cut off
// (connection closed, deadline passed) stores no report.
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>  // before asio (toolchain.md: awaitable.hpp and std::exchange under C++20)
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>

#include "connectors/snapshot_decoder.hpp"
#include "connectors/snapshot_variance.hpp"
#include "server/api.hpp"
#include "server/snapshot_run_seqs.hpp"

namespace stockd::server {

/// Counts journaled per writer submission.
inline constexpr std::size_t snapshot_batch_events_max = 4096;
/// Batches submitted and not yet durable; the upload stops reading at this many.
inline constexpr std::size_t snapshot_batches_in_flight_max = 2;
/// Deliveries the engine may have pending (all sources) before an upload submits another batch:
/// durable counts the actors have not applied yet are memory too. Checked every poll interval.
inline constexpr std::int64_t snapshot_engine_backlog_max = 16'384;
inline constexpr std::chrono::milliseconds snapshot_engine_poll{2};
/// Rejected lines listed in the answer; all of them are counted.
inline constexpr std::size_t snapshot_errors_listed_max = 100;

/// One upload in progress. Thread rules: feed(), refuse() and abort() are called by the
/// transport on its connection's strand, one at a time; commit completions run on the journal
/// writer's thread and only count, dispatch and call `resume`.
class snapshot_upload : public std::enable_shared_from_this<snapshot_upload> {
public:
  enum class step_kind : std::uint8_t {
    read_more,  // read the next chunk and feed it
    wait,       // do nothing until `resume` is called (once, from any thread), then feed again
    done,       // write `answer`; the upload is over
  };
  struct step {
    step_kind kind = step_kind::wait;
    std::optional<response> answer;
  };

  struct setup {
    const api_dependencies* deps = nullptr;
    catalog_misses* misses = nullptr;
    std::atomic<std::size_t>* active = nullptr;  // uploads in progress; left on destruction
    snapshot_run_seqs* run_seqs = nullptr;
    connectors::snapshot_envelope envelope;
    engine::location_id location;  // the envelope's location, resolved
    bool dry_run = false;          // compare and report only: journal nothing, count nothing
    connectors::snapshot_limits limits;
    std::chrono::steady_clock::time_point deadline;
    unsigned version = 11;
    bool keep_alive = true;
  };
  snapshot_upload(setup s, boost::asio::any_io_executor executor);
  ~snapshot_upload();
  snapshot_upload(const snapshot_upload&) = delete;
  snapshot_upload& operator=(const snapshot_upload&) = delete;

  /// The next bytes of the body (possibly none, after a `wait`); `end` once the body is complete.
  step feed(std::string_view bytes, bool end, std::function<void()> resume);
  /// The transport cannot go on reading (body over the limit, malformed chunking): the upload
  /// answers `status` with its summary once its batches in flight are settled. Call feed() next.
  void refuse(http::status status, std::string message);
  /// The connection is gone: stop. Batches in flight still complete and are dispatched.
  void abort();
  /// The whole upload must be over by then (reads and waits alike).
  std::chrono::steady_clock::time_point deadline() const noexcept { return setup_.deadline; }

private:
  struct failure {
    http::status status = http::status::internal_server_error;
    std::string message;
    bool retry_after = false;
  };
  struct line_error {
    std::uint64_t line = 0;
    std::string field;
    std::string reason;
  };
  void fill_batch();
  void reject(connectors::snapshot_line& line, std::string field, std::string reason);
  /// Fills compared_ for batch_: asks the engine for the states (once) and compares when they
  /// are there. False when the transport must wait for them (`resume` is then taken).
  bool compare_batch(std::function<void()>& resume);
  void ask_states();
  /// A dry run's batch: counted in the report as compared, then dropped.
  void preview_batch();
  void submit_batch();
  void on_commit(std::vector<engine::journal_entry>& journaled,
                 const std::vector<store::append_status>& statuses, const store::error* failed,
                 const std::vector<connectors::line_comparison>& comparisons);
  step wait_for_engine(std::function<void()> resume);
  /// Every batch is settled (or the upload failed): the report is finished, reported to the
  /// variance alert (a real run that finished), and stored; the answer follows once stored.
  step finish(std::optional<failure> failed, std::function<void()>& resume);
  void store_run();
  step answer_when_stored(std::function<void()>& resume);
  response answer(const failure* failed);

  setup setup_;
  boost::asio::steady_timer timer_;
  // The connection's strand only.
  connectors::snapshot_decoder decoder_;
  std::vector<engine::journal_entry> batch_;
  std::vector<line_error> errors_;
  std::vector<connectors::line_comparison> compared_;  // batch_'s, once compared; else empty
  bool states_asked_ = false;  // for batch_, and not yet taken
  std::vector<std::size_t> asked_;  // the lines of batch_ whose states were asked, in order
  std::uint64_t lines_ = 0;
  std::uint64_t rejected_ = 0;
  std::int64_t started_at_ms_ = 0;
  bool finished_ = false;
  bool over_ = false;
  bool finishing_ = false;  // the report is being stored; the answer waits for it
  std::optional<failure> failed_;        // the failure answered, once finishing_
  std::optional<connectors::snapshot_run> run_;  // the finished report, once finishing_
  // Shared with the writer thread's completions and the engine's answer of states.
  std::mutex mutex_;
  std::size_t in_flight_ = 0;
  std::uint64_t accepted_ = 0;
  std::uint64_t duplicate_ = 0;
  std::optional<failure> failure_;
  std::optional<actors::key_states> states_;  // batch_'s states, arrived and not yet taken
  connectors::snapshot_report report_;
  bool run_settled_ = false;  // the run's store is done (or failed: run_error_)
  std::string run_error_;
  std::function<void()> resume_;  // set while the transport waits on a completion
};

/// What begin_snapshot decided: an answer now (the body is not read), or an upload to feed.
struct snapshot_start {
  std::optional<response> refusal;
  std::shared_ptr<snapshot_upload> upload;
};

/// Whether the request is for the streamed snapshot route (decided from the header alone).
bool is_snapshot_target(std::string_view target);

/// Checks everything the header says (method, readiness, path, query) after the caller checked
/// the ingest scope; starts the upload or refuses. `executor` is the connection's.
snapshot_start begin_snapshot(const api_dependencies& deps, catalog_misses& misses,
                              std::atomic<std::size_t>& active, snapshot_run_seqs& run_seqs,
                              const request& header, boost::asio::any_io_executor executor);

} // namespace stockd::server
