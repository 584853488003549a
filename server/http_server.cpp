#include "server/http_server.hpp"

#include <pthread.h>

#include <utility>  // before asio (toolchain.md: awaitable.hpp and std::exchange under C++20)

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace stockd::server {
namespace {

namespace beast = boost::beast;
namespace net = boost::asio;
using tcp = net::ip::tcp;

class session : public std::enable_shared_from_this<session> {
public:
  session(tcp::socket&& socket, const options& opts, api& handler,
          std::shared_ptr<std::atomic<std::size_t>> connections)
      : stream_(std::move(socket)), opts_(opts), handler_(handler),
        connections_(std::move(connections)) {}
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
    // Waiting for the next request on a kept-alive connection may take up to idle_timeout.
    stream_.expires_after(opts_.idle_timeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            beast::bind_front_handler(&session::on_header, shared_from_this()));
  }

  void on_header(beast::error_code ec, std::size_t) {
    if (ec) {
      return fail_read(ec);
    }
    // The rest of the request must arrive within read_timeout (no slow-drip bodies).
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
    // A request we refuse before reading it all: answer, then close (the rest is unread).
    http::status status = http::status::bad_request;
    std::string message = "malformed HTTP request: " + ec.message();
    if (ec == http::error::body_limit) {
      status = http::status::payload_too_large;
      message = "body larger than " + std::to_string(opts_.body_bytes_max) + " bytes";
    } else if (ec == http::error::header_limit) {
      status = http::status::request_header_fields_too_large;
      message = "header larger than " + std::to_string(opts_.header_bytes_max) + " bytes";
    }
    auto res = api::error(status, 11, false, message);
    write(std::move(res));
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec) {
      return fail_read(ec);
    }
    stream_.expires_never();  // the handler may take a while (durable commit); write has its own
    auto self = shared_from_this();
    handler_.handle(parser_->release(), [self](response&& res) {
      net::post(self->stream_.get_executor(),
                [self, res = std::move(res)]() mutable { self->write(std::move(res)); });
    });
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
  const options& opts_;
  api& handler_;
  std::shared_ptr<std::atomic<std::size_t>> connections_;
};

} // namespace

http_server::http_server(const options& opts, api& handler)
    : opts_(opts), handler_(handler), ioc_(static_cast<int>(opts.io_threads)),
      acceptor_(net::make_strand(ioc_)) {}

http_server::~http_server() { stop(); }

std::optional<std::string> http_server::start() {
  beast::error_code ec;
  auto address = net::ip::make_address(opts_.listen_host == "localhost" ? "127.0.0.1"
                                                                         : opts_.listen_host,
                                       ec);
  if (ec) {
    return "invalid listen address '" + opts_.listen_host + "': " + ec.message();
  }
  tcp::endpoint endpoint{address, opts_.listen_port};
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
    return "cannot listen on " + opts_.listen_host + ":" + std::to_string(opts_.listen_port) +
           ": " + ec.message();
  }
  port_ = acceptor_.local_endpoint().port();
  do_accept();
  for (unsigned i = 0; i < opts_.io_threads; ++i) {
    threads_.emplace_back([this] {
      pthread_setname_np(pthread_self(), "stockd-http");
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
      std::make_shared<session>(std::move(socket), opts_, handler_, connections_)->run();
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
