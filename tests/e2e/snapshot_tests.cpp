// End-to-end: POST /v1/snapshots/{location} against the real stockd (DESIGN §2 dated counts,
// §5). A snapshot streams NDJSON lines that become `counted` events; the server holds a chunk,
// a line and a few batches of it at a time, which the memory test measures from /proc.
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <utility>  // before asio (toolchain.md: awaitable.hpp and std::exchange under C++20)
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <catch2/catch.hpp>

#include "tests/e2e/event_json.hpp"
#include "tests/e2e/server_process.hpp"

namespace stockd::e2e {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

constexpr std::string_view as_of_1004 = "2026-11-27T10:04:00Z";

std::string snapshot_target(std::string_view location, std::string_view source,
                            std::string_view id, std::string_view as_of = as_of_1004) {
  std::string target = "/v1/snapshots/" + std::string(location) + "?source=" +
                       std::string(source) + "&id=" + std::string(id);
  if (!as_of.empty()) {
    target += "&as_of=" + std::string(as_of);
  }
  return target;
}

std::string count_line(std::string_view sku, std::int64_t counted, std::string_view extra = {}) {
  std::string out = "{\"sku\":\"" + std::string(sku) + "\",\"counted\":" + std::to_string(counted);
  if (!extra.empty()) {
    out += ',';
    out += extra;
  }
  out += "}\n";
  return out;
}

struct line_error {
  std::uint64_t line = 0;
  std::string field;
  std::string error;
};

/// The answer to a snapshot: the summary, and the rejected lines it lists.
struct snapshot_summary {
  std::string snapshot;
  std::string source;
  std::string location;
  std::uint64_t lines = 0;
  std::uint64_t accepted = 0;
  std::uint64_t duplicate = 0;
  std::uint64_t rejected = 0;
  std::optional<std::uint64_t> durable;  // failure answers only
  std::string error;                     // failure answers only
  std::vector<line_error> errors;
};

snapshot_summary parse_summary(const std::string& body) {
  json_doc doc(body);
  snapshot_summary s;
  s.snapshot = std::string(doc["snapshot"].get_string().value());
  s.source = std::string(doc["source"].get_string().value());
  s.location = std::string(doc["location"].get_string().value());
  s.lines = doc["lines"].get_uint64().value();
  s.accepted = doc["accepted"].get_uint64().value();
  s.duplicate = doc["duplicate"].get_uint64().value();
  s.rejected = doc["rejected"].get_uint64().value();
  if (auto durable = doc.root()["durable"]; !durable.error()) {
    s.durable = durable.get_uint64().value();
  }
  if (auto error = doc.root()["error"]; !error.error()) {
    s.error = std::string(error.get_string().value());
  }
  for (simdjson::dom::element e : doc["errors"].get_array()) {
    s.errors.push_back(line_error{e["line"].get_uint64().value(),
                                  std::string(e["field"].get_string().value()),
                                  std::string(e["error"].get_string().value())});
  }
  return s;
}

http_response post_snapshot(const server_process& server, const std::string& target,
                            const std::string& body) {
  return server.post(target, body, "application/x-ndjson");
}

snapshot_summary post_snapshot_ok(const server_process& server, const std::string& target,
                                  const std::string& body) {
  auto res = post_snapshot(server, target, body);
  INFO("POST " << target << " answered " << res.status << " " << res.transport_error << res.body);
  REQUIRE(res.status == 200);
  return parse_summary(res.body);
}

/// How a body is streamed by stream_post.
struct stream_options {
  bool chunked = true;                     // else Content-Length, which must be given
  std::uint64_t content_length = 0;
  bool expect_continue = false;            // send Expect: 100-continue and wait for the 100
  std::string token;
  std::chrono::milliseconds timeout{60'000};  // each step
  /// Called after each piece with the bytes sent so far.
  std::function<void(std::uint64_t)> progress;
};

/// POSTs a body that `next` produces piece by piece (false when there is no more), the way a
/// system of record streams a large export, and reads the answer. The client holds one piece.
http_response stream_post(std::uint16_t port, const std::string& target,
                          const std::function<bool(std::string&)>& next,
                          const stream_options& opts) {
  net::io_context ioc;
  beast::tcp_stream stream(ioc);
  beast::error_code ec;
  http_response out;
  auto run = [&ioc] {
    ioc.restart();
    ioc.run();
  };
  auto fail = [&](std::string_view step) {
    out.transport_error = std::string(step) + ": " + ec.message();
    return out;
  };
  stream.expires_after(opts.timeout);
  stream.async_connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port),
                       [&ec](beast::error_code e) { ec = e; });
  run();
  if (ec) {
    return fail("connect");
  }
  http::request<http::empty_body> req{http::verb::post, target, 11};
  req.set(http::field::host, "127.0.0.1:" + std::to_string(port));
  req.set(http::field::content_type, "application/x-ndjson");
  req.set(http::field::authorization, "Bearer " + opts.token);
  if (opts.chunked) {
    req.chunked(true);
  } else {
    req.content_length(opts.content_length);
  }
  if (opts.expect_continue) {
    req.set(http::field::expect, "100-continue");
  }
  http::request_serializer<http::empty_body> serializer(req);
  stream.expires_after(opts.timeout);
  http::async_write_header(stream, serializer,
                           [&ec](beast::error_code e, std::size_t) { ec = e; });
  run();
  if (ec) {
    return fail("write header");
  }

  beast::flat_buffer buffer;
  std::optional<http::response_parser<http::string_body>> parser;
  parser.emplace();
  parser->body_limit(16 * 1024 * 1024);
  bool answered_early = false;
  if (opts.expect_continue) {
    stream.expires_after(opts.timeout);
    http::async_read_header(stream, buffer, *parser,
                            [&ec](beast::error_code e, std::size_t) { ec = e; });
    run();
    if (ec) {
      return fail("read 100 Continue");
    }
    if (parser->get().result() == http::status::continue_) {
      parser.emplace();
      parser->body_limit(16 * 1024 * 1024);
    } else {
      answered_early = true;  // a final answer instead of 100: send nothing
    }
  }

  beast::error_code write_error;
  if (!answered_early) {
    std::string piece;
    std::uint64_t sent = 0;
    while (next(piece)) {
      if (piece.empty()) {
        continue;
      }
      stream.expires_after(opts.timeout);
      auto on_write = [&ec](beast::error_code e, std::size_t) { ec = e; };
      if (opts.chunked) {
        net::async_write(stream, http::make_chunk(net::buffer(piece)), on_write);
      } else {
        net::async_write(stream, net::buffer(piece), on_write);
      }
      run();
      if (ec) {
        write_error = ec;
        break;
      }
      sent += piece.size();
      if (opts.progress) {
        opts.progress(sent);
      }
    }
    if (!write_error && opts.chunked) {
      stream.expires_after(opts.timeout);
      net::async_write(stream, http::make_chunk_last(),
                       [&ec](beast::error_code e, std::size_t) { ec = e; });
      run();
      write_error = ec;
    }
  }
  // A server may answer before the whole body and close (413): read what it said first.
  stream.expires_after(opts.timeout);
  http::async_read(stream, buffer, *parser, [&ec](beast::error_code e, std::size_t) { ec = e; });
  run();
  if (ec) {
    if (write_error) {
      ec = write_error;
      return fail("write body");
    }
    return fail("read answer");
  }
  auto res = parser->release();
  out.status = res.result_int();
  out.body = std::move(res.body());
  for (const auto& field : res) {
    std::string name(field.name_string());
    for (char& c : name) {
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    out.headers[name] = std::string(field.value());
  }
  return out;
}

/// The server's memory from /proc/<pid>/status, in bytes.
struct process_memory {
  std::uint64_t peak = 0;  // VmHWM: the most resident memory so far
  std::uint64_t rss = 0;   // VmRSS
  std::uint64_t anon = 0;  // RssAnon: the heap and stacks, without mapped files (LMDB)
};

process_memory read_memory(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  process_memory m;
  std::string line;
  auto value_of = [&line](std::string_view name) -> std::optional<std::uint64_t> {
    if (line.rfind(name, 0) != 0) {
      return std::nullopt;
    }
    std::istringstream fields(line.substr(name.size()));
    std::uint64_t kb = 0;
    fields >> kb;
    return kb * 1024;
  };
  while (std::getline(in, line)) {
    if (auto v = value_of("VmHWM:")) {
      m.peak = *v;
    } else if (auto v2 = value_of("VmRSS:")) {
      m.rss = *v2;
    } else if (auto v3 = value_of("RssAnon:")) {
      m.anon = *v3;
    }
  }
  REQUIRE(m.peak > 0);
  return m;
}

double mib(std::uint64_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0); }

} // namespace

TEST_CASE("a snapshot sets on_hand per SKU like counted events and keeps a receipt dated after "
          "its as_of",
          "[e2e][snapshots]") {
  server_process server;
  server.start();
  // A: 24 received at 10:15 and 3 sold; B: 5 received at 10:15.
  post_accepted(server, {received_json("r1", "SKU-A", 24),
                         order_created_json("o1", "SKU-A", 3, "order-1"),
                         received_json("r2", "SKU-B", 5)});
  REQUIRE(read_location(server, "SKU-A").on_hand == 24);

  // Counted at 10:04: A 9 (the 10:15 receipt came after the count, so it stays: 9 + 24), B 2 as
  // of 11:00 by its own as_of (after the receipt: exactly 2), C 6 (new to stockd).
  const std::string body = count_line("SKU-A", 9) +
                           count_line("SKU-B", 2, R"("as_of":"2026-11-27T11:00:00Z")") +
                           count_line("SKU-C", 6);
  const std::string target = snapshot_target("main", "erp", "inv-1127");
  snapshot_summary s = post_snapshot_ok(server, target, body);
  CHECK(s.snapshot == "inv-1127");
  CHECK(s.source == "erp");
  CHECK(s.location == "main");
  CHECK(s.lines == 3);
  CHECK(s.accepted == 3);
  CHECK(s.duplicate == 0);
  CHECK(s.rejected == 0);
  CHECK(s.errors.empty());
  CHECK(journal_head(server) == 6);

  location_view a = read_location(server, "SKU-A");
  CHECK(a.on_hand == 33);
  CHECK(a.committed == 3);
  CHECK(a.available == 30);
  CHECK(a.last_event_id == "inv-1127:SKU-A");
  CHECK(read_location(server, "SKU-B").on_hand == 2);
  CHECK(read_location(server, "SKU-C").on_hand == 6);
  auto ledger = read_full_ledger(server, "SKU-A");
  REQUIRE(ledger.size() == 3);
  CHECK(ledger[0].type == "counted");
  CHECK(ledger[0].source == "erp");
  CHECK(ledger[0].id == "inv-1127:SKU-A");

  SECTION("re-posting the same snapshot answers every line duplicate and changes nothing") {
    const std::string state = server.get("/v1/skus/SKU-A").body;
    snapshot_summary again = post_snapshot_ok(server, target, body);
    CHECK(again.lines == 3);
    CHECK(again.accepted == 0);
    CHECK(again.duplicate == 3);
    CHECK(journal_head(server) == 6);
    CHECK(server.get("/v1/skus/SKU-A").body == state);
  }

  SECTION("a later snapshot with another id counts again; an older one is stale") {
    snapshot_summary later = post_snapshot_ok(
        server, snapshot_target("main", "erp", "inv-1128", "2026-11-28T08:00:00Z"),
        count_line("SKU-A", 20));
    CHECK(later.accepted == 1);
    CHECK(read_location(server, "SKU-A").on_hand == 20);
    // Journaled (accepted), but older than the last applied count: the engine records it
    // stale and on_hand stays.
    snapshot_summary older = post_snapshot_ok(
        server, snapshot_target("main", "erp", "inv-1126", "2026-11-26T08:00:00Z"),
        count_line("SKU-A", 1));
    CHECK(older.accepted == 1);
    CHECK(read_location(server, "SKU-A").on_hand == 20);
  }

  SECTION("the counts are in /v1/status like events") {
    json_doc status = server.get_json("/v1/status");
    CHECK(status["events"]["accepted"].get_uint64().value() == 6);
  }
}

TEST_CASE("bad snapshot lines are rejected with their line numbers and the rest is applied",
          "[e2e][snapshots]") {
  server_options opts;
  opts.config_toml = R"(
[limits]
snapshot_line_bytes_max = 1024

[[skus]]
id = "TSHIRT-RED-M"
units = { case = 24 }

[[skus]]
id = "GIFT-BOX"
components = [{ sku = "TSHIRT-RED-M", qty = 2 }, { sku = "MUG", qty = 1 }]
)";
  server_process server(opts);
  server.start();
  std::string body;
  body += count_line("TSHIRT-RED-M", 2, R"("unit":"case")");           // 1: 48
  body += "{\"sku\":\"MUG\",\"counted\":\n";                           // 2: malformed
  body += count_line("GIFT-BOX", 1);                                   // 3: a kit
  body += "\n";                                                        // 4: blank
  body += count_line("MUG", -2);                                       // 5: negative
  body += count_line("MUG", 1, R"("unit":"pallet")");                  // 6: unknown unit
  body += count_line("MUG", 3, "\"pad\":\"" + std::string(2000, 'x') + "\"");  // 7: too long
  body += count_line("MUG", 7, R"("location":"elsewhere")");           // 8: names a location
  body += count_line("MUG", 11);                                       // 9
  body += count_line("CAP", 4);                                        // 10, no final newline:
  body.pop_back();
  snapshot_summary s = post_snapshot_ok(server, snapshot_target("main", "wms", "s-1"), body);
  CHECK(s.lines == 9);  // the blank line is not a count
  CHECK(s.accepted == 3);
  CHECK(s.rejected == 6);
  REQUIRE(s.errors.size() == 6);
  CHECK(s.errors[0].line == 2);
  CHECK(s.errors[0].field.empty());
  CHECK(s.errors[0].error.rfind("malformed JSON", 0) == 0);
  CHECK(s.errors[1].line == 3);
  CHECK(s.errors[1].field == "sku");
  CHECK(s.errors[1].error.rfind("kits have no stock of their own", 0) == 0);
  CHECK(s.errors[2].line == 5);
  CHECK(s.errors[2].field == "counted");
  CHECK(s.errors[3].line == 6);
  CHECK(s.errors[3].field == "unit");
  CHECK(s.errors[4].line == 7);
  CHECK(s.errors[4].error == "longer than 1024 bytes");
  CHECK(s.errors[5].line == 8);
  CHECK(s.errors[5].field == "location");

  CHECK(read_location(server, "TSHIRT-RED-M").on_hand == 48);
  CHECK(read_location(server, "MUG").on_hand == 11);
  CHECK(read_location(server, "CAP").on_hand == 4);
  CHECK(server.get("/v1/skus/GIFT-BOX").status == 200);  // a kit answers from its components
  CHECK(journal_head(server) == 3);
  json_doc status = server.get_json("/v1/status");
  CHECK(status["events"]["rejected"].get_uint64().value() == 6);
  CHECK(status["unknown_units"]["count"].get_uint64().value() == 1);
}

TEST_CASE("a snapshot names its source, id and as_of in the query and its location in the path",
          "[e2e][snapshots]") {
  server_options opts;
  opts.config_toml = R"(
[[locations]]
id = "DC-EAST"
aliases = { "erp" = ["0001"] }

[[locations]]
id = "main"

[[mappings]]
source = "erp"
skus = { "ERP-1001" = "TSHIRT-RED-M" }
)";
  server_process server(opts);
  server.start();
  const std::string line = count_line("ERP-1001", 5);

  SECTION("the source's alias and item id resolve") {
    snapshot_summary s = post_snapshot_ok(server, snapshot_target("0001", "erp", "e-1"), line);
    CHECK(s.location == "DC-EAST");
    CHECK(s.accepted == 1);
    CHECK(read_location(server, "TSHIRT-RED-M", "DC-EAST").on_hand == 5);
  }
  SECTION("an as_of with an offset may come percent-encoded") {
    snapshot_summary s = post_snapshot_ok(
        server, snapshot_target("0001", "erp", "e-2", "2026-11-27T11%3A04%3A00%2B01%3A00"), line);
    CHECK(s.accepted == 1);
    auto ledger = read_ledger_page(server, "TSHIRT-RED-M", "limit=1");
    REQUIRE(ledger.events.size() == 1);
    CHECK(ledger.events[0].id == "e-2:TSHIRT-RED-M");
  }
  SECTION("without as_of every line must bring its own") {
    snapshot_summary s = post_snapshot_ok(
        server, snapshot_target("0001", "erp", "e-3", ""),
        line + count_line("ERP-1001", 6, R"("as_of":"2026-11-27T10:00:00Z")"));
    CHECK(s.rejected == 1);
    REQUIRE(s.errors.size() == 1);
    CHECK(s.errors[0].line == 1);
    CHECK(s.errors[0].field == "as_of");
    CHECK(s.duplicate == 0);
    CHECK(s.accepted == 1);
  }
  SECTION("missing or malformed parameters answer 400 naming them, and journal nothing") {
    auto field_of = [](const http_response& res) {
      return std::string(json_doc(res.body)["field"].get_string().value());
    };
    auto no_source = post_snapshot(server, "/v1/snapshots/main?id=x&as_of=2026-11-27T10:04:00Z",
                                   line);
    CHECK(no_source.status == 400);
    CHECK(field_of(no_source) == "source");
    auto no_id = post_snapshot(server, "/v1/snapshots/main?source=wms", line);
    CHECK(no_id.status == 400);
    CHECK(field_of(no_id) == "id");
    auto bad_as_of = post_snapshot(server, snapshot_target("main", "wms", "x", "10:04"), line);
    CHECK(bad_as_of.status == 400);
    CHECK(field_of(bad_as_of) == "as_of");
    auto reserved = post_snapshot(server, snapshot_target("main", "stockd", "x"), line);
    CHECK(reserved.status == 400);
    CHECK(field_of(reserved) == "source");
    CHECK(journal_head(server) == 0);
  }
  SECTION("a location the source does not know answers 404") {
    // "0001" is the ERP's name for DC-EAST, not the WMS's.
    auto unknown = post_snapshot(server, snapshot_target("0001", "wms", "x"), line);
    CHECK(unknown.status == 404);
    CHECK(json_doc(unknown.body)["field"].get_string().value() == "location");
    CHECK(post_snapshot(server, snapshot_target("DC-NOWHERE", "erp", "x"), line).status == 404);
    CHECK(journal_head(server) == 0);
  }
  SECTION("only POST") {
    CHECK(server.get(snapshot_target("main", "wms", "x")).status == 405);
  }
}

TEST_CASE("a snapshot needs a token with the ingest scope", "[e2e][snapshots]") {
  server_options opts;
  // printf %s e2e-reader-token | sha256sum
  opts.config_toml = R"(
[[tokens]]
name = "reader"
sha256 = "2d322c4212048209849d8ae06f985be7df342a4af41b95b46a2ef5c4f54f66af"
scopes = ["read"]
)";
  server_process server(opts);
  server.start();
  http_request req;
  req.method = "POST";
  req.target = snapshot_target("main", "wms", "t-1");
  req.body = count_line("SKU-T", 1);
  req.content_type = "application/x-ndjson";
  http_client client("127.0.0.1", server.port());

  auto none = client.send(req);
  CHECK(none.status == 401);
  CHECK(none.header("WWW-Authenticate") == "Bearer");
  req.token = "e2e-reader-token";
  auto reader = client.send(req);
  CHECK(reader.status == 403);
  CHECK(json_doc(reader.body)["field"].get_string().value() == "Authorization");
  // The same token reads.
  http_request read;
  read.target = "/v1/status";
  read.token = "e2e-reader-token";
  CHECK(client.send(read).status == 200);
  CHECK(journal_head(server) == 0);

  // The refusals were made before the body was read: the connection closed, a new one works.
  req.token = server.token();
  auto ok = client.send(req);
  CHECK(ok.status == 200);
  CHECK(journal_head(server) == 1);
}

TEST_CASE("a streamed snapshot, chunked or with Expect: 100-continue, is applied as it arrives",
          "[e2e][snapshots]") {
  server_process server;
  server.start();
  constexpr int skus = 10'000;
  int i = 0;
  auto next = [&i](std::string& piece) {
    piece.clear();
    for (; i < skus && piece.size() < 3000; ++i) {  // pieces end anywhere in a line
      piece += count_line("S-" + std::to_string(i), i % 13);
    }
    return !piece.empty();
  };
  stream_options opts;
  opts.token = server.token();

  SECTION("chunked transfer encoding") {
    auto res = stream_post(server.port(), snapshot_target("main", "wms", "chunked"), next, opts);
    INFO(res.transport_error << res.body);
    REQUIRE(res.status == 200);
    snapshot_summary s = parse_summary(res.body);
    CHECK(s.lines == skus);
    CHECK(s.accepted == skus);
  }
  SECTION("a Content-Length body after 100 Continue") {
    std::uint64_t length = 0;
    for (int k = 0; k < skus; ++k) {
      length += count_line("S-" + std::to_string(k), k % 13).size();
    }
    opts.chunked = false;
    opts.content_length = length;
    opts.expect_continue = true;
    auto res = stream_post(server.port(), snapshot_target("main", "wms", "sized"), next, opts);
    INFO(res.transport_error << res.body);
    REQUIRE(res.status == 200);
    CHECK(parse_summary(res.body).accepted == skus);
  }
  CHECK(read_location(server, "S-9998").on_hand == 9998 % 13);
  CHECK(read_location(server, "S-12").on_hand == 12);
  CHECK(journal_head(server) == skus);
}

TEST_CASE("a snapshot body over limits.snapshot_bytes_max answers 413", "[e2e][snapshots]") {
  server_options opts;
  opts.config_toml = "[limits]\nsnapshot_bytes_max = 4096\n";
  server_process server(opts);
  server.start();
  std::string small;
  for (int i = 0; i < 50; ++i) {
    small += count_line("L-" + std::to_string(i), 1);
  }
  REQUIRE(small.size() < 4096);
  CHECK(post_snapshot_ok(server, snapshot_target("main", "wms", "fits"), small).accepted == 50);

  // Refused from the Content-Length, before the body is read.
  std::string big = small;
  while (big.size() <= 4096) {
    big += small;
  }
  auto refused = post_snapshot(server, snapshot_target("main", "wms", "big"), big);
  INFO(refused.transport_error << refused.body);
  CHECK(refused.status == 413);
  if (refused.status == 413) {
    CHECK(json_doc(refused.body)["error"].get_string().value().find("4096") !=
          std::string::npos);
  }

  // Chunked, the limit is met mid-body: the answer is the summary so far, with the error.
  stream_options stream;
  stream.token = server.token();
  int pieces = 0;
  auto next = [&](std::string& piece) {
    piece = small;
    return ++pieces <= 4;
  };
  auto chunked = stream_post(server.port(), snapshot_target("main", "wms", "big-chunked"), next,
                             stream);
  INFO(chunked.transport_error << chunked.body);
  CHECK(chunked.status == 413);
  if (chunked.status == 413) {
    snapshot_summary s = parse_summary(chunked.body);
    CHECK(s.error.find("4096") != std::string::npos);
    REQUIRE(s.durable.has_value());
    CHECK(*s.durable == s.accepted + s.duplicate);
  }
  CHECK(journal_head(server) == 50);
}

TEST_CASE("a journal that cannot grow answers 507 with the lines already durable",
          "[e2e][snapshots]") {
  server_options opts;
  // A map too small for the snapshot, which may not grow: a commit fails with map_full.
  opts.config_toml = "[store]\nmap_size_mb = 2\nmap_size_max_mb = 2\n";
  server_process server(opts);
  server.start();
  std::string body;
  for (int i = 0; i < 40'000; ++i) {
    body += count_line("FULL-" + std::to_string(i), 1);
  }
  auto res = post_snapshot(server, snapshot_target("main", "wms", "too-big"), body);
  INFO(res.transport_error << res.body);
  REQUIRE(res.status == 507);
  snapshot_summary s = parse_summary(res.body);
  CHECK(s.error.find("map_full") != std::string::npos);
  REQUIRE(s.durable.has_value());
  CHECK(*s.durable == s.accepted);
  CHECK(s.accepted < 40'000);
  // What the answer calls durable is exactly what the journal holds.
  CHECK(journal_head(server) == s.accepted);
}

TEST_CASE("a stalled or endless snapshot upload is cut off, and what was durable stays",
          "[e2e][snapshots]") {
  server_options opts;
  opts.config_toml = "[server]\nread_timeout_ms = 400\nsnapshot_timeout_ms = 1500\n";
  server_process server(opts);
  server.start();
  // 5,000 lines: the first 4,096 make a batch, which commits; the rest wait for more lines.
  std::string first;
  for (int i = 0; i < 5000; ++i) {
    first += count_line("T-" + std::to_string(i), 3);
  }
  stream_options stream;
  stream.token = server.token();
  stream.timeout = std::chrono::milliseconds(5000);
  int pieces = 0;

  SECTION("a sender silent for longer than read_timeout_ms") {
    auto next = [&](std::string& piece) {
      if (pieces++ == 1) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1200));
      }
      piece = pieces == 1 ? first : count_line("T-late", 1);
      return pieces <= 2;
    };
    auto res = stream_post(server.port(), snapshot_target("main", "wms", "stalled"), next, stream);
    CHECK(res.status == 0);  // no answer: the connection was closed
  }
  SECTION("a sender that keeps trickling past snapshot_timeout_ms") {
    auto next = [&](std::string& piece) {
      if (pieces++ > 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
      }
      piece = pieces == 1 ? first : "\n";  // blank lines: progress, but never an end
      return pieces <= 40;
    };
    auto res = stream_post(server.port(), snapshot_target("main", "wms", "stalled"), next, stream);
    CHECK(res.status == 0);
  }
  CHECK(journal_head(server) == 4096);
  CHECK(read_location(server, "T-4095").on_hand == 3);
  // The sender tries again with the same snapshot: the durable lines answer duplicate.
  snapshot_summary again =
      post_snapshot_ok(server, snapshot_target("main", "wms", "stalled"), first);
  CHECK(again.duplicate == 4096);
  CHECK(again.accepted == 5000 - 4096);
  CHECK(journal_head(server) == 5000);
}

TEST_CASE("a snapshot of 1,000,000 lines needs no more server memory than one of 100,000",
          "[e2e][snapshots]") {
  server_process server;
  server.start();
  // The lines repeat 2,000 SKUs: the engine holds 2,000 states whatever the line count, so what
  // could grow with the body is the ingest path alone (HTTP, decoding, batches, journal).
  // Every line is decoded and goes through the journal; the lines after the first of each SKU
  // answer duplicate ("<snapshot id>:<sku>" again).
  constexpr std::size_t skus = 2'000;
  const std::string note(120, 'n');
  auto line_of = [&note](std::size_t i) {
    char sku[16];
    std::snprintf(sku, sizeof sku, "SNAP-%05zu", i % skus);
    return count_line(sku, static_cast<std::int64_t>(i % 50), "\"note\":\"" + note + "\"");
  };
  struct run {
    std::uint64_t body_bytes = 0;
    process_memory before;
    process_memory after;
    std::uint64_t anon_max = 0;  // sampled about once per MiB sent
    double seconds = 0;
  };
  auto stream_snapshot = [&](std::string_view id, std::string_view as_of, std::size_t lines) {
    run r;
    r.before = read_memory(server.pid());
    r.anon_max = r.before.anon;
    std::size_t next_line = 0;
    auto next = [&](std::string& piece) {
      piece.clear();
      while (next_line < lines && piece.size() < 64 * 1024) {
        piece += line_of(next_line++);
      }
      r.body_bytes += piece.size();
      return !piece.empty();
    };
    std::uint64_t sampled_at = 0;
    stream_options opts;
    opts.token = server.token();
    opts.progress = [&](std::uint64_t sent) {
      if (sent - sampled_at >= 1024 * 1024) {
        sampled_at = sent;
        r.anon_max = std::max(r.anon_max, read_memory(server.pid()).anon);
      }
    };
    const auto started = std::chrono::steady_clock::now();
    auto res = stream_post(server.port(), snapshot_target("main", "wms", id, as_of), next, opts);
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    INFO(res.transport_error << res.body);
    REQUIRE(res.status == 200);
    r.after = read_memory(server.pid());
    snapshot_summary s = parse_summary(res.body);
    CHECK(s.lines == lines);
    CHECK(s.accepted == skus);
    CHECK(s.duplicate == lines - skus);
    CHECK(s.rejected == 0);
    std::printf("snapshot memory: %zu lines, body %.1f MiB in %.2f s; server peak RSS %.1f -> "
                "%.1f MiB, anonymous RSS %.1f -> sampled max %.1f MiB\n",
                lines, mib(r.body_bytes), r.seconds, mib(r.before.peak), mib(r.after.peak),
                mib(r.before.anon), mib(r.anon_max));
    return r;
  };

  // STOCKD_E2E_SNAPSHOT_LINES=n runs a larger one by hand (the small one is a tenth of it).
#if defined(__SANITIZE_ADDRESS__)
  // Under ASan freed memory sits in a quarantine (256 MiB) and RSS grows with the bytes
  // allocated, whatever is live: run a smaller snapshot for its answers, measure nothing.
  constexpr bool measure = false;
  std::size_t lines = 100'000;
#else
  constexpr bool measure = true;
  std::size_t lines = 1'000'000;
#endif
  if (const char* env = std::getenv("STOCKD_E2E_SNAPSHOT_LINES"); env != nullptr) {
    lines = std::max<std::size_t>(std::strtoull(env, nullptr, 10), 10 * skus);
  }
  const run small = stream_snapshot("full-1126", "2026-11-26T10:00:00Z", lines / 10);
  const run large = stream_snapshot("full-1127", "2026-11-27T10:00:00Z", lines);
  CHECK(read_location(server, "SNAP-00007").on_hand == 7);
  CHECK(read_location(server, "SNAP-01999").on_hand == 1999 % 50);

  // What the small snapshot needed (its chunk, batches, parser, the writer's buffers) is
  // reused by the large one: ten times the body, and the peak moves by a few MiB (allocator
  // noise; measured 3 to 9 MiB). Buffering the body, or its decoded lines (~0.5 KiB each),
  // would add the extra body, or four times it.
  const std::uint64_t extra_body = large.body_bytes - small.body_bytes;
  const std::uint64_t peak_growth =
      large.after.peak > small.after.peak ? large.after.peak - small.after.peak : 0;
  const std::uint64_t anon_growth =
      large.anon_max > small.anon_max ? large.anon_max - small.anon_max : 0;
  std::printf("snapshot memory: 10x the body (+%.1f MiB) moved the peak by %.1f MiB and the "
              "sampled anonymous maximum by %.1f MiB\n",
              mib(extra_body), mib(peak_growth), mib(anon_growth));
  if (measure && lines >= 1'000'000) {
    CHECK(peak_growth < extra_body / 4);
    // And the whole server, engine and journal included, stays well below the body.
    CHECK(large.after.peak < large.body_bytes / 2);
  }
}

} // namespace stockd::e2e
