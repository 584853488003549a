#include "simulator/listener.hpp"

#include <pthread.h>

#include <utility>  // before asio (toolchain.md: awaitable.hpp and std::exchange under C++20)

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace stockd::simulator {
namespace {

namespace beast = boost::beast;
namespace net = boost::asio;
using tcp = net::ip::tcp;

class session : public std::enable_shared_from_this<session> {
public:
  session(tcp::socket&& socket, const listener_options& opts, const handler_fn& handler,
          std::shared_ptr<std::atomic<std::size_t>> connections)
      : stream_(std::move(socket)), timer_(stream_.get_executor()), opts_(opts),
        handler_(handler), connections_(std::move(connections)) {}
  ~session() { connections_->fetch_sub(1); }

  void run() {
    net::dispatch(stream_.get_executor(),
                  beast::bind_front_handler(&session::do_read, shared_from_this()));
  }

private:
  void do_read() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(opts_.header_bytes_max));
    parser_->body_limit(opts_.body_bytes_max);
    stream_.expires_after(opts_.idle_timeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            beast::bind_front_handler(&session::on_header, shared_from_this()));
  }

  void on_header(beast::error_code ec, std::size_t) {
    if (ec) {
      return fail_read(ec);
    }
    stream_.expires_after(opts_.read_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&session::on_read, shared_from_this()));
  }

  void fail_read(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == net::error::eof ||
        ec == beast::error::timeout || ec == net::error::connection_reset ||
        ec == net::error::operation_aborted) {
      return close();
    }
    http::status status = http::status::bad_request;
    std::string message = "malformed HTTP request: " + ec.message();
    if (ec == http::error::body_limit) {
      status = http::status::payload_too_large;
      message = "body larger than " + std::to_string(opts_.body_bytes_max) + " bytes";
    } else if (ec == http::error::header_limit) {
      status = http::status::request_header_fields_too_large;
      message = "header larger than " + std::to_string(opts_.header_bytes_max) + " bytes";
    }
    json_writer out;
    out.begin_object().field("error", message).end_object();
    request unread{http::verb::unknown, "/", 11};
    unread.keep_alive(false);  // the rest of the request is unread: close after answering
    write(make_response(unread, status, out.take()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec) {
      return fail_read(ec);
    }
    stream_.expires_never();
    reply r = handler_(parser_->get());
    switch (r.after) {
      case disposition::respond:
        return write(std::move(r.res));
      case disposition::hang_then_close:
        // The client sees a timeout: no answer, then a closed connection.
        timer_.expires_after(r.hang);
        return timer_.async_wait([self = shared_from_this()](beast::error_code) { self->close(); });
      case disposition::reset: {
        beast::error_code ignored;
        stream_.socket().set_option(net::socket_base::linger(true, 0), ignored);
        stream_.socket().close(ignored);  // linger 0: the peer gets an RST
        return;
      }
    }
  }

  void write(response&& res) {
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
  net::steady_timer timer_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<response> res_;
  const listener_options& opts_;
  const handler_fn& handler_;
  std::shared_ptr<std::atomic<std::size_t>> connections_;
};

} // namespace

listener::listener(listener_options opts, handler_fn handler)
    : opts_(std::move(opts)), handler_(std::move(handler)), acceptor_(net::make_strand(ioc_)) {}

listener::~listener() { stop(); }

std::optional<std::string> listener::start() {
  beast::error_code ec;
  auto address = net::ip::make_address(opts_.host == "localhost" ? "127.0.0.1" : opts_.host, ec);
  if (ec) {
    return "invalid listen address '" + opts_.host + "': " + ec.message();
  }
  tcp::endpoint endpoint{address, opts_.port};
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
    return "cannot listen on " + opts_.host + ":" + std::to_string(opts_.port) + ": " +
           ec.message();
  }
  port_ = acceptor_.local_endpoint().port();
  do_accept();
  started_ = true;
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "stocksim-http");
    ioc_.run();
  });
  return std::nullopt;
}

void listener::do_accept() {
  acceptor_.async_accept(net::make_strand(ioc_), [this](beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted) {
      return;
    }
    if (!ec) {
      if (connections_->load() >= opts_.connections_max) {
        beast::error_code ignored;
        socket.close(ignored);  // over the limit: refuse at once rather than queue
      } else {
        connections_->fetch_add(1);
        std::make_shared<session>(std::move(socket), opts_, handler_, connections_)->run();
      }
    }
    do_accept();
  });
}

void listener::stop() {
  if (stopped_ || !started_) {
    stopped_ = true;
    return;
  }
  stopped_ = true;
  net::post(acceptor_.get_executor(), [this] {
    beast::error_code ignored;
    acceptor_.close(ignored);
  });
  ioc_.stop();
  if (thread_.joinable()) {
    thread_.join();
  }
}

} // namespace stockd::simulator
