// Fuzzes the URL helpers of the API (server/url.hpp): percent-decoding of path segments and
// query values, finding a query parameter, splitting off the query. Properties checked against
// an independent reading of RFC 3986:
//  - percent_decode fails exactly when some '%' is not followed by two hex digits; otherwise each
//    escape becomes one byte, every other byte is kept ('+' included), and re-encoding the result
//    decodes back to it;
//  - any byte string, percent-encoded, decodes back to itself;
//  - query_param returns the value of the first `name` or `name=...` part, as a view into the
//    query, and nothing when no part has that name;
//  - query_of returns what follows the first '?'.
// The input is "<name>\n<query or target>" when it has a newline, else the target alone.
#include <cstddef>
#include <cstdint>
#include <string>
#include <optional>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_check.hpp"
#include "server/url.hpp"

namespace {

namespace server = stockd::server;

bool is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool well_escaped(std::string_view text) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%') {
      if (i + 2 >= text.size()) {
        return false;
      }
      if (!is_hex(text[i + 1]) || !is_hex(text[i + 2])) {
        return false;
      }
      i += 2;
    }
  }
  return true;
}

std::string percent_encode(std::string_view bytes) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : bytes) {
    const bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

void check_percent_decode(std::string_view text) {
  const auto decoded = server::percent_decode(text);
  FUZZ_CHECK(decoded.has_value() == well_escaped(text));
  if (!decoded) {
    return;
  }
  std::size_t escapes = 0;
  for (char c : text) {
    escapes += c == '%' ? 1 : 0;
  }
  FUZZ_CHECK(decoded->size() == text.size() - 2 * escapes);
  if (escapes == 0) {
    FUZZ_CHECK(*decoded == text);
  }
  FUZZ_CHECK(server::percent_decode(percent_encode(*decoded)) == *decoded);
}

// The first part of `query` named `name`, read independently of query_param.
std::optional<std::string_view> first_param(std::string_view query, std::string_view name) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  for (;;) {
    const auto amp = query.find('&', start);
    parts.push_back(query.substr(start, amp == std::string_view::npos ? amp : amp - start));
    if (amp == std::string_view::npos) {
      break;
    }
    start = amp + 1;
  }
  if (name.find('=') != std::string_view::npos) {
    return std::nullopt;  // a part's name ends at its first '='
  }
  for (auto part : parts) {
    if (part == name) {
      return std::string_view{};
    }
    if (part.size() > name.size() && part.starts_with(name) && part[name.size()] == '=') {
      return part.substr(name.size() + 1);
    }
  }
  return std::nullopt;
}

void check_query(std::string_view name, std::string_view target) {
  const std::string_view query = server::query_of(target);
  const auto q = target.find('?');
  FUZZ_CHECK(q == std::string_view::npos ? query.empty() : query == target.substr(q + 1));
  if (name.empty()) {
    return;  // the API asks for named parameters only
  }
  const auto value = server::query_param(query, name);
  const auto expected = query.empty() ? std::nullopt : first_param(query, name);
  FUZZ_CHECK(value.has_value() == expected.has_value());
  if (value) {
    FUZZ_CHECK(*value == *expected);
    FUZZ_CHECK(value->empty() ||
               (value->data() >= query.data() &&
                value->data() + value->size() <= query.data() + query.size()));
    check_percent_decode(*value);
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  check_percent_decode(input);
  FUZZ_CHECK(server::percent_decode(percent_encode(input)) == input);
  const auto newline = input.find('\n');
  if (newline == std::string_view::npos) {
    check_query("id", input);
  } else {
    check_query(input.substr(0, newline), input.substr(newline + 1));
  }
  return 0;
}
