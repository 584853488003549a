// Fuzzes what the API does with a request before a handler needs the engine: Beast's parser
// under the server's header and body limits (server/http_server.cpp), then the request target
// (path, query parameters, percent-decoding: server/url.hpp) and the Authorization header
// (server/auth.hpp). Properties checked:
//  - a request Beast accepts respects the limits, and its body has its Content-Length;
//  - the server's reading of Content-Length (std::from_chars over the field, as
//    session::declared_length does) agrees with Beast's, lists of equal values included;
//  - the target splits into path and query as api::handle splits it, and every query value the
//    handlers read percent-decodes to a string that re-encodes and decodes back to itself;
//  - the authenticator answers ok only for the configured token with the scope, forbidden for a
//    configured token without it, missing without a "Bearer <token>" header, invalid otherwise.
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>  // before asio (toolchain.md: awaitable.hpp and std::exchange under C++20)

#include <boost/asio/buffer.hpp>
#include <boost/beast/http.hpp>

#include "fuzz/fuzz_check.hpp"
#include "server/auth.hpp"
#include "server/options.hpp"
#include "server/url.hpp"

namespace {

namespace http = boost::beast::http;
namespace server = stockd::server;

constexpr std::size_t header_bytes_max = 16 * 1024;  // server::options' default
constexpr std::size_t body_bytes_max = 64 * 1024;    // small, so the limit is reachable

constexpr std::string_view ingest_token = "fuzz-ingest-token";
constexpr std::string_view read_token = "fuzz-read-token";

const server::authenticator& authenticator() {
  constexpr auto ingest = static_cast<std::uint8_t>(server::scope::ingest);
  constexpr auto read = static_cast<std::uint8_t>(server::scope::read);
  static const server::authenticator instance({
      {"ingest", server::sha256_hex(ingest_token), ingest},
      {"read", server::sha256_hex(read_token), read},
  });
  return instance;
}

void check_authorization(std::string_view header) {
  constexpr std::string_view bearer = "Bearer ";
  const auto result = authenticator().check(header, server::scope::ingest);
  if (header.size() <= bearer.size() || !header.starts_with(bearer)) {
    FUZZ_CHECK(result == server::auth_result::missing);
    return;
  }
  const std::string_view token = header.substr(bearer.size());
  if (token == ingest_token) {
    FUZZ_CHECK(result == server::auth_result::ok);
  } else if (token == read_token) {
    FUZZ_CHECK(result == server::auth_result::forbidden);
  } else {
    FUZZ_CHECK(result == server::auth_result::invalid);
  }
}

void check_decoded(std::string_view raw) {
  const auto decoded = server::percent_decode(raw);
  if (!decoded) {
    FUZZ_CHECK(raw.find('%') != std::string_view::npos);
    return;
  }
  FUZZ_CHECK(decoded->size() <= raw.size());
  std::string encoded;
  static constexpr char hex[] = "0123456789abcdef";
  for (unsigned char c : *decoded) {
    encoded += '%';
    encoded += hex[c >> 4];
    encoded += hex[c & 15];
  }
  FUZZ_CHECK(server::percent_decode(encoded) == *decoded);
}

void check_target(std::string_view target) {
  // api::handle: the path is everything before the first '?'.
  const std::string_view path = target.substr(0, target.find('?'));
  const std::string_view query = server::query_of(target);
  if (path.size() < target.size()) {
    FUZZ_CHECK(target[path.size()] == '?');
    FUZZ_CHECK(query == target.substr(path.size() + 1));
  } else {
    FUZZ_CHECK(query.empty());
  }
  // GET /v1/skus/{sku}, POST /v1/snapshots/{location}, /v1/reservations/{id}: one segment.
  for (std::string_view prefix : {"/v1/skus/", "/v1/snapshots/", "/v1/reservations/"}) {
    if (path.starts_with(prefix)) {
      check_decoded(path.substr(prefix.size()));
    }
  }
  for (std::string_view name : {"source", "id", "as_of", "channel", "limit", "before",
                                "min_age_s"}) {
    if (const auto value = server::query_param(query, name)) {
      check_decoded(*value);
    }
  }
}

void check_content_length(const http::request_parser<http::string_body>& parser) {
  const auto& message = parser.get();
  const auto field = message[http::field::content_length];
  if (field.empty()) {
    return;
  }
  // Beast accepts a list of equal values ("5, 5"), so the number the server reads is the first
  // element: it must be all of the field up to a separator, and Beast's value.
  std::uint64_t length = 0;
  const auto [end, error] = std::from_chars(field.data(), field.data() + field.size(), length);
  FUZZ_CHECK(error == std::errc{});
  FUZZ_CHECK(end == field.data() + field.size() || *end == ',' || *end == ' ' || *end == '\t');
  const auto declared = parser.content_length();
  if (declared && !parser.chunked()) {
    FUZZ_CHECK(*declared == length);
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  http::request_parser<http::string_body> parser;
  parser.header_limit(static_cast<std::uint32_t>(header_bytes_max));
  parser.body_limit(body_bytes_max);
  parser.eager(true);
  boost::beast::error_code ec;
  std::size_t used = 0;
  while (used < size && !parser.is_done()) {
    const std::size_t n = parser.put(boost::asio::buffer(data + used, size - used), ec);
    if (ec == http::error::need_more) {
      ec = {};
      break;
    }
    if (ec || n == 0) {
      break;
    }
    used += n;
  }
  // The end of the input is the peer closing; Beast's read does the same (end_of_stream when
  // nothing arrived, else put_eof).
  if (!ec && !parser.is_done() && parser.got_some()) {
    parser.put_eof(ec);
  }
  if (!parser.is_header_done()) {
    return 0;
  }
  const auto& message = parser.get();
  check_content_length(parser);
  check_target(std::string_view(message.target().data(), message.target().size()));
  const auto authorization = message[http::field::authorization];
  check_authorization(std::string_view(authorization.data(), authorization.size()));
  if (!ec && parser.is_done()) {
    FUZZ_CHECK(message.body().size() <= body_bytes_max);
    if (const auto declared = parser.content_length(); declared && !parser.chunked()) {
      FUZZ_CHECK(message.body().size() == *declared);
    }
  }
  return 0;
}
