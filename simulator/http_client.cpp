#include "simulator/http_client.hpp"

#include <utility>  // before asio (toolchain.md)

#include <charconv>
#include <optional>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace stockd::simulator {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

constexpr std::size_t response_body_bytes_max = 64 * 1024 * 1024;

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return out;
}

} // namespace

std::string client_response::header(std::string_view name) const {
  auto it = headers.find(lower(name));
  return it == headers.end() ? std::string{} : it->second;
}

bool parse_http_url(std::string_view url, std::string& host, std::uint16_t& port) {
  constexpr std::string_view scheme = "http://";
  if (url.substr(0, scheme.size()) != scheme) {
    return false;
  }
  url.remove_prefix(scheme.size());
  while (!url.empty() && url.back() == '/') {
    url.remove_suffix(1);
  }
  auto colon = url.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return false;
  }
  host = std::string(url.substr(0, colon));
  if (host == "localhost") {
    host = "127.0.0.1";
  }
  auto digits = url.substr(colon + 1);
  auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
  return ec == std::errc{} && p == digits.data() + digits.size() && port != 0;
}

struct http_client::impl {
  std::string host;
  std::uint16_t port = 0;
  net::io_context ioc;
  std::optional<beast::tcp_stream> stream;
  beast::flat_buffer buffer;

  void run() {
    ioc.restart();
    ioc.run();
  }
};

http_client::http_client(std::string host, std::uint16_t port) : impl_(std::make_unique<impl>()) {
  impl_->host = std::move(host);
  impl_->port = port;
}

http_client::~http_client() = default;

void http_client::disconnect() {
  if (impl_->stream) {
    beast::error_code ignored;
    impl_->stream->socket().shutdown(tcp::socket::shutdown_both, ignored);
    impl_->stream->close();
    impl_->stream.reset();
  }
  impl_->buffer.clear();
}

client_response http_client::send(const client_request& r) {
  impl& s = *impl_;
  client_response out;
  beast::error_code ec;
  auto fail = [&](std::string_view step) {
    out.transport_error = std::string(step) + ": " + ec.message();
    disconnect();
    return out;
  };
  if (!s.stream) {
    s.stream.emplace(s.ioc);
    s.buffer.clear();
    tcp::endpoint endpoint(net::ip::make_address(s.host, ec), s.port);
    if (ec) {
      return fail("address");
    }
    s.stream->expires_after(r.timeout);
    s.stream->async_connect(endpoint, [&ec](beast::error_code e) { ec = e; });
    s.run();
    if (ec) {
      return fail("connect");
    }
  }
  http::request<http::string_body> req{http::string_to_verb(r.method), r.target, 11};
  req.set(http::field::host, s.host + ":" + std::to_string(s.port));
  req.set(http::field::user_agent, "stocksim");
  for (const auto& [name, value] : r.headers) {
    req.set(name, value);
  }
  if (!r.body.empty() || r.method == "POST" || r.method == "PATCH") {
    if (req[http::field::content_type].empty()) {
      req.set(http::field::content_type, "application/json");
    }
    req.body() = r.body;
  }
  req.keep_alive(true);
  req.prepare_payload();

  s.stream->expires_after(r.timeout);
  http::async_write(*s.stream, req, [&ec](beast::error_code e, std::size_t) { ec = e; });
  s.run();
  const beast::error_code write_error = ec;  // still read an early answer (413) like curl

  http::response_parser<http::string_body> parser;
  parser.body_limit(response_body_bytes_max);
  s.stream->expires_after(r.timeout);
  http::async_read(*s.stream, s.buffer, parser,
                   [&ec](beast::error_code e, std::size_t) { ec = e; });
  s.run();
  if (ec) {
    if (write_error) {
      ec = write_error;
      return fail("write");
    }
    return fail("read");
  }
  auto res = parser.release();
  out.status = res.result_int();
  out.body = std::move(res.body());
  for (const auto& field : res) {
    out.headers[lower(std::string_view(field.name_string().data(), field.name_string().size()))] =
        std::string(field.value());
  }
  if (!res.keep_alive()) {
    disconnect();
  }
  return out;
}

} // namespace stockd::simulator
