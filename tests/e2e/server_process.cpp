#include "tests/e2e/server_process.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <utility>  // before asio (toolchain.md: awaitable.hpp and std::exchange under C++20)

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
// The listener that prints server logs for failed tests needs Catch's reporter interfaces.
#define CATCH_CONFIG_EXTERNAL_INTERFACES
#include <catch2/catch.hpp>

#ifndef STOCKD_BINARY
#error "STOCKD_BINARY must name the stockd executable (set by tests/e2e/CMakeLists.txt)"
#endif

extern char** environ;

namespace stockd::e2e {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using std::chrono::milliseconds;
using steady = std::chrono::steady_clock;

// Answers larger than this are a bug in the server or the test, not something to buffer.
constexpr std::size_t response_body_bytes_max = 64 * 1024 * 1024;
// A failure report shows the end of each server log: the start and the crash are what matter.
constexpr std::size_t log_report_bytes_max = 24 * 1024;

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string describe_wait_status(int status) {
  if (WIFEXITED(status)) {
    return "exit code " + std::to_string(WEXITSTATUS(status));
  }
  if (WIFSIGNALED(status)) {
    return "signal " + std::to_string(WTERMSIG(status));
  }
  return "wait status " + std::to_string(status);
}

// Logs of servers that ran in the current test case, printed by the listener if it fails.
struct failure_reports {
  std::mutex mutex;
  std::vector<std::pair<std::string, std::string>> items;
};

failure_reports& reports() {
  static failure_reports r;
  return r;
}

struct failure_log_listener : Catch::TestEventListenerBase {
  using TestEventListenerBase::TestEventListenerBase;

  void testCaseStarting(const Catch::TestCaseInfo& info) override {
    TestEventListenerBase::testCaseStarting(info);
    std::lock_guard lock(reports().mutex);
    reports().items.clear();
  }

  void testCaseEnded(const Catch::TestCaseStats& stats) override {
    std::vector<std::pair<std::string, std::string>> items;
    {
      std::lock_guard lock(reports().mutex);
      items.swap(reports().items);
    }
    if (stats.totals.assertions.failed > 0) {
      for (const auto& [title, text] : items) {
        std::cerr << "----- " << title << " -----\n" << text << "\n----- end of " << title
                  << " -----\n";
      }
    }
    TestEventListenerBase::testCaseEnded(stats);
  }
};

} // namespace

CATCH_REGISTER_LISTENER(failure_log_listener)

void report_on_failure(std::string title, std::string text) {
  std::lock_guard lock(reports().mutex);
  reports().items.emplace_back(std::move(title), std::move(text));
}

std::string http_response::header(std::string_view name) const {
  auto it = headers.find(lower(name));
  return it == headers.end() ? std::string{} : it->second;
}

// ---- http_client ---------------------------------------------------------------------------

struct http_client::impl {
  std::string host;
  std::uint16_t port = 0;
  net::io_context ioc;
  std::optional<beast::tcp_stream> stream;
  beast::flat_buffer buffer;

  // Runs the one pending operation to completion; the stream's deadline bounds it.
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

http_response http_client::send(const http_request& r) {
  impl& s = *impl_;
  http_response out;
  beast::error_code ec;
  auto fail = [&](std::string_view step) {
    out.transport_error = std::string(step) + ": " + ec.message();
    disconnect();
    return out;
  };
  if (!s.stream) {
    s.stream.emplace(s.ioc);
    s.buffer.clear();
    tcp::endpoint endpoint(net::ip::make_address(s.host), s.port);
    s.stream->expires_after(r.timeout);
    s.stream->async_connect(endpoint, [&ec](beast::error_code e) { ec = e; });
    s.run();
    if (ec) {
      return fail("connect");
    }
  }

  http::request<http::string_body> req{http::string_to_verb(r.method), r.target, 11};
  req.set(http::field::host, s.host + ":" + std::to_string(s.port));
  req.set(http::field::user_agent, "stockd-e2e");
  if (r.token) {
    req.set(http::field::authorization, "Bearer " + *r.token);
  }
  for (const auto& [name, value] : r.headers) {
    req.set(name, value);
  }
  if (!r.body.empty() || r.method == "POST") {
    req.set(http::field::content_type, r.content_type);
    req.body() = r.body;
  }
  req.keep_alive(true);
  req.prepare_payload();

  s.stream->expires_after(r.timeout);
  http::async_write(*s.stream, req, [&ec](beast::error_code e, std::size_t) { ec = e; });
  s.run();
  // A server may answer before reading the whole body and close (413 on an oversized body):
  // like curl, still read what it said before reporting the failed write.
  const beast::error_code write_error = ec;

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

// ---- json_doc ------------------------------------------------------------------------------

json_doc::json_doc(std::string_view text) : parser_(std::make_unique<simdjson::dom::parser>()) {
  // The (pointer, length) overload copies into padded storage: `text` need not outlive us.
  root_ = parser_->parse(text.data(), text.size(), true).value();
}

// ---- server_process ------------------------------------------------------------------------

std::uint16_t free_loopback_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t length = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length) != 0) {
    int err = errno;
    ::close(fd);
    throw std::runtime_error(std::string("bind 127.0.0.1:0: ") + std::strerror(err));
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

server_process::server_process(server_options opts) : opts_(std::move(opts)) {
  // A client writing to a server we just killed must get EPIPE, not die of SIGPIPE.
  std::signal(SIGPIPE, SIG_IGN);
  const char* base = std::getenv("TMPDIR");
  std::string pattern = std::string(base != nullptr && *base != '\0' ? base : "/tmp") +
                        "/stockd-e2e-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) {
    throw std::runtime_error("mkdtemp " + pattern + ": " + std::strerror(errno));
  }
  temp_dir_ = pattern;
  port_ = free_loopback_port();
  if (!opts_.config_toml.empty()) {
    std::ofstream(temp_dir_ + "/stockd.toml", std::ios::binary) << opts_.config_toml;
  }
}

server_process::~server_process() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  std::string text = log();
  if (text.size() > log_report_bytes_max) {
    text = "[... " + std::to_string(text.size() - log_report_bytes_max) + " bytes before ...]\n" +
           text.substr(text.size() - log_report_bytes_max);
  }
  report_on_failure("stockd log " + temp_dir_ + "/stockd.log", std::move(text));
  std::error_code ignored;
  std::filesystem::remove_all(temp_dir_, ignored);
}

std::string server_process::log() const { return read_file(temp_dir_ + "/stockd.log"); }

void server_process::launch() {
  if (pid_ > 0) {
    throw std::logic_error("stockd is already running");
  }
  // Everything the child needs is built before fork: between fork and exec only
  // async-signal-safe calls are allowed (other test threads may hold malloc's lock).
  std::vector<std::string> args = {STOCKD_BINARY, "--data", data_dir(), "--listen",
                                   "127.0.0.1:" + std::to_string(port_)};
  if (!opts_.config_toml.empty()) {
    args.push_back("--config");
    args.push_back(temp_dir_ + "/stockd.toml");
  }
  std::vector<char*> argv;
  for (auto& a : args) {
    argv.push_back(a.data());
  }
  argv.push_back(nullptr);
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, "STOCKD_TOKEN=", 13) != 0) {
      env_strings.emplace_back(*e);
    }
  }
  env_strings.push_back("STOCKD_TOKEN=" + opts_.token);
  std::vector<char*> envp;
  for (auto& e : env_strings) {
    envp.push_back(e.data());
  }
  envp.push_back(nullptr);
  const std::string log_path = temp_dir_ + "/stockd.log";
  int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    throw std::runtime_error("open " + log_path + ": " + std::strerror(errno));
  }
  const pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    int err = errno;
    ::close(log_fd);
    throw std::runtime_error(std::string("fork: ") + std::strerror(err));
  }
  if (pid == 0) {
    // The server must not outlive a test runner that crashed or was killed.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) {
      ::_exit(126);
    }
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    // Client sockets of the test would otherwise stay open in the server.
    ::close_range(3, ~0U, 0);
    ::execve(argv[0], argv.data(), envp.data());
    static constexpr char message[] = "e2e: execve of stockd failed\n";
    [[maybe_unused]] auto n = ::write(STDERR_FILENO, message, sizeof message - 1);
    ::_exit(127);
  }
  ::close(log_fd);
  pid_ = pid;
}

void server_process::wait_ready() {
  const auto deadline = steady::now() + opts_.ready_timeout;
  http_client client("127.0.0.1", port_);
  while (steady::now() < deadline) {
    if (pid_ <= 0) {
      throw std::runtime_error("stockd is not running");
    }
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("stockd exited before it was ready (" +
                               describe_wait_status(status) + "); its log follows the test");
    }
    http_request req;
    req.target = "/readyz";
    req.timeout = milliseconds(1000);
    if (client.send(req).status == 200) {
      return;
    }
    std::this_thread::sleep_for(milliseconds(20));
  }
  throw std::runtime_error("stockd was not ready within " +
                           std::to_string(opts_.ready_timeout.count()) +
                           " ms; its log follows the test");
}

void server_process::start() {
  launch();
  wait_ready();
}

void server_process::kill(int signal_number) {
  if (pid_ <= 0) {
    throw std::logic_error("stockd is not running");
  }
  ::kill(pid_, signal_number);
}

std::optional<int> server_process::wait_exit(milliseconds timeout) {
  if (pid_ <= 0) {
    throw std::logic_error("stockd is not running");
  }
  const auto deadline = steady::now() + timeout;
  for (;;) {
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      return status;
    }
    if (r < 0 && errno != EINTR) {
      throw std::runtime_error(std::string("waitpid: ") + std::strerror(errno));
    }
    if (steady::now() >= deadline) {
      return std::nullopt;
    }
    std::this_thread::sleep_for(milliseconds(5));
  }
}

int server_process::stop() {
  kill(SIGTERM);
  // The orderly path waits up to 30 s for the writer, 30 s for the actors and 30 s for the
  // final checkpoint; anything near that is a hang worth failing on.
  auto status = wait_exit(milliseconds(45'000));
  if (!status) {
    kill(SIGKILL);
    wait_exit(milliseconds(10'000));
    throw std::runtime_error("stockd did not stop within 45 s of SIGTERM");
  }
  return *status;
}

void server_process::restart() {
  if (pid_ > 0) {
    stop();
  }
  start();
}

http_response server_process::request(http_request req) const {
  if (!req.token) {
    req.token = opts_.token;
  }
  http_client client("127.0.0.1", port_);
  return client.send(req);
}

http_response server_process::get(std::string target) const {
  http_request req;
  req.target = std::move(target);
  return request(std::move(req));
}

http_response server_process::post(std::string target, std::string body,
                                   std::string content_type) const {
  http_request req;
  req.method = "POST";
  req.target = std::move(target);
  req.body = std::move(body);
  req.content_type = std::move(content_type);
  return request(std::move(req));
}

json_doc server_process::get_json(std::string target) const {
  auto res = get(target);
  if (res.status != 200) {
    throw std::runtime_error("GET " + target + " answered " + std::to_string(res.status) + " " +
                             res.transport_error + res.body);
  }
  return json_doc(res.body);
}

} // namespace stockd::e2e
