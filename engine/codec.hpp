#pragma once
// The binary form of events and states, as the journal and the checkpoints store them. Pure
// (std only) so it can be fuzzed and tested by plain calls. Every encoding starts with a version
// byte; decoding rejects unknown versions and truncated input instead of guessing.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "engine/event.hpp"
#include "engine/state.hpp"

namespace stockd::engine {

void encode(const journal_entry& entry, std::string& out);
std::optional<journal_entry> decode_journal_entry(std::string_view bytes);

void encode(const sku_location_state& state, std::string& out);
std::optional<sku_location_state> decode_state(std::string_view bytes);

/// Little helpers the codecs share (exposed for the state codec and tests).
namespace wire {
void put_varint(std::string& out, std::uint64_t v);
void put_signed(std::string& out, std::int64_t v);  // zig-zag
void put_string(std::string& out, std::string_view s);
class reader {
public:
  explicit reader(std::string_view bytes) : rest_(bytes) {}
  bool get_varint(std::uint64_t& v);
  bool get_signed(std::int64_t& v);
  bool get_string(std::string& s);
  bool get_byte(std::uint8_t& b);
  bool at_end() const noexcept { return rest_.empty(); }

private:
  std::string_view rest_;
};
} // namespace wire

} // namespace stockd::engine
