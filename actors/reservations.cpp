#include "actors/reservations.hpp"

#include <array>
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

/// "<prefix><a>.<b>.<c>" with each part escaped; empty past id_bytes_max.
std::string make_id(std::string_view prefix, std::string_view a, std::string_view b,
                    std::string_view c) {
  std::string id(prefix);
  escape(a, id);
  id += '.';
  escape(b, id);
  id += '.';
  escape(c, id);
  if (id.size() > reservation_limits::id_bytes_max) {
    return {};
  }
  return id;
}

/// The three unescaped parts of an id made by make_id with `prefix`.
std::optional<std::array<std::string, 3>> parse_id(std::string_view prefix, std::string_view id) {
  if (id.size() > reservation_limits::id_bytes_max || !id.starts_with(prefix)) {
    return std::nullopt;
  }
  id.remove_prefix(prefix.size());
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
  std::array<std::string, 3> out;
  for (std::size_t i = 0; i < 3; ++i) {
    auto part = unescape(parts[i]);
    if (!part) {
      return std::nullopt;
    }
    out[i] = std::move(*part);
  }
  return out;
}

} // namespace

reservation_reply error_reply(reservation_status status, std::string detail) {
  reservation_reply r;
  r.status = status;
  r.detail = std::move(detail);
  return r;
}

std::vector<engine::location_id> reservation_candidates(const reserve_request& req,
                                                        const engine::catalog& catalog) {
  if (req.location) {
    return {*req.location};
  }
  if (!req.candidates.empty()) {
    return req.candidates;
  }
  std::vector<engine::location_id> all;
  for (const auto& info : catalog.locations()) {
    all.push_back(info.id);
  }
  return all;
}

std::string make_reservation_id(const engine::sku_location_key& key, std::string_view key_digest) {
  return make_id("r.", key.sku.str(), key.location.str(), key_digest);
}

std::optional<engine::sku_location_key> parse_reservation_id(std::string_view id) {
  auto parts = parse_id("r.", id);
  if (!parts) {
    return std::nullopt;
  }
  return engine::sku_location_key{engine::sku_id(std::move((*parts)[0])),
                                  engine::location_id(std::move((*parts)[1]))};
}

std::string make_kit_reservation_id(const engine::sku_id& kit, const engine::location_id& location,
                                    std::string_view key_digest) {
  return make_id("k.", kit.str(), location.str(), key_digest);
}

std::optional<kit_reservation_ref> parse_kit_reservation_id(std::string_view id) {
  auto parts = parse_id("k.", id);
  if (!parts) {
    return std::nullopt;
  }
  return kit_reservation_ref{engine::sku_id(std::move((*parts)[0])),
                             engine::location_id(std::move((*parts)[1])),
                             std::move((*parts)[2])};
}

std::string kit_component_event_id(std::string_view key_digest, const engine::sku_id& component) {
  std::string id = "kit-reservation:";
  id += key_digest;
  id += '#';
  id += component.str();
  return id;
}

} // namespace stockd::actors
