#pragma once
// Inbound adapter for POST /v1/snapshots/{location} (DESIGN §5): a full on-hand snapshot from a
// system of record, NDJSON, decoded incrementally as the body streams in. Chunks may split the
// body anywhere (inside a line, a string, a UTF-8 sequence or a CRLF); the decoder keeps only
// the unfinished last line between chunks, so it holds at most one chunk plus `line_bytes_max`
// bytes whatever the size of the snapshot. Each complete line becomes one `counted` event or one
// rejection carrying its line number (decode_snapshot_line in event_decoder.hpp has the rules).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "connectors/event_decoder.hpp"
#include "engine/catalog.hpp"

namespace stockd::connectors {

struct snapshot_limits {
  /// A longer line is rejected whole ("longer than N bytes") and skipped up to its newline
  /// without being buffered; the lines after it still decode.
  std::size_t line_bytes_max = 64 * 1024;
  /// The snapshot id is at most this long, so that "<id>:<sku>" leaves room for the SKU.
  std::size_t id_bytes_max = 128;
};

/// One line of a snapshot, decoded: `decoded.ev` is the count, or `decoded.error` says why not.
struct snapshot_line {
  std::uint64_t number = 0;  // 1-based; every line of the body counts, blank ones too
  decoded_event decoded;
};

/// Checks what the request supplies for every line. The error's field names the query parameter
/// ("source", "id", "as_of") or "location" for the path's location (unknown to that source).
std::optional<field_error> check_snapshot_envelope(const snapshot_envelope& envelope,
                                                   const engine::catalog& catalog,
                                                   const decode_limits& limits,
                                                   const snapshot_limits& snapshot);

/// Not thread-safe: one upload, one owner. `catalog` and `limits` must outlive the decoder.
class snapshot_decoder {
public:
  snapshot_decoder(snapshot_envelope envelope, const engine::catalog& catalog,
                   const decode_limits& limits, snapshot_limits snapshot);

  /// Takes the next bytes of the body. Precondition: next() has returned nullopt since the last
  /// feed (every complete line was taken): this is what bounds the decoder's memory.
  void feed(std::string_view bytes);
  /// The body is complete: a last line without a newline is a line too.
  void finish();
  /// The next non-blank line, decoded; nullopt when more bytes are needed or, after finish(),
  /// when every line has been returned.
  std::optional<snapshot_line> next();

  /// finish() was called and next() has nothing more.
  bool exhausted() const noexcept;
  /// Bytes held: the unfinished line (and, right after a feed, the lines not yet taken).
  std::size_t buffered_bytes() const noexcept { return data_.size() - begin_; }
  /// Lines seen so far, blank ones included.
  std::uint64_t lines_seen() const noexcept { return line_number_; }
  const snapshot_envelope& envelope() const noexcept { return envelope_; }

private:
  snapshot_line too_long(std::uint64_t number) const;

  snapshot_envelope envelope_;
  const engine::catalog& catalog_;
  const decode_limits& limits_;
  snapshot_limits snapshot_;
  std::string data_;           // unconsumed bytes from begin_
  std::size_t begin_ = 0;
  std::string scratch_;        // one line plus simdjson's padding, reused
  std::uint64_t line_number_ = 0;
  bool skipping_ = false;      // inside a line longer than line_bytes_max, dropping its bytes
  std::optional<snapshot_line> pending_;  // a too-long line whose end was found by feed()
  bool finished_ = false;
};

} // namespace stockd::connectors
