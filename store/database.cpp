#include "store/database.hpp"

#include <fcntl.h>
#include <lmdb.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cassert>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <charconv>
#include <limits>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <string_view>
#include <system_error>
#include <utility>

#include "engine/codec.hpp"

namespace stockd::store {

std::string_view to_string(errc code) noexcept {
  switch (code) {
    case errc::map_full: return "map_full";
    case errc::disk_full: return "disk_full";
    case errc::io_error: return "io_error";
    case errc::corrupt: return "corrupt";
    case errc::invalid: return "invalid";
  }
  return "unknown";
}

namespace {

constexpr unsigned named_dbs_max = 16;  // nine tables today, slack so a new one needs no migration
// Only another process can resize the map under us; a handful of retries covers it, more means
// something is badly wrong and we give up rather than spin.
constexpr int map_resized_retries_max = 8;
// Not an LMDB code (those are in -30800..-30780) nor an errno: a stored record failed to decode.
constexpr int rc_corrupt = -1;

constexpr std::string_view head_key = "head";
constexpr std::string_view lock_file_name = "stockd.lock";

using be64 = std::array<char, 8>;

be64 to_be64(std::uint64_t v) noexcept {
  be64 out{};
  for (std::size_t i = 0; i < 8; ++i) {
    out[7 - i] = static_cast<char>(v & 0xffU);
    v >>= 8;
  }
  return out;
}

std::uint64_t from_be64(const void* data) noexcept {
  const auto* p = static_cast<const unsigned char*>(data);
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < 8; ++i) {
    v = (v << 8) | p[i];
  }
  return v;
}

MDB_val as_val(std::string_view s) noexcept {
  // LMDB takes non-const pointers but never writes through a key or a put value.
  return MDB_val{s.size(), const_cast<char*>(s.data())};
}

MDB_val as_val(const be64& b) noexcept {
  return MDB_val{b.size(), const_cast<char*>(b.data())};
}

// A config version: at_ms, then each string as a 4-byte big-endian length and its bytes.
std::string encode_config_version(const config_version_record& r) {
  std::string out;
  const be64 at = to_be64(static_cast<std::uint64_t>(r.at_ms));
  out.append(at.data(), at.size());
  for (const std::string* field : {&r.identity, &r.source, &r.text, &r.diff_json}) {
    const auto n = static_cast<std::uint32_t>(field->size());
    for (int shift = 24; shift >= 0; shift -= 8) {
      out += static_cast<char>((n >> shift) & 0xffU);
    }
    out += *field;
  }
  return out;
}

std::optional<config_version_record> decode_config_version(std::uint64_t version,
                                                           std::string_view bytes) {
  config_version_record r;
  r.version = version;
  if (bytes.size() < 8) {
    return std::nullopt;
  }
  r.at_ms = static_cast<std::int64_t>(from_be64(bytes.data()));
  bytes.remove_prefix(8);
  for (std::string* field : {&r.identity, &r.source, &r.text, &r.diff_json}) {
    if (bytes.size() < 4) {
      return std::nullopt;
    }
    std::uint32_t n = 0;
    for (int i = 0; i < 4; ++i) {
      n = (n << 8) | static_cast<unsigned char>(bytes[static_cast<std::size_t>(i)]);
    }
    bytes.remove_prefix(4);
    if (bytes.size() < n) {
      return std::nullopt;
    }
    field->assign(bytes.substr(0, n));
    bytes.remove_prefix(n);
  }
  if (!bytes.empty()) {
    return std::nullopt;
  }
  return r;
}

std::string_view as_view(const MDB_val& v) noexcept {
  return {static_cast<const char*>(v.mv_data), v.mv_size};
}

std::string composite_key(std::string_view first, std::string_view second) {
  std::string key;
  key.reserve(first.size() + 1 + second.size());
  key.append(first);
  key.push_back('\0');
  key.append(second);
  return key;
}

std::string dedup_key(const engine::event& ev) {
  return composite_key(ev.source.str(), ev.id);
}

// The ledger index is bucketed by seq: key = be32(seq >> ledger_bucket_bits) + sku + '\0' +
// be64(seq). Keyed by SKU alone, every event of a commit would land on a different B-tree leaf
// (LMDB rewrites whole pages: ~4 KiB written per event, measured 2.3x slower ingest); with the
// bucket first, a commit only touches the current bucket's leaves, however long the history.
// Reads walk the buckets newest first: one seek per bucket.
constexpr unsigned ledger_bucket_bits = 12;

std::uint32_t ledger_bucket(std::uint64_t seq) noexcept {
  return static_cast<std::uint32_t>(seq >> ledger_bucket_bits);
}

std::string ledger_prefix(std::uint32_t bucket, const engine::sku_id& sku) {
  std::string key;
  key.reserve(4 + sku.str().size() + 1 + 8);
  for (int shift = 24; shift >= 0; shift -= 8) {
    key.push_back(static_cast<char>((bucket >> shift) & 0xff));
  }
  key.append(sku.str());
  key.push_back('\0');
  return key;
}

std::string ledger_key(const engine::sku_id& sku, std::uint64_t seq) {
  std::string key = ledger_prefix(ledger_bucket(seq), sku);
  const be64 b = to_be64(seq);
  key.append(b.data(), b.size());
  return key;
}

std::string checkpoint_key(const engine::sku_location_key& key) {
  return composite_key(key.sku.str(), key.location.str());
}

// The closed_lines index: sku `\0` line_hash as 16 hex digits `\0` location. The hash before
// the location makes both reads cheap: one point read for a state's line, and one short prefix
// scan for "which locations hold this line of this SKU" (placement), however many lines the SKU
// has closed.
std::string closed_line_prefix(const engine::sku_id& sku, std::uint64_t line_hash) {
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(line_hash));
  std::string key = composite_key(sku.str(), std::string_view(hex, 16));
  key.push_back('\0');
  return key;
}

std::string closed_line_key(const engine::sku_location_key& key, std::uint64_t line_hash) {
  return closed_line_prefix(key.sku, line_hash) + key.location.str();
}

std::string watermark_key(std::uint32_t shard) {
  return "wm/" + std::to_string(shard);
}

error make_error(errc code, std::string message) {
  return error{code, std::move(message)};
}

error lmdb_error(int rc, std::string_view what) {
  errc code = errc::io_error;
  if (rc == MDB_MAP_FULL) {
    code = errc::map_full;
  } else if (rc == ENOSPC) {
    code = errc::disk_full;
  } else if (rc == rc_corrupt) {
    return make_error(errc::corrupt, std::string(what) + ": a stored record failed to decode");
  }
  return make_error(code, std::string(what) + ": " + mdb_strerror(rc));
}

// Owns a transaction until commit; aborting on every other path keeps "nothing half-stored".
class txn_guard {
public:
  txn_guard() = default;
  txn_guard(const txn_guard&) = delete;
  txn_guard& operator=(const txn_guard&) = delete;
  ~txn_guard() { abort(); }

  MDB_txn** out() noexcept { return &txn_; }
  MDB_txn* get() const noexcept { return txn_; }
  void abort() noexcept {
    if (txn_ != nullptr) {
      mdb_txn_abort(txn_);
      txn_ = nullptr;
    }
  }
  int commit() noexcept {
    // mdb_txn_commit frees the handle whether it succeeds or not.
    const int rc = mdb_txn_commit(txn_);
    txn_ = nullptr;
    return rc;
  }

private:
  MDB_txn* txn_ = nullptr;
};

class cursor_guard {
public:
  cursor_guard() = default;
  cursor_guard(const cursor_guard&) = delete;
  cursor_guard& operator=(const cursor_guard&) = delete;
  ~cursor_guard() {
    if (cursor_ != nullptr) {
      mdb_cursor_close(cursor_);
    }
  }
  MDB_cursor** out() noexcept { return &cursor_; }
  MDB_cursor* get() const noexcept { return cursor_; }

private:
  MDB_cursor* cursor_ = nullptr;
};

// A read transaction with one cursor, holding off map growth (shared lock) while it lives.
struct read_cursor {
  explicit read_cursor(std::shared_mutex& remap) : lock(remap) {}
  std::shared_lock<std::shared_mutex> lock;
  txn_guard txn;
  cursor_guard cursor;
};

bool has_nul(std::string_view s) noexcept {
  return s.find('\0') != std::string_view::npos;
}

} // namespace

struct database::impl {
  MDB_env* env = nullptr;
  MDB_dbi journal = 0;
  MDB_dbi dedup = 0;
  MDB_dbi ledger = 0;
  MDB_dbi checkpoints = 0;
  MDB_dbi meta = 0;
  MDB_dbi outbox = 0;
  MDB_dbi runs = 0;
  MDB_dbi config_versions = 0;
  MDB_dbi closed_lines = 0;
  // False only read-only on a data dir no stockd with the index has opened yet: no line is
  // indexed there.
  bool has_closed_lines = true;
  options opts;
  std::size_t key_bytes_max = 0;
  int lock_fd = -1;
  std::atomic<std::uint64_t> head{0};
  // mdb_env_set_mapsize needs every transaction of this process closed: readers hold it shared
  // for the life of their read transaction, map growth (writer thread) takes it exclusively.
  mutable std::shared_mutex remap_mutex;
  std::string value_scratch;  // writer thread only: reused encode buffer

  impl() = default;
  impl(const impl&) = delete;
  impl& operator=(const impl&) = delete;
  ~impl() {
    if (env != nullptr) {
      mdb_env_close(env);
    }
    if (lock_fd >= 0) {
      ::close(lock_fd);  // releases the flock
    }
  }

  result<void> check_key(std::string_view key, std::string_view what) const {
    if (key.size() > key_bytes_max) {
      return unexpected(make_error(errc::invalid, std::string(what) + " key is " +
                                                      std::to_string(key.size()) +
                                                      " bytes, LMDB allows at most " +
                                                      std::to_string(key_bytes_max)));
    }
    return {};
  }

  result<void> check_checkpoint(const engine::sku_location_key& key) const {
    if (has_nul(key.sku.str())) {
      return unexpected(make_error(errc::invalid, "sku contains a NUL byte"));
    }
    return check_key(checkpoint_key(key), "checkpoint");
  }

  result<void> check_outbox(const outbox_record& record) const {
    if (has_nul(record.channel.str()) || has_nul(record.sku.str())) {
      return unexpected(make_error(errc::invalid, "channel or sku contains a NUL byte"));
    }
    return check_key(composite_key(record.channel.str(), record.sku.str()), "outbox");
  }

  int put_outbox(MDB_txn* txn, std::span<const outbox_record> records) {
    for (const auto& record : records) {
      const std::string key = composite_key(record.channel.str(), record.sku.str());
      MDB_val k = as_val(key);
      const MDB_dbi table = record.table == channel_table::outbox ? outbox : runs;
      if (record.bytes.empty()) {
        if (const int rc = mdb_del(txn, table, &k, nullptr); rc != 0 && rc != MDB_NOTFOUND) {
          return rc;
        }
        continue;
      }
      MDB_val v = as_val(record.bytes);
      if (const int rc = mdb_put(txn, table, &k, &v, 0); rc != 0) {
        return rc;
      }
    }
    return 0;
  }

  std::size_t map_size() const {
    MDB_envinfo info{};
    mdb_env_info(env, &info);
    return info.me_mapsize;
  }

  // Doubles the map up to map_size_max. Writer thread only, with no write transaction open.
  result<void> grow() {
    const std::size_t current = map_size();
    if (current >= opts.map_size_max) {
      return unexpected(make_error(
          errc::map_full, "the map is full at map_size_max (" + std::to_string(opts.map_size_max) +
                              " bytes)"));
    }
    const std::size_t next =
        current > opts.map_size_max / 2 ? opts.map_size_max : current * 2;
    std::unique_lock lock(remap_mutex);
    const int rc = mdb_env_set_mapsize(env, next);
    if (rc != 0) {
      return unexpected(lmdb_error(rc, "mdb_env_set_mapsize"));
    }
    return {};
  }

  // Runs `body` in one write transaction and commits it. On MDB_MAP_FULL (from a put or from the
  // commit) the transaction is aborted, the map grows and the whole body runs again, so `body`
  // must start from scratch each time. Growth doubles up to map_size_max, so this terminates.
  template <class Body>
  result<void> write(std::string_view what, Body&& body) {
    int resized = 0;
    for (;;) {
      txn_guard txn;
      int rc = mdb_txn_begin(env, nullptr, 0, txn.out());
      if (rc == MDB_MAP_RESIZED && resized++ < map_resized_retries_max) {
        // Another process grew the map: adopt its size (0 = take the size from the file).
        std::unique_lock lock(remap_mutex);
        rc = mdb_env_set_mapsize(env, 0);
        if (rc != 0) {
          return unexpected(lmdb_error(rc, "mdb_env_set_mapsize"));
        }
        continue;
      }
      if (rc != 0) {
        return unexpected(lmdb_error(rc, "mdb_txn_begin"));
      }
      rc = body(txn.get());
      if (rc == 0) {
        rc = txn.commit();
      }
      if (rc == MDB_MAP_FULL) {
        txn.abort();
        if (auto grown = grow(); !grown) {
          return grown;
        }
        continue;
      }
      if (rc != 0) {
        return unexpected(lmdb_error(rc, what));
      }
      return {};
    }
  }

  int put_u64(MDB_txn* txn, MDB_dbi dbi, std::string_view key, std::uint64_t v) {
    const be64 b = to_be64(v);
    MDB_val k = as_val(key);
    MDB_val d = as_val(b);
    return mdb_put(txn, dbi, &k, &d, 0);
  }

  // 0 and `v` set, MDB_NOTFOUND, or another error (rc_corrupt for a malformed value).
  int get_u64(MDB_txn* txn, MDB_dbi dbi, std::string_view key, std::uint64_t& v) const {
    MDB_val k = as_val(key);
    MDB_val d{};
    const int rc = mdb_get(txn, dbi, &k, &d);
    if (rc != 0) {
      return rc;
    }
    if (d.mv_size != 8) {
      return rc_corrupt;
    }
    v = from_be64(d.mv_data);
    return 0;
  }

  int begin_read(txn_guard& txn) const {
    return mdb_txn_begin(env, nullptr, MDB_RDONLY, txn.out());
  }

  result<void> open_cursor(read_cursor& reader, MDB_dbi dbi) const {
    if (const int rc = begin_read(reader.txn); rc != 0) {
      return unexpected(lmdb_error(rc, "mdb_txn_begin"));
    }
    if (const int rc = mdb_cursor_open(reader.txn.get(), dbi, reader.cursor.out()); rc != 0) {
      return unexpected(lmdb_error(rc, "mdb_cursor_open"));
    }
    return {};
  }

  /// The last part of every key of `dbi` that starts with `prefix` (a composite key ending in
  /// a location): the locations a SKU has a record at.
  result<std::vector<engine::location_id>> locations_under(MDB_dbi dbi, std::string_view prefix,
                                                           const char* what) const {
    std::vector<engine::location_id> locations;
    read_cursor reader(remap_mutex);
    if (auto opened = open_cursor(reader, dbi); !opened) {
      return unexpected(opened.error());
    }
    MDB_cursor* const cursor = reader.cursor.get();
    MDB_val k = as_val(prefix);
    MDB_val v{};
    int rc = mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE);
    while (rc == 0) {
      const std::string_view key = as_view(k);
      if (!key.starts_with(prefix)) {
        break;
      }
      locations.emplace_back(key.substr(prefix.size()));
      rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT);
    }
    if (rc != 0 && rc != MDB_NOTFOUND) {
      return unexpected(lmdb_error(rc, what));
    }
    return locations;
  }

  // Reads and decodes the journal entry `seq` inside `txn`.
  int get_entry(MDB_txn* txn, std::uint64_t seq, engine::journal_entry& out) const {
    const be64 b = to_be64(seq);
    MDB_val k = as_val(b);
    MDB_val d{};
    const int rc = mdb_get(txn, journal, &k, &d);
    if (rc != 0) {
      return rc;
    }
    auto decoded = engine::decode_journal_entry(as_view(d));
    if (!decoded || decoded->seq != seq) {
      return rc_corrupt;
    }
    out = std::move(*decoded);
    return 0;
  }

  result<void> open_tables() {
    if (opts.read_only) {
      return open_tables_read_only();
    }
    return write("open tables", [this](MDB_txn* txn) {
      const std::pair<const char*, MDB_dbi*> tables[] = {
          {"journal", &journal}, {"dedup", &dedup},   {"ledger", &ledger},
          {"checkpoints", &checkpoints}, {"meta", &meta},     {"outbox", &outbox},
          {"reconcile_runs", &runs},
          {"config_versions", &config_versions},
          {"closed_lines", &closed_lines},
      };
      for (const auto& [name, dbi] : tables) {
        if (const int rc = mdb_dbi_open(txn, name, MDB_CREATE, dbi); rc != 0) {
          return rc;
        }
      }
      return 0;
    });
  }

  // The handles of a read transaction stay valid once it commits (LMDB: mdb_dbi_open).
  result<void> open_tables_read_only() {
    txn_guard txn;
    if (const int rc = begin_read(txn); rc != 0) {
      return unexpected(lmdb_error(rc, "mdb_txn_begin"));
    }
    const std::pair<const char*, MDB_dbi*> tables[] = {
        {"journal", &journal}, {"dedup", &dedup},   {"ledger", &ledger},
        {"checkpoints", &checkpoints}, {"meta", &meta},     {"outbox", &outbox},
    };
    for (const auto& [name, dbi] : tables) {
      if (const int rc = mdb_dbi_open(txn.get(), name, 0, dbi); rc != 0) {
        return unexpected(make_error(
            rc == MDB_NOTFOUND ? errc::invalid : errc::io_error,
            opts.dir.string() + " has no table '" + name + "' (" + mdb_strerror(rc) +
                "): not a stockd data dir, or one no stockd has opened since an upgrade"));
      }
    }
    // Added after the others: a data dir from before it simply has no line indexed.
    if (const int rc = mdb_dbi_open(txn.get(), "closed_lines", 0, &closed_lines); rc != 0) {
      if (rc != MDB_NOTFOUND) {
        return unexpected(lmdb_error(rc, "open table closed_lines"));
      }
      has_closed_lines = false;
    }
    if (const int rc = txn.commit(); rc != 0) {
      return unexpected(lmdb_error(rc, "mdb_txn_commit"));
    }
    return {};
  }

  int put_checkpoints(MDB_txn* txn, std::span<const checkpoint_record> records,
                      std::uint32_t shard, std::uint64_t watermark) {
    for (const auto& record : records) {
      const std::string key = checkpoint_key(record.key);
      MDB_val k = as_val(key);
      MDB_val v = as_val(record.state_bytes);
      if (const int rc = mdb_put(txn, checkpoints, &k, &v, 0); rc != 0) {
        return rc;
      }
      for (const auto& line : record.forgotten_lines) {
        const std::string lk = closed_line_key(record.key, line.line_hash);
        if (lk.size() > key_bytes_max) {
          // sku and location together within 18 bytes of LMDB's key limit: such a state works
          // as before the index existed (a forgotten line is unknown), rather than never
          // checkpointing again.
          continue;
        }
        const be64 returnable = to_be64(static_cast<std::uint64_t>(line.returnable));
        MDB_val lkv = as_val(lk);
        MDB_val lv = as_val(returnable);
        if (const int rc = mdb_put(txn, closed_lines, &lkv, &lv, 0); rc != 0) {
          return rc;
        }
      }
    }
    if (watermark == 0) {
      return 0;  // a part of a round: the round's last part writes the watermark
    }
    // A watermark only moves forward: a late, older batch must not make recovery skip less.
    const std::string wk = watermark_key(shard);
    std::uint64_t current = 0;
    const int rc = get_u64(txn, meta, wk, current);
    if (rc == MDB_NOTFOUND || (rc == 0 && current < watermark)) {
      return put_u64(txn, meta, wk, watermark);
    }
    return rc;
  }

  // The head lives in meta and, redundantly, as the journal's last key; both are written in the
  // same transaction, so a disagreement means the file is damaged.
  result<void> load_head() {
    std::shared_lock lock(remap_mutex);
    txn_guard txn;
    if (const int rc = begin_read(txn); rc != 0) {
      return unexpected(lmdb_error(rc, "mdb_txn_begin"));
    }
    std::uint64_t stored = 0;
    int rc = get_u64(txn.get(), meta, head_key, stored);
    if (rc != 0 && rc != MDB_NOTFOUND) {
      return unexpected(lmdb_error(rc, "read journal head"));
    }
    cursor_guard cursor;
    if (rc = mdb_cursor_open(txn.get(), journal, cursor.out()); rc != 0) {
      return unexpected(lmdb_error(rc, "mdb_cursor_open"));
    }
    MDB_val k{};
    MDB_val d{};
    std::uint64_t last = 0;
    rc = mdb_cursor_get(cursor.get(), &k, &d, MDB_LAST);
    if (rc == 0) {
      if (k.mv_size != 8) {
        return unexpected(lmdb_error(rc_corrupt, "journal key"));
      }
      last = from_be64(k.mv_data);
    } else if (rc != MDB_NOTFOUND) {
      return unexpected(lmdb_error(rc, "read journal tail"));
    }
    if (last != stored) {
      return unexpected(make_error(errc::corrupt, "journal head " + std::to_string(stored) +
                                                      " disagrees with last entry " +
                                                      std::to_string(last)));
    }
    head.store(stored);
    return {};
  }

  // Refuses a second opener (another process, or this one twice: LMDB forbids opening one env
  // twice in a process) so the in-memory head can never go stale behind our back.
  result<void> lock_dir() {
    const std::filesystem::path path = opts.dir / lock_file_name;
    lock_fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lock_fd < 0) {
      return unexpected(
          make_error(errc::invalid, "open " + path.string() + ": " + std::strerror(errno)));
    }
    if (::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
      return unexpected(make_error(errc::invalid, "the store in " + opts.dir.string() +
                                                      " is already open: " +
                                                      std::strerror(errno)));
    }
    return {};
  }

  result<void> open_env() {
    int rc = mdb_env_create(&env);
    if (rc != 0) {
      env = nullptr;
      return unexpected(lmdb_error(rc, "mdb_env_create"));
    }
    if (rc = mdb_env_set_maxdbs(env, named_dbs_max); rc != 0) {
      return unexpected(lmdb_error(rc, "mdb_env_set_maxdbs"));
    }
    // A reader maps everything the writer may grow to: MDB_MAP_RESIZED only comes when the
    // used pages outgrow this process's map, and that needs every transaction closed to fix.
    const std::size_t map_bytes = opts.read_only ? opts.map_size_max : opts.map_size_bytes;
    if (rc = mdb_env_set_mapsize(env, map_bytes); rc != 0) {
      return unexpected(lmdb_error(rc, "mdb_env_set_mapsize"));
    }
    if (rc = mdb_env_set_maxreaders(env, opts.readers_max); rc != 0) {
      return unexpected(lmdb_error(rc, "mdb_env_set_maxreaders"));
    }
    // MDB_NOTLS: read transactions are not tied to a thread, so any thread may read and a reader
    // slot is per transaction. Everything else stays at LMDB's durable defaults (toolchain.md).
    const unsigned flags = opts.read_only ? MDB_NOTLS | MDB_RDONLY : MDB_NOTLS;
    if (rc = mdb_env_open(env, opts.dir.c_str(), flags, 0644); rc != 0) {
      return unexpected(lmdb_error(rc, "mdb_env_open " + opts.dir.string()));
    }
    if (opts.read_only) {
      const int key_max = mdb_env_get_maxkeysize(env);
      key_bytes_max = static_cast<std::size_t>(key_max);
      return {};  // stale reader slots are the owning stockd's to clear
    }
    int dead = 0;
    if (rc = mdb_reader_check(env, &dead); rc != 0) {
      return unexpected(lmdb_error(rc, "mdb_reader_check"));
    }
    const int key_max = mdb_env_get_maxkeysize(env);
    assert(key_max > 0);
    key_bytes_max = static_cast<std::size_t>(key_max);
    return {};
  }
};

result<std::unique_ptr<database>> database::open(const options& opts) {
  if (opts.dir.empty()) {
    return unexpected(make_error(errc::invalid, "options.dir is empty"));
  }
  if (opts.map_size_bytes == 0 || opts.map_size_max < opts.map_size_bytes) {
    return unexpected(make_error(errc::invalid, "need 0 < map_size_bytes <= map_size_max"));
  }
  if (opts.readers_max == 0) {
    return unexpected(make_error(errc::invalid, "readers_max is 0"));
  }
  std::error_code ec;
  if (opts.read_only) {
    if (!std::filesystem::exists(opts.dir / "data.mdb", ec)) {
      return unexpected(make_error(errc::invalid, opts.dir.string() + " holds no stockd store"));
    }
  } else {
    std::filesystem::create_directories(opts.dir, ec);
  }
  if (ec) {
    return unexpected(
        make_error(errc::invalid, "create " + opts.dir.string() + ": " + ec.message()));
  }
  auto state = std::make_unique<impl>();
  state->opts = opts;
  if (!opts.read_only) {
    if (auto r = state->lock_dir(); !r) {
      return unexpected(r.error());
    }
  }
  if (auto r = state->open_env(); !r) {
    return unexpected(r.error());
  }
  if (auto r = state->open_tables(); !r) {
    return unexpected(r.error());
  }
  if (auto r = state->load_head(); !r) {
    return unexpected(r.error());
  }
  return std::unique_ptr<database>(new database(std::move(state)));
}

database::database(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

database::~database() = default;

result<void> database::check(const engine::journal_entry& entry) const {
  if (has_nul(entry.ev.source.str())) {
    return unexpected(make_error(errc::invalid, "source contains a NUL byte"));
  }
  if (has_nul(entry.ev.sku.str())) {
    return unexpected(make_error(errc::invalid, "sku contains a NUL byte"));
  }
  if (auto r = impl_->check_key(dedup_key(entry.ev), "dedup (source, id)"); !r) {
    return r;
  }
  return impl_->check_key(ledger_key(entry.ev.sku, entry.seq), "ledger (sku)");
}

result<void> database::append(std::span<engine::journal_entry> entries,
                              std::vector<append_status>& out) {
  return commit(entries, out, {});
}

result<void> database::commit(std::span<engine::journal_entry> entries,
                              std::vector<append_status>& out,
                              std::span<const checkpoint_batch> checkpoints,
                              std::span<const outbox_record> outbox) {
  out.assign(entries.size(), append_status{});
  if (entries.empty() && checkpoints.empty() && outbox.empty()) {
    return {};
  }
  for (const auto& record : outbox) {
    if (auto r = impl_->check_outbox(record); !r) {
      return r;
    }
  }
  for (const auto& entry : entries) {
    if (auto r = check(entry); !r) {
      return r;
    }
  }
  for (const auto& batch : checkpoints) {
    for (const auto& record : batch.records) {
      if (auto r = impl_->check_checkpoint(record.key); !r) {
        return r;
      }
    }
  }
  // The seq is set on each entry before encoding it (the encoding carries it); the callers'
  // values are kept so a failed batch can hand its entries back untouched.
  std::vector<std::uint64_t> seqs_before;
  seqs_before.reserve(entries.size());
  for (const auto& entry : entries) {
    seqs_before.push_back(entry.seq);
  }
  impl& d = *impl_;
  const std::uint64_t first = d.head.load() + 1;
  std::uint64_t next = first;
  auto body = [&](MDB_txn* txn) {
    next = first;
    std::string& value = d.value_scratch;
    for (std::size_t i = 0; i < entries.size(); ++i) {
      engine::journal_entry& entry = entries[i];
      // Dedup check and insert in one lookup: NOOVERWRITE hands back the stored value. Earlier
      // entries of this batch are visible because they were put in this same transaction.
      const std::string dk = dedup_key(entry.ev);
      std::array<char, 16> dv{};
      const be64 seq_bytes = to_be64(next);
      const be64 received_bytes =
          to_be64(static_cast<std::uint64_t>(entry.received_at.time_since_epoch().count()));
      std::copy(seq_bytes.begin(), seq_bytes.end(), dv.begin());
      std::copy(received_bytes.begin(), received_bytes.end(), dv.begin() + 8);
      MDB_val k = as_val(dk);
      MDB_val v{dv.size(), dv.data()};
      int rc = mdb_put(txn, d.dedup, &k, &v, MDB_NOOVERWRITE);
      if (rc == MDB_KEYEXIST) {
        if (v.mv_size != dv.size()) {
          return rc_corrupt;
        }
        out[i] = append_status{from_be64(v.mv_data), true};
        continue;
      }
      if (rc != 0) {
        return rc;
      }
      entry.seq = next;
      value.clear();
      engine::encode(entry, value);
      MDB_val jk = as_val(seq_bytes);
      MDB_val jv = as_val(value);
      // Seqs only grow, so every journal key lands at the end of the tree.
      if (rc = mdb_put(txn, d.journal, &jk, &jv, MDB_APPEND); rc != 0) {
        return rc;
      }
      const std::string lk = ledger_key(entry.ev.sku, next);
      MDB_val lkv = as_val(lk);
      MDB_val empty{0, nullptr};
      if (rc = mdb_put(txn, d.ledger, &lkv, &empty, 0); rc != 0) {
        return rc;
      }
      out[i] = append_status{next, false};
      ++next;
    }
    if (next != first) {
      if (const int rc = d.put_u64(txn, d.meta, head_key, next - 1); rc != 0) {
        return rc;
      }
    }
    for (const auto& batch : checkpoints) {
      if (const int rc = d.put_checkpoints(txn, batch.records, batch.shard, batch.watermark);
          rc != 0) {
        return rc;
      }
    }
    return d.put_outbox(txn, outbox);
  };
  if (auto r = d.write("commit", body); !r) {
    out.assign(entries.size(), append_status{});
    for (std::size_t i = 0; i < entries.size(); ++i) {
      entries[i].seq = seqs_before[i];
    }
    return r;
  }
  d.head.store(next - 1);
  // Duplicates carry their original seq too: a consumer that skips seq <= last applied ignores
  // them, and the statuses say which ones they are.
  for (std::size_t i = 0; i < entries.size(); ++i) {
    entries[i].seq = out[i].seq;
  }
  return {};
}

result<void> database::write_checkpoints(std::span<const checkpoint_record> records,
                                         std::uint32_t shard, std::uint64_t watermark) {
  impl& d = *impl_;
  for (const auto& record : records) {
    if (auto r = d.check_checkpoint(record.key); !r) {
      return r;
    }
  }
  return d.write("write checkpoints", [&](MDB_txn* txn) {
    return d.put_checkpoints(txn, records, shard, watermark);
  });
}

std::uint64_t database::journal_head() const {
  return impl_->head.load();
}

std::uint64_t database::replay_from(std::uint32_t shards) const {
  // Replaying from 1 is always correct (states skip what they already applied), so any doubt
  // below answers 1 rather than risk skipping an event.
  if (shards == 0) {
    return 1;
  }
  const impl& d = *impl_;
  std::shared_lock lock(d.remap_mutex);
  txn_guard txn;
  if (d.begin_read(txn) != 0) {
    return 1;
  }
  std::uint64_t low = std::numeric_limits<std::uint64_t>::max();
  for (std::uint32_t shard = 0; shard < shards; ++shard) {
    std::uint64_t wm = 0;
    const int rc = d.get_u64(txn.get(), d.meta, watermark_key(shard), wm);
    if (rc == MDB_NOTFOUND) {
      return 1;
    }
    if (rc != 0) {
      return 1;
    }
    low = std::min(low, wm);
  }
  return low + 1;
}

result<std::uint64_t> database::prepare_recovery(std::uint32_t shards) {
  if (shards == 0) {
    return unexpected(make_error(errc::invalid, "shard count must be at least 1"));
  }
  impl& d = *impl_;
  constexpr std::string_view shards_key = "shards";
  constexpr std::string_view prefix = "wm/";
  std::uint64_t replay = 1;
  auto written = d.write("prepare recovery", [&](MDB_txn* txn) {
    std::uint64_t old_shards = 0;
    int rc = d.get_u64(txn, d.meta, shards_key, old_shards);
    if (rc != 0 && rc != MDB_NOTFOUND) {
      return rc;
    }
    // Collect every stored watermark, whatever layout wrote it.
    std::map<std::uint32_t, std::uint64_t> marks;
    {
      cursor_guard cursor;
      if (rc = mdb_cursor_open(txn, d.meta, cursor.out()); rc != 0) {
        return rc;
      }
      MDB_val k = as_val(prefix);
      MDB_val v{};
      rc = mdb_cursor_get(cursor.get(), &k, &v, MDB_SET_RANGE);
      while (rc == 0 && as_view(k).starts_with(prefix)) {
        const std::string_view digits = as_view(k).substr(prefix.size());
        std::uint32_t shard = 0;
        auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), shard);
        if (ec != std::errc{} || ptr != digits.data() + digits.size() || v.mv_size != 8) {
          return rc_corrupt;
        }
        marks[shard] = from_be64(v.mv_data);
        rc = mdb_cursor_get(cursor.get(), &k, &v, MDB_NEXT);
      }
      if (rc != 0 && rc != MDB_NOTFOUND) {
        return rc;
      }
    }
    // The old layout: the recorded count, or (data written before it was recorded) at least
    // every shard index seen. A shard of that layout with no watermark never checkpointed.
    if (old_shards == 0) {
      old_shards = std::max<std::uint64_t>(shards, marks.empty() ? 0 : marks.rbegin()->first + 1);
    }
    std::uint64_t low = std::numeric_limits<std::uint64_t>::max();
    for (std::uint32_t shard = 0; shard < old_shards; ++shard) {
      auto it = marks.find(shard);
      low = std::min(low, it == marks.end() ? 0 : it->second);
    }
    if (low == std::numeric_limits<std::uint64_t>::max()) {
      low = 0;
    }
    replay = low + 1;
    if (old_shards == shards && marks.size() <= shards) {
      return d.put_u64(txn, d.meta, shards_key, shards);
    }
    for (const auto& [shard, mark] : marks) {
      const std::string key = watermark_key(shard);
      MDB_val k = as_val(key);
      if (rc = mdb_del(txn, d.meta, &k, nullptr); rc != 0) {
        return rc;
      }
    }
    for (std::uint32_t shard = 0; shard < shards; ++shard) {
      if (rc = d.put_u64(txn, d.meta, watermark_key(shard), low); rc != 0) {
        return rc;
      }
    }
    return d.put_u64(txn, d.meta, shards_key, shards);
  });
  if (!written) {
    return unexpected(written.error());
  }
  return replay;
}

result<std::size_t> database::read_journal(
    std::uint64_t from, std::size_t max_count,
    const std::function<bool(const engine::journal_entry&)>& visit) const {
  const impl& d = *impl_;
  read_cursor reader(d.remap_mutex);
  if (auto opened = d.open_cursor(reader, d.journal); !opened) {
    return unexpected(opened.error());
  }
  MDB_cursor* const cursor = reader.cursor.get();
  int rc = 0;
  const be64 start = to_be64(std::max<std::uint64_t>(from, 1));
  MDB_val k = as_val(start);
  MDB_val v{};
  std::size_t visited = 0;
  rc = mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE);
  while (rc == 0 && visited < max_count) {
    if (k.mv_size != 8) {
      return unexpected(lmdb_error(rc_corrupt, "journal key"));
    }
    auto entry = engine::decode_journal_entry(as_view(v));
    if (!entry || entry->seq != from_be64(k.mv_data)) {
      return unexpected(lmdb_error(rc_corrupt, "journal entry " +
                                                   std::to_string(from_be64(k.mv_data))));
    }
    ++visited;
    if (!visit(*entry)) {
      return visited;
    }
    rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT);
  }
  if (rc != 0 && rc != MDB_NOTFOUND) {
    return unexpected(lmdb_error(rc, "read journal"));
  }
  return visited;
}

result<std::optional<std::string>> database::read_checkpoint(
    const engine::sku_location_key& key) const {
  const impl& d = *impl_;
  if (auto r = d.check_checkpoint(key); !r) {
    return unexpected(r.error());
  }
  const std::string ck = checkpoint_key(key);
  std::shared_lock lock(d.remap_mutex);
  txn_guard txn;
  int rc = d.begin_read(txn);
  if (rc != 0) {
    return unexpected(lmdb_error(rc, "mdb_txn_begin"));
  }
  MDB_val k = as_val(ck);
  MDB_val v{};
  rc = mdb_get(txn.get(), d.checkpoints, &k, &v);
  if (rc == MDB_NOTFOUND) {
    return std::optional<std::string>{};
  }
  if (rc != 0) {
    return unexpected(lmdb_error(rc, "read checkpoint"));
  }
  // Copy out: the bytes point into the map, valid only while the read transaction lives.
  return std::optional<std::string>{std::string(as_view(v))};
}

result<std::optional<std::uint64_t>> database::find_event(const engine::source_id& source,
                                                          std::string_view id) const {
  const impl& d = *impl_;
  const std::string dk = composite_key(source.str(), id);
  if (auto r = d.check_key(dk, "dedup (source, id)"); !r) {
    return std::optional<std::uint64_t>{};  // too long to have been stored
  }
  std::shared_lock lock(d.remap_mutex);
  txn_guard txn;
  int rc = d.begin_read(txn);
  if (rc != 0) {
    return unexpected(lmdb_error(rc, "mdb_txn_begin"));
  }
  MDB_val k = as_val(dk);
  MDB_val v{};
  rc = mdb_get(txn.get(), d.dedup, &k, &v);
  if (rc == MDB_NOTFOUND) {
    return std::optional<std::uint64_t>{};
  }
  if (rc != 0) {
    return unexpected(lmdb_error(rc, "read dedup"));
  }
  if (v.mv_size != 16) {
    return unexpected(make_error(errc::corrupt, "dedup value of " + std::to_string(v.mv_size) +
                                                    " bytes"));
  }
  return std::optional<std::uint64_t>{from_be64(v.mv_data)};
}

result<std::vector<engine::journal_entry>> database::sku_ledger(const engine::sku_id& sku,
                                                                std::uint64_t before,
                                                                std::size_t limit) const {
  const impl& d = *impl_;
  if (has_nul(sku.str())) {
    return unexpected(make_error(errc::invalid, "sku contains a NUL byte"));
  }
  const std::uint64_t bound_seq = before == 0 ? std::numeric_limits<std::uint64_t>::max() : before;
  const std::uint64_t newest = std::min(d.head.load(), bound_seq - 1);
  if (auto r = d.check_key(ledger_key(sku, newest), "ledger (sku)"); !r) {
    return unexpected(r.error());
  }
  std::vector<engine::journal_entry> entries;
  if (newest == 0 || limit == 0) {
    return entries;
  }
  read_cursor reader(d.remap_mutex);
  if (auto opened = d.open_cursor(reader, d.ledger); !opened) {
    return unexpected(opened.error());
  }
  MDB_txn* const txn = reader.txn.get();
  MDB_cursor* const cursor = reader.cursor.get();
  int rc = 0;
  for (std::int64_t bucket = ledger_bucket(newest); bucket >= 0 && entries.size() < limit;
       --bucket) {
    const std::string prefix = ledger_prefix(static_cast<std::uint32_t>(bucket), sku);
    std::string bound = prefix;
    const be64 b = to_be64(bound_seq);
    bound.append(b.data(), b.size());
    // Position on the first key >= bucket+sku\0before, then step back: the newest entry below
    // the bound. Past the end of the table there is no such key, so start from the last one.
    MDB_val k = as_val(bound);
    MDB_val v{};
    rc = mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE);
    if (rc == 0) {
      rc = mdb_cursor_get(cursor, &k, &v, MDB_PREV);
    } else if (rc == MDB_NOTFOUND) {
      rc = mdb_cursor_get(cursor, &k, &v, MDB_LAST);
    }
    while (rc == 0 && entries.size() < limit) {
      const std::string_view key = as_view(k);
      // SKUs hold no NUL, so "bucket sku\0" is a prefix of this SKU's keys in this bucket only.
      if (key.size() != prefix.size() + 8 || !key.starts_with(prefix)) {
        break;
      }
      const std::uint64_t seq = from_be64(key.data() + prefix.size());
      engine::journal_entry entry;
      if (const int got = d.get_entry(txn, seq, entry); got != 0) {
        return unexpected(lmdb_error(got == MDB_NOTFOUND ? rc_corrupt : got,
                                     "ledger entry " + std::to_string(seq)));
      }
      entries.push_back(std::move(entry));
      rc = mdb_cursor_get(cursor, &k, &v, MDB_PREV);
    }
    if (rc != 0 && rc != MDB_NOTFOUND) {
      return unexpected(lmdb_error(rc, "read ledger"));
    }
  }
  return entries;
}

result<std::vector<checkpoint_record>> database::read_checkpoints(
    const std::optional<engine::sku_location_key>& after, std::size_t max_count) const {
  const impl& d = *impl_;
  std::string start;
  if (after) {
    if (auto r = d.check_checkpoint(*after); !r) {
      return unexpected(r.error());
    }
    start = checkpoint_key(*after);
  }
  std::vector<checkpoint_record> records;
  read_cursor reader(d.remap_mutex);
  if (auto opened = d.open_cursor(reader, d.checkpoints); !opened) {
    return unexpected(opened.error());
  }
  MDB_cursor* const cursor = reader.cursor.get();
  int rc = 0;
  MDB_val k = as_val(start);
  MDB_val v{};
  rc = start.empty() ? mdb_cursor_get(cursor, &k, &v, MDB_FIRST)
                     : mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE);
  while (rc == 0 && records.size() < max_count) {
    const std::string_view key = as_view(k);
    const auto nul = key.find('\0');
    if (key != start && nul != std::string_view::npos) {
      records.push_back(checkpoint_record{
          engine::sku_location_key{engine::sku_id(key.substr(0, nul)),
                                   engine::location_id(key.substr(nul + 1))},
          std::string(as_view(v)), {}});
    }
    rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT);
  }
  if (rc != 0 && rc != MDB_NOTFOUND) {
    return unexpected(lmdb_error(rc, "read checkpoints"));
  }
  return records;
}

result<void> database::put_config_version(const config_version_record& record) {
  impl& d = *impl_;
  if (record.version == 0) {
    return unexpected(make_error(errc::invalid, "config version 0"));
  }
  // Only the writer thread writes, so nothing can come between this read and the put.
  auto latest = read_config_versions(0, 1);
  if (!latest) {
    return unexpected(latest.error());
  }
  if (!latest->empty() && latest->front().version >= record.version) {
    return unexpected(make_error(errc::invalid, "config version " +
                                                    std::to_string(record.version) +
                                                    " is not after the stored " +
                                                    std::to_string(latest->front().version)));
  }
  const std::string bytes = encode_config_version(record);
  return d.write("write config version", [&](MDB_txn* txn) {
    const be64 key = to_be64(record.version);
    MDB_val k = as_val(key);
    MDB_val v = as_val(bytes);
    return mdb_put(txn, d.config_versions, &k, &v, MDB_NOOVERWRITE);
  });
}

result<std::vector<config_version_record>> database::read_config_versions(
    std::uint64_t before, std::size_t limit) const {
  const impl& d = *impl_;
  std::vector<config_version_record> out;
  if (limit == 0) {
    return out;
  }
  read_cursor reader(d.remap_mutex);
  if (auto opened = d.open_cursor(reader, d.config_versions); !opened) {
    return unexpected(opened.error());
  }
  MDB_cursor* const cursor = reader.cursor.get();
  MDB_val k{};
  MDB_val v{};
  int rc = 0;
  if (before == 0) {
    rc = mdb_cursor_get(cursor, &k, &v, MDB_LAST);
  } else {
    // The first key at or past `before`, then one back.
    const be64 start = to_be64(before);
    k = as_val(start);
    rc = mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE);
    rc = rc == MDB_NOTFOUND ? mdb_cursor_get(cursor, &k, &v, MDB_LAST)
                            : (rc == 0 ? mdb_cursor_get(cursor, &k, &v, MDB_PREV) : rc);
    if (rc == 0 && k.mv_size == 8 && from_be64(k.mv_data) >= before) {
      rc = mdb_cursor_get(cursor, &k, &v, MDB_PREV);
    }
  }
  while (rc == 0 && out.size() < limit) {
    if (k.mv_size != 8) {
      return unexpected(make_error(errc::corrupt, "a config version key is not 8 bytes"));
    }
    auto record = decode_config_version(from_be64(k.mv_data), as_view(v));
    if (!record) {
      return unexpected(make_error(errc::corrupt, "config version " +
                                                      std::to_string(from_be64(k.mv_data)) +
                                                      " does not decode"));
    }
    out.push_back(std::move(*record));
    rc = mdb_cursor_get(cursor, &k, &v, MDB_PREV);
  }
  if (rc != 0 && rc != MDB_NOTFOUND) {
    return unexpected(lmdb_error(rc, "read config versions"));
  }
  return out;
}

result<std::vector<outbox_record>> database::read_outbox(const engine::channel_id& channel,
                                                       const std::optional<engine::sku_id>& after,
                                                       std::size_t max_count) const {
  const impl& d = *impl_;
  if (has_nul(channel.str()) || (after && has_nul(after->str()))) {
    return unexpected(make_error(errc::invalid, "channel or sku contains a NUL byte"));
  }
  const std::string prefix = composite_key(channel.str(), {});
  const std::string start = after ? composite_key(channel.str(), after->str()) : prefix;
  if (auto r = d.check_key(start, "outbox"); !r) {
    return unexpected(r.error());
  }
  std::vector<outbox_record> records;
  read_cursor reader(d.remap_mutex);
  if (auto opened = d.open_cursor(reader, d.outbox); !opened) {
    return unexpected(opened.error());
  }
  MDB_cursor* const cursor = reader.cursor.get();
  MDB_val k = as_val(start);
  MDB_val v{};
  int rc = mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE);
  while (rc == 0 && records.size() < max_count) {
    const std::string_view key = as_view(k);
    if (!key.starts_with(prefix)) {
      break;  // past this channel's entries
    }
    if (!after || key != start) {
      records.push_back(outbox_record{channel, engine::sku_id(key.substr(prefix.size())),
                                      std::string(as_view(v)), {}});
    }
    rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT);
  }
  if (rc != 0 && rc != MDB_NOTFOUND) {
    return unexpected(lmdb_error(rc, "read outbox"));
  }
  return records;
}

std::string run_key(std::uint64_t seq) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string key(16, '0');
  for (std::size_t i = 0; i < 16; ++i) {
    key[15 - i] = digits[(seq >> (4 * i)) & 0xf];
  }
  return key;
}

namespace {

std::optional<std::uint64_t> parse_run_key(std::string_view key) {
  if (key.size() != 16) {
    return std::nullopt;
  }
  std::uint64_t seq = 0;
  for (char c : key) {
    const int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (d < 0) {
      return std::nullopt;
    }
    seq = (seq << 4) | static_cast<std::uint64_t>(d);
  }
  return seq;
}

} // namespace

result<std::vector<run_record>> database::read_runs(const engine::channel_id& channel,
                                                    std::size_t max_count) const {
  const impl& d = *impl_;
  if (has_nul(channel.str())) {
    return unexpected(make_error(errc::invalid, "channel contains a NUL byte"));
  }
  std::vector<run_record> out;
  read_cursor reader(d.remap_mutex);
  if (auto opened = d.open_cursor(reader, d.runs); !opened) {
    return unexpected(opened.error());
  }
  MDB_cursor* const cursor = reader.cursor.get();
  // Collected per channel in key order (oldest first), then reversed per channel.
  std::vector<run_record> group;
  auto flush = [&] {
    for (auto it = group.rbegin(); it != group.rend() && out.size() < max_count; ++it) {
      out.push_back(std::move(*it));
    }
    group.clear();
  };
  MDB_val k{};
  MDB_val v{};
  int rc = 0;
  if (channel.empty()) {
    rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST);
  } else {
    const std::string start = composite_key(channel.str(), {});
    k = as_val(start);
    rc = mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE);
  }
  while (rc == 0 && out.size() < max_count) {
    const std::string_view key = as_view(k);
    const auto sep = key.find('\0');
    if (sep == std::string_view::npos) {
      return unexpected(make_error(errc::corrupt, "a reconciliation run key without a channel"));
    }
    const std::string_view owner = key.substr(0, sep);
    if (!channel.empty() && owner != channel.str()) {
      break;
    }
    if (!group.empty() && group.front().channel.str() != owner) {
      flush();
    }
    auto seq = parse_run_key(key.substr(sep + 1));
    if (!seq) {
      return unexpected(make_error(errc::corrupt, "a reconciliation run key that is no seq"));
    }
    const std::string_view bytes = as_view(v);
    group.push_back(run_record{engine::channel_id(owner), *seq,
                               std::string(bytes.substr(0, bytes.find('\n')))});
    rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT);
  }
  if (rc != 0 && rc != MDB_NOTFOUND) {
    return unexpected(lmdb_error(rc, "read reconciliation runs"));
  }
  flush();
  return out;
}

result<std::optional<std::string>> database::read_run(const engine::channel_id& channel,
                                                      std::uint64_t seq) const {
  const impl& d = *impl_;
  if (has_nul(channel.str())) {
    return unexpected(make_error(errc::invalid, "channel contains a NUL byte"));
  }
  const std::string key = composite_key(channel.str(), run_key(seq));
  if (auto r = d.check_key(key, "reconciliation run"); !r) {
    return unexpected(r.error());
  }
  read_cursor reader(d.remap_mutex);
  if (auto opened = d.open_cursor(reader, d.runs); !opened) {
    return unexpected(opened.error());
  }
  MDB_val k = as_val(key);
  MDB_val v{};
  const int rc = mdb_cursor_get(reader.cursor.get(), &k, &v, MDB_SET_KEY);
  if (rc == MDB_NOTFOUND) {
    return std::optional<std::string>();
  }
  if (rc != 0) {
    return unexpected(lmdb_error(rc, "read reconciliation run"));
  }
  return std::optional<std::string>(std::string(as_view(v)));
}

result<std::optional<std::int64_t>> database::find_closed_line(
    const engine::sku_location_key& key, std::uint64_t line_hash) const {
  const impl& d = *impl_;
  if (auto r = d.check_checkpoint(key); !r) {
    return unexpected(r.error());
  }
  if (!d.has_closed_lines) {
    return std::optional<std::int64_t>{};
  }
  const std::string lk = closed_line_key(key, line_hash);
  if (lk.size() > d.key_bytes_max) {
    return std::optional<std::int64_t>{};  // never stored (put_checkpoints)
  }
  std::shared_lock lock(d.remap_mutex);
  txn_guard txn;
  if (const int rc = d.begin_read(txn); rc != 0) {
    return unexpected(lmdb_error(rc, "mdb_txn_begin"));
  }
  std::uint64_t returnable = 0;
  const int rc = d.get_u64(txn.get(), d.closed_lines, lk, returnable);
  if (rc == MDB_NOTFOUND) {
    return std::optional<std::int64_t>{};
  }
  if (rc != 0) {
    return unexpected(lmdb_error(rc, "read closed line"));
  }
  return std::optional<std::int64_t>{static_cast<std::int64_t>(returnable)};
}

result<std::vector<engine::location_id>> database::closed_line_locations(
    const engine::sku_id& sku, std::uint64_t line_hash) const {
  const impl& d = *impl_;
  if (has_nul(sku.str())) {
    return unexpected(make_error(errc::invalid, "sku contains a NUL byte"));
  }
  const std::string prefix = closed_line_prefix(sku, line_hash);
  if (auto r = d.check_key(prefix, "closed line"); !r) {
    return unexpected(r.error());
  }
  std::vector<engine::location_id> locations;
  if (!d.has_closed_lines) {
    return locations;
  }
  return d.locations_under(d.closed_lines, prefix, "read closed lines");
}

result<std::vector<engine::location_id>> database::checkpointed_locations(
    const engine::sku_id& sku) const {
  const impl& d = *impl_;
  if (has_nul(sku.str())) {
    return unexpected(make_error(errc::invalid, "sku contains a NUL byte"));
  }
  const std::string prefix = composite_key(sku.str(), {});
  if (auto r = d.check_key(prefix, "checkpoint"); !r) {
    return unexpected(r.error());
  }
  return d.locations_under(d.checkpoints, prefix, "read checkpoints");
}

stats database::read_stats() const {
  const impl& d = *impl_;
  stats s;
  s.journal_head = d.head.load();
  std::shared_lock lock(d.remap_mutex);
  MDB_envinfo info{};
  MDB_stat env_stat{};
  if (mdb_env_info(d.env, &info) == 0 && mdb_env_stat(d.env, &env_stat) == 0) {
    s.map_size_bytes = info.me_mapsize;
    s.map_used_bytes = (info.me_last_pgno + 1) * std::size_t{env_stat.ms_psize};
  }
  txn_guard txn;
  if (d.begin_read(txn) != 0) {
    return s;
  }
  MDB_stat table{};
  if (mdb_stat(txn.get(), d.journal, &table) == 0) {
    s.journal_entries = table.ms_entries;
  }
  if (mdb_stat(txn.get(), d.dedup, &table) == 0) {
    s.dedup_entries = table.ms_entries;
  }
  if (mdb_stat(txn.get(), d.checkpoints, &table) == 0) {
    s.checkpoints = table.ms_entries;
  }
  return s;
}

} // namespace stockd::store
