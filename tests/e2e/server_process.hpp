#pragma once
// The end-to-end fixture: runs the real `stockd` binary in a temporary directory on a free
// loopback port and talks to it over HTTP, the way a source system or an operator would.
//
// Threads: a server_process is driven from one thread (the test's); http_client objects are
// independent and each belongs to one thread. fork() happens only in server_process, and the
// child calls only async-signal-safe functions before exec, so other threads may be running.
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

namespace stockd::e2e {

/// One HTTP answer. `status` is 0 when the exchange failed at the transport level (refused,
/// reset, timed out); then `transport_error` says why and nothing else is set.
struct http_response {
  unsigned status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string transport_error;

  bool ok() const { return status != 0; }
  /// The header's value, or "" when absent; `name` in any case.
  std::string header(std::string_view name) const;
};

struct http_request {
  std::string method = "GET";
  std::string target = "/";
  std::string body;
  std::string content_type = "application/json";
  std::optional<std::string> token;  // sent as "Authorization: Bearer <token>" when set
  std::vector<std::pair<std::string, std::string>> headers;  // extra fields, sent as given
  std::chrono::milliseconds timeout{10'000};  // connect, write and read each
};

/// A blocking HTTP/1.1 client over one kept-alive connection, reconnecting on demand. Every
/// step has a deadline, so a hung or killed server turns into an error, never a stuck test.
class http_client {
public:
  http_client(std::string host, std::uint16_t port);
  ~http_client();
  http_client(const http_client&) = delete;
  http_client& operator=(const http_client&) = delete;

  http_response send(const http_request& req);
  /// Drops the connection; the next send opens a new one.
  void disconnect();

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// A parsed JSON answer. The element is valid as long as this object lives (simdjson DOM
/// elements point into the parser's buffers). Parse errors throw simdjson_error.
class json_doc {
public:
  explicit json_doc(std::string_view text);
  const simdjson::dom::element& root() const { return root_; }
  simdjson::dom::element operator[](std::string_view key) const { return root_[key]; }

private:
  std::unique_ptr<simdjson::dom::parser> parser_;
  simdjson::dom::element root_;
};

struct server_options {
  /// When non-empty, written to <tmp>/stockd.toml and passed as --config.
  std::string config_toml;
  /// The development token (STOCKD_TOKEN: every scope).
  std::string token = "e2e-token-7f3a";
  std::chrono::milliseconds ready_timeout{20'000};
};

/// The real stockd in a fresh temporary directory (removed at the end). Its stdout and stderr
/// go to <tmp>/stockd.log, which is appended across restarts and printed when a test fails.
class server_process {
public:
  explicit server_process(server_options opts = {});
  /// SIGKILLs a server still running, keeps the log for a failure report, removes the dir.
  ~server_process();
  server_process(const server_process&) = delete;
  server_process& operator=(const server_process&) = delete;

  /// Launches and waits until /readyz answers 200; throws with the log on timeout or exit.
  void start();
  /// Launches without waiting (for runs expected to fail at start).
  void launch();
  /// Polls /readyz until 200 within the ready timeout; throws if the process exits first.
  void wait_ready();
  /// Sends a signal to the running server.
  void kill(int signal_number);
  /// Waits for the process to exit; its wait status, or nullopt on timeout.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);
  /// SIGTERM and wait for an orderly exit; its wait status. Throws if it does not exit in time.
  int stop();
  /// stop() if running, then start() on the same data dir and port.
  void restart();
  bool running() const { return pid_ > 0; }
  /// The running server's process id (-1 when not running), e.g. to read /proc/<pid>/status.
  pid_t pid() const { return pid_; }

  std::uint16_t port() const { return port_; }
  const std::string& token() const { return opts_.token; }
  const std::string& temp_dir() const { return temp_dir_; }
  std::string data_dir() const { return temp_dir_ + "/data"; }
  std::string log() const;

  /// One request on a fresh connection; `token` defaults to the server's token.
  http_response request(http_request req) const;
  http_response get(std::string target) const;
  http_response post(std::string target, std::string body,
                     std::string content_type = "application/json") const;
  /// GET that must answer 200 with JSON, parsed; throws otherwise (message has the answer).
  json_doc get_json(std::string target) const;

private:
  server_options opts_;
  std::string temp_dir_;
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
};

/// A loopback TCP port nobody listens on right now (bind to port 0, read it, close).
std::uint16_t free_loopback_port();

/// Registers text that the failure listener prints if the running test case fails.
void report_on_failure(std::string title, std::string text);

} // namespace stockd::e2e
