#pragma once
// The two pieces of URL handling the API needs: percent-decoding a path segment or a query value,
// and finding a query parameter. '+' is kept as '+' (RFC 3986): it is not a form-encoded space
// here, so an RFC 3339 offset such as "+01:00" survives a client that does not escape it.
#include <optional>
#include <string>
#include <string_view>

namespace stockd::server {

/// Percent-decodes `in`; nullopt on a malformed escape ("%4", "%zz").
inline std::optional<std::string> percent_decode(std::string_view in) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out += in[i];
      continue;
    }
    if (i + 2 >= in.size()) {
      return std::nullopt;
    }
    const int hi = hex(in[i + 1]);
    const int lo = hex(in[i + 2]);
    if (hi < 0 || lo < 0) {
      return std::nullopt;
    }
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

/// The raw (still percent-encoded) value of `name` in a query string; "" for a bare `name`,
/// nullopt when absent. The first occurrence wins.
inline std::optional<std::string_view> query_param(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    const auto amp = query.find('&');
    const auto part = query.substr(0, amp);
    const auto eq = part.find('=');
    if (part.substr(0, eq) == name) {
      return eq == std::string_view::npos ? std::string_view{} : part.substr(eq + 1);
    }
    if (amp == std::string_view::npos) {
      break;
    }
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

/// The query string of a request target ("" when there is none).
inline std::string_view query_of(std::string_view target) {
  const auto q = target.find('?');
  return q == std::string_view::npos ? std::string_view{} : target.substr(q + 1);
}

} // namespace stockd::server
