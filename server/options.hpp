#pragma once
// Options of the HTTP layer (built by config/, consumed by server/).
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace stockd::server {

enum class scope : std::uint8_t { ingest = 1, read = 2, admin = 4 };

struct token_entry {
  std::string name;           // for logs and audit; never the secret
  std::string sha256_hex;     // hex SHA-256 of the bearer token: the secret itself is not kept
  std::uint8_t scopes = 0;    // bit set of `scope`
};

struct options {
  std::string listen_host = "127.0.0.1";
  std::uint16_t listen_port = 8080;
  /// [server] admin_listen: when set, /v1/admin/* is served only on this second listener (bound
  /// to an operators' address) and answers 404 on the public one.
  bool admin_listen = false;
  std::string admin_listen_host;
  std::uint16_t admin_listen_port = 0;
  unsigned io_threads = 1;
  std::size_t header_bytes_max = 16 * 1024;
  std::size_t body_bytes_max = 32 * 1024 * 1024;
  std::chrono::milliseconds read_timeout{30'000};   // a whole request, header and body
  std::chrono::milliseconds write_timeout{30'000};
  std::chrono::milliseconds idle_timeout{60'000};   // keep-alive between requests
  std::size_t connections_max = 4096;               // per listener; past it a new one is closed at once
  std::chrono::seconds retry_after{1};              // sent with 503 overloaded
  std::size_t ledger_page_max = 1000;
  // POST /v1/snapshots/{location} is streamed, so it has limits of its own: the whole body may
  // be large, but it is read `snapshot_chunk_bytes` at a time (docs/semantics.md, Snapshots).
  std::uint64_t snapshot_bytes_max = std::uint64_t{4} << 30;
  std::size_t snapshot_line_bytes_max = 64 * 1024;
  std::size_t snapshot_chunk_bytes = 256 * 1024;
  std::chrono::milliseconds snapshot_timeout{3'600'000};  // the whole upload; each chunk has
                                                          // read_timeout as well
  std::size_t snapshots_concurrent_max = 4;               // uploads at once; 503 past it
  // GET /v1/history (the dashboard's charts): one sample per interval, an hour of them.
  std::chrono::milliseconds history_interval{10'000};
  std::vector<token_entry> tokens;
};

} // namespace stockd::server
