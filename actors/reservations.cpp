#include "actors/reservations.hpp"

#include <vector>

namespace stockd::actors {
namespace {

constexpr char hex_digits[] = "0123456789ABCDEF";

bool kept(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

void escape(std::string_view in, std::string& out) {
  for (unsigned char c : in) {
    if (kept(c)) {
      out += static_cast<char>(c);
    } else {
      out += '~';
      out += hex_digits[c >> 4];
      out += hex_digits[c & 15];
    }
  }
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/// The inverse of escape(); nullopt unless `in` is exactly what escape() produces (one spelling
/// per id, so two spellings can never name the same reservation).
std::optional<std::string> unescape(std::string_view in) {
  std::string out;
  for (std::size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c != '~') {
      if (!kept(static_cast<unsigned char>(c))) {
        return std::nullopt;
      }
      out += c;
      continue;
    }
    if (i + 2 >= in.size()) {
      return std::nullopt;
    }
    const int hi = hex_value(in[i + 1]);
    const int lo = hex_value(in[i + 2]);
    if (hi < 0 || lo < 0) {
      return std::nullopt;
    }
    const auto byte = static_cast<unsigned char>(hi * 16 + lo);
    if (kept(byte)) {
      return std::nullopt;
    }
    out += static_cast<char>(byte);
    i += 2;
  }
  return out;
}

} // namespace

std::string make_reservation_id(const engine::sku_location_key& key, std::string_view key_digest) {
  std::string id = "r.";
  escape(key.sku.str(), id);
  id += '.';
  escape(key.location.str(), id);
  id += '.';
  escape(key_digest, id);
  if (id.size() > reservation_limits::id_bytes_max) {
    return {};
  }
  return id;
}

std::optional<engine::sku_location_key> parse_reservation_id(std::string_view id) {
  if (id.size() > reservation_limits::id_bytes_max || !id.starts_with("r.")) {
    return std::nullopt;
  }
  id.remove_prefix(2);
  std::vector<std::string_view> parts;
  while (true) {
    const auto dot = id.find('.');
    parts.push_back(id.substr(0, dot));
    if (dot == std::string_view::npos) {
      break;
    }
    id.remove_prefix(dot + 1);
  }
  if (parts.size() != 3 || parts[0].empty() || parts[1].empty() || parts[2].empty()) {
    return std::nullopt;
  }
  auto sku = unescape(parts[0]);
  auto location = unescape(parts[1]);
  if (!sku || !location || !unescape(parts[2])) {
    return std::nullopt;
  }
  return engine::sku_location_key{engine::sku_id(std::move(*sku)),
                                  engine::location_id(std::move(*location))};
}

} // namespace stockd::actors
