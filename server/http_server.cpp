#include "server/http_server.hpp"

#include <pthread.h>

#include <algorithm>
#include <charconv>
#include <chrono>

#include <utility>  // before asio (toolchain.md: awaitable.hpp and std::exchange under C++20)

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "server/snapshots.hpp"

namespace stockd::server {
namespace {

namespace beast = boost::beast;
namespace net = boost::asio;
using tcp = net::ip::tcp;

class session : public std::enable_shared_from_this<session> {
public:
  session(tcp::socket&& socket, const options& opts, api& handler, bool admin_routes,
          std::shared_ptr<std::atomic<std::size_t>> connections)
      : stream_(std::move(socket)), opts_(opts), handler_(handler), admin_routes_(admin_routes),
        connections_(std::move(connections)) {}
  ~session() {
    if (upload_) {
      upload_->abort();
    }
    connections_->fetch_sub(1);
  }

  void run() {
    net::dispatch(stream_.get_executor(),
                  beast::bind_front_handler(&session::do_read, shared_from_this()));
  }

private:
  void do_read() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(opts_.header_bytes_max));
    // Beast checks a Content-Length against the body limit as soon as the header ends, before
    // we know the route: read the header under the larger limit, then on_header holds each
    // route to its own.
    parser_->body_limit(std::max<std::uint64_t>(opts_.body_bytes_max, opts_.snapshot_bytes_max));
    if (buffer_.size() > 0) {
      return read_request();  // pipelined: the next request has begun already
    }
    // Waiting for the next request on a kept-alive connection may take up to idle_timeout; once
    // its first byte is here, the rest has read_timeout (read_request).
    stream_.expires_after(opts_.idle_timeout);
    stream_.async_read_some(buffer_.prepare(first_read_bytes),
                            beast::bind_front_handler(&session::on_first_bytes,
                                                      shared_from_this()));
  }

  void on_first_bytes(beast::error_code ec, std::size_t bytes) {
    if (ec) {
      return fail_read(ec);
    }
    buffer_.commit(bytes);
    read_request();
  }

  // The whole request, header and body, within read_timeout of its first byte: a client that
  // trickles its header a byte at a time is cut off then, not after idle_timeout. The deadline
  // is set once here and holds for every read of the request (on_header does not renew it).
  void read_request() {
    stream_.expires_after(opts_.read_timeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            beast::bind_front_handler(&session::on_header, shared_from_this()));
  }

  void on_header(beast::error_code ec, std::size_t) {
    if (ec) {
      return fail_read(ec);
    }
    if (api::is_streamed(parser_->get())) {
      return start_snapshot();
    }
    if (declared_length() > opts_.body_bytes_max) {
      return fail_read(http::error::body_limit);
    }
    parser_->body_limit(opts_.body_bytes_max);
    // The rest of the request must arrive before read_request's deadline (no slow-drip bodies).
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&session::on_read, shared_from_this()));
  }

  void fail_read(beast::error_code ec) {
    if (is_gone(ec)) {
      return close();
    }
    // A request we refuse before reading it all: answer, then close (the rest is unread).
    http::status status = http::status::bad_request;
    std::string message = "malformed HTTP request: " + ec.message();
    if (ec == http::error::body_limit) {
      status = http::status::payload_too_large;
      message = "body larger than " + std::to_string(body_limit()) + " bytes";
    } else if (ec == http::error::header_limit) {
      status = http::status::request_header_fields_too_large;
      message = "header larger than " + std::to_string(opts_.header_bytes_max) + " bytes";
    }
    auto res = api::error(status, 11, false, message);
    write(std::move(res));
  }

  // The header's Content-Length, 0 without one (chunked). Beast has validated it; read from the
  // field rather than parser::content_length(), whose boost::optional trips g++ 12's
  // -Wmaybe-uninitialized in the sanitizer build.
  std::uint64_t declared_length() const {
    const auto field = parser_->get()[http::field::content_length];
    std::uint64_t length = 0;
    std::from_chars(field.data(), field.data() + field.size(), length);
    return length;
  }

  // The limit of the request being read (the route is known once its start line is).
  std::uint64_t body_limit() const {
    const bool snapshot = parser_ && api::is_streamed(parser_->get());
    return snapshot ? opts_.snapshot_bytes_max : opts_.body_bytes_max;
  }

  // The peer left, went silent past the timeout, or we closed: nobody to answer.
  static bool is_gone(beast::error_code ec) {
    return ec == http::error::end_of_stream || ec == net::error::eof ||
           ec == beast::error::timeout || ec == net::error::connection_reset ||
           ec == net::error::operation_aborted;
  }

  // While a snapshot body streams, a body cut short is the sender leaving as well.
  static bool is_disconnect(beast::error_code ec) {
    return is_gone(ec) || ec == http::error::partial_message;
  }

  // ---- POST /v1/snapshots/{location}: the body is streamed to a snapshot_upload ----------------

  void start_snapshot() {
    // Beast checked the Content-Length against the larger limit only (do_read).
    if (declared_length() > opts_.snapshot_bytes_max) {
      return fail_read(http::error::body_limit);
    }
    snapshot_start begun = handler_.begin_snapshot(parser_->get(), stream_.get_executor());
    if (!begun.upload) {
      // The body is unread: answer and close rather than parse it as the next request.
      begun.refusal->keep_alive(false);
      return write(std::move(*begun.refusal));
    }
    upload_ = std::move(begun.upload);
    const bool expect_continue =
        beast::iequals(parser_->get()[http::field::expect], "100-continue");
    snapshot_parser_.emplace(std::move(*parser_));
    parser_.reset();
    snapshot_parser_->body_limit(opts_.snapshot_bytes_max);
    if (!chunk_) {
      chunk_ = std::make_unique<char[]>(opts_.snapshot_chunk_bytes);
    }
    if (expect_continue && !snapshot_parser_->is_done()) {
      // The sender waits for this before the body (curl does, for large uploads): the request
      // is accepted so far.
      continue_ = std::make_shared<http::response<http::empty_body>>(
          http::status::continue_, snapshot_parser_->get().version());
      stream_.expires_after(opts_.write_timeout);
      http::async_write(stream_, *continue_,
                        [self = shared_from_this()](beast::error_code write_ec, std::size_t) {
                          self->continue_.reset();
                          if (write_ec) {
                            self->abort_snapshot();
                            return self->close();
                          }
                          self->read_snapshot_chunk();
                        });
      return;
    }
    read_snapshot_chunk();
  }

  void read_snapshot_chunk() {
    if (snapshot_parser_->is_done()) {
      return feed_snapshot({}, true);
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        upload_->deadline() - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      // Past the whole upload's deadline, like a read timeout: the durable lines stay.
      abort_snapshot();
      return close();
    }
    auto& body = snapshot_parser_->get().body();
    body.data = chunk_.get();
    body.size = opts_.snapshot_chunk_bytes;
    // Some bytes within read_timeout (a stalled sender is cut off), the whole upload within its
    // deadline. read_some, not read: whatever arrived is decoded at once, instead of waiting
    // for a slow sender to fill the whole chunk.
    stream_.expires_after(std::min(opts_.read_timeout, left));
    http::async_read_some(
        stream_, buffer_, *snapshot_parser_,
        beast::bind_front_handler(&session::on_snapshot_chunk, shared_from_this()));
  }

  void on_snapshot_chunk(beast::error_code ec, std::size_t) {
    if (ec == http::error::need_buffer) {
      ec = {};  // the chunk buffer is full: feed it
    }
    if (ec && is_disconnect(ec)) {
      abort_snapshot();
      return close();
    }
    stream_.expires_never();  // until the next read: the upload may wait for commits
    if (ec) {
      // Lines before this point may be durable: the upload answers with its summary.
      if (ec == http::error::body_limit) {
        upload_->refuse(http::status::payload_too_large,
                        "body larger than " + std::to_string(opts_.snapshot_bytes_max) +
                            " bytes (limits.snapshot_bytes_max)");
      } else {
        upload_->refuse(http::status::bad_request, "malformed HTTP request: " + ec.message());
      }
      return feed_snapshot({}, false);
    }
    const std::size_t got = opts_.snapshot_chunk_bytes - snapshot_parser_->get().body().size;
    feed_snapshot(std::string_view(chunk_.get(), got), snapshot_parser_->is_done());
  }

  void feed_snapshot(std::string_view bytes, bool end) {
    auto resume = [self = shared_from_this()] {
      net::post(self->stream_.get_executor(), [self] { self->resume_snapshot(); });
    };
    snapshot_upload::step step = upload_->feed(bytes, end, std::move(resume));
    switch (step.kind) {
      case snapshot_upload::step_kind::read_more:
        return read_snapshot_chunk();
      case snapshot_upload::step_kind::wait:
        return;
      case snapshot_upload::step_kind::done: {
        const bool body_read = snapshot_parser_->is_done();
        upload_.reset();
        snapshot_parser_.reset();
        if (!body_read) {
          step.answer->keep_alive(false);  // the rest of the body is unread
        }
        return write(std::move(*step.answer));
      }
    }
  }

  void resume_snapshot() {
    if (upload_) {  // else the connection failed meanwhile
      feed_snapshot({}, snapshot_parser_->is_done());
    }
  }

  void abort_snapshot() {
    if (upload_) {
      upload_->abort();
      upload_.reset();
    }
    snapshot_parser_.reset();
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec) {
      return fail_read(ec);
    }
    stream_.expires_never();  // the handler may take a while (durable commit); write has its own
    auto self = shared_from_this();
    handler_.handle(
        parser_->release(),
        [self](response&& res) {
          net::post(self->stream_.get_executor(),
                    [self, res = std::move(res)]() mutable { self->write(std::move(res)); });
        },
        admin_routes_);
  }

  void write(response&& res) {
    handler_.note_response(res.result_int());
    res_ = std::make_shared<response>(std::move(res));
    stream_.expires_after(opts_.write_timeout);
    http::async_write(stream_, *res_,
                      beast::bind_front_handler(&session::on_write, shared_from_this(),
                                                res_->need_eof()));
  }

  void on_write(bool close_after, beast::error_code ec, std::size_t) {
    res_.reset();
    if (ec || close_after) {
      return close();
    }
    do_read();
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.close();
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<response> res_;
  // A snapshot upload in progress: its parser reads the body into chunk_, one chunk at a time.
  std::shared_ptr<snapshot_upload> upload_;
  std::optional<http::request_parser<http::buffer_body>> snapshot_parser_;
  std::unique_ptr<char[]> chunk_;
  std::shared_ptr<http::response<http::empty_body>> continue_;
  // The first read of a request takes what is there, up to this (the header parser reads on).
  static constexpr std::size_t first_read_bytes = 4096;
  const options& opts_;
  api& handler_;
  bool admin_routes_;
  std::shared_ptr<std::atomic<std::size_t>> connections_;
};

} // namespace

http_server::http_server(const options& opts, api& handler, listener_role role)
    : opts_(opts), handler_(handler), role_(role), ioc_(static_cast<int>(opts.io_threads)),
      acceptor_(net::make_strand(ioc_)) {}

http_server::~http_server() { stop(); }

std::optional<std::string> http_server::start() {
  beast::error_code ec;
  const bool admin = role_ == listener_role::admin;
  const std::string& host = admin ? opts_.admin_listen_host : opts_.listen_host;
  const std::uint16_t port = admin ? opts_.admin_listen_port : opts_.listen_port;
  const std::string key = admin ? "admin_listen" : "listen";
  auto address = net::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
  if (ec) {
    return "invalid " + key + " address '" + host + "': " + ec.message();
  }
  tcp::endpoint endpoint{address, port};
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) {
    acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  }
  if (!ec) {
    acceptor_.bind(endpoint, ec);
  }
  if (!ec) {
    acceptor_.listen(net::socket_base::max_listen_connections, ec);
  }
  if (ec) {
    return "cannot listen on " + host + ":" + std::to_string(port) + " (" + key +
           "): " + ec.message();
  }
  port_ = acceptor_.local_endpoint().port();
  do_accept();
  for (unsigned i = 0; i < opts_.io_threads; ++i) {
    threads_.emplace_back([this, admin] {
      pthread_setname_np(pthread_self(), admin ? "stockd-admin" : "stockd-http");
      ioc_.run();
    });
  }
  return std::nullopt;
}

void http_server::do_accept() {
  acceptor_.async_accept(net::make_strand(ioc_), [this](beast::error_code ec, tcp::socket socket) {
    if (ec) {
      if (ec == net::error::operation_aborted) {
        return;
      }
    } else if (connections_->load() >= opts_.connections_max) {
      // Over the connection limit: refuse by closing at once rather than queueing unboundedly.
      beast::error_code ignored;
      socket.close(ignored);
    } else {
      connections_->fetch_add(1);
      std::make_shared<session>(std::move(socket), opts_, handler_,
                                role_ != listener_role::public_, connections_)
          ->run();
    }
    do_accept();
  });
}

void http_server::stop() {
  if (stopped_) {
    return;
  }
  stopped_ = true;
  net::post(acceptor_.get_executor(), [this] {
    beast::error_code ignored;
    acceptor_.close(ignored);
  });
  ioc_.stop();
  for (auto& t : threads_) {
    if (t.joinable()) {
      t.join();
    }
  }
}

} // namespace stockd::server
