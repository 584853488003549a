#include "connectors/snapshot_decoder.hpp"

#include <cassert>
#include <cstring>
#include <utility>

#include "engine/time.hpp"

namespace stockd::connectors {
namespace {

bool is_blank(std::string_view line) noexcept {
  for (char c : line) {
    if (c != ' ' && c != '\t' && c != '\r') {
      return false;
    }
  }
  return true;
}

bool has_control_character(std::string_view text) noexcept {
  for (unsigned char c : text) {
    if (c < 0x20 || c == 0x7f) {
      return true;
    }
  }
  return false;
}

// A parameter of the request: present, within `bytes_max`, printable.
std::optional<field_error> check_text(std::string_view field, std::string_view value,
                                      std::size_t bytes_max) {
  if (value.empty()) {
    return field_error{std::string(field), "is required"};
  }
  if (value.size() > bytes_max) {
    return field_error{std::string(field), "longer than " + std::to_string(bytes_max) + " bytes"};
  }
  if (has_control_character(value)) {
    return field_error{std::string(field), "must not contain control characters"};
  }
  return std::nullopt;
}

} // namespace

std::optional<field_error> check_snapshot_envelope(const snapshot_envelope& envelope,
                                                   const engine::catalog& catalog,
                                                   const decode_limits& limits,
                                                   const snapshot_limits& snapshot) {
  if (auto e = check_text("source", envelope.source, limits.string_bytes_max)) {
    return e;
  }
  if (envelope.source == "stockd") {
    return field_error{"source", "'stockd' is reserved for events stockd originates itself"};
  }
  if (auto e = check_text("id", envelope.id, snapshot.id_bytes_max)) {
    return e;
  }
  if (!envelope.as_of.empty() && !engine::parse_rfc3339(envelope.as_of)) {
    return field_error{"as_of", "must be an RFC 3339 timestamp"};
  }
  if (auto e = check_text("location", envelope.location, limits.string_bytes_max)) {
    return e;
  }
  if (!catalog.resolve_location(engine::source_id(envelope.source), envelope.location)) {
    return field_error{"location", "unknown location '" + envelope.location + "' for source '" +
                                       envelope.source + "'"};
  }
  return std::nullopt;
}

snapshot_decoder::snapshot_decoder(snapshot_envelope envelope, const engine::catalog& catalog,
                                   const decode_limits& limits, snapshot_limits snapshot)
    : envelope_(std::move(envelope)), catalog_(catalog), limits_(limits), snapshot_(snapshot) {}

void snapshot_decoder::feed(std::string_view bytes) {
  assert(!finished_);
  assert(!pending_);
  // What next() left behind is one unfinished line, never longer than the limit (else it is
  // being skipped): the bound this class promises.
  assert(data_.size() - begin_ <= snapshot_.line_bytes_max);
  if (skipping_) {
    const std::size_t newline = bytes.find('\n');
    if (newline == std::string_view::npos) {
      return;
    }
    skipping_ = false;
    pending_ = too_long(line_number_);
    bytes.remove_prefix(newline + 1);
  }
  data_.erase(0, begin_);
  begin_ = 0;
  data_.append(bytes);
}

void snapshot_decoder::finish() {
  assert(!finished_);
  finished_ = true;
  if (skipping_) {
    skipping_ = false;
    pending_ = too_long(line_number_);
  }
}

bool snapshot_decoder::exhausted() const noexcept {
  return finished_ && !pending_ && begin_ == data_.size();
}

snapshot_line snapshot_decoder::too_long(std::uint64_t number) const {
  snapshot_line out;
  out.number = number;
  out.decoded.error = field_error{
      "", "longer than " + std::to_string(snapshot_.line_bytes_max) + " bytes"};
  return out;
}

std::optional<snapshot_line> snapshot_decoder::next() {
  for (;;) {
    if (pending_) {
      std::optional<snapshot_line> out = std::move(pending_);
      pending_.reset();
      return out;
    }
    const std::size_t size = data_.size();
    if (begin_ == size) {
      return std::nullopt;
    }
    const char* start = data_.data() + begin_;
    const auto* newline = static_cast<const char*>(std::memchr(start, '\n', size - begin_));
    std::size_t end = size;
    if (newline != nullptr) {
      end = static_cast<std::size_t>(newline - data_.data());
    } else if (!finished_) {
      if (size - begin_ > snapshot_.line_bytes_max) {
        // Too long already: drop what we have and the rest of the line as it arrives.
        ++line_number_;
        skipping_ = true;
        data_.clear();
        begin_ = 0;
      }
      return std::nullopt;
    }
    const std::string_view line(start, end - begin_);
    begin_ = newline != nullptr ? end + 1 : end;
    ++line_number_;
    if (line.size() > snapshot_.line_bytes_max) {
      return too_long(line_number_);
    }
    if (is_blank(line)) {
      continue;
    }
    scratch_.assign(line);
    return snapshot_line{line_number_,
                         decode_snapshot_line(scratch_, envelope_, catalog_, limits_)};
  }
}

} // namespace stockd::connectors
