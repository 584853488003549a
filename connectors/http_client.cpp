#include "connectors/http_client.hpp"

#include <cassert>
#include <map>
#include <set>
#include <utility>  // before asio (toolchain.md: awaitable.hpp and std::exchange under C++20)

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

namespace stockd::connectors {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using strand_type = net::strand<net::io_context::executor_type>;
using steady = std::chrono::steady_clock;

std::string percent_encode(std::string_view s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
                            c == '~';
    if (unreserved) {
      out += c;
    } else {
      out += '%';
      out += hex[u >> 4];
      out += hex[u & 15];
    }
  }
  return out;
}

std::string_view to_string(http_error error) noexcept {
  switch (error) {
  case http_error::none: return "none";
  case http_error::bad_url: return "bad_url";
  case http_error::network: return "network";
  case http_error::timeout: return "timeout";
  case http_error::tls: return "tls";
  case http_error::response_too_large: return "response_too_large";
  case http_error::bad_response: return "bad_response";
  case http_error::overloaded: return "overloaded";
  case http_error::cancelled: return "cancelled";
  }
  return "unknown";
}

namespace {

/// Beast's ASCII case-insensitive compare, for std::string_view (Beast 1.74 takes its own
/// boost::string_view, which does not convert from std::string_view).
bool iequals(std::string_view a, std::string_view b) {
  return beast::iequals(beast::string_view(a.data(), a.size()),
                        beast::string_view(b.data(), b.size()));
}

http::verb to_verb(http_method method) {
  switch (method) {
  case http_method::get: return http::verb::get;
  case http_method::post: return http::verb::post;
  case http_method::put: return http::verb::put;
  case http_method::patch: return http::verb::patch;
  case http_method::del: return http::verb::delete_;
  }
  return http::verb::get;
}

/// One TCP (or TLS over TCP) connection to one endpoint, owned by the request using it or by the
/// pool. Its stream runs on the client's strand.
struct connection {
  std::optional<beast::tcp_stream> plain;
  std::optional<ssl::stream<beast::tcp_stream>> secure;
  beast::flat_buffer buffer;
  steady::time_point idle_since;

  beast::tcp_stream& tcp() { return secure ? secure->next_layer() : *plain; }

  template <class F>
  void with_stream(F&& f) {
    if (secure) {
      f(*secure);
    } else {
      f(*plain);
    }
  }

  void close() {
    beast::error_code ignored;
    tcp().socket().shutdown(tcp::socket::shutdown_both, ignored);
    tcp().close();
  }

  /// A parked connection the server has closed (or written to, e.g. a TLS close_notify) is not
  /// worth reusing: peek without blocking; only "would block" means open and quiet.
  bool looks_alive() {
    auto& socket = tcp().socket();
    if (!socket.is_open()) {
      return false;
    }
    beast::error_code ec;
    char byte = 0;
    socket.non_blocking(true, ec);
    socket.receive(net::buffer(&byte, 1), tcp::socket::message_peek, ec);
    beast::error_code ignored;
    socket.non_blocking(false, ignored);
    return ec == net::error::would_block;
  }
};

class exchange;
class delayed_call;

} // namespace

struct http_client::state {
  state(net::io_context& ioc, http_client_options opts)
      : strand(net::make_strand(ioc)), options(std::move(opts)),
        tls_context(ssl::context::tls_client) {}

  strand_type strand;
  http_client_options options;
  ssl::context tls_context;
  // Strand only, from here on.
  std::map<std::string, std::vector<std::unique_ptr<connection>>> idle;
  std::set<exchange*> in_flight;
  std::set<delayed_call*> waits;  // after(): timers pending
  bool shut_down = false;
  std::atomic<std::uint64_t> opened{0};

  std::unique_ptr<connection> take_idle(const std::string& key) {
    auto it = idle.find(key);
    if (it == idle.end()) {
      return nullptr;
    }
    auto& parked = it->second;
    const auto now = steady::now();
    while (!parked.empty()) {
      auto conn = std::move(parked.back());  // the most recently used is the likeliest alive
      parked.pop_back();
      if (now - conn->idle_since < options.idle_max && conn->looks_alive()) {
        return conn;
      }
      conn->close();
    }
    return nullptr;
  }

  void park(const std::string& key, std::unique_ptr<connection> conn) {
    auto& parked = idle[key];
    if (shut_down || parked.size() >= options.idle_per_endpoint_max) {
      conn->close();
      return;
    }
    conn->idle_since = steady::now();
    parked.push_back(std::move(conn));
  }
};

namespace {

/// One request from send() to its callback. Kept alive by its pending handlers; everything runs
/// on the client's strand.
class exchange : public std::enable_shared_from_this<exchange> {
public:
  exchange(std::shared_ptr<http_client::state> s, http_request request,
           std::function<void(http_result)> done)
      : s_(std::move(s)), request_(std::move(request)), done_(std::move(done)),
        resolver_(s_->strand), resolve_timer_(s_->strand) {}

  // The io_context went away with this request pending: still answer, exactly once.
  ~exchange() {
    s_->in_flight.erase(this);
    if (done_) {
      deliver(http_error::cancelled, "the client's io_context stopped with the request pending");
    }
  }

  void start() {
    if (s_->shut_down) {
      return finish(http_error::cancelled, "the client is shut down");
    }
    if (s_->in_flight.size() >= s_->options.in_flight_max) {
      return finish(http_error::overloaded,
                    std::to_string(s_->options.in_flight_max) + " requests in flight");
    }
    auto url = parse_url(request_.url);
    if (!url) {
      return finish(http_error::bad_url, url.error());
    }
    url_ = std::move(url.value());
    key_ = (url_.tls ? "https://" : "http://") + url_.host + ":" + std::to_string(url_.port);
    s_->in_flight.insert(this);
    deadline_ = steady::now() + request_.timeout.value_or(s_->options.request_timeout);
    build_request();
    conn_ = s_->take_idle(key_);
    if (conn_) {
      reused_ = true;
      return do_write();
    }
    do_resolve();
  }

  /// shutdown(): whatever is pending completes with an error, which finish() reports as cancelled.
  void cancel() {
    cancelled_ = true;
    resolver_.cancel();
    resolve_timer_.cancel();
    if (conn_) {
      conn_->close();
    }
  }

private:
  void build_request() {
    req_.method(to_verb(request_.method));
    req_.target(url_.target);
    req_.version(11);
    const bool default_port = url_.port == (url_.tls ? 443 : 80);
    const bool v6 = url_.host.find(':') != std::string::npos;
    std::string host = v6 ? "[" + url_.host + "]" : url_.host;
    if (!default_port) {
      host += ":" + std::to_string(url_.port);
    }
    req_.set(http::field::host, host);
    req_.set(http::field::user_agent, s_->options.user_agent);
    for (const auto& h : request_.headers) {
      req_.set(h.name, h.value);
    }
    req_.body() = std::move(request_.body);
    req_.keep_alive(true);
    req_.prepare_payload();
  }

  bool replayable() const {
    return request_.method == http_method::get ||
           req_.find("Idempotency-Key") != req_.end();
  }

  void do_resolve() {
    resolve_timer_.expires_at(deadline_);
    resolve_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec) {
        self->resolve_timed_out_ = true;
        self->resolver_.cancel();
      }
    });
    resolver_.async_resolve(url_.host, std::to_string(url_.port),
                            beast::bind_front_handler(&exchange::on_resolve, shared_from_this()));
  }

  void on_resolve(beast::error_code ec, tcp::resolver::results_type results) {
    resolve_timer_.cancel();
    if (resolve_timed_out_) {
      return finish(http_error::timeout, "timeout resolving " + url_.host);
    }
    if (ec) {
      return fail(ec, "resolve " + url_.host);
    }
    conn_ = std::make_unique<connection>();
    if (url_.tls) {
      conn_->secure.emplace(s_->strand, s_->tls_context);
    } else {
      conn_->plain.emplace(s_->strand);
    }
    s_->opened.fetch_add(1, std::memory_order_relaxed);
    conn_->tcp().expires_at(deadline_);
    conn_->tcp().async_connect(results,
                               beast::bind_front_handler(&exchange::on_connect,
                                                         shared_from_this()));
  }

  void on_connect(beast::error_code ec, const tcp::endpoint&) {
    if (ec) {
      return fail(ec, "connect " + key_);
    }
    if (!url_.tls) {
      return do_write();
    }
    SSL* native = conn_->secure->native_handle();
    beast::error_code not_ip;
    net::ip::make_address(url_.host, not_ip);
    // SNI for a name (RFC 6066 forbids it for addresses), and the name or address checked
    // against the certificate as part of chain verification. Should OpenSSL fail to take it,
    // the handshake would verify the chain but not whose it is: refuse instead.
    const bool named =
        not_ip ? SSL_set_tlsext_host_name(native, url_.host.c_str()) == 1 &&
                     SSL_set1_host(native, url_.host.c_str()) == 1
               : X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(native), url_.host.c_str()) == 1;
    if (!named) {
      return finish(http_error::tls, "tls_setup_failed: cannot set the peer name " + url_.host);
    }
    conn_->tcp().expires_at(deadline_);
    conn_->secure->async_handshake(
        ssl::stream_base::client,
        beast::bind_front_handler(&exchange::on_handshake, shared_from_this()));
  }

  void on_handshake(beast::error_code ec) {
    if (ec && !cancelled_ && steady::now() < deadline_) {
      const long verify = SSL_get_verify_result(conn_->secure->native_handle());
      if (verify != X509_V_OK) {
        return finish(http_error::tls, std::string("tls_verify_failed: ") +
                                           X509_verify_cert_error_string(verify));
      }
      return finish(http_error::tls, "tls_handshake_failed: " + ec.message());
    }
    if (ec) {
      return fail(ec, "tls handshake " + key_);
    }
    do_write();
  }

  void do_write() {
    conn_->tcp().expires_at(deadline_);
    conn_->with_stream([this](auto& stream) {
      http::async_write(stream, req_,
                        beast::bind_front_handler(&exchange::on_write, shared_from_this()));
    });
  }

  void on_write(beast::error_code ec, std::size_t) {
    if (ec) {
      if (retry_on_fresh_connection(ec)) {
        return;
      }
      return fail(ec, "write " + key_);
    }
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(s_->options.response_header_bytes_max));
    parser_->body_limit(s_->options.response_body_bytes_max);
    conn_->tcp().expires_at(deadline_);
    conn_->with_stream([this](auto& stream) {
      http::async_read_header(stream, conn_->buffer, *parser_,
                              beast::bind_front_handler(&exchange::on_header,
                                                        shared_from_this()));
    });
  }

  void on_header(beast::error_code ec, std::size_t) {
    if (ec) {
      if (!parser_->got_some() && retry_on_fresh_connection(ec)) {
        return;
      }
      return fail(ec, "read " + key_);
    }
    // Beast 1.74's parser does not enforce body_limit against a Content-Length in a response
    // (it does for chunked and read-to-EOF bodies): check the announced length here.
    if (auto length = parser_->content_length();
        length && *length > s_->options.response_body_bytes_max) {
      return fail(http::error::body_limit, "read " + key_);
    }
    conn_->with_stream([this](auto& stream) {
      http::async_read(stream, conn_->buffer, *parser_,
                       beast::bind_front_handler(&exchange::on_read, shared_from_this()));
    });
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec) {
      return fail(ec, "read " + key_);
    }
    auto& message = parser_->get();
    http_result out;
    out.reused_connection = reused_;
    out.response.status = message.result_int();
    for (const auto& field : message) {
      out.response.headers.push_back({std::string(field.name_string()),
                                      std::string(field.value())});
    }
    const bool keep = message.keep_alive() && conn_->buffer.size() == 0;
    out.response.body = std::move(message.body());
    conn_->tcp().expires_never();
    if (keep) {
      s_->park(key_, std::move(conn_));
    }
    deliver(std::move(out));
  }

  /// The server closed a parked connection as we reused it (nothing of an answer came back):
  /// that is not the endpoint failing, so try once on a new connection when replay is safe.
  bool retry_on_fresh_connection(beast::error_code ec) {
    const bool closed = ec == http::error::end_of_stream || ec == net::error::eof ||
                        ec == net::error::connection_reset || ec == net::error::broken_pipe ||
                        ec == net::ssl::error::stream_truncated;
    if (!reused_ || retried_ || cancelled_ || !closed || !replayable() ||
        steady::now() >= deadline_) {
      return false;
    }
    retried_ = true;
    reused_ = false;
    conn_->close();
    conn_.reset();
    do_resolve();
    return true;
  }

  void fail(beast::error_code ec, const std::string& what) {
    if (cancelled_) {
      return finish(http_error::cancelled, what + ": cancelled by shutdown");
    }
    if (ec == beast::error::timeout || steady::now() >= deadline_) {
      return finish(http_error::timeout, what + ": timeout");
    }
    if (ec == http::error::body_limit) {
      return finish(http_error::response_too_large,
                    "response body over " + std::to_string(s_->options.response_body_bytes_max) +
                        " bytes");
    }
    if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
      return finish(http_error::response_too_large,
                    "response header over " +
                        std::to_string(s_->options.response_header_bytes_max) + " bytes");
    }
    if (ec == http::error::end_of_stream) {
      return finish(http_error::network, what + ": connection closed before an answer");
    }
    if (ec == http::error::partial_message) {
      return finish(http_error::network, what + ": connection closed mid-response");
    }
    if (ec.category() == http::make_error_code(http::error::bad_version).category()) {
      return finish(http_error::bad_response, what + ": " + ec.message());
    }
    finish(http_error::network, what + ": " + ec.message());
  }

  void finish(http_error error, std::string detail) {
    resolve_timer_.cancel();
    if (conn_) {
      conn_->close();  // after an error the connection's state is unknown: never pool it
      conn_.reset();
    }
    deliver(error, std::move(detail));
  }

  void deliver(http_error error, std::string detail) {
    http_result out;
    out.error = error;
    out.detail = std::move(detail);
    out.reused_connection = reused_;
    deliver(std::move(out));
  }

  // No io object is touched here: the destructor calls this while the io_context is going away.
  void deliver(http_result out) {
    s_->in_flight.erase(this);
    auto done = std::move(done_);
    done_ = nullptr;
    assert(done);  // exactly once
    done(std::move(out));
  }

  std::shared_ptr<http_client::state> s_;
  http_request request_;
  std::function<void(http_result)> done_;
  parsed_url url_;
  std::string key_;
  steady::time_point deadline_;
  tcp::resolver resolver_;
  net::steady_timer resolve_timer_;
  bool resolve_timed_out_ = false;
  bool cancelled_ = false;
  bool reused_ = false;
  bool retried_ = false;
  std::unique_ptr<connection> conn_;
  http::request<http::string_body> req_;
  std::optional<http::response_parser<http::string_body>> parser_;
};

/// One after(): kept alive by its pending timer handler; answers exactly once, from the
/// destructor too when the io_context goes away with it pending (as exchange does).
class delayed_call {
public:
  delayed_call(std::shared_ptr<http_client::state> s, std::function<void(bool)> done)
      : s_(std::move(s)), done_(std::move(done)), timer_(s_->strand) {}
  ~delayed_call() {
    s_->waits.erase(this);
    if (done_) {
      deliver(false);
    }
  }

  static void start(const std::shared_ptr<delayed_call>& self, std::chrono::milliseconds delay) {
    if (self->s_->shut_down) {
      return self->deliver(false);
    }
    self->s_->waits.insert(self.get());
    self->timer_.expires_after(delay);
    self->timer_.async_wait([self](beast::error_code ec) {
      self->s_->waits.erase(self.get());
      self->deliver(!ec && !self->s_->shut_down);
    });
  }

  void cancel() { timer_.cancel(); }

private:
  void deliver(bool fired) {
    auto done = std::move(done_);
    done_ = nullptr;
    assert(done);  // exactly once
    done(fired);
  }

  std::shared_ptr<http_client::state> s_;
  std::function<void(bool)> done_;
  net::steady_timer timer_;
};

} // namespace

std::optional<std::string_view> http_response::header(std::string_view name) const {
  for (const auto& h : headers) {
    if (iequals(h.name, name)) {
      return std::string_view(h.value);
    }
  }
  return std::nullopt;
}

result<parsed_url, std::string> parse_url(std::string_view url) {
  parsed_url out;
  std::string_view rest;
  if (url.size() >= 8 && iequals(url.substr(0, 8), "https://")) {
    out.tls = true;
    out.port = 443;
    rest = url.substr(8);
  } else if (url.size() >= 7 && iequals(url.substr(0, 7), "http://")) {
    out.port = 80;
    rest = url.substr(7);
  } else {
    return unexpected{"'" + std::string(url) + "': not an http:// or https:// URL"};
  }
  const auto authority_end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, authority_end);
  std::string_view target =
      authority_end == std::string_view::npos ? std::string_view{} : rest.substr(authority_end);
  if (authority.find('@') != std::string_view::npos) {
    return unexpected{"'" + std::string(url) + "': user info in URLs is not supported"};
  }
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) {
      return unexpected{"'" + std::string(url) + "': unterminated IPv6 address"};
    }
    out.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        return unexpected{"'" + std::string(url) + "': junk after the IPv6 address"};
      }
      port = after.substr(1);
    }
  } else {
    const auto colon = authority.find(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
    }
  }
  if (out.host.empty()) {
    return unexpected{"'" + std::string(url) + "': no host"};
  }
  if (authority.find(':') != std::string_view::npos && authority.front() != '[' &&
      port.empty()) {
    return unexpected{"'" + std::string(url) + "': empty port"};
  }
  if (!port.empty()) {
    unsigned value = 0;
    for (char c : port) {
      if (c < '0' || c > '9' || value > 65535) {
        return unexpected{"'" + std::string(url) + "': invalid port"};
      }
      value = value * 10 + static_cast<unsigned>(c - '0');
    }
    if (value == 0 || value > 65535) {
      return unexpected{"'" + std::string(url) + "': invalid port"};
    }
    out.port = static_cast<std::uint16_t>(value);
  }
  const auto fragment = target.find('#');
  target = target.substr(0, fragment);
  if (target.empty()) {
    out.target = "/";
  } else if (target.front() == '?') {
    out.target = "/" + std::string(target);
  } else {
    out.target = std::string(target);
  }
  return out;
}

result<std::unique_ptr<http_client>, std::string>
http_client::create(net::io_context& ioc, http_client_options options) {
  auto s = std::make_shared<state>(ioc, std::move(options));
  beast::error_code ec;
  s->tls_context.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                                 ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                                 ssl::context::no_tlsv1_1,
                             ec);
  if (!ec) {
    s->tls_context.set_default_verify_paths(ec);
  }
  if (ec) {
    return unexpected{"TLS: cannot set up the system CA store: " + ec.message()};
  }
  if (!s->options.ca_file.empty()) {
    s->tls_context.load_verify_file(s->options.ca_file, ec);
    if (ec) {
      return unexpected{"TLS: cannot load ca_file '" + s->options.ca_file + "': " +
                        ec.message()};
    }
  }
  s->tls_context.set_verify_mode(s->options.verify_peer ? ssl::verify_peer : ssl::verify_none);
  return std::unique_ptr<http_client>(new http_client(std::move(s)));
}

http_client::http_client(std::shared_ptr<state> s) : state_(std::move(s)) {}

http_client::~http_client() { shutdown(); }

void http_client::send(http_request request, std::function<void(http_result)> done) {
  assert(done);
  auto ex = std::make_shared<exchange>(state_, std::move(request), std::move(done));
  net::post(state_->strand, [ex] { ex->start(); });
}

void http_client::shutdown() {
  net::post(state_->strand, [s = state_] {
    s->shut_down = true;
    for (auto& [key, parked] : s->idle) {
      for (auto& conn : parked) {
        conn->close();
      }
    }
    s->idle.clear();
    for (exchange* ex : std::set<exchange*>(s->in_flight)) {
      ex->cancel();
    }
    for (delayed_call* w : s->waits) {
      w->cancel();
    }
  });
}

void http_client::after(std::chrono::milliseconds delay, std::function<void(bool fired)> done) {
  assert(done);
  auto w = std::make_shared<delayed_call>(state_, std::move(done));
  net::post(state_->strand, [w, delay] { delayed_call::start(w, delay); });
}

std::uint64_t http_client::connections_opened() const noexcept {
  return state_->opened.load(std::memory_order_relaxed);
}

const http_client_options& http_client::options() const noexcept { return state_->options; }

} // namespace stockd::connectors
