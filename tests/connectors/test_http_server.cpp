#include "tests/connectors/test_http_server.hpp"

#include <stdlib.h>

#include <filesystem>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <utility>  // before asio (toolchain.md)

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

namespace stockd::testing {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

std::optional<std::string> test_request::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (beast::iequals(k, beast::string_view(name.data(), name.size()))) {
      return v;
    }
  }
  return std::nullopt;
}

namespace {

void check(bool ok, const char* what) {
  if (!ok) {
    throw std::runtime_error(std::string("make_self_signed_cert: ") + what);
  }
}

void add_extension(X509* cert, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  check(ext != nullptr, "extension");
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

} // namespace

tls_files make_self_signed_cert(const std::string& subject_alt_names) {
  std::string dir = (std::filesystem::temp_directory_path() / "stockd-tls-XXXXXX").string();
  check(mkdtemp(dir.data()) != nullptr, "mkdtemp");
  tls_files files{dir, dir + "/cert.pem", dir + "/key.pem"};

  EVP_PKEY* key = EVP_EC_gen("P-256");
  check(key != nullptr, "EVP_EC_gen");
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert), 24 * 3600);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
  X509_set_issuer_name(cert, name);
  // Its own CA (what `openssl req -x509` makes), so a client can trust it as an anchor.
  add_extension(cert, NID_basic_constraints, "critical,CA:TRUE");
  add_extension(cert, NID_key_usage, "critical,digitalSignature,keyCertSign");
  add_extension(cert, NID_subject_key_identifier, "hash");
  add_extension(cert, NID_subject_alt_name, subject_alt_names.c_str());
  check(X509_sign(cert, key, EVP_sha256()) > 0, "X509_sign");

  BIO* out = BIO_new_file(files.cert_file.c_str(), "w");
  check(out != nullptr && PEM_write_bio_X509(out, cert) == 1, "write cert");
  BIO_free(out);
  out = BIO_new_file(files.key_file.c_str(), "w");
  check(out != nullptr &&
            PEM_write_bio_PrivateKey(out, key, nullptr, nullptr, 0, nullptr, nullptr) == 1,
        "write key");
  BIO_free(out);
  X509_free(cert);
  EVP_PKEY_free(key);
  return files;
}

struct test_http_server::impl {
  handler on_request;
  net::io_context ioc{1};
  std::optional<ssl::context> tls;
  tcp::acceptor acceptor{ioc};
  std::uint16_t port = 0;
  mutable std::mutex mutex;
  std::vector<test_request> seen;
  std::atomic<std::size_t> accepted{0};
  std::vector<std::shared_ptr<void>> held;  // never_answer sessions, until the server stops
  std::thread thread;

  void do_accept();
};

namespace {

class session : public std::enable_shared_from_this<session> {
public:
  session(tcp::socket socket, test_http_server::impl& server, std::size_t number)
      : server_(server), number_(number) {
    if (server.tls) {
      secure_.emplace(std::move(socket), *server.tls);
    } else {
      plain_.emplace(std::move(socket));
    }
  }

  void run() {
    if (secure_) {
      secure_->async_handshake(ssl::stream_base::server,
                               [self = shared_from_this()](beast::error_code ec) {
                                 if (!ec) {
                                   self->do_read();
                                 }
                               });
    } else {
      do_read();
    }
  }

private:
  tcp::socket& socket() { return secure_ ? secure_->next_layer() : *plain_; }

  template <class F>
  void with_stream(F&& f) {
    if (secure_) {
      f(*secure_);
    } else {
      f(*plain_);
    }
  }

  void do_read() {
    parser_.emplace();
    parser_->body_limit(64 * 1024 * 1024);
    with_stream([this](auto& s) {
      http::async_read(s, buffer_, *parser_,
                       [self = shared_from_this()](beast::error_code ec, std::size_t) {
                         if (!ec) {
                           self->on_read();
                         }
                       });
    });
  }

  void on_read() {
    auto request = parser_->release();
    test_request seen;
    seen.method = std::string(request.method_string());
    seen.target = std::string(request.target());
    for (const auto& f : request) {
      seen.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
    }
    seen.body = request.body();
    seen.connection = number_;
    {
      std::lock_guard lock(server_.mutex);
      server_.seen.push_back(seen);
    }
    test_reply reply = server_.on_request(seen);
    switch (reply.what) {
    case test_reply::action::never_answer:
      {
        // Keep the socket open, silent, until the server stops.
        std::lock_guard lock(server_.mutex);
        server_.held.push_back(shared_from_this());
      }
      return;
    case test_reply::action::reset_mid_body: return reset_mid_body(reply);
    case test_reply::action::respond:
    case test_reply::action::respond_then_close: return respond(reply);
    }
  }

  void respond(const test_reply& reply) {
    auto res = std::make_shared<http::response<http::string_body>>();
    res->result(reply.status);
    res->version(11);
    for (const auto& [k, v] : reply.headers) {
      res->set(k, v);
    }
    res->body() = reply.body;
    res->keep_alive(true);
    res->prepare_payload();
    const bool close_after = reply.what == test_reply::action::respond_then_close;
    with_stream([&](auto& s) {
      http::async_write(s, *res,
                        [self = shared_from_this(), res, close_after](beast::error_code ec,
                                                                      std::size_t) {
                          if (ec) {
                            return;
                          }
                          if (close_after) {
                            beast::error_code ignored;
                            self->socket().shutdown(tcp::socket::shutdown_both, ignored);
                            self->socket().close(ignored);
                            return;
                          }
                          self->do_read();
                        });
    });
  }

  void reset_mid_body(const test_reply& reply) {
    auto head = std::make_shared<std::string>(
        "HTTP/1.1 " + std::to_string(reply.status) +
        " OK\r\nContent-Type: application/json\r\nContent-Length: " +
        std::to_string(reply.body.size() + 1000) + "\r\n\r\n" + reply.body);
    with_stream([&](auto& s) {
      net::async_write(s, net::buffer(*head),
                       [self = shared_from_this(), head](beast::error_code, std::size_t) {
                         beast::error_code ignored;
                         // Linger 0: close sends RST rather than FIN.
                         self->socket().set_option(net::socket_base::linger(true, 0), ignored);
                         self->socket().close(ignored);
                       });
    });
  }

  test_http_server::impl& server_;
  std::size_t number_;
  std::optional<tcp::socket> plain_;
  std::optional<ssl::stream<tcp::socket>> secure_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
};

} // namespace

void test_http_server::impl::do_accept() {
  acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
    if (ec) {
      return;
    }
    const std::size_t number = ++accepted;
    std::make_shared<session>(std::move(socket), *this, number)->run();
    do_accept();
  });
}

test_http_server::test_http_server(handler h, std::optional<tls_files> tls)
    : impl_(std::make_unique<impl>()) {
  impl_->on_request = std::move(h);
  if (tls) {
    impl_->tls.emplace(ssl::context::tls_server);
    impl_->tls->use_certificate_chain_file(tls->cert_file);
    impl_->tls->use_private_key_file(tls->key_file, ssl::context::pem);
  }
  tcp::endpoint endpoint{net::ip::make_address("127.0.0.1"), 0};
  impl_->acceptor.open(endpoint.protocol());
  impl_->acceptor.set_option(net::socket_base::reuse_address(true));
  impl_->acceptor.bind(endpoint);
  impl_->acceptor.listen();
  impl_->port = impl_->acceptor.local_endpoint().port();
  impl_->do_accept();
  impl_->thread = std::thread([this] { impl_->ioc.run(); });
}

test_http_server::~test_http_server() {
  impl_->ioc.stop();
  impl_->thread.join();
  impl_->held.clear();
  beast::error_code ignored;
  impl_->acceptor.close(ignored);
}

std::uint16_t test_http_server::port() const { return impl_->port; }

std::string test_http_server::url(std::string_view path) const {
  return std::string(impl_->tls ? "https" : "http") + "://127.0.0.1:" + std::to_string(port()) +
         std::string(path);
}

std::size_t test_http_server::connections_accepted() const { return impl_->accepted.load(); }

std::vector<test_request> test_http_server::requests() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->seen;
}

} // namespace stockd::testing
