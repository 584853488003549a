// stockload: the ingest load client for POST /v1/events (DESIGN §5).
//
// Posts `received` / `adjusted` / `order_created` events over keep-alive HTTP/1.1 connections,
// checks that every answer is 200 with one result per event, measures per-request
// acknowledgement latency and prints one JSON line. One io_context thread on purpose: on the
// 2-core machines the server needs the other core.
//
// Closed loop by default (each connection sends its next request when the previous one is
// answered). With --rate, open loop: request k is due at start + k * batch / rate whatever the
// server does, and its latency is measured from that due time, so a slow server shows up as
// latency instead of silently lowering the offered load (coordinated omission).
//
// --record FILE appends "source id seq" for every event acknowledged accepted or duplicate,
// flushed after each response: a durability test kills the server and checks that everything
// acknowledged survived. Connection errors are counted, and the connection retries with a
// bounded backoff until the duration ends.
#include <utility>  // before Asio: boost/asio/awaitable.hpp needs std::exchange (toolchain.md)

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cerrno>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using clock_type = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Limits (STYLE: a named limit on everything).
constexpr int duration_s_max = 600;
constexpr std::size_t batch_max = 10000;            // the server's default events_max
constexpr std::size_t connections_max = 1024;
constexpr std::size_t response_body_bytes_max = 64u << 20;
constexpr auto connect_timeout = std::chrono::seconds(5);
constexpr auto request_timeout = std::chrono::seconds(30);
// After the duration, answers still in flight get this long before their sockets are closed.
constexpr auto drain_timeout = std::chrono::seconds(10);
constexpr auto reconnect_delay_min = milliseconds(50);
constexpr auto reconnect_delay_max = milliseconds(2000);
constexpr std::size_t response_json_depth_max = 32;

// ---------------------------------------------------------------------------------------------
// Options.

enum class send_mode { batched, single };

struct options {
  std::string host;
  std::string port;
  std::string token;
  send_mode mode = send_mode::batched;
  std::size_t batch = 1000;
  std::size_t connections = 0;  // 0: the mode's default
  int duration_s = 10;
  double rate = 0;  // events/s; 0 = closed loop
  std::size_t skus = 1000;
  std::vector<std::string> locations{"main"};
  std::string source = "stockload";
  std::string channel = "web";
  std::uint64_t seed = 1;
  std::string record_path;
};

constexpr const char* usage_text =
    "usage: stockload --target HOST:PORT [--token T] [--mode batched|single] [--batch N]\n"
    "                 [--connections N] [--duration SECONDS] [--rate EVENTS_PER_S] [--skus N]\n"
    "                 [--locations a,b] [--source NAME] [--channel NAME] [--seed N]\n"
    "                 [--record FILE]\n"
    "  --target       loopback only: 127.x.x.x, [::1] or localhost\n"
    "  --token        bearer token (default: $STOCKD_TOKEN)\n"
    "  --mode         batched (default; --batch events per request) or single (1 per request)\n"
    "  --batch        events per request in batched mode, 1..10000 (default 1000)\n"
    "  --connections  keep-alive connections (default 8 batched, 64 single)\n"
    "  --duration     seconds, 1..600 (default 10)\n"
    "  --rate         open-loop pacing in events/s (default: closed loop, as fast as answered)\n"
    "  --skus         number of distinct SKUs (default 1000)\n"
    "  --locations    comma-separated locations (default main)\n"
    "  --source       source name; a per-run id is appended so reruns do not dedupe\n"
    "  --channel      channel of order_created events (default web)\n"
    "  --seed         seed of the event mix (default 1)\n"
    "  --record       append 'source id seq' per acknowledged event, flushed per response\n";

template <class T>
bool parse_number(std::string_view text, T& out) {
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, out);
  return ec == std::errc{} && ptr == end;
}

bool parse_double(const std::string& text, double& out) {
  char* end = nullptr;
  out = std::strtod(text.c_str(), &end);
  return !text.empty() && end == text.c_str() + text.size();
}

std::vector<std::string> split_commas(std::string_view text) {
  std::vector<std::string> parts;
  while (true) {
    const std::size_t comma = text.find(',');
    parts.emplace_back(text.substr(0, comma));
    if (comma == std::string_view::npos) {
      break;
    }
    text.remove_prefix(comma + 1);
  }
  return parts;
}

// HOST:PORT or [V6]:PORT.
bool split_target(std::string_view target, std::string& host, std::string& port) {
  std::size_t colon = 0;
  if (!target.empty() && target.front() == '[') {
    const std::size_t close = target.find(']');
    if (close == std::string_view::npos || close + 1 >= target.size() ||
        target[close + 1] != ':') {
      return false;
    }
    host.assign(target.substr(1, close - 1));
    colon = close + 1;
  } else {
    colon = target.rfind(':');
    if (colon == std::string_view::npos) {
      return false;
    }
    host.assign(target.substr(0, colon));
  }
  port.assign(target.substr(colon + 1));
  unsigned short number = 0;
  return !host.empty() && parse_number(port, number) && number != 0;
}

std::optional<std::string> parse_options(int argc, char** argv, options& out) {
  std::string target;
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      return std::string();
    }
    if (i + 1 >= argc) {
      return "missing value for " + std::string(flag);
    }
    const std::string value = argv[++i];
    bool ok = true;
    if (flag == "--target") {
      target = value;
    } else if (flag == "--token") {
      out.token = value;
    } else if (flag == "--mode") {
      ok = value == "batched" || value == "single";
      out.mode = value == "single" ? send_mode::single : send_mode::batched;
    } else if (flag == "--batch") {
      ok = parse_number(value, out.batch) && out.batch >= 1 && out.batch <= batch_max;
    } else if (flag == "--connections") {
      ok = parse_number(value, out.connections) && out.connections >= 1 &&
           out.connections <= connections_max;
    } else if (flag == "--duration") {
      ok = parse_number(value, out.duration_s) && out.duration_s >= 1 &&
           out.duration_s <= duration_s_max;
    } else if (flag == "--rate") {
      ok = parse_double(value, out.rate) && out.rate > 0 && out.rate < 1e9;
    } else if (flag == "--skus") {
      ok = parse_number(value, out.skus) && out.skus >= 1;
    } else if (flag == "--locations") {
      out.locations = split_commas(value);
      ok = std::none_of(out.locations.begin(), out.locations.end(),
                        [](const std::string& l) { return l.empty(); });
    } else if (flag == "--source") {
      out.source = value;
      ok = !value.empty();
    } else if (flag == "--channel") {
      out.channel = value;
      ok = !value.empty();
    } else if (flag == "--seed") {
      ok = parse_number(value, out.seed);
    } else if (flag == "--record") {
      out.record_path = value;
      ok = !value.empty();
    } else {
      return "unknown option " + std::string(flag);
    }
    if (!ok) {
      return "invalid value '" + value + "' for " + std::string(flag);
    }
  }
  if (target.empty()) {
    return std::string("--target HOST:PORT is required");
  }
  if (!split_target(target, out.host, out.port)) {
    return "--target must be HOST:PORT, got '" + target + "'";
  }
  if (out.mode == send_mode::single) {
    out.batch = 1;
  }
  if (out.connections == 0) {
    out.connections = out.mode == send_mode::single ? 64 : 8;
  }
  if (out.token.empty()) {
    if (const char* env = std::getenv("STOCKD_TOKEN")) {
      out.token = env;
    }
  }
  return std::nullopt;
}

// A load generator pointed at someone else's server is an attack tool: loopback only.
std::optional<std::string> resolve_loopback(asio::io_context& io, const options& opts,
                                            std::vector<tcp::endpoint>& out) {
  boost::system::error_code ec;
  if (opts.host == "localhost") {
    tcp::resolver resolver(io);
    const auto results = resolver.resolve(opts.host, opts.port, ec);
    if (ec) {
      return "cannot resolve localhost: " + ec.message();
    }
    for (const auto& entry : results) {
      if (entry.endpoint().address().is_loopback()) {
        out.push_back(entry.endpoint());
      }
    }
    if (out.empty()) {
      return std::string("localhost does not resolve to a loopback address");
    }
    return std::nullopt;
  }
  const auto address = asio::ip::make_address(opts.host, ec);
  if (ec) {
    return "refusing host '" + opts.host + "': only 127.x.x.x, ::1 or localhost are allowed";
  }
  if (!address.is_loopback()) {
    return "refusing non-loopback address " + address.to_string();
  }
  unsigned short port = 0;
  parse_number(opts.port, port);
  out.emplace_back(address, port);
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// Latency histogram: log-linear, 64 sub-buckets per power of two (<= 1.6% relative error), so a
// 10-minute run at any rate needs a few KiB instead of one sample per request.

class latency_histogram {
public:
  void record(std::uint64_t micros) {
    ++counts_[index_of(std::min(micros, value_max))];
    ++total_;
    max_ = std::max(max_, micros);
  }

  // The value below which `fraction` of the samples fall (bucket midpoint).
  double percentile_ms(double fraction) const {
    if (total_ == 0) {
      return 0;
    }
    const auto rank = static_cast<std::uint64_t>(fraction * static_cast<double>(total_ - 1)) + 1;
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < counts_.size(); ++i) {
      seen += counts_[i];
      if (seen >= rank) {
        const double low = static_cast<double>(lower_bound(i));
        const double high = static_cast<double>(lower_bound(i + 1));
        return std::min((low + high) / 2, static_cast<double>(max_)) / 1000.0;
      }
    }
    return static_cast<double>(max_) / 1000.0;
  }

  double max_ms() const { return static_cast<double>(max_) / 1000.0; }

private:
  static constexpr std::size_t sub_bits = 6;
  static constexpr std::size_t sub_count = std::size_t{1} << sub_bits;
  static constexpr std::size_t exponent_max = 40;  // 2^40 µs is ~12 days
  static constexpr std::uint64_t value_max = (std::uint64_t{1} << exponent_max) - 1;

  static std::size_t index_of(std::uint64_t v) {
    if (v < sub_count) {
      return static_cast<std::size_t>(v);
    }
    const auto exponent = static_cast<std::size_t>(63 - __builtin_clzll(v));
    const auto sub = static_cast<std::size_t>(v >> (exponent - sub_bits)) - sub_count;
    return sub_count * (exponent - sub_bits + 1) + sub;
  }

  static std::uint64_t lower_bound(std::size_t index) {
    if (index < sub_count) {
      return index;
    }
    const std::size_t exponent = index / sub_count + sub_bits - 1;
    const std::size_t sub = index % sub_count;
    return (std::uint64_t{sub_count} + sub) << (exponent - sub_bits);
  }

  std::array<std::uint64_t, sub_count*(exponent_max - sub_bits + 2)> counts_{};
  std::uint64_t total_ = 0;
  std::uint64_t max_ = 0;
};

// ---------------------------------------------------------------------------------------------
// The answer: {"results":[{"id":"...","status":"accepted","seq":1042}, ...]}. Boost 1.74 has no
// JSON library and the client stays dependency-free, so a small strict reader: it reads the
// fields it needs and skips (with a depth bound) whatever else a result carries, e.g. an error.

struct result_row {
  std::string id;
  std::string status;
  std::uint64_t seq = 0;
};

class json_reader {
public:
  explicit json_reader(std::string_view text) : text_(text) {}

  bool results(std::vector<result_row>& rows) {
    rows.clear();
    bool found = false;
    if (!consume('{')) {
      return false;
    }
    if (consume('}')) {
      return false;
    }
    do {
      std::string key;
      if (!string(key) || !consume(':')) {
        return false;
      }
      if (key == "results" && !found) {
        found = true;
        if (!result_array(rows)) {
          return false;
        }
      } else if (!skip(0)) {
        return false;
      }
    } while (consume(','));
    if (!consume('}')) {
      return false;
    }
    space();
    return found && pos_ == text_.size();
  }

private:
  bool result_array(std::vector<result_row>& rows) {
    if (!consume('[')) {
      return false;
    }
    if (consume(']')) {
      return true;
    }
    do {
      result_row row;
      if (!consume('{')) {
        return false;
      }
      if (!consume('}')) {
        do {
          std::string key;
          if (!string(key) || !consume(':')) {
            return false;
          }
          bool ok = true;
          if (key == "id") {
            ok = string(row.id);
          } else if (key == "status") {
            ok = string(row.status);
          } else if (key == "seq") {
            ok = unsigned_number(row.seq);
          } else {
            ok = skip(0);
          }
          if (!ok) {
            return false;
          }
        } while (consume(','));
        if (!consume('}')) {
          return false;
        }
      }
      rows.push_back(std::move(row));
    } while (consume(','));
    return consume(']');
  }

  void space() {
    while (pos_ < text_.size() &&
           (text_[pos_] == ' ' || text_[pos_] == '\n' || text_[pos_] == '\r' ||
            text_[pos_] == '\t')) {
      ++pos_;
    }
  }

  bool consume(char c) {
    space();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }

  // \u escapes are kept verbatim rather than decoded: the ids we compare are ours, plain ASCII.
  bool string(std::string& out) {
    if (!consume('"')) {
      return false;
    }
    out.clear();
    while (pos_ < text_.size()) {
      const char c = text_[pos_++];
      if (c == '"') {
        return true;
      }
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= text_.size()) {
        return false;
      }
      const char e = text_[pos_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u':
          if (pos_ + 4 > text_.size()) {
            return false;
          }
          out.append("\\u").append(text_.substr(pos_, 4));
          pos_ += 4;
          break;
        default:
          return false;
      }
    }
    return false;
  }

  bool unsigned_number(std::uint64_t& out) {
    space();
    const std::size_t start = pos_;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
      ++pos_;
    }
    return parse_number(text_.substr(start, pos_ - start), out);
  }

  bool skip(std::size_t depth) {
    if (depth > response_json_depth_max) {
      return false;
    }
    space();
    if (pos_ >= text_.size()) {
      return false;
    }
    const char c = text_[pos_];
    if (c == '"') {
      std::string ignored;
      return string(ignored);
    }
    if (c == '{' || c == '[') {
      const char close = c == '{' ? '}' : ']';
      ++pos_;
      if (consume(close)) {
        return true;
      }
      do {
        if (c == '{') {
          std::string ignored;
          if (!string(ignored) || !consume(':')) {
            return false;
          }
        }
        if (!skip(depth + 1)) {
          return false;
        }
      } while (consume(','));
      return consume(close);
    }
    // Numbers and literals: a run of their characters.
    const std::size_t start = pos_;
    while (pos_ < text_.size() && std::strchr("0123456789+-.eEtruefalsn", text_[pos_]) != nullptr &&
           text_[pos_] != '\0') {
      ++pos_;
    }
    return pos_ > start;
  }

  std::string_view text_;
  std::size_t pos_ = 0;
};

// ---------------------------------------------------------------------------------------------
// The run.

struct counters {
  std::uint64_t requests = 0;  // answered with an HTTP response
  std::uint64_t events_sent = 0;
  std::uint64_t events_accepted = 0;
  std::uint64_t events_duplicate = 0;
  std::uint64_t events_rejected = 0;
  std::uint64_t overloaded = 0;        // 503 answers
  std::uint64_t errors = 0;            // transport errors and wrong answers
  std::uint64_t transport_errors = 0;  // connect / write / read failures
};

std::string run_id() {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(now).count();
  char text[40];
  std::snprintf(text, sizeof text, "%" PRIx64 "%x", static_cast<std::uint64_t>(micros),
                static_cast<unsigned>(getpid()) & 0xffffu);
  return text;
}

std::string utc_now_rfc3339() {
  const auto now = std::chrono::time_point_cast<milliseconds>(std::chrono::system_clock::now());
  const auto day = std::chrono::floor<std::chrono::days>(now);
  const std::chrono::year_month_day ymd{day};
  const std::chrono::hh_mm_ss<milliseconds> time{now - day};
  char text[40];
  std::snprintf(text, sizeof text, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ",
                static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()), static_cast<int>(time.hours().count()),
                static_cast<int>(time.minutes().count()), static_cast<int>(time.seconds().count()),
                static_cast<int>(time.subseconds().count()));
  return text;
}

class run_state {
public:
  run_state(const options& given, std::vector<tcp::endpoint> targets, std::FILE* record)
      : opts(given), endpoints(std::move(targets)), source(given.source + "-" + run_id()),
        record_(record) {}

  const options& opts;
  const std::vector<tcp::endpoint> endpoints;
  const std::string source;
  clock_type::time_point start{};
  clock_type::time_point deadline{};
  clock_type::time_point hard_stop{};
  std::uint64_t next_ticket = 0;  // open loop: the next request's slot in the schedule
  counters totals;
  latency_histogram latency;

  bool running() const { return clock_type::now() < deadline; }

  // Open loop: when the next request is due.
  clock_type::time_point take_ticket() {
    const double seconds_per_request = static_cast<double>(opts.batch) / opts.rate;
    const auto offset = std::chrono::duration_cast<clock_type::duration>(
        std::chrono::duration<double>(seconds_per_request * static_cast<double>(next_ticket++)));
    return start + offset;
  }

  void record(const std::string& id, std::uint64_t seq) {
    if (record_ != nullptr) {
      std::fprintf(record_, "%s %s %" PRIu64 "\n", source.c_str(), id.c_str(), seq);
    }
  }
  // After each response, so a killed server cannot leave acknowledged events unrecorded.
  void flush_record() {
    if (record_ != nullptr) {
      std::fflush(record_);
    }
  }

private:
  std::FILE* record_;
};

// One keep-alive connection, its own event stream and its own reconnect backoff.
class connection {
public:
  connection(asio::io_context& io, run_state& run, std::size_t index)
      : stream_(io), run_(run), index_(index), random_(run.opts.seed * 1000003u + index) {}

  asio::awaitable<void> loop() {
    auto delay = reconnect_delay_min;
    while (run_.running()) {
      if (!connected_) {
        if (!co_await do_connect()) {
          count_transport_error();
          co_await pause(delay);
          delay = std::min(delay * 2, reconnect_delay_max);
          continue;
        }
      }
      std::optional<clock_type::time_point> due;
      if (run_.opts.rate > 0) {
        due = run_.take_ticket();
        if (*due >= run_.deadline) {
          break;
        }
        co_await wait_until(*due);
      }
      const bool ok = co_await do_request(due);
      if (ok) {
        delay = reconnect_delay_min;
      } else if (!connected_) {
        co_await pause(delay);
        delay = std::min(delay * 2, reconnect_delay_max);
      }
    }
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

private:
  static auto use_awaitable_ec(beast::error_code& ec) {
    return asio::redirect_error(asio::use_awaitable, ec);
  }

  // Deadlines never reach past the hard stop, so the run ends on time even if the server hangs.
  clock_type::duration budget(clock_type::duration timeout) const {
    const auto left = run_.hard_stop - clock_type::now();
    return std::max(clock_type::duration::zero(), std::min(timeout, left));
  }

  asio::awaitable<bool> do_connect() {
    beast::error_code ec;
    stream_.expires_after(budget(connect_timeout));
    co_await stream_.async_connect(run_.endpoints, use_awaitable_ec(ec));
    if (ec) {
      report_once("connect: " + ec.message());
      stream_.close();
      co_return false;
    }
    stream_.socket().set_option(tcp::no_delay(true), ec);
    connected_ = true;
    co_return true;
  }

  asio::awaitable<void> pause(clock_type::duration delay) {
    co_await wait_until(std::min(clock_type::now() + delay, run_.deadline));
  }

  asio::awaitable<void> wait_until(clock_type::time_point when) {
    asio::steady_timer timer(stream_.get_executor());
    timer.expires_at(when);
    beast::error_code ec;
    co_await timer.async_wait(use_awaitable_ec(ec));
  }

  void count_transport_error() {
    ++run_.totals.errors;
    ++run_.totals.transport_errors;
  }

  void disconnect() {
    connected_ = false;
    stream_.close();
  }

  void build_body() {
    std::string& body = request_.body();
    body.clear();
    body += '[';
    const std::string occurred_at = utc_now_rfc3339();
    sent_ids_.clear();
    for (std::size_t i = 0; i < run_.opts.batch; ++i) {
      if (i > 0) {
        body += ',';
      }
      std::string id = std::to_string(index_) + "-" + std::to_string(next_event_++);
      append_event(body, id, occurred_at);
      sent_ids_.push_back(std::move(id));
    }
    body += ']';
  }

  void append_event(std::string& body, const std::string& id, const std::string& occurred_at) {
    const auto& opts = run_.opts;
    char sku[32];
    std::snprintf(sku, sizeof sku, "SKU-%06zu", static_cast<std::size_t>(random_() % opts.skus));
    const std::string& location = opts.locations[random_() % opts.locations.size()];
    body += R"({"id":")" + id + R"(","source":")" + run_.source + R"(","sku":")" + sku +
            R"(","location":")" + location + R"(","occurred_at":")" + occurred_at + R"(",)";
    // Mix: 40% received, 20% adjusted, 40% order_created; receipts outweigh sales so the
    // stock the orders draw on keeps coming.
    const auto pick = random_() % 10;
    if (pick < 4) {
      body += R"("type":"received","qty":)" + std::to_string(1 + random_() % 50) + "}";
    } else if (pick < 6) {
      const auto magnitude = static_cast<std::int64_t>(1 + random_() % 5);
      const std::int64_t delta = random_() % 2 == 0 ? magnitude : -magnitude;
      body += R"("type":"adjusted","delta":)" + std::to_string(delta) +
              R"(,"reason":"stockload"})";
    } else {
      body += R"("type":"order_created","qty":)" + std::to_string(1 + random_() % 3) +
              R"(,"order_id":"o-)" + id + R"(","line_id":"1","channel":")" + opts.channel +
              R"("})";
    }
  }

  void prepare_request() {
    request_.method(http::verb::post);
    request_.target("/v1/events");
    request_.version(11);
    request_.set(http::field::host, run_.opts.host);
    request_.set(http::field::content_type, "application/json");
    request_.set(http::field::user_agent, "stockload");
    if (!run_.opts.token.empty()) {
      request_.set(http::field::authorization, "Bearer " + run_.opts.token);
    }
    request_.keep_alive(true);
    build_body();
    request_.prepare_payload();
  }

  // Sends one request and checks its answer; false when it failed. Open loop passes the slot the
  // request was scheduled for; closed loop measures from the write (body building excluded).
  asio::awaitable<bool> do_request(std::optional<clock_type::time_point> due) {
    prepare_request();
    const clock_type::time_point sent = due.value_or(clock_type::now());
    beast::error_code ec;
    stream_.expires_after(budget(request_timeout));
    co_await http::async_write(stream_, request_, use_awaitable_ec(ec));
    if (ec) {
      report_once("write: " + ec.message());
      count_transport_error();
      disconnect();
      co_return false;
    }
    run_.totals.events_sent += run_.opts.batch;
    http::response_parser<http::string_body> parser;
    parser.body_limit(response_body_bytes_max);
    stream_.expires_after(budget(request_timeout));
    co_await http::async_read(stream_, buffer_, parser, use_awaitable_ec(ec));
    if (ec) {
      report_once("read: " + ec.message());
      count_transport_error();
      disconnect();
      co_return false;
    }
    const auto elapsed = clock_type::now() - sent;
    run_.latency.record(static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count()));
    ++run_.totals.requests;
    const auto& response = parser.get();
    const bool ok = on_response(response);
    if (!response.keep_alive()) {
      disconnect();
    }
    co_return ok;
  }

  bool on_response(const http::response<http::string_body>& response) {
    if (response.result() == http::status::service_unavailable) {
      ++run_.totals.overloaded;
      return false;
    }
    if (response.result() != http::status::ok) {
      ++run_.totals.errors;
      report_once("HTTP " + std::to_string(response.result_int()) + ": " +
                  response.body().substr(0, 200));
      return false;
    }
    json_reader reader(response.body());
    if (!reader.results(rows_) || rows_.size() != sent_ids_.size()) {
      ++run_.totals.errors;
      report_once("answer without one result per event: " + response.body().substr(0, 200));
      return false;
    }
    bool ok = true;
    for (std::size_t i = 0; i < rows_.size(); ++i) {
      const result_row& row = rows_[i];
      if (row.id != sent_ids_[i]) {
        ok = false;
        continue;
      }
      if (row.status == "accepted") {
        ++run_.totals.events_accepted;
        run_.record(row.id, row.seq);
      } else if (row.status == "duplicate") {
        ++run_.totals.events_duplicate;
        run_.record(row.id, row.seq);
      } else if (row.status == "rejected") {
        ++run_.totals.events_rejected;
      } else {
        ok = false;
      }
    }
    run_.flush_record();
    if (!ok) {
      ++run_.totals.errors;
      report_once("results out of order or with an unknown status");
    }
    return ok;
  }

  // The first problem of each connection goes to stderr; the counters carry the rest.
  void report_once(const std::string& message) {
    if (!reported_) {
      reported_ = true;
      std::fprintf(stderr, "stockload: connection %zu: %s\n", index_, message.c_str());
    }
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> request_;
  std::vector<std::string> sent_ids_;
  std::vector<result_row> rows_;
  run_state& run_;
  std::size_t index_;
  std::mt19937_64 random_;
  std::uint64_t next_event_ = 0;
  bool connected_ = false;
  bool reported_ = false;
};

void print_summary(const run_state& run, double elapsed_s) {
  const counters& c = run.totals;
  const auto per_s = [&](std::uint64_t n) {
    return elapsed_s > 0 ? static_cast<double>(n) / elapsed_s : 0.0;
  };
  std::printf(
      "{\"mode\":\"%s\",\"connections\":%zu,\"batch\":%zu,\"duration_s\":%.3f,"
      "\"requests\":%" PRIu64 ",\"events_accepted\":%" PRIu64 ",\"events_per_s\":%.1f,"
      "\"requests_per_s\":%.1f,\"latency_ms\":{\"p50\":%.3f,\"p99\":%.3f,\"max\":%.3f},"
      "\"errors\":%" PRIu64 ",\"overloaded\":%" PRIu64 ",\"events_duplicate\":%" PRIu64
      ",\"events_rejected\":%" PRIu64 ",\"transport_errors\":%" PRIu64 ",\"rate\":%.1f"
      ",\"source\":\"%s\"}\n",
      run.opts.mode == send_mode::single ? "single" : "batched", run.opts.connections,
      run.opts.batch, elapsed_s, c.requests, c.events_accepted, per_s(c.events_accepted),
      per_s(c.requests), run.latency.percentile_ms(0.50), run.latency.percentile_ms(0.99),
      run.latency.max_ms(), c.errors, c.overloaded, c.events_duplicate, c.events_rejected,
      c.transport_errors, run.opts.rate, run.source.c_str());
  std::fflush(stdout);
}

int run(const options& opts) {
  asio::io_context io(1);
  std::vector<tcp::endpoint> endpoints;
  if (auto problem = resolve_loopback(io, opts, endpoints)) {
    std::fprintf(stderr, "stockload: %s\n", problem->c_str());
    return 2;
  }
  std::FILE* record = nullptr;
  if (!opts.record_path.empty()) {
    record = std::fopen(opts.record_path.c_str(), "a");
    if (record == nullptr) {
      std::fprintf(stderr, "stockload: cannot open %s: %s\n", opts.record_path.c_str(),
                   std::strerror(errno));
      return 2;
    }
  }
  run_state state(opts, std::move(endpoints), record);
  state.start = clock_type::now();
  state.deadline = state.start + std::chrono::seconds(opts.duration_s);
  state.hard_stop = state.deadline + drain_timeout;

  std::vector<std::unique_ptr<connection>> connections;
  connections.reserve(opts.connections);
  for (std::size_t i = 0; i < opts.connections; ++i) {
    connections.push_back(std::make_unique<connection>(io, state, i));
    asio::co_spawn(io, connections.back()->loop(), asio::detached);
  }
  int status = 0;
  try {
    io.run();
  } catch (const std::exception& e) {
    // Asio rethrows from run() what escaped a coroutine (e.g. bad_alloc): report, fail the run.
    std::fprintf(stderr, "stockload: %s\n", e.what());
    status = 1;
  }
  const std::chrono::duration<double> elapsed = clock_type::now() - state.start;
  if (record != nullptr) {
    std::fclose(record);
  }
  print_summary(state, elapsed.count());
  if (state.totals.transport_errors > 0) {
    status = 1;
  }
  return status;
}

} // namespace

int main(int argc, char** argv) {
  options opts;
  if (auto problem = parse_options(argc, argv, opts)) {
    if (problem->empty()) {
      std::fputs(usage_text, stdout);
      return 0;
    }
    std::fprintf(stderr, "stockload: %s\n%s", problem->c_str(), usage_text);
    return 2;
  }
  return run(opts);
}
