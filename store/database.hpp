#pragma once
// stockd's LMDB database: the journal, the dedup index, the per-SKU ledger index, checkpoints and
// their watermarks, all in one environment with LMDB's default durable flags.
//
// Threads: every write method is called from one thread only (the store::writer thread); a write
// transaction never outlives one call. Read methods may be called from any thread (the env is
// opened with MDB_NOTLS); each read opens and closes its own read transaction.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/event.hpp"
#include "engine/ids.hpp"
#include "engine/state.hpp"
#include "engine/result.hpp"

namespace stockd::store {

enum class errc {
  map_full,     // the map could not grow further (map_size_max reached)
  disk_full,    // ENOSPC from the file system
  io_error,     // EIO or any other failure to commit: nothing was acknowledged
  corrupt,      // a stored record failed to decode
  invalid,      // bad options (e.g. the data dir cannot be created)
};
std::string_view to_string(errc code) noexcept;

struct error {
  errc code = errc::io_error;
  std::string message;  // includes the LMDB or errno text
};

template <class T>
using result = stockd::result<T, error>;

struct options {
  std::filesystem::path dir;                         // created if missing
  std::size_t map_size_bytes = std::size_t{1} << 30;  // initial map size
  std::size_t map_size_max = std::size_t{1} << 40;    // the map grows up to this, then map_full
  unsigned readers_max = 256;
  /// Opens for reading only, beside a running stockd (stockctl replay/export): no directory
  /// lock, no table creation, no reader-slot sweep, and the whole of map_size_max mapped so the
  /// writer's map growth never invalidates this process's map. Write methods must not be called.
  bool read_only = false;
};

struct append_status {
  std::uint64_t seq = 0;    // the new seq, or the original seq of a duplicate
  bool duplicate = false;
};

struct checkpoint_record {
  checkpoint_record() = default;
  checkpoint_record(engine::sku_location_key k, std::string bytes,
                    std::vector<engine::closed_line> forgotten = {})
      : key(std::move(k)), state_bytes(std::move(bytes)), forgotten_lines(std::move(forgotten)) {}

  engine::sku_location_key key;
  std::string state_bytes;  // engine::encode(sku_location_state)
  /// Closed order lines the state pushed out (engine::outcome::forgotten_lines) since its last
  /// stored checkpoint, oldest first: stored in the closed_lines index in the same transaction
  /// as `state_bytes`, so the index and the checkpoint never disagree about which lines the
  /// state no longer holds. A later record of the same line overwrites an earlier one.
  std::vector<engine::closed_line> forgotten_lines;
};

/// Which table a channel's record goes to: its outbox, or its reconciliation runs.
enum class channel_table : std::uint8_t { outbox, reconcile_runs };

/// One channel's durable outbox entry for one SKU (connectors/outbox.hpp encodes it; the store
/// keeps the bytes as they are). Empty bytes delete the entry. With `table` reconcile_runs it is
/// a reconciliation run instead (connectors/reconcile.hpp encodes it), `sku` then holding the
/// run's key (run_key): runs ride the same writer path as the outbox, in the channel's order.
struct outbox_record {
  engine::channel_id channel;
  engine::sku_id sku;
  std::string bytes;
  channel_table table = channel_table::outbox;
};

/// The key a run is stored under: its seq as 16 hex digits, so a channel's runs sort by seq.
std::string run_key(std::uint64_t seq);

/// A stored reconciliation run (or the start of it, see read_runs).
struct run_record {
  engine::channel_id channel;
  std::uint64_t seq = 0;
  std::string bytes;
};

/// One accepted configuration (GET /v1/config/versions): stored at start and on each reload.
struct config_version_record {
  std::uint64_t version = 0;   // 1, 2, ... in the order they were accepted
  std::int64_t at_ms = 0;      // when, in Unix milliseconds
  std::string identity;        // the token's name that loaded it, or "startup"
  std::string source;          // the file's path, "request body" or "embedded default"
  std::string text;            // the file's text as loaded (secrets are references in it)
  std::string diff_json;       // the changes from the previous version, as a JSON array
};

struct stats {
  std::uint64_t journal_head = 0;     // highest seq appended
  std::uint64_t journal_entries = 0;
  std::uint64_t dedup_entries = 0;
  std::uint64_t checkpoints = 0;
  std::size_t map_size_bytes = 0;
  std::size_t map_used_bytes = 0;
};

class database {
public:
  static result<std::unique_ptr<database>> open(const options& opts);
  ~database();
  database(const database&) = delete;
  database& operator=(const database&) = delete;

  // ---- writer thread only -------------------------------------------------------------------
  /// Appends in one durable transaction: for each entry, a (source, id) seen before (in the
  /// store or earlier in this batch) yields {original seq, duplicate = true} and is not stored;
  /// others get the next seq (written into `entries[i].seq`), and are stored in the journal, the
  /// dedup index and the SKU ledger index. On MDB_MAP_FULL the map grows and the batch is retried.
  /// On error nothing of the batch is stored. `out` is resized to entries.size().
  result<void> append(std::span<engine::journal_entry> entries, std::vector<append_status>& out);

  /// One shard's checkpoint batch, for `commit`.
  struct checkpoint_batch {
    std::span<const checkpoint_record> records;
    std::uint32_t shard = 0;
    std::uint64_t watermark = 0;
  };
  /// `append`, any number of checkpoint batches and channel outbox entries in ONE durable
  /// transaction: one commit (two fsyncs) instead of one per job. Either everything is stored or
  /// nothing is.
  result<void> commit(std::span<engine::journal_entry> entries, std::vector<append_status>& out,
                      std::span<const checkpoint_batch> checkpoints,
                      std::span<const outbox_record> outbox = {});

  /// Persists checkpoint states and, in the same transaction, the shard's watermark: every event
  /// with seq <= watermark routed to that shard is reflected in stored checkpoints.
  result<void> write_checkpoints(std::span<const checkpoint_record> records, std::uint32_t shard,
                                 std::uint64_t watermark);

  /// Stores one config version in its own durable transaction (config_versions table). A
  /// version already stored is refused with errc::invalid: versions are never rewritten.
  result<void> put_config_version(const config_version_record& record);

  // ---- any thread ---------------------------------------------------------------------------
  /// Stored config versions newest first, those below `before` (0: from the newest), at most
  /// `limit`.
  result<std::vector<config_version_record>> read_config_versions(std::uint64_t before,
                                                                  std::size_t limit) const;
  /// Whether `entry` can be stored: its source and SKU contain no NUL byte (NUL separates the
  /// parts of composite keys) and every key it produces fits LMDB's key size limit. append()
  /// refuses a whole batch with errc::invalid otherwise; the writer checks each submission first
  /// so one bad submission cannot fail the others in its group commit.
  result<void> check(const engine::journal_entry& entry) const;
  std::uint64_t journal_head() const;
  /// Before recovery, with no writer running: makes the stored watermarks fit `shards` shards.
  /// If the shard count changed since the last run, the old per-shard watermarks say nothing
  /// about the new shards, so every shard is reset to the old minimum (all events up to it are
  /// in checkpoints whatever the layout). Records the count. Returns the first seq to replay.
  result<std::uint64_t> prepare_recovery(std::uint32_t shards);
  /// The first seq recovery must replay: min over `shards` of their watermark, plus one
  /// (1 when a shard has none yet).
  std::uint64_t replay_from(std::uint32_t shards) const;
  /// Calls `visit` for entries with seq in [from, ...] in order, up to `max_count`; stops early
  /// when visit returns false. Returns the number visited. `visit` runs inside a read
  /// transaction that holds off map growth: keep it short and do not call back into the database.
  result<std::size_t> read_journal(std::uint64_t from, std::size_t max_count,
                                   const std::function<bool(const engine::journal_entry&)>& visit) const;
  result<std::optional<std::string>> read_checkpoint(const engine::sku_location_key& key) const;
  /// The journal seq of the event `source` sent as `id`, from the dedup index: nullopt when it
  /// was never journaled.
  result<std::optional<std::uint64_t>> find_event(const engine::source_id& source,
                                                  std::string_view id) const;
  /// The SKU's ledger, newest first: entries touching `sku` with seq < before (0 = no bound).
  result<std::vector<engine::journal_entry>> sku_ledger(const engine::sku_id& sku,
                                                        std::uint64_t before,
                                                        std::size_t limit) const;
  /// Up to `max_count` checkpoints in key order, starting after `after` (from the first when
  /// nullopt); copies, so the caller pages through a large table one short read at a time.
  result<std::vector<checkpoint_record>> read_checkpoints(
      const std::optional<engine::sku_location_key>& after, std::size_t max_count) const;
  /// Up to `max_count` of `channel`'s outbox entries in SKU order, starting after `after` (from
  /// the first when nullopt); the channel actor pages through them at start-up.
  result<std::vector<outbox_record>> read_outbox(const engine::channel_id& channel,
                                                 const std::optional<engine::sku_id>& after,
                                                 std::size_t max_count) const;
  /// Reconciliation runs, newest first per channel (channels in id order): `channel`'s only when
  /// it is not empty, at most `max_count`. Each record holds the stored bytes up to the first
  /// newline only (the run's summary, connectors/reconcile.hpp), not its variances.
  result<std::vector<run_record>> read_runs(const engine::channel_id& channel,
                                            std::size_t max_count) const;
  /// One whole run; nullopt when there is none (or no longer: older runs are deleted).
  result<std::optional<std::string>> read_run(const engine::channel_id& channel,
                                              std::uint64_t seq) const;
  /// The returnable quantity the closed_lines index holds for order line `line_hash` (see
  /// engine::line_hash) of `key`: the line as its state last held it before pushing it out;
  /// nullopt when the index has no such line. A state that holds the line itself is newer.
  result<std::optional<std::int64_t>> find_closed_line(const engine::sku_location_key& key,
                                                       std::uint64_t line_hash) const;
  /// The locations whose closed_lines index holds order line `line_hash` of `sku` (placement of
  /// a late event that names no location), in location order.
  result<std::vector<engine::location_id>> closed_line_locations(const engine::sku_id& sku,
                                                                 std::uint64_t line_hash) const;
  /// Every location for which `sku` has a checkpoint.
  result<std::vector<engine::location_id>> checkpointed_locations(const engine::sku_id& sku) const;
  stats read_stats() const;

private:
  struct impl;
  explicit database(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

} // namespace stockd::store
