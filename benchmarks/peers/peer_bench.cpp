// peer_bench: one reservation workload, the same for every peer, against stockd's reservation
// API, Redis (an atomic Lua check-and-decrement) or PostgreSQL (a conditional UPDATE).
//
// Expectation (toolchain.md, same 2 cores, loopback): Redis-Lua ~70 k/s with appendfsync always,
// ~100 k/s with everysec; PostgreSQL ~15-24 k/s. stockd's single-event ingest is ~10 k/s
// (fsync-bound group commits), so a successful reservation, journaled before its 201, should be
// of that order, and a refused one (answered from memory, nothing journaled) several times that.
//
// Workload. A round seeds fresh SKUs (a new name per round, so each starts from its seeded
// stock), then `--clients` threads, each with its own keep-alive connection, take attempt
// numbers from one shared counter until `--attempts` are taken; attempt i reserves qty 1 of
// sku[draw[i]]. The draws are fixed by the seed before the round starts, so every peer gets
// exactly the same demand per SKU whatever the interleaving, and a correct peer grants exactly
// min(stock, demand) per SKU. The spreads: uniform over `--skus`; hot, where `--hot-skus` SKUs
// (with `--hot-stock` each) take `--hot-share` of the draws and the rest go uniformly to the
// others. Demand exceeds stock on purpose, so each run exercises both the granting path and the
// refusing one, in the same proportions for every peer.
//
// Checks (the benchmark checks its own answer): per SKU, oversold = grants beyond the seeded
// stock, and undersold = grants short of min(stock, demand) (only meaningful without errors);
// after each round the peer's stored quantities are read back for the hot SKUs and up to
// `--verify` others and must equal stock - grants (and, for stockd, reserved = grants).
//
// Output: one JSON line per run (`run`), and `report FILE` prints the side-by-side table of a
// file of such lines, with stockd's ratio to each peer per spread.
//
// Blocking sockets, one thread per client: the same client machinery for the three peers, so
// the client's own cost (on the same cores as the server) is alike for all.
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <latch>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <simdjson.h>

namespace {

using clock_type = std::chrono::steady_clock;
using error_text = std::optional<std::string>;  // nullopt: success

// Limits (STYLE: a named limit on everything).
constexpr std::size_t clients_max = 1024;
constexpr std::size_t attempts_max = 10'000'000;
constexpr std::size_t rounds_max = 1000;
constexpr std::size_t skus_max = 10'000'000;
constexpr std::int64_t stock_max = 1'000'000'000;
constexpr std::size_t response_bytes_max = 1 << 20;
constexpr std::size_t seed_batch = 1000;  // SKUs per seeding request
constexpr int connect_timeout_ms = 5000;
constexpr int io_timeout_s = 30;           // per read or write on a socket
constexpr int overloaded_retries_max = 5;  // a 503 is retried with the same key, then an error
constexpr auto overloaded_backoff = std::chrono::milliseconds(20);
constexpr std::size_t error_kinds_max = 16;  // distinct error messages kept per run

// ---------------------------------------------------------------------------------------------
// Options.

enum class peer_kind { stockd, redis, postgres };
enum class spread_kind { uniform, hot };

struct options {
  peer_kind peer = peer_kind::stockd;
  std::string label;
  std::string host;
  unsigned short port = 0;
  std::string token;      // stockd
  std::string location = "main";  // stockd
  std::string pg_user = "postgres";
  std::string pg_database = "postgres";
  spread_kind spread = spread_kind::uniform;
  std::size_t clients = 50;
  std::size_t skus = 10'000;
  std::int64_t stock = 1;
  std::size_t hot_skus = 10;
  double hot_share = 0.9;
  std::int64_t hot_stock = 1000;
  std::size_t attempts = 20'000;  // per round
  std::size_t rounds = 5;
  std::size_t verify = 200;  // non-hot SKUs read back per round
  std::uint64_t seed = 1;
};

constexpr const char* usage_text =
    "usage: peer_bench run --peer stockd|redis|postgres --target 127.0.0.1:PORT [options]\n"
    "       peer_bench report FILE   (a file of run lines: prints the side-by-side table)\n"
    "  --label NAME        name of this peer setting in the output (default: the peer)\n"
    "  --token T           stockd bearer token (default: $STOCKD_TOKEN)\n"
    "  --location L        stockd location to reserve at and seed (default main)\n"
    "  --pg-user U --pg-database D   PostgreSQL login (default postgres, postgres)\n"
    "  --spread uniform|hot            (default uniform)\n"
    "  --clients N         concurrent clients, each its own connection (default 50)\n"
    "  --skus N            SKUs per round (default 10000)\n"
    "  --stock N           stock of each SKU that is not hot (default 1)\n"
    "  --hot-skus N --hot-share F --hot-stock N   the hot spread (default 10, 0.9, 1000)\n"
    "  --attempts N        reservation attempts per round (default 20000)\n"
    "  --rounds N          rounds, each on freshly seeded SKUs (default 5)\n"
    "  --verify N          SKUs besides the hot ones read back per round (default 200)\n"
    "  --seed N            seed of the draws (default 1)\n";

template <class T>
bool parse_number(std::string_view text, T& out) {
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, out);
  return ec == std::errc{} && ptr == end;
}

bool parse_fraction(const std::string& text, double& out) {
  char* end = nullptr;
  out = std::strtod(text.c_str(), &end);
  return !text.empty() && end == text.c_str() + text.size() && out >= 0.0 && out <= 1.0;
}

// A load generator pointed at someone else's server is an attack tool: IPv4 loopback only.
error_text parse_target(std::string_view target, options& out) {
  const std::size_t colon = target.rfind(':');
  if (colon == std::string_view::npos) {
    return "--target must be HOST:PORT, got '" + std::string(target) + "'";
  }
  out.host = std::string(target.substr(0, colon));
  if (out.host == "localhost") {
    out.host = "127.0.0.1";
  }
  in_addr address{};
  if (inet_pton(AF_INET, out.host.c_str(), &address) != 1 ||
      (ntohl(address.s_addr) >> 24) != 127) {
    return "refusing host '" + out.host + "': only 127.x.x.x or localhost are allowed";
  }
  if (!parse_number(target.substr(colon + 1), out.port) || out.port == 0) {
    return "--target port must be 1..65535, got '" + std::string(target.substr(colon + 1)) + "'";
  }
  return std::nullopt;
}

error_text parse_options(int argc, char** argv, options& out) {
  bool has_target = false;
  bool has_peer = false;
  for (int i = 2; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (i + 1 >= argc) {
      return "missing value for " + std::string(flag);
    }
    const std::string value = argv[++i];
    bool ok = true;
    if (flag == "--peer") {
      has_peer = true;
      ok = value == "stockd" || value == "redis" || value == "postgres";
      out.peer = value == "redis"      ? peer_kind::redis
                 : value == "postgres" ? peer_kind::postgres
                                       : peer_kind::stockd;
    } else if (flag == "--label") {
      out.label = value;
      ok = !value.empty() && value.find_first_of("\"\\") == std::string::npos;
    } else if (flag == "--target") {
      has_target = true;
      if (auto err = parse_target(value, out)) {
        return err;
      }
    } else if (flag == "--token") {
      out.token = value;
    } else if (flag == "--location") {
      out.location = value;
      ok = !value.empty();
    } else if (flag == "--pg-user") {
      out.pg_user = value;
      ok = !value.empty();
    } else if (flag == "--pg-database") {
      out.pg_database = value;
      ok = !value.empty();
    } else if (flag == "--spread") {
      ok = value == "uniform" || value == "hot";
      out.spread = value == "hot" ? spread_kind::hot : spread_kind::uniform;
    } else if (flag == "--clients") {
      ok = parse_number(value, out.clients) && out.clients >= 1 && out.clients <= clients_max;
    } else if (flag == "--skus") {
      ok = parse_number(value, out.skus) && out.skus >= 1 && out.skus <= skus_max;
    } else if (flag == "--stock") {
      ok = parse_number(value, out.stock) && out.stock >= 0 && out.stock <= stock_max;
    } else if (flag == "--hot-skus") {
      ok = parse_number(value, out.hot_skus) && out.hot_skus >= 1;
    } else if (flag == "--hot-share") {
      ok = parse_fraction(value, out.hot_share);
    } else if (flag == "--hot-stock") {
      ok = parse_number(value, out.hot_stock) && out.hot_stock >= 0 && out.hot_stock <= stock_max;
    } else if (flag == "--attempts") {
      ok = parse_number(value, out.attempts) && out.attempts >= 1 && out.attempts <= attempts_max;
    } else if (flag == "--rounds") {
      ok = parse_number(value, out.rounds) && out.rounds >= 1 && out.rounds <= rounds_max;
    } else if (flag == "--verify") {
      ok = parse_number(value, out.verify);
    } else if (flag == "--seed") {
      ok = parse_number(value, out.seed);
    } else {
      return "unknown option " + std::string(flag);
    }
    if (!ok) {
      return "invalid value '" + value + "' for " + std::string(flag);
    }
  }
  if (!has_peer || !has_target) {
    return std::string("--peer and --target are required");
  }
  if (out.spread == spread_kind::hot && out.hot_skus >= out.skus) {
    return std::string("--hot-skus must be fewer than --skus");
  }
  if (out.label.empty()) {
    out.label = out.peer == peer_kind::redis      ? "redis"
                : out.peer == peer_kind::postgres ? "postgres"
                                                  : "stockd";
  }
  if (out.token.empty()) {
    if (const char* env = std::getenv("STOCKD_TOKEN")) {
      out.token = env;
    }
  }
  if (out.peer == peer_kind::stockd && out.token.empty()) {
    return std::string("stockd needs --token or STOCKD_TOKEN");
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// A blocking TCP connection with timeouts and a read buffer.

class connection {
public:
  connection() = default;
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;
  ~connection() { close(); }

  error_text open(const std::string& host, unsigned short port) {
    close();
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd_ < 0) {
      return "socket: " + std::string(std::strerror(errno));
    }
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    inet_pton(AF_INET, host.c_str(), &address.sin_addr);
    if (::connect(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
      if (errno != EINPROGRESS) {
        return fail("connect");
      }
      pollfd p{fd_, POLLOUT, 0};
      if (::poll(&p, 1, connect_timeout_ms) != 1) {
        close();
        return "connect to " + host + ":" + std::to_string(port) + ": timed out";
      }
      int so_error = 0;
      socklen_t size = sizeof so_error;
      getsockopt(fd_, SOL_SOCKET, SO_ERROR, &so_error, &size);
      if (so_error != 0) {
        errno = so_error;
        return fail("connect");
      }
    }
    // Blocking from here on, every read and write bounded by the timeout.
    ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) & ~O_NONBLOCK);
    const timeval timeout{io_timeout_s, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    const int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    buffer_.clear();
    start_ = 0;
    return std::nullopt;
  }

  bool is_open() const { return fd_ >= 0; }

  void close() {
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }

  error_text write_all(std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0) {
        return fail("write");
      }
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return std::nullopt;
  }

  /// The next line without its CRLF; the view lives until the next read.
  error_text read_line(std::string_view& line) {
    while (true) {
      const std::size_t end = buffer_.find("\r\n", start_);
      if (end != std::string::npos) {
        line = std::string_view(buffer_).substr(start_, end - start_);
        start_ = end + 2;
        return std::nullopt;
      }
      if (buffer_.size() - start_ > response_bytes_max) {
        return std::string("line longer than the response limit");
      }
      if (auto err = fill()) {
        return err;
      }
    }
  }

  /// Exactly `size` bytes, appended to `out`.
  error_text read_exact(std::size_t size, std::string& out) {
    while (buffer_.size() - start_ < size) {
      if (auto err = fill()) {
        return err;
      }
    }
    out.append(buffer_, start_, size);
    start_ += size;
    return std::nullopt;
  }

private:
  error_text fill() {
    if (start_ > 0 && start_ == buffer_.size()) {
      buffer_.clear();
      start_ = 0;
    }
    char chunk[16384];
    while (true) {
      const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n == 0) {
        close();
        return std::string("connection closed by the peer");
      }
      if (n < 0) {
        return fail("read");
      }
      buffer_.append(chunk, static_cast<std::size_t>(n));
      return std::nullopt;
    }
  }

  std::string fail(const char* what) {
    std::string message = std::string(what) + ": " + std::strerror(errno);
    close();
    return message;
  }

  int fd_ = -1;
  std::string buffer_;
  std::size_t start_ = 0;
};

// ---------------------------------------------------------------------------------------------
// HTTP/1.1 client side, just what stockd's answers need (Content-Length bodies).

struct http_response {
  int status = 0;
  bool close = false;
  std::chrono::milliseconds retry_after{0};
  std::string body;
};

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

error_text http_exchange(connection& c, std::string_view request, http_response& out) {
  if (auto err = c.write_all(request)) {
    return err;
  }
  std::string_view line;
  if (auto err = c.read_line(line)) {
    return err;
  }
  if (line.size() < 12 || !line.starts_with("HTTP/1.") ||
      !parse_number(line.substr(9, 3), out.status)) {
    return "malformed status line '" + std::string(line.substr(0, 80)) + "'";
  }
  std::size_t length = 0;
  out.close = line[7] == '0';
  out.retry_after = std::chrono::milliseconds(0);
  while (true) {
    if (auto err = c.read_line(line)) {
      return err;
    }
    if (line.empty()) {
      break;
    }
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      return std::string("malformed header line");
    }
    const std::string_view name = line.substr(0, colon);
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') {
      value.remove_prefix(1);
    }
    if (iequals(name, "content-length")) {
      if (!parse_number(value, length) || length > response_bytes_max) {
        return "bad or too large Content-Length '" + std::string(value) + "'";
      }
    } else if (iequals(name, "connection")) {
      out.close = iequals(value, "close");
    } else if (iequals(name, "transfer-encoding")) {
      return std::string("chunked answers are not expected from stockd");
    } else if (iequals(name, "retry-after")) {
      unsigned seconds = 0;
      if (parse_number(value, seconds)) {
        out.retry_after = std::chrono::milliseconds(std::min(seconds, 5u) * 1000);
      }
    }
  }
  out.body.clear();
  if (auto err = c.read_exact(length, out.body)) {
    return err;
  }
  if (out.close) {
    c.close();
  }
  return std::nullopt;
}

std::string http_request(std::string_view method, std::string_view target,
                         const options& opts, std::string_view body) {
  std::string r;
  r.reserve(200 + body.size());
  r += method;
  r += ' ';
  r += target;
  r += " HTTP/1.1\r\nHost: ";
  r += opts.host;
  r += "\r\nAuthorization: Bearer ";
  r += opts.token;
  if (!body.empty()) {
    r += "\r\nContent-Type: application/json\r\nContent-Length: ";
    r += std::to_string(body.size());
  }
  r += "\r\n\r\n";
  r += body;
  return r;
}

// ---------------------------------------------------------------------------------------------
// RESP (Redis serialization protocol), just what the benchmark sends and reads.

std::string resp_command(std::initializer_list<std::string_view> parts) {
  std::string out = "*" + std::to_string(parts.size()) + "\r\n";
  for (auto part : parts) {
    out += '$';
    out += std::to_string(part.size());
    out += "\r\n";
    out += part;
    out += "\r\n";
  }
  return out;
}

std::string resp_command(const std::vector<std::string>& parts) {
  std::string out = "*" + std::to_string(parts.size()) + "\r\n";
  for (const auto& part : parts) {
    out += '$';
    out += std::to_string(part.size());
    out += "\r\n";
    out += part;
    out += "\r\n";
  }
  return out;
}

struct resp_value {
  char type = 0;  // '+', '-', ':', '$', '*'
  std::int64_t integer = 0;
  bool nil = false;
  std::string text;
  std::vector<resp_value> items;
};

error_text read_resp(connection& c, resp_value& out, int depth = 0) {
  if (depth > 2) {
    return std::string("RESP nesting deeper than expected");
  }
  std::string_view line;
  if (auto err = c.read_line(line)) {
    return err;
  }
  if (line.empty()) {
    return std::string("empty RESP line");
  }
  out.type = line[0];
  const std::string_view rest = line.substr(1);
  switch (out.type) {
    case '+':
    case '-':
      out.text = std::string(rest);
      return std::nullopt;
    case ':':
      return parse_number(rest, out.integer) ? std::nullopt
                                             : error_text("bad RESP integer " + std::string(rest));
    case '$': {
      std::int64_t size = 0;
      if (!parse_number(rest, size) || size < -1 ||
          size > static_cast<std::int64_t>(response_bytes_max)) {
        return "bad RESP bulk length " + std::string(rest);
      }
      out.nil = size < 0;
      out.text.clear();
      if (out.nil) {
        return std::nullopt;
      }
      std::string with_crlf;
      if (auto err = c.read_exact(static_cast<std::size_t>(size) + 2, with_crlf)) {
        return err;
      }
      out.text = with_crlf.substr(0, static_cast<std::size_t>(size));
      return std::nullopt;
    }
    case '*': {
      std::int64_t count = 0;
      if (!parse_number(rest, count) || count < -1 || count > 1'000'000) {
        return "bad RESP array length " + std::string(rest);
      }
      out.nil = count < 0;
      out.items.assign(static_cast<std::size_t>(std::max<std::int64_t>(0, count)), {});
      for (auto& item : out.items) {
        if (auto err = read_resp(c, item, depth + 1)) {
          return err;
        }
      }
      return std::nullopt;
    }
    default: return "unexpected RESP type '" + std::string(1, out.type) + "'";
  }
}

error_text redis_call(connection& c, const std::string& command, resp_value& out) {
  if (auto err = c.write_all(command)) {
    return err;
  }
  if (auto err = read_resp(c, out)) {
    return err;
  }
  if (out.type == '-') {
    return "redis: " + out.text;
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// The peers.

enum class outcome : std::uint8_t { reserved, insufficient, failed };

/// One client's connection; used by one thread at a time.
class session {
public:
  virtual ~session() = default;
  /// Reserves qty 1 of `sku`; `key` names the attempt (idempotency where the peer has it).
  /// On `failed`, `error` says why.
  virtual outcome reserve(const std::string& sku, const std::string& key, std::string& error) = 0;
};

struct stored_quantity {
  std::int64_t available = 0;
  std::optional<std::int64_t> reserved;  // where the peer keeps it apart (stockd)
};

struct commit_counters {
  double commits = 0;
  double events = 0;
  double commit_ms = 0;  // time inside the journal's commit (its fsyncs included)
};

class peer {
public:
  virtual ~peer() = default;
  virtual error_text open(std::unique_ptr<session>& out) = 0;
  virtual error_text seed(const std::vector<std::string>& skus,
                          const std::vector<std::int64_t>& stock) = 0;
  virtual error_text read_back(const std::vector<std::string>& skus,
                               std::vector<stored_quantity>& out) = 0;
  /// The server's own counters where it has them (stockd's journal commits), read before and
  /// after each timed part: where the time went, from the server's side.
  virtual error_text server_counters(std::optional<commit_counters>& out) {
    out.reset();
    return std::nullopt;
  }
};

// stockd: POST /v1/reservations; seeded with `received` events; read back by GET /v1/skus.
class stockd_session final : public session {
public:
  explicit stockd_session(const options& opts) : opts_(opts) {}
  error_text connect() { return conn_.open(opts_.host, opts_.port); }

  outcome reserve(const std::string& sku, const std::string& key, std::string& error) override {
    std::string body = R"({"key":")" + key + R"(","sku":")" + sku + R"(","qty":1,"location":")" +
                       opts_.location + R"("})";
    const std::string request = http_request("POST", "/v1/reservations", opts_, body);
    http_response res;
    for (int attempt = 0;; ++attempt) {
      // A dropped connection or a 503 is retried with the same key: the same reservation or
      // none, by the API's idempotency (DESIGN §5).
      if (!conn_.is_open()) {
        if (auto err = connect()) {
          error = *err;
          return outcome::failed;
        }
      }
      auto err = http_exchange(conn_, request, res);
      if (!err && res.status != 503) {
        break;
      }
      if (attempt == overloaded_retries_max) {
        error = err ? *err : "503 " + res.body.substr(0, 120);
        return outcome::failed;
      }
      retries.fetch_add(1, std::memory_order_relaxed);
      // The server's Retry-After, within bounds; every retry is counted in the output.
      std::this_thread::sleep_for(err ? overloaded_backoff
                                      : std::clamp<std::chrono::milliseconds>(
                                            res.retry_after, overloaded_backoff,
                                            std::chrono::milliseconds(1000)));
    }
    if (res.status == 201) {
      return outcome::reserved;
    }
    if (res.status == 409 && res.body.find(R"("error":"insufficient")") != std::string::npos) {
      return outcome::insufficient;
    }
    error = std::to_string(res.status) + " " + res.body.substr(0, 160);
    return outcome::failed;
  }

  static inline std::atomic<std::uint64_t> retries{0};

private:
  const options& opts_;
  connection conn_;
};

class stockd_peer final : public peer {
public:
  explicit stockd_peer(const options& opts) : opts_(opts) {}

  error_text open(std::unique_ptr<session>& out) override {
    auto s = std::make_unique<stockd_session>(opts_);
    if (auto err = s->connect()) {
      return err;
    }
    out = std::move(s);
    return std::nullopt;
  }

  error_text seed(const std::vector<std::string>& skus,
                  const std::vector<std::int64_t>& stock) override {
    if (auto err = admin_.is_open() ? std::nullopt : admin_.open(opts_.host, opts_.port)) {
      return err;
    }
    for (std::size_t begin = 0; begin < skus.size(); begin += seed_batch) {
      const std::size_t end = std::min(skus.size(), begin + seed_batch);
      std::string body = "[";
      for (std::size_t i = begin; i < end; ++i) {
        if (i > begin) {
          body += ',';
        }
        body += R"({"id":"peer_bench:)" + skus[i] + R"(","source":"peer_bench","type":"received",)";
        body += R"("sku":")" + skus[i] + R"(","location":")" + opts_.location + R"(","qty":)" +
                std::to_string(stock[i]) + R"(,"occurred_at":"2026-01-01T00:00:00Z"})";
      }
      body += ']';
      http_response res;
      if (auto err = exchange(http_request("POST", "/v1/events", opts_, body), res)) {
        return "seeding stockd: " + *err;
      }
      std::size_t accepted = 0;
      for (std::size_t at = 0; (at = res.body.find(R"("accepted")", at)) != std::string::npos;
           ++at) {
        ++accepted;
      }
      if (res.status != 200 || accepted != end - begin) {
        return "seeding stockd: " + std::to_string(res.status) + " with " +
               std::to_string(accepted) + " of " + std::to_string(end - begin) +
               " accepted: " + res.body.substr(0, 200);
      }
    }
    return std::nullopt;
  }

  error_text read_back(const std::vector<std::string>& skus,
                       std::vector<stored_quantity>& out) override {
    simdjson::dom::parser parser;
    out.clear();
    for (const auto& sku : skus) {
      http_response res;
      if (auto err = exchange(http_request("GET", "/v1/skus/" + sku, opts_, {}), res)) {
        return "reading back " + sku + ": " + *err;
      }
      if (res.status != 200) {
        return "reading back " + sku + ": " + std::to_string(res.status) + " " + res.body;
      }
      simdjson::dom::element doc;
      simdjson::dom::element at;
      std::int64_t available = 0;
      std::int64_t reserved = 0;
      if (parser.parse(res.body).get(doc) != simdjson::SUCCESS ||
          doc["locations"][opts_.location].get(at) != simdjson::SUCCESS ||
          at["available"].get_int64().get(available) != simdjson::SUCCESS ||
          at["reserved"].get_int64().get(reserved) != simdjson::SUCCESS) {
        return "reading back " + sku + ": no locations." + opts_.location + " quantities in " +
               res.body.substr(0, 200);
      }
      out.push_back({available, reserved});
    }
    return std::nullopt;
  }

  error_text server_counters(std::optional<commit_counters>& out) override {
    http_response res;
    if (auto err = exchange(http_request("GET", "/v1/status", opts_, {}), res)) {
      return "reading /v1/status: " + *err;
    }
    simdjson::dom::parser parser;
    simdjson::dom::element journal;
    std::uint64_t commits = 0;
    double per_commit = 0;
    double commit_ms_mean = 0;
    if (res.status != 200 || parser.parse(res.body)["journal"].get(journal) != simdjson::SUCCESS ||
        journal["commits"].get_uint64().get(commits) != simdjson::SUCCESS ||
        journal["events_per_commit"].get_double().get(per_commit) != simdjson::SUCCESS ||
        journal["commit_ms_mean"].get_double().get(commit_ms_mean) != simdjson::SUCCESS) {
      return "reading /v1/status: no journal commits, events_per_commit, commit_ms_mean in " +
             res.body.substr(0, 200);
    }
    const auto n = static_cast<double>(commits);
    out = commit_counters{n, n * per_commit, n * commit_ms_mean};
    return std::nullopt;
  }

private:
  error_text exchange(const std::string& request, http_response& res) {
    if (!admin_.is_open()) {
      if (auto err = admin_.open(opts_.host, opts_.port)) {
        return err;
      }
    }
    return http_exchange(admin_, request, res);
  }

  const options& opts_;
  connection admin_;
};

// Redis: one atomic Lua script per attempt (EVALSHA), stock as a plain integer per SKU.
constexpr std::string_view redis_script =
    "local a = tonumber(redis.call('GET', KEYS[1]))\n"
    "local q = tonumber(ARGV[1])\n"
    "if a == nil or a < q then return 0 end\n"
    "redis.call('DECRBY', KEYS[1], q)\n"
    "return 1\n";

std::string redis_key(const std::string& sku) { return "stock:" + sku; }

class redis_session final : public session {
public:
  redis_session(const options& opts, std::string sha) : opts_(opts), sha_(std::move(sha)) {}
  error_text connect() { return conn_.open(opts_.host, opts_.port); }

  outcome reserve(const std::string& sku, const std::string&, std::string& error) override {
    if (!conn_.is_open()) {
      if (auto err = connect()) {
        error = *err;
        return outcome::failed;
      }
    }
    resp_value reply;
    if (auto err = redis_call(conn_, resp_command({"EVALSHA", sha_, "1", redis_key(sku), "1"}),
                              reply)) {
      error = *err;
      return outcome::failed;
    }
    if (reply.type != ':') {
      error = "unexpected reply type " + std::string(1, reply.type);
      return outcome::failed;
    }
    return reply.integer == 1 ? outcome::reserved : outcome::insufficient;
  }

private:
  const options& opts_;
  std::string sha_;
  connection conn_;
};

class redis_peer final : public peer {
public:
  explicit redis_peer(const options& opts) : opts_(opts) {}

  error_text open(std::unique_ptr<session>& out) override {
    if (sha_.empty()) {
      if (auto err = connect_admin()) {
        return err;
      }
      resp_value reply;
      if (auto err =
              redis_call(admin_, resp_command({"SCRIPT", "LOAD", redis_script}), reply)) {
        return "loading the script: " + *err;
      }
      sha_ = reply.text;
    }
    auto s = std::make_unique<redis_session>(opts_, sha_);
    if (auto err = s->connect()) {
      return err;
    }
    out = std::move(s);
    return std::nullopt;
  }

  error_text seed(const std::vector<std::string>& skus,
                  const std::vector<std::int64_t>& stock) override {
    if (auto err = connect_admin()) {
      return err;
    }
    for (std::size_t begin = 0; begin < skus.size(); begin += seed_batch) {
      const std::size_t end = std::min(skus.size(), begin + seed_batch);
      std::vector<std::string> command{"MSET"};
      for (std::size_t i = begin; i < end; ++i) {
        command.push_back(redis_key(skus[i]));
        command.push_back(std::to_string(stock[i]));
      }
      resp_value reply;
      if (auto err = redis_call(admin_, resp_command(command), reply)) {
        return "seeding redis: " + *err;
      }
    }
    return std::nullopt;
  }

  error_text read_back(const std::vector<std::string>& skus,
                       std::vector<stored_quantity>& out) override {
    if (auto err = connect_admin()) {
      return err;
    }
    out.clear();
    for (std::size_t begin = 0; begin < skus.size(); begin += seed_batch) {
      const std::size_t end = std::min(skus.size(), begin + seed_batch);
      std::vector<std::string> command{"MGET"};
      for (std::size_t i = begin; i < end; ++i) {
        command.push_back(redis_key(skus[i]));
      }
      resp_value reply;
      if (auto err = redis_call(admin_, resp_command(command), reply)) {
        return "reading back: " + *err;
      }
      if (reply.type != '*' || reply.items.size() != end - begin) {
        return std::string("reading back: MGET answered the wrong shape");
      }
      for (const auto& item : reply.items) {
        std::int64_t available = 0;
        if (item.nil || !parse_number(item.text, available)) {
          return "reading back: a key is missing or not a number: '" + item.text + "'";
        }
        out.push_back({available, std::nullopt});
      }
    }
    return std::nullopt;
  }

private:
  error_text connect_admin() {
    return admin_.is_open() ? std::nullopt : admin_.open(opts_.host, opts_.port);
  }

  const options& opts_;
  std::string sha_;
  connection admin_;
};

// PostgreSQL: a conditional UPDATE per attempt, autocommit, synchronous_commit as the server has
// it (on by default; run.sh sets it explicitly).
struct pg_closer {
  void operator()(PGconn* c) const { PQfinish(c); }
};
struct pg_clearer {
  void operator()(PGresult* r) const { PQclear(r); }
};
using pg_connection = std::unique_ptr<PGconn, pg_closer>;
using pg_result = std::unique_ptr<PGresult, pg_clearer>;

error_text pg_connect(const options& opts, pg_connection& out) {
  // connect_timeout and a statement timeout: nothing here waits without end.
  const std::string info = "host=" + opts.host + " port=" + std::to_string(opts.port) +
                           " user=" + opts.pg_user + " dbname=" + opts.pg_database +
                           " connect_timeout=5 options='-c statement_timeout=30000 -c client_min_messages=warning'";
  out.reset(PQconnectdb(info.c_str()));
  if (!out || PQstatus(out.get()) != CONNECTION_OK) {
    return "postgres: " + std::string(out ? PQerrorMessage(out.get()) : "out of memory");
  }
  return std::nullopt;
}

error_text pg_exec(PGconn* c, const char* sql) {
  pg_result r(PQexec(c, sql));
  const auto status = PQresultStatus(r.get());
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    return "postgres: " + std::string(PQerrorMessage(c));
  }
  return std::nullopt;
}

constexpr const char* pg_reserve_sql =
    "UPDATE stock SET available = available - $2 WHERE sku = $1 AND available >= $2";

class pg_session final : public session {
public:
  explicit pg_session(pg_connection c) : conn_(std::move(c)) {}

  error_text prepare() {
    pg_result r(PQprepare(conn_.get(), "reserve", pg_reserve_sql, 2, nullptr));
    if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) {
      return "postgres: " + std::string(PQerrorMessage(conn_.get()));
    }
    return std::nullopt;
  }

  outcome reserve(const std::string& sku, const std::string&, std::string& error) override {
    const char* values[2] = {sku.c_str(), "1"};
    pg_result r(PQexecPrepared(conn_.get(), "reserve", 2, values, nullptr, nullptr, 0));
    if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) {
      error = PQerrorMessage(conn_.get());
      return outcome::failed;
    }
    const std::string_view rows = PQcmdTuples(r.get());
    return rows == "1" ? outcome::reserved : outcome::insufficient;
  }

private:
  pg_connection conn_;
};

class pg_peer final : public peer {
public:
  explicit pg_peer(const options& opts) : opts_(opts) {}

  error_text open(std::unique_ptr<session>& out) override {
    pg_connection c;
    if (auto err = pg_connect(opts_, c)) {
      return err;
    }
    auto s = std::make_unique<pg_session>(std::move(c));
    if (auto err = ensure_table()) {
      return err;
    }
    if (auto err = s->prepare()) {
      return err;
    }
    out = std::move(s);
    return std::nullopt;
  }

  error_text seed(const std::vector<std::string>& skus,
                  const std::vector<std::int64_t>& stock) override {
    if (auto err = ensure_table()) {
      return err;
    }
    PGconn* c = admin_.get();
    pg_result r(PQexec(c, "COPY stock (sku, available) FROM STDIN"));
    if (PQresultStatus(r.get()) != PGRES_COPY_IN) {
      return "postgres COPY: " + std::string(PQerrorMessage(c));
    }
    std::string rows;
    for (std::size_t i = 0; i < skus.size(); ++i) {
      rows += skus[i];
      rows += '\t';
      rows += std::to_string(stock[i]);
      rows += '\n';
      if (rows.size() > 64 * 1024 || i + 1 == skus.size()) {
        if (PQputCopyData(c, rows.data(), static_cast<int>(rows.size())) != 1) {
          return "postgres COPY: " + std::string(PQerrorMessage(c));
        }
        rows.clear();
      }
    }
    if (PQputCopyEnd(c, nullptr) != 1) {
      return "postgres COPY: " + std::string(PQerrorMessage(c));
    }
    pg_result done(PQgetResult(c));
    if (PQresultStatus(done.get()) != PGRES_COMMAND_OK) {
      return "postgres COPY: " + std::string(PQerrorMessage(c));
    }
    while (pg_result(PQgetResult(c))) {
    }
    // What a real deployment has: statistics for the planner (autovacuum would get there).
    return pg_exec(c, "ANALYZE stock");
  }

  error_text read_back(const std::vector<std::string>& skus,
                       std::vector<stored_quantity>& out) override {
    if (auto err = ensure_table()) {
      return err;
    }
    out.clear();
    for (const auto& sku : skus) {
      const char* values[1] = {sku.c_str()};
      pg_result r(PQexecParams(admin_.get(), "SELECT available FROM stock WHERE sku = $1", 1,
                               nullptr, values, nullptr, nullptr, 0));
      std::int64_t available = 0;
      if (PQresultStatus(r.get()) != PGRES_TUPLES_OK || PQntuples(r.get()) != 1 ||
          !parse_number(std::string_view(PQgetvalue(r.get(), 0, 0)), available)) {
        return "reading back " + sku + ": " + std::string(PQerrorMessage(admin_.get()));
      }
      out.push_back({available, std::nullopt});
    }
    return std::nullopt;
  }

private:
  error_text ensure_table() {
    if (admin_) {
      return std::nullopt;
    }
    if (auto err = pg_connect(opts_, admin_)) {
      return err;
    }
    return pg_exec(admin_.get(),
                   "CREATE TABLE IF NOT EXISTS stock (sku text PRIMARY KEY, "
                   "available bigint NOT NULL)");
  }

  const options& opts_;
  pg_connection admin_;
};

// ---------------------------------------------------------------------------------------------
// The workload.

/// One round's SKUs, their stock and the attempt draws, all fixed by the seed.
struct round_plan {
  std::vector<std::string> skus;
  std::vector<std::int64_t> stock;
  std::vector<std::uint32_t> draws;  // attempt i -> index into skus
};

round_plan make_plan(const options& opts, const std::string& run_id, std::size_t round) {
  round_plan plan;
  plan.skus.reserve(opts.skus);
  for (std::size_t i = 0; i < opts.skus; ++i) {
    plan.skus.push_back("pb" + run_id + "-r" + std::to_string(round) + "-" + std::to_string(i));
    const bool hot = opts.spread == spread_kind::hot && i < opts.hot_skus;
    plan.stock.push_back(hot ? opts.hot_stock : opts.stock);
  }
  std::mt19937_64 rng(opts.seed * 1'000'003 + round);
  std::uniform_real_distribution<double> share(0.0, 1.0);
  std::uniform_int_distribution<std::uint32_t> all(0, static_cast<std::uint32_t>(opts.skus - 1));
  std::uniform_int_distribution<std::uint32_t> hot(0,
                                                   static_cast<std::uint32_t>(opts.hot_skus - 1));
  std::uniform_int_distribution<std::uint32_t> cold(static_cast<std::uint32_t>(opts.hot_skus),
                                                    static_cast<std::uint32_t>(opts.skus - 1));
  plan.draws.reserve(opts.attempts);
  for (std::size_t i = 0; i < opts.attempts; ++i) {
    if (opts.spread == spread_kind::uniform) {
      plan.draws.push_back(all(rng));
    } else {
      plan.draws.push_back(share(rng) < opts.hot_share ? hot(rng) : cold(rng));
    }
  }
  return plan;
}

struct totals {
  std::uint64_t attempts = 0;
  std::uint64_t reserved = 0;
  std::uint64_t insufficient = 0;
  std::uint64_t failed = 0;
  std::int64_t oversold = 0;   // grants beyond stock, summed over SKUs
  std::int64_t undersold = 0;  // grants short of min(stock, demand), summed over SKUs
  std::uint64_t verified = 0;
  std::uint64_t verify_mismatches = 0;
  double seconds = 0;
  std::optional<commit_counters> server;  // during the timed parts only
  std::vector<std::uint32_t> latency_us;
  std::map<std::string, std::uint64_t> errors;  // message -> count, at most error_kinds_max
};

/// One client thread's share of a round.
struct client_result {
  std::uint64_t reserved = 0;
  std::uint64_t insufficient = 0;
  std::uint64_t failed = 0;
  std::vector<std::uint32_t> latency_us;
  std::map<std::string, std::uint64_t> errors;
};

error_text run_round(const options& opts, peer& target,
                     std::vector<std::unique_ptr<session>>& sessions, const std::string& run_id,
                     std::size_t round, totals& t) {
  const round_plan plan = make_plan(opts, run_id, round);
  if (auto err = target.seed(plan.skus, plan.stock)) {
    return err;
  }
  std::vector<std::atomic<std::int64_t>> granted(plan.skus.size());
  std::atomic<std::size_t> next{0};
  std::vector<client_result> results(sessions.size());
  std::latch ready(static_cast<std::ptrdiff_t>(sessions.size()) + 1);
  std::latch go(1);
  std::vector<std::thread> threads;
  const std::string key_prefix = "pb" + run_id + "-r" + std::to_string(round) + "-";
  for (std::size_t c = 0; c < sessions.size(); ++c) {
    threads.emplace_back([&, c] {
      client_result& mine = results[c];
      mine.latency_us.reserve(opts.attempts / sessions.size() * 2);
      ready.count_down();
      go.wait();
      std::string error;
      while (true) {
        const std::size_t i = next.fetch_add(1, std::memory_order_relaxed);
        if (i >= plan.draws.size()) {
          break;
        }
        const std::uint32_t sku = plan.draws[i];
        const auto started = clock_type::now();
        const outcome o = sessions[c]->reserve(plan.skus[sku], key_prefix + std::to_string(i),
                                               error);
        const auto took = std::chrono::duration_cast<std::chrono::microseconds>(
            clock_type::now() - started);
        mine.latency_us.push_back(static_cast<std::uint32_t>(
            std::min<std::int64_t>(took.count(), std::numeric_limits<std::uint32_t>::max())));
        if (o == outcome::reserved) {
          ++mine.reserved;
          granted[sku].fetch_add(1, std::memory_order_relaxed);
        } else if (o == outcome::insufficient) {
          ++mine.insufficient;
        } else {
          ++mine.failed;
          if (mine.errors.size() < error_kinds_max || mine.errors.contains(error)) {
            ++mine.errors[error];
          }
        }
      }
    });
  }
  std::optional<commit_counters> before;
  if (auto err = target.server_counters(before)) {
    return err;
  }
  ready.arrive_and_wait();
  const auto started = clock_type::now();
  go.count_down();
  for (auto& thread : threads) {
    thread.join();
  }
  t.seconds += std::chrono::duration<double>(clock_type::now() - started).count();
  std::optional<commit_counters> after;
  if (auto err = target.server_counters(after)) {
    return err;
  }
  if (before && after) {
    commit_counters& sum = t.server ? *t.server : t.server.emplace();
    sum.commits += after->commits - before->commits;
    sum.events += after->events - before->events;
    sum.commit_ms += after->commit_ms - before->commit_ms;
  }
  t.attempts += plan.draws.size();
  for (auto& r : results) {
    t.reserved += r.reserved;
    t.insufficient += r.insufficient;
    t.failed += r.failed;
    t.latency_us.insert(t.latency_us.end(), r.latency_us.begin(), r.latency_us.end());
    for (const auto& [message, count] : r.errors) {
      if (t.errors.size() < error_kinds_max || t.errors.contains(message)) {
        t.errors[message] += count;
      }
    }
  }
  // The demand per SKU is fixed by the draws: a correct peer grants min(stock, demand).
  std::vector<std::int64_t> demand(plan.skus.size(), 0);
  for (const auto d : plan.draws) {
    ++demand[d];
  }
  for (std::size_t i = 0; i < plan.skus.size(); ++i) {
    const std::int64_t g = granted[i].load();
    t.oversold += std::max<std::int64_t>(0, g - plan.stock[i]);
    t.undersold += std::max<std::int64_t>(0, std::min(plan.stock[i], demand[i]) - g);
  }
  // What the peer stored must agree with what it answered.
  std::vector<std::size_t> check;
  const std::size_t hot = opts.spread == spread_kind::hot ? opts.hot_skus : 0;
  for (std::size_t i = 0; i < plan.skus.size() && check.size() < hot + opts.verify; ++i) {
    check.push_back(i);
  }
  std::vector<std::string> names;
  for (auto i : check) {
    names.push_back(plan.skus[i]);
  }
  std::vector<stored_quantity> stored;
  if (auto err = target.read_back(names, stored)) {
    return err;
  }
  for (std::size_t k = 0; k < check.size(); ++k) {
    const std::int64_t g = granted[check[k]].load();
    const bool ok = stored[k].available == plan.stock[check[k]] - g &&
                    (!stored[k].reserved || *stored[k].reserved == g);
    ++t.verified;
    if (!ok) {
      ++t.verify_mismatches;
      if (t.verify_mismatches <= 5) {
        std::fprintf(stderr,
                     "peer_bench: %s holds available %" PRId64 " (reserved %s) after %" PRId64
                     " grants of %" PRId64 "\n",
                     names[k].c_str(), stored[k].available,
                     stored[k].reserved ? std::to_string(*stored[k].reserved).c_str() : "-", g,
                     plan.stock[check[k]]);
      }
    }
  }
  return std::nullopt;
}

double percentile_ms(std::vector<std::uint32_t>& sorted_us, double fraction) {
  if (sorted_us.empty()) {
    return 0;
  }
  const auto rank = static_cast<std::size_t>(fraction * static_cast<double>(sorted_us.size()));
  return sorted_us[std::min(rank, sorted_us.size() - 1)] / 1000.0;
}

std::string json_escape(std::string_view s) {
  std::string out;
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += ch;
    }
  }
  return out;
}

void print_result(const options& opts, totals& t) {
  std::sort(t.latency_us.begin(), t.latency_us.end());
  const double per_s = t.seconds > 0 ? 1.0 / t.seconds : 0;
  std::string errors = "{";
  for (const auto& [message, count] : t.errors) {
    if (errors.size() > 1) {
      errors += ',';
    }
    errors += "\"" + json_escape(message) + "\":" + std::to_string(count);
  }
  errors += "}";
  std::string server = "null";
  if (t.server && t.server->commits > 0) {
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  "{\"journal_commits\":%.0f,\"events_per_commit\":%.1f,"
                  "\"commit_ms_mean\":%.2f,\"writer_busy_share\":%.2f}",
                  t.server->commits, t.server->events / t.server->commits,
                  t.server->commit_ms / t.server->commits,
                  t.seconds > 0 ? t.server->commit_ms / 1000.0 / t.seconds : 0.0);
    server = buf;
  }
  std::printf(
      "{\"peer\":\"%s\",\"spread\":\"%s\",\"clients\":%zu,\"rounds\":%zu,\"skus\":%zu,"
      "\"stock\":%" PRId64 ",\"hot_skus\":%zu,\"hot_share\":%.3f,\"hot_stock\":%" PRId64 ","
      "\"attempts\":%" PRIu64 ",\"reserved\":%" PRIu64 ",\"insufficient\":%" PRIu64
      ",\"failed\":%" PRIu64 ",\"seconds\":%.3f,\"attempts_per_s\":%.1f,\"reserved_per_s\":%.1f,"
      "\"latency_ms\":{\"p50\":%.3f,\"p99\":%.3f,\"max\":%.3f},\"oversold\":%" PRId64
      ",\"undersold\":%" PRId64 ",\"verified\":%" PRIu64 ",\"verify_mismatches\":%" PRIu64
      ",\"retries\":%" PRIu64 ",\"errors\":%s,\"server\":%s}\n",
      opts.label.c_str(), opts.spread == spread_kind::hot ? "hot" : "uniform", opts.clients,
      opts.rounds, opts.skus, opts.stock, opts.spread == spread_kind::hot ? opts.hot_skus : 0,
      opts.spread == spread_kind::hot ? opts.hot_share : 0.0, opts.hot_stock, t.attempts,
      t.reserved, t.insufficient, t.failed, t.seconds,
      static_cast<double>(t.attempts) * per_s, static_cast<double>(t.reserved) * per_s,
      percentile_ms(t.latency_us, 0.50), percentile_ms(t.latency_us, 0.99),
      t.latency_us.empty() ? 0.0 : t.latency_us.back() / 1000.0, t.oversold, t.undersold,
      t.verified, t.verify_mismatches, stockd_session::retries.load(), errors.c_str(), server.c_str());
  std::fflush(stdout);
}

int run(const options& opts) {
  std::unique_ptr<peer> target;
  switch (opts.peer) {
    case peer_kind::stockd: target = std::make_unique<stockd_peer>(opts); break;
    case peer_kind::redis: target = std::make_unique<redis_peer>(opts); break;
    case peer_kind::postgres: target = std::make_unique<pg_peer>(opts); break;
  }
  std::vector<std::unique_ptr<session>> sessions(opts.clients);
  for (auto& s : sessions) {
    if (auto err = target->open(s)) {
      std::fprintf(stderr, "peer_bench: %s: %s\n", opts.label.c_str(), err->c_str());
      return 1;
    }
  }
  // Names unique per invocation, so a rerun against the same server starts from fresh stock.
  const std::string run_id =
      std::to_string(std::chrono::system_clock::now().time_since_epoch().count() % 1'000'000'007) +
      "p" + std::to_string(::getpid());
  totals t;
  for (std::size_t round = 0; round < opts.rounds; ++round) {
    if (auto err = run_round(opts, *target, sessions, run_id, round, t)) {
      std::fprintf(stderr, "peer_bench: %s round %zu: %s\n", opts.label.c_str(), round,
                   err->c_str());
      return 1;
    }
  }
  print_result(opts, t);
  // The benchmark checks its own answer: a peer that oversold, or whose store disagrees with
  // its answers, fails the run (the figures are still printed).
  return t.oversold == 0 && t.verify_mismatches == 0 ? 0 : 2;
}

// ---------------------------------------------------------------------------------------------
// report: the side-by-side table of a file of run lines.

struct row {
  std::string peer;
  std::string spread;
  double attempts_per_s = 0;
  double reserved_per_s = 0;
  double p50 = 0;
  double p99 = 0;
  std::int64_t oversold = 0;
  std::int64_t undersold = 0;
  std::uint64_t failed = 0;
  std::uint64_t attempts = 0;
  std::uint64_t reserved = 0;
  std::uint64_t mismatches = 0;
  std::string server;  // the server's commit counters, when it reports them
};

int report(const char* path) {
  std::ifstream in(path);
  if (!in) {
    std::fprintf(stderr, "peer_bench: cannot read %s\n", path);
    return 1;
  }
  simdjson::dom::parser parser;
  std::vector<row> rows;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line.front() != '{') {
      continue;
    }
    simdjson::dom::element doc;
    if (parser.parse(line).get(doc) != simdjson::SUCCESS) {
      std::fprintf(stderr, "peer_bench: not JSON: %s\n", line.c_str());
      return 1;
    }
    row r;
    std::string_view peer_name;
    std::string_view spread;
    std::int64_t over = 0;
    std::int64_t under = 0;
    const bool ok =
        doc["peer"].get_string().get(peer_name) == simdjson::SUCCESS &&
        doc["spread"].get_string().get(spread) == simdjson::SUCCESS &&
        doc["attempts_per_s"].get_double().get(r.attempts_per_s) == simdjson::SUCCESS &&
        doc["reserved_per_s"].get_double().get(r.reserved_per_s) == simdjson::SUCCESS &&
        doc["latency_ms"]["p50"].get_double().get(r.p50) == simdjson::SUCCESS &&
        doc["latency_ms"]["p99"].get_double().get(r.p99) == simdjson::SUCCESS &&
        doc["oversold"].get_int64().get(over) == simdjson::SUCCESS &&
        doc["undersold"].get_int64().get(under) == simdjson::SUCCESS &&
        doc["failed"].get_uint64().get(r.failed) == simdjson::SUCCESS &&
        doc["attempts"].get_uint64().get(r.attempts) == simdjson::SUCCESS &&
        doc["reserved"].get_uint64().get(r.reserved) == simdjson::SUCCESS &&
        doc["verify_mismatches"].get_uint64().get(r.mismatches) == simdjson::SUCCESS;
    if (!ok) {
      std::fprintf(stderr, "peer_bench: a run line lacks a field: %s\n", line.c_str());
      return 1;
    }
    simdjson::dom::element server;
    double commits = 0;
    double per_commit = 0;
    double commit_ms = 0;
    double busy = 0;
    if (doc["server"].get(server) == simdjson::SUCCESS && server.is_object() &&
        server["journal_commits"].get_double().get(commits) == simdjson::SUCCESS &&
        server["events_per_commit"].get_double().get(per_commit) == simdjson::SUCCESS &&
        server["commit_ms_mean"].get_double().get(commit_ms) == simdjson::SUCCESS &&
        server["writer_busy_share"].get_double().get(busy) == simdjson::SUCCESS) {
      char buf[200];
      std::snprintf(buf, sizeof buf,
                    "%.0f journal commits, %.1f events per commit, %.2f ms per commit "
                    "(fsyncs included), writer committing %.0f%% of the time",
                    commits, per_commit, commit_ms, busy * 100);
      r.server = buf;
    }
    r.peer = peer_name;
    r.spread = spread;
    r.oversold = over;
    r.undersold = under;
    rows.push_back(std::move(r));
  }
  std::printf("| spread | peer | attempts/s | reserved/s | p50 ms | p99 ms | reserved of attempts |"
              " oversold | undersold | errors | read-back mismatches | stockd ÷ peer (attempts/s) |\n"
              "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (const auto& r : rows) {
    const row* mine = nullptr;
    for (const auto& other : rows) {
      if (other.spread == r.spread && other.peer == "stockd") {
        mine = &other;
      }
    }
    std::string ratio = "-";
    if (mine != nullptr && r.peer != "stockd" && r.attempts_per_s > 0) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.2f×", mine->attempts_per_s / r.attempts_per_s);
      ratio = buf;
    }
    std::printf("| %s | %s | %.0f | %.0f | %.2f | %.2f | %" PRIu64 " / %" PRIu64 " | %" PRId64
                " | %" PRId64 " | %" PRIu64 " | %" PRIu64 " | %s |\n",
                r.spread.c_str(), r.peer.c_str(), r.attempts_per_s, r.reserved_per_s, r.p50, r.p99,
                r.reserved, r.attempts, r.oversold, r.undersold, r.failed, r.mismatches,
                ratio.c_str());
  }
  for (const auto& r : rows) {
    if (!r.server.empty()) {
      std::printf("\n%s, %s spread, during the timed parts: %s.", r.peer.c_str(), r.spread.c_str(),
                  r.server.c_str());
    }
  }
  std::printf("\n");
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  const std::string_view command = argc > 1 ? argv[1] : "";
  if (command == "report" && argc == 3) {
    return report(argv[2]);
  }
  if (command != "run") {
    std::fputs(usage_text, stderr);
    return command == "--help" || command == "-h" ? 0 : 64;
  }
  options opts;
  if (auto err = parse_options(argc, argv, opts)) {
    std::fprintf(stderr, "peer_bench: %s\n%s", err->c_str(), usage_text);
    return 64;
  }
  return run(opts);
}
