// Randomized streams through the real stockd binary over HTTP, held against the reference model
// (tests/engine/reference_model.*), with a printed seed per stream.
//
// One server runs for the whole test case; each seed owns its SKUs ("R<seed>", its component
// "R<seed>-B" and two kits "R<seed>-KA" = 2 x R<seed> + 1 x R<seed>-B, "R<seed>-KB" = 2 x
// R<seed>-B, so the kits share a component), which makes the seeds independent inside one
// server. Per seed, the stream holds:
//  - two streams of tests/engine/stream_generator (one per SKU, locations DC-EAST and DC-WEST):
//    every event type, parked lines, stale and dated counts, over-cancels, transfers both ways,
//    status changes, reservation events, invalid events (qty 0: rejected at ingest);
//  - kit order lines (order, cancel, payment failure, fulfilment, return) for both kits, which
//    ingest expands into component events;
//  - reorderings within windows of 4 events, random batch sizes, and duplicates: single events
//    and whole earlier batches posted again, in the same batch or later;
//  - reservations two ways: the generator's reservation names R0/R1 are posted as events from an
//    ordinary source ("gen"), with an `expires_at` that is absent, already past, a second ahead
//    or a day ahead (on the first hold of each id only: known issue below); R2/R3 go through
//    the reservation API (POST /v1/reservations with or without a location and with
//    expires_in_s absent, 1 or 3600; DELETE; POST .../commit with or without a line_id, also to
//    lines that exist; the same key again; ends of ids never held, or already ended). A client
//    may not send source "stockd" events (ingest refuses them), so the engine's own
//    reservation_created / _released / _committed / _expired entries are read back from the
//    SKU's ledger (GET /v1/skus/{sku}/events): each must belong to the API call in whose window
//    it was journaled, or be the expiry of a hold that had an expiry.
//
// The engine applies events in journal order. One connection per seed with sequential requests
// keeps a seed's journal order equal to its sending order, and the answers give each event's seq;
// reservation expiries run on the server's wall clock (the short holds are waited out: 1.2 s after
// the streams) and land in the journal wherever the timer fired, so the model is fed every entry
// of the seed's ledger in seq order: the posted
// events as this test built them (each must equal the ledger's copy field by field, which also
// checks kit expansion and the codec) and the engine's own entries. Every hold whose expiry has
// passed must have been expired by a journaled event; none may be due within ten minutes (the
// restarts must find the same state). A call that journaled nothing is judged against the model
// as of the last entry before it, with the expiries journaled between its neighbours counted as
// "maybe applied already" (available between the two bounds, "expired" accepted).
//
// `now` at ingest: the engine's apply() reads no clock (docs/semantics.md), parked events never
// expire inside the engine, and the generator keeps every occurred_at within two hours, so the
// count history window (24 h) is never reached; the only clock-driven behaviour is reservation
// expiry, handled as above.
//
// Checked per seed: every POST answer (accepted with a seq / duplicate with the original seq /
// rejected at ingest exactly for the events that must be), that the ledger holds exactly the
// expected entries, the answer of every reservation call against the model's state at that point
// of the journal (201 / 409 insufficient with its `available` / 201 replayed for the same key /
// 200 / 409 naming how the hold ended / 409 with the hold active when the engine refuses the
// commit / 404), and GET /v1/skus/{sku} for both SKUs (every bucket, on_hand, oversold,
// applied_seq, last_event) and GET /v1/skus/{kit} (kit availability overall, per location and per
// component). Then the server is killed with SIGKILL (checkpoints are off, so recovery rebuilds
// every state from the journal alone) and restarted, then stopped with SIGTERM and restarted
// (states from the final checkpoint), and every seed's answers must equal the live ones and the
// model again.
//
// Not covered here: open lines, parked events, holds and count history are not visible over
// HTTP (the actor-level test, tests/actors/random_engine_tests.cpp, compares them whole);
// location-less orders (the engine's location choice is not in the reference model); SKU
// mapping and units (tests/e2e/e2e_tests.cpp); concurrent clients on one SKU (reservation_tests);
// a line_id on a reservation_committed sent as an event (ingest does not read it; DESIGN §2
// lists only reservation_id and order_id).
//
// Sender reservation ids are reused across the generator's holds, and every hold may carry an
// expiry: each expiry's journal id names its hold (reservation_tests.cpp has the named case).
//
// Running: the default run drives `default_seed_count` seeds from `first_seed`; the environment
// variable STOCKD_RANDOM_HTTP_SEEDS=n changes the count (scripts/test-sanitizers.sh uses fewer),
// STOCKD_SEED=n runs that one seed alone, and the [.slow] case runs `slow_seed_count`
// (`e2e_tests "[slow]"`). `client_threads` seeds are driven at once, each on its own connection.
// A seed that fails is printed (INFO) with what differed, STOCKD_RANDOM_HTTP_TRACE=1 also prints
// its requests, answers and ledgers; add it to `regression_seeds` below with a line saying what
// it found, and it runs in every default run from then on.
#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <catch2/catch.hpp>

#include "engine/event.hpp"
#include "engine/time.hpp"
#include "tests/e2e/event_json.hpp"
#include "tests/e2e/server_process.hpp"
#include "tests/engine/reference_model.hpp"
#include "tests/engine/stream_generator.hpp"

namespace stockd::e2e {
namespace {

namespace engine = stockd::engine;
using engine::event;
using engine::event_type;
using engine::timestamp;
using std::chrono::milliseconds;
using steady = std::chrono::steady_clock;

// ---- what runs -------------------------------------------------------------------------------

constexpr std::uint32_t first_seed = 1;
constexpr int default_seed_count = 300;
constexpr int slow_seed_count = 3000;
// Seeds that once failed, each with what it found; they run in every default run (also when
// STOCKD_RANDOM_HTTP_SEEDS lowers the count). Add a failing seed here as {seed, "what it found"}
// before fixing what it found.
struct regression_seed {
  std::uint32_t seed;
  const char* found;
};
const std::vector<regression_seed> regression_seeds = {
    {69, "commit to an existing order line answered 200 while the engine refused it (1fa3b55)"},
    {144, "the same"},
    {229, "the same"},
    {1217, "a refused commit then a commit of the same hold: the test attributed the entry to "
           "the first"},
    {570, "a commit refused while an expiry was journaled around it (timing-dependent)"},
    {1877, "the same"},
};
// Seeds driven at once, one connection each (a seed's own requests stay sequential): the
// server's group commit then carries several seeds' events per fsync.
constexpr int client_threads = 4;

constexpr std::string_view gen_source = "gen";
constexpr std::string_view engine_source = "stockd";
const std::string east = "DC-EAST";
const std::string west = "DC-WEST";
const std::vector<std::string> locations = {east, west};  // config order

std::string sku_a(std::uint32_t seed) { return "R" + std::to_string(seed); }
std::string sku_b(std::uint32_t seed) { return sku_a(seed) + "-B"; }
std::string kit_a(std::uint32_t seed) { return sku_a(seed) + "-KA"; }
std::string kit_b(std::uint32_t seed) { return sku_a(seed) + "-KB"; }

using components = std::vector<std::pair<std::string, std::int64_t>>;
components kit_components(std::uint32_t seed, const std::string& kit) {
  if (kit == kit_a(seed)) {
    return {{sku_a(seed), 2}, {sku_b(seed), 1}};
  }
  return {{sku_b(seed), 2}};
}

std::string config_for(const std::vector<std::uint32_t>& seeds) {
  std::ostringstream out;
  // No checkpoints while the test runs: after kill -9, recovery has the journal alone.
  out << "[engine]\ncheckpoint_interval_ms = 3600000\n\n";
  for (const auto& l : locations) {
    out << "[[locations]]\nid = \"" << l << "\"\n\n";
  }
  for (auto seed : seeds) {
    for (const auto& kit : {kit_a(seed), kit_b(seed)}) {
      out << "[[skus]]\nid = \"" << kit << "\"\ncomponents = [";
      const auto parts = kit_components(seed, kit);
      for (std::size_t i = 0; i < parts.size(); ++i) {
        out << (i > 0 ? ", " : "") << "{ sku = \"" << parts[i].first
            << "\", qty = " << parts[i].second << " }";
      }
      out << "]\n\n";
    }
  }
  return out.str();
}

// ---- the plan of one seed --------------------------------------------------------------------

enum class expiry : std::uint8_t { none, past, soon, far };

struct planned_event {
  event ev;                        // as sent; expires_at is set when first sent (wall clock)
  expiry expires = expiry::none;   // reservation_created only
  components kit;                  // non-empty: ev.sku is a kit and ingest expands it
  bool rejected_at_ingest = false; // qty 0: the decoder refuses it
};

enum class call_kind : std::uint8_t { reserve, reserve_again, release, commit };

struct planned_call {
  call_kind kind = call_kind::reserve;
  std::string sku;
  std::string name;  // the generator's reservation name (R2, R3) the call is about
  std::int64_t qty = 0;
  bool named_location = true;
  std::optional<int> expires_in_s;
  std::string order_id;
  std::string line_id;
};

struct step {
  std::vector<std::size_t> batch;  // indices into plan::events; a repeated index is a duplicate
  std::optional<planned_call> call;
};

struct plan {
  std::uint32_t seed = 0;
  std::vector<planned_event> events;
  std::vector<step> steps;
};

bool must_reject_at_ingest(const event& ev) {
  switch (ev.type) {
    case event_type::adjusted: return ev.delta == 0;
    case event_type::counted: return ev.counted < 0;
    case event_type::status_changed: return ev.qty <= 0 || ev.from == ev.to;
    default: return ev.qty <= 0;
  }
}

/// Kit lines: a few orders per kit, one line each (so with the generator's twelve lines no SKU
/// closes more than the sixteen lines a state keeps; lines pushed out to the index and recalled
/// are tested against the model in tests/actors/random_engine_tests.cpp and tests/engine).
event kit_event(std::mt19937& rng, std::uint32_t seed) {
  auto pick = [&rng](int n) { return static_cast<int>(rng() % static_cast<std::uint32_t>(n)); };
  event ev;
  ev.type = std::array{event_type::order_created, event_type::order_created,
                       event_type::order_created, event_type::order_cancelled,
                       event_type::payment_failed, event_type::order_fulfilled,
                       event_type::order_fulfilled, event_type::return_received}[pick(8)];
  ev.sku = engine::sku_id(pick(2) == 0 ? kit_a(seed) : kit_b(seed));
  ev.location = engine::location_id(pick(8) == 0 ? west : east);
  ev.qty = 1 + pick(3);
  ev.order_id = "KO" + std::to_string(pick(3));
  ev.line_id = "1";
  if (ev.type == event_type::return_received) {
    ev.return_disposition = static_cast<engine::disposition>(pick(3));
  } else if (ev.type == event_type::order_created) {
    ev.channel = engine::channel_id("web");
  }
  ev.occurred_at = engine::testing::at("2026-11-27T10:00:00Z") + std::chrono::minutes{pick(120)};
  return ev;
}

plan make_plan(std::uint32_t seed) {
  plan p;
  p.seed = seed;
  std::mt19937 rng(seed);
  auto pick = [&rng](int n) { return static_cast<int>(rng() % static_cast<std::uint32_t>(n)); };

  // The raw material: the generator's streams for the two SKUs and the kit lines.
  std::vector<std::vector<event>> sources(3);
  engine::testing::stream_generator gen_a(seed);
  engine::testing::stream_generator gen_b(seed * 2654435761u + 0x5b);
  for (const auto& e : gen_a.make(60)) {
    sources[0].push_back(e.ev);
  }
  for (const auto& e : gen_b.make(30)) {
    sources[1].push_back(e.ev);
  }
  for (int i = 0; i < 16; ++i) {
    sources[2].push_back(kit_event(rng, seed));
  }
  // Interleaved at random, each source keeping its own order ...
  std::vector<std::pair<int, event>> merged;
  std::vector<std::size_t> next(3, 0);
  for (;;) {
    std::size_t left = 0;
    for (int s = 0; s < 3; ++s) {
      left += sources[static_cast<std::size_t>(s)].size() - next[static_cast<std::size_t>(s)];
    }
    if (left == 0) {
      break;
    }
    auto r = static_cast<std::size_t>(pick(static_cast<int>(left)));
    for (int s = 0; s < 3; ++s) {
      const auto su = static_cast<std::size_t>(s);
      const std::size_t here = sources[su].size() - next[su];
      if (r < here) {
        merged.emplace_back(s, sources[su][next[su]++]);
        break;
      }
      r -= here;
    }
  }
  // ... then reordered within windows of four.
  for (std::size_t w = 0; w + 1 < merged.size(); w += 4) {
    if (pick(2) == 0) {
      const auto end = std::min(merged.size(), w + 4);
      std::shuffle(merged.begin() + static_cast<std::ptrdiff_t>(w),
                   merged.begin() + static_cast<std::ptrdiff_t>(end), rng);
    }
  }

  // Renamed into the seed's namespace, made sendable, and cut into steps.
  step current;
  std::vector<std::size_t> sent;  // indices already in some batch, for duplicates
  std::vector<std::vector<std::size_t>> batches;
  auto flush = [&] {
    if (current.batch.empty()) {
      return;
    }
    // Duplicates: an earlier event again, sometimes twice in the same batch.
    if (!sent.empty() && pick(4) == 0) {
      current.batch.push_back(sent[static_cast<std::size_t>(pick(static_cast<int>(sent.size())))]);
    }
    if (pick(6) == 0) {
      current.batch.push_back(current.batch.front());
    }
    for (auto i : current.batch) {
      sent.push_back(i);
    }
    batches.push_back(current.batch);
    p.steps.push_back(std::move(current));
    current = step{};
    // A whole earlier batch, sent again as a retrying sender would.
    if (pick(12) == 0) {
      step again;
      again.batch = batches[static_cast<std::size_t>(pick(static_cast<int>(batches.size())))];
      p.steps.push_back(std::move(again));
    }
  };
  std::size_t batch_size = 1 + static_cast<std::size_t>(pick(12));
  std::size_t n = 0;
  std::set<std::string> expiring_ids;  // sender reservation ids already given an expiry
  for (auto& [origin, ev] : merged) {
    const std::string sku = origin == 1 ? sku_b(seed) : sku_a(seed);
    ev.source = engine::source_id(std::string(gen_source));
    ev.id = "s" + std::to_string(seed) + "-" + std::to_string(n++);
    if (origin != 2) {
      ev.sku = engine::sku_id(sku);
    }
    const bool reservation_event =
        ev.type == event_type::reservation_created || ev.type == event_type::reservation_released ||
        ev.type == event_type::reservation_expired || ev.type == event_type::reservation_committed;
    if (reservation_event && (ev.reservation_id == "R2" || ev.reservation_id == "R3")) {
      // Through the reservation API.
      flush();
      planned_call call;
      call.sku = sku;
      call.name = ev.reservation_id;
      switch (ev.type) {
        case event_type::reservation_created:
          call.kind = call_kind::reserve;
          call.qty = ev.qty;
          call.named_location = pick(3) != 0;
          if (const int e = pick(3); e > 0) {
            call.expires_in_s = e == 1 ? 1 : 3600;
          }
          break;
        case event_type::reservation_released: call.kind = call_kind::release; break;
        case event_type::reservation_expired: call.kind = call_kind::reserve_again; break;
        default:
          call.kind = call_kind::commit;
          call.order_id = ev.order_id;
          call.line_id = ev.line_id;
          break;
      }
      step s;
      s.call = std::move(call);
      p.steps.push_back(std::move(s));
      continue;
    }
    planned_event pe;
    if (origin == 2) {
      pe.kit = kit_components(seed, ev.sku.str());
    }
    if (ev.type == event_type::order_created) {
      ev.channel = engine::channel_id("web");
    }
    if (reservation_event) {
      // Reservation ids are the sender's: one namespace per seed and SKU, reused over time as
      // the generator reuses its names.
      ev.reservation_id = "s" + std::to_string(seed) + "." + sku + "." + ev.reservation_id;
      if (ev.type == event_type::reservation_created) {
        // Every sender hold may carry an expiry: its expiry's journal id names the hold (SKU,
        // location, expires_at), so a reused reservation id expires each time.
        pe.expires = static_cast<expiry>(pick(4));
        expiring_ids.insert(ev.reservation_id);
      } else {
        ev.qty = 1;  // ingest requires a qty; the engine ignores it for ends
      }
      if (ev.type == event_type::reservation_committed) {
        // Ingest does not read line_id for reservation_committed (DESIGN §2 lists only
        // reservation_id and order_id), so the line is the reservation id; the reservation
        // API's commit, which takes a line_id, covers the other case.
        ev.line_id.clear();
      }
    }
    pe.rejected_at_ingest = must_reject_at_ingest(ev);
    current.batch.push_back(p.events.size());
    p.events.push_back(std::move(pe));
    p.events.back().ev = ev;
    if (current.batch.size() >= batch_size) {
      flush();
      batch_size = 1 + static_cast<std::size_t>(pick(12));
    }
  }
  flush();
  return p;
}

// ---- JSON out --------------------------------------------------------------------------------

void add_string(std::string& out, std::string_view name, std::string_view value) {
  out += ",\"";
  out += name;
  out += "\":\"";
  out += value;  // every string here is plain ASCII without quotes or backslashes
  out += '"';
}

void add_int(std::string& out, std::string_view name, std::int64_t value) {
  out += ",\"";
  out += name;
  out += "\":";
  out += std::to_string(value);
}

std::string to_json(const event& ev) {
  std::string out = "{\"id\":\"" + ev.id + "\"";
  add_string(out, "source", ev.source.str());
  add_string(out, "type", engine::to_string(ev.type));
  add_string(out, "sku", ev.sku.str());
  add_string(out, "location", ev.location.str());
  add_string(out, "occurred_at", engine::format_rfc3339(ev.occurred_at));
  switch (ev.type) {
    case event_type::adjusted:
      add_int(out, "delta", ev.delta);
      add_string(out, "reason", ev.reason);
      break;
    case event_type::counted:
      add_int(out, "counted", ev.counted);
      add_string(out, "as_of", engine::format_rfc3339(ev.as_of));
      break;
    default: add_int(out, "qty", ev.qty); break;
  }
  auto opt = [&out](std::string_view name, const std::string& v) {
    if (!v.empty()) {
      add_string(out, name, v);
    }
  };
  opt("order_id", ev.order_id);
  opt("line_id", ev.line_id);
  opt("channel", ev.channel.str());
  opt("po_id", ev.po_id);
  opt("transfer_id", ev.transfer_id);
  opt("to_location", ev.to_location.str());
  opt("reservation_id", ev.reservation_id);
  if (ev.type == event_type::return_received) {
    add_string(out, "disposition", engine::to_string(ev.return_disposition));
  }
  if (ev.type == event_type::status_changed) {
    add_string(out, "from", engine::to_string(ev.from));
    add_string(out, "to", engine::to_string(ev.to));
  }
  if (ev.expires_at) {
    add_string(out, "expires_at", engine::format_rfc3339(*ev.expires_at));
  }
  return out + "}";
}

/// The component events ingest journals for a kit line (docs/semantics.md, kit expansion).
std::vector<event> expand(const event& kit_line, const components& parts) {
  std::vector<event> out;
  for (const auto& [sku, qty] : parts) {
    event ev = kit_line;
    ev.sku = engine::sku_id(sku);
    ev.qty = kit_line.qty * qty;
    ev.id += "#" + sku;
    ev.line_id += "/" + sku;
    out.push_back(std::move(ev));
  }
  return out;
}

timestamp wall_now() {
  return std::chrono::time_point_cast<milliseconds>(std::chrono::system_clock::now());
}

// ---- driving one seed ------------------------------------------------------------------------

struct event_answer {
  std::string status;
  std::uint64_t seq = 0;
  std::uint64_t components = 0;
};

struct call_record {
  std::size_t step = 0;
  planned_call call;
  std::string key;        // reserve, reserve_again: the key sent ("" when none was ever sent)
  std::string target_id;  // release, commit, and a reserve_again with no key: the id used
  unsigned status = 0;
  std::string body;
  bool replayed = false;
  std::string id;
  std::string location;
  std::string state;
  std::string order_id;
  std::string error;
  std::int64_t qty = 0;
  std::int64_t available = -1;
};

struct seed_run {
  plan p;
  std::vector<std::optional<std::vector<event_answer>>> answers;  // per step (batches)
  std::vector<call_record> calls;
  std::string failure;  // what went wrong while driving (a transport error, a bad status)
};

std::string never_held_id(const std::string& sku) {
  return "r." + sku + "." + east + "." + std::string(32, '0');
}

call_record parse_call_answer(call_record rec, const http_response& res) {
  rec.status = res.status;
  rec.body = res.body;
  rec.replayed = res.header("Idempotent-Replayed") == "true";
  if (res.status == 0 || res.body.empty() || res.body[0] != '{') {
    return rec;
  }
  json_doc doc(res.body);
  auto str = [&doc](std::string_view k, std::string& out) {
    if (auto v = doc.root()[k]; !v.error() && v.is_string()) {
      out = std::string(v.get_string().value());
    }
  };
  str("id", rec.id);
  str("location", rec.location);
  str("state", rec.state);
  str("order_id", rec.order_id);
  str("error", rec.error);
  if (rec.error == "refused") {
    str("detail", rec.error);  // the engine's reason ("inconsistent: ...")
  }
  if (auto v = doc.root()["qty"]; !v.error()) {
    rec.qty = v.get_int64().value();
  }
  if (auto v = doc.root()["available"]; !v.error()) {
    rec.available = v.get_int64().value();
  }
  return rec;
}

void drive(const server_process& server, seed_run& run) {
  http_client client("127.0.0.1", server.port());
  auto send = [&](std::string method, std::string target, std::string body) {
    http_request req;
    req.method = std::move(method);
    req.target = std::move(target);
    req.body = std::move(body);
    req.token = server.token();
    req.timeout = milliseconds(30'000);
    return client.send(req);
  };
  plan& p = run.p;
  run.answers.resize(p.steps.size());
  std::map<std::pair<std::string, std::string>, std::string> current_id;  // (sku, name) -> id
  std::map<std::pair<std::string, std::string>, std::string> last_key;     // (sku, name) -> key
  std::map<std::string, std::pair<std::string, planned_call>> key_body;  // key -> body, call
  std::vector<bool> materialized(p.events.size(), false);
  for (std::size_t s = 0; s < p.steps.size() && run.failure.empty(); ++s) {
    const step& st = p.steps[s];
    if (!st.call) {
      std::string body = "[";
      for (std::size_t k = 0; k < st.batch.size(); ++k) {
        planned_event& pe = p.events[st.batch[k]];
        if (!materialized[st.batch[k]]) {
          materialized[st.batch[k]] = true;
          const auto now = wall_now();
          switch (pe.expires) {
            case expiry::none: break;
            case expiry::past: pe.ev.expires_at = now - std::chrono::hours{1}; break;
            case expiry::soon: pe.ev.expires_at = now + std::chrono::seconds{1}; break;
            case expiry::far: pe.ev.expires_at = now + std::chrono::hours{24}; break;
          }
        }
        body += (k > 0 ? "," : "") + to_json(pe.ev);
      }
      body += "]";
      auto res = send("POST", "/v1/events", std::move(body));
      if (res.status != 200) {
        run.failure = "step " + std::to_string(s) + ": POST /v1/events answered " +
                      std::to_string(res.status) + " " + res.transport_error + res.body;
        break;
      }
      std::vector<event_answer> answers;
      json_doc doc(res.body);
      for (simdjson::dom::element item : doc["results"].get_array()) {
        event_answer a;
        a.status = std::string(item["status"].get_string().value());
        if (auto seq = item["seq"]; !seq.error()) {
          a.seq = seq.get_uint64().value();
        }
        if (auto c = item["components"]; !c.error()) {
          a.components = c.get_uint64().value();
        }
        answers.push_back(std::move(a));
      }
      run.answers[s] = std::move(answers);
      continue;
    }
    const planned_call& c = *st.call;
    call_record rec;
    rec.step = s;
    rec.call = c;
    const auto name = std::make_pair(c.sku, c.name);
    http_response res;
    switch (c.kind) {
      case call_kind::reserve: {
        rec.key = "s" + std::to_string(p.seed) + "-k" + std::to_string(s);
        std::string body = "{\"key\":\"" + rec.key + "\",\"sku\":\"" + c.sku +
                           "\",\"qty\":" + std::to_string(c.qty);
        if (c.named_location) {
          body += ",\"location\":\"" + east + "\"";
        }
        if (c.expires_in_s) {
          body += ",\"expires_in_s\":" + std::to_string(*c.expires_in_s);
        }
        body += "}";
        key_body[rec.key] = {body, c};
        res = send("POST", "/v1/reservations", body);
        last_key[name] = rec.key;
        break;
      }
      case call_kind::reserve_again:
        if (auto it = last_key.find(name); it != last_key.end()) {
          rec.key = it->second;
          const auto& [body, original] = key_body[rec.key];
          // The same request again: the record carries the original's quantity and options.
          rec.call.qty = original.qty;
          rec.call.named_location = original.named_location;
          rec.call.expires_in_s = original.expires_in_s;
          res = send("POST", "/v1/reservations", body);
        } else {
          rec.target_id = never_held_id(c.sku);
          res = send("DELETE", "/v1/reservations/" + rec.target_id, "");
        }
        break;
      case call_kind::release: {
        auto it = current_id.find(name);
        rec.target_id = it != current_id.end() ? it->second : never_held_id(c.sku);
        res = send("DELETE", "/v1/reservations/" + rec.target_id, "");
        break;
      }
      case call_kind::commit: {
        auto it = current_id.find(name);
        rec.target_id = it != current_id.end() ? it->second : never_held_id(c.sku);
        std::string body = "{\"order_id\":\"" + c.order_id + "\"";
        if (!c.line_id.empty()) {
          body += ",\"line_id\":\"" + c.line_id + "\"";
        }
        body += "}";
        res = send("POST", "/v1/reservations/" + rec.target_id + "/commit", body);
        break;
      }
    }
    if (res.status == 0 || res.status >= 500) {
      run.failure = "step " + std::to_string(s) + ": reservation call answered " +
                    std::to_string(res.status) + " " + res.transport_error + res.body;
      break;
    }
    rec = parse_call_answer(std::move(rec), res);
    if ((c.kind == call_kind::reserve || c.kind == call_kind::reserve_again) &&
        rec.status == 201 && !rec.key.empty()) {
      current_id[name] = rec.id;
    }
    run.calls.push_back(std::move(rec));
  }
}

// ---- reading back ----------------------------------------------------------------------------

struct ledger_row {
  std::uint64_t seq = 0;
  timestamp received_at{};
  event ev;
};

std::string get_string(simdjson::dom::element e, std::string_view k) {
  auto v = e[k];
  return v.error() ? std::string{} : std::string(v.get_string().value());
}

timestamp get_time(simdjson::dom::element e, std::string_view k) {
  auto t = engine::parse_rfc3339(get_string(e, k));
  if (!t) {
    throw std::runtime_error("ledger: bad timestamp in " + std::string(k));
  }
  return *t;
}

/// The SKU's whole ledger, oldest first, as engine events.
std::vector<ledger_row> read_ledger(const server_process& server, const std::string& sku) {
  std::vector<ledger_row> rows;
  std::uint64_t before = 0;
  for (;;) {
    std::string target = "/v1/skus/" + sku + "/events?limit=1000";
    if (before != 0) {
      target += "&before=" + std::to_string(before);
    }
    json_doc doc = server.get_json(target);
    for (simdjson::dom::element e : doc["events"].get_array()) {
      ledger_row r;
      r.seq = e["seq"].get_uint64().value();
      r.received_at = get_time(e, "received_at");
      event& ev = r.ev;
      ev.source = engine::source_id(get_string(e, "source"));
      ev.id = get_string(e, "id");
      ev.type = engine::parse_event_type(get_string(e, "type")).value();
      ev.sku = engine::sku_id(get_string(e, "sku"));
      ev.location = engine::location_id(get_string(e, "location"));
      ev.occurred_at = get_time(e, "occurred_at");
      if (auto v = e["qty"]; !v.error()) {
        ev.qty = v.get_int64().value();
      }
      if (auto v = e["delta"]; !v.error()) {
        ev.delta = v.get_int64().value();
      }
      if (auto v = e["counted"]; !v.error()) {
        ev.counted = v.get_int64().value();
        ev.as_of = get_time(e, "as_of");
      }
      ev.order_id = get_string(e, "order_id");
      ev.line_id = get_string(e, "line_id");
      ev.channel = engine::channel_id(get_string(e, "channel"));
      ev.po_id = get_string(e, "po_id");
      ev.transfer_id = get_string(e, "transfer_id");
      ev.to_location = engine::location_id(get_string(e, "to_location"));
      ev.reason = get_string(e, "reason");
      ev.reservation_id = get_string(e, "reservation_id");
      if (auto d = get_string(e, "disposition"); !d.empty()) {
        ev.return_disposition = engine::parse_disposition(d).value();
      }
      if (auto f = get_string(e, "from"); !f.empty()) {
        ev.from = engine::parse_bucket(f).value();
        ev.to = engine::parse_bucket(get_string(e, "to")).value();
      }
      if (auto x = get_string(e, "expires_at"); !x.empty()) {
        ev.expires_at = engine::parse_rfc3339(x).value();
      }
      rows.push_back(std::move(r));
    }
    auto next = doc["next_before"];
    if (next.is_null()) {
      break;
    }
    before = next_ledger_cursor(before, next.get_uint64().value());
  }
  std::reverse(rows.begin(), rows.end());
  return rows;
}

/// One SKU x location as GET /v1/skus/{sku} shows it.
struct location_state {
  std::int64_t q[engine::bucket_count] = {};
  std::int64_t on_hand = 0;
  std::int64_t oversold = 0;
  std::uint64_t applied_seq = 0;
  std::string last_source;
  std::string last_id;
  std::string last_occurred_at;
  std::uint64_t last_seq = 0;
  friend bool operator==(const location_state&, const location_state&) = default;
};

std::string describe(const location_state& s) {
  std::ostringstream out;
  for (std::size_t i = 0; i < engine::bucket_count; ++i) {
    out << engine::to_string(static_cast<engine::bucket>(i)) << " " << s.q[i] << ", ";
  }
  out << "on_hand " << s.on_hand << ", oversold " << s.oversold << ", applied_seq "
      << s.applied_seq << ", last_event " << s.last_source << "/" << s.last_id << " seq "
      << s.last_seq << " at " << s.last_occurred_at;
  return out.str();
}

/// A location that has no state is shown as all zeros: an actor spawned without ever applying
/// an event (a reservation attempt walks every location) is listed while it lives, and is absent
/// after a restart, as no checkpoint holds it. Both mean "nothing here".
std::map<std::string, location_state> read_sku(const server_process& server,
                                               const std::string& sku, std::string& problem) {
  std::map<std::string, location_state> out;
  for (const auto& l : locations) {
    out[l] = location_state{};
  }
  auto res = server.get("/v1/skus/" + sku);
  if (res.status == 404) {
    return out;
  }
  if (res.status != 200) {
    problem = "GET /v1/skus/" + sku + " answered " + std::to_string(res.status) + res.body;
    return out;
  }
  json_doc doc(res.body);
  if (!doc["complete"].get_bool().value()) {
    problem = "GET /v1/skus/" + sku + " is not complete";
  }
  for (auto [name, at] : doc["locations"].get_object()) {
    location_state s;
    for (std::size_t i = 0; i < engine::bucket_count; ++i) {
      s.q[i] = at[engine::to_string(static_cast<engine::bucket>(i))].get_int64().value();
    }
    s.on_hand = at["on_hand"].get_int64().value();
    s.oversold = at["oversold"].get_int64().value();
    s.applied_seq = at["applied_seq"].get_uint64().value();
    if (simdjson::dom::element last = at["last_event"]; !last.is_null()) {
      s.last_source = get_string(last, "source");
      s.last_id = get_string(last, "id");
      s.last_occurred_at = get_string(last, "occurred_at");
      s.last_seq = last["seq"].get_uint64().value();
    }
    out[std::string(name)] = s;
  }
  return out;
}

struct kit_state {
  std::int64_t available = 0;
  std::map<std::string, std::int64_t> per_location;
  std::vector<std::int64_t> components;
  friend bool operator==(const kit_state&, const kit_state&) = default;
};

kit_state read_kit(const server_process& server, const std::string& kit) {
  json_doc doc = server.get_json("/v1/skus/" + kit);
  kit_state k;
  k.available = doc["kit"]["available"].get_int64().value();
  for (auto [name, v] : doc["kit"]["locations"].get_object()) {
    k.per_location[std::string(name)] = v.get_int64().value();
  }
  for (simdjson::dom::element c : doc["kit"]["components"].get_array()) {
    k.components.push_back(c["available"].get_int64().value());
  }
  return k;
}

/// Everything a seed's SKUs answer over HTTP, for the restart comparisons.
struct seed_view {
  std::map<std::string, std::map<std::string, location_state>> skus;
  std::map<std::string, kit_state> kits;
  std::string problem;
  friend bool operator==(const seed_view& a, const seed_view& b) {
    return a.skus == b.skus && a.kits == b.kits;
  }
};

seed_view read_view(const server_process& server, std::uint32_t seed) {
  seed_view v;
  for (const auto& sku : {sku_a(seed), sku_b(seed)}) {
    v.skus[sku] = read_sku(server, sku, v.problem);
  }
  for (const auto& kit : {kit_a(seed), kit_b(seed)}) {
    v.kits[kit] = read_kit(server, kit);
  }
  return v;
}

// ---- the model's side ------------------------------------------------------------------------

using key = std::pair<std::string, std::string>;  // (sku, location)

bool touches(const event& ev, const key& k) {
  return ev.sku.str() == k.first &&
         (ev.location.str() == k.second ||
          (ev.type == event_type::transfer_shipped && ev.to_location.str() == k.second));
}

struct hold {
  std::int64_t qty = 0;
  std::optional<timestamp> expires_at;
};

struct ending {
  event_type how = event_type::reservation_released;
  std::string order_id;
};

std::string ended_word(event_type how) {
  return how == event_type::reservation_released  ? "released"
         : how == event_type::reservation_expired ? "expired"
                                                  : "committed";
}

/// The reference model over every key of one seed, fed in journal order.
struct seed_model {
  std::map<key, engine::reference::model> models;
  std::map<key, ledger_row> last_applied;
  // Reservation ids are unique per SKU x location; raw ones are reused after they end.
  std::map<std::tuple<std::string, std::string, std::string>, hold> holds;
  std::map<std::string, ending> ended;  // API ids only (never reused): how each ended first

  explicit seed_model(std::uint32_t seed) {
    for (const auto& sku : {sku_a(seed), sku_b(seed)}) {
      for (const auto& l : locations) {
        auto& m = models[{sku, l}];
        m.key = engine::sku_location_key{engine::sku_id(sku), engine::location_id(l)};
      }
    }
  }

  /// Folds one journal entry; the outcome at the event's own SKU x location.
  engine::outcome_kind step(const ledger_row& row) {
    const event& ev = row.ev;
    const engine::journal_entry entry{row.seq, row.received_at, ev};
    engine::outcome_kind origin = engine::outcome_kind::rejected;
    for (auto& [k, m] : models) {
      if (!touches(ev, k)) {
        continue;
      }
      const auto kind = engine::reference::step(m, entry);
      if (kind == engine::outcome_kind::applied) {
        last_applied[k] = row;
      }
      if (ev.location.str() == k.second) {
        origin = kind;
      }
    }
    if (origin == engine::outcome_kind::applied) {
      const std::tuple<std::string, std::string, std::string> id{ev.sku.str(), ev.location.str(),
                                                                 ev.reservation_id};
      if (ev.type == event_type::reservation_created) {
        holds[id] = hold{ev.qty, ev.expires_at};
      } else if (ev.type == event_type::reservation_released ||
                 ev.type == event_type::reservation_expired ||
                 ev.type == event_type::reservation_committed) {
        holds.erase(id);
        ended.try_emplace(ev.reservation_id, ending{ev.type, ev.order_id});
      }
    }
    return origin;
  }

  const hold* held(const std::string& sku, const std::string& location,
                   const std::string& id) const {
    auto it = holds.find({sku, location, id});
    return it == holds.end() ? nullptr : &it->second;
  }

  std::int64_t available(const std::string& sku, const std::string& location) const {
    return models.at({sku, location}).q[static_cast<std::size_t>(engine::bucket::available)];
  }
};

std::int64_t at_least_zero(std::int64_t v) { return std::max<std::int64_t>(0, v); }

location_state expected_state(const seed_model& sm, const key& k) {
  const auto& m = sm.models.at(k);
  location_state s;
  for (std::size_t i = 0; i < engine::bucket_count; ++i) {
    s.q[i] = m.q[i];
    if (static_cast<engine::bucket>(i) != engine::bucket::incoming) {
      s.on_hand += m.q[i];
    }
  }
  s.oversold = m.oversold;
  s.applied_seq = m.last_seq;
  if (auto it = sm.last_applied.find(k); it != sm.last_applied.end()) {
    s.last_source = it->second.ev.source.str();
    s.last_id = it->second.ev.id;
    s.last_occurred_at = engine::format_rfc3339(it->second.ev.occurred_at);
    s.last_seq = it->second.seq;
  }
  return s;
}

kit_state expected_kit(const seed_model& sm, std::uint32_t seed, const std::string& kit) {
  kit_state k;
  k.available = std::numeric_limits<std::int64_t>::max();
  for (const auto& l : locations) {
    k.per_location[l] = std::numeric_limits<std::int64_t>::max();
  }
  for (const auto& [sku, qty] : kit_components(seed, kit)) {
    std::int64_t pool = 0;
    for (const auto& l : locations) {
      const std::int64_t here = at_least_zero(sm.available(sku, l));
      pool += here;
      k.per_location[l] = std::min(k.per_location[l], here / qty);
    }
    k.components.push_back(pool);
    k.available = std::min(k.available, pool / qty);
  }
  return k;
}

// ---- verifying one seed ----------------------------------------------------------------------

enum class origin_kind : std::uint8_t { posted, call, expiry };

struct journaled {
  ledger_row row;
  origin_kind origin = origin_kind::posted;
  std::size_t call = 0;  // origin_kind::call: index into seed_run::calls
};

/// What a seed reached, summed over the run so the test can tell it proves what it claims.
struct coverage {
  std::map<std::string, std::size_t> counts;
  void add(const std::string& what, std::size_t n = 1) { counts[what] += n; }
  void merge(const coverage& other) {
    for (const auto& [k, n] : other.counts) {
      counts[k] += n;
    }
  }
  std::size_t operator[](const std::string& what) const {
    auto it = counts.find(what);
    return it == counts.end() ? 0 : it->second;
  }
};

struct verdict {
  bool settled = true;    // false: a hold past its expiry has not been expired yet
  std::string failure;    // the first difference, "" when the seed matches
  seed_model model{0};
  coverage seen;
};

std::string event_diff(const event& want, const event& got) {
  if (want == got) {
    return {};
  }
  return "expected " + to_json(want) + ", the ledger has " + to_json(got);
}

/// Checks a reservation call that journaled `row` against the model's outcome for it.
std::string check_journaled_call(const call_record& c, const ledger_row& row,
                                 engine::outcome_kind kind) {
  const bool applied = kind == engine::outcome_kind::applied;
  const event& ev = row.ev;
  switch (c.call.kind) {
    case call_kind::reserve:
    case call_kind::reserve_again: {
      const std::string prefix = "r." + c.call.sku + "." + ev.location.str() + ".";
      if (ev.type != event_type::reservation_created || ev.sku.str() != c.call.sku ||
          ev.qty != c.call.qty || !ev.reservation_id.starts_with(prefix) ||
          ev.reservation_id.size() != prefix.size() + 32 ||
          (c.call.named_location && ev.location.str() != east) ||
          ev.expires_at.has_value() != c.call.expires_in_s.has_value() ||
          (c.call.expires_in_s &&
           *ev.expires_at != row.received_at + std::chrono::seconds{*c.call.expires_in_s})) {
        return "reserve journaled an unexpected event " + to_json(ev);
      }
      if (applied && (c.status != 201 || c.replayed || c.id != ev.reservation_id ||
                      c.location != ev.location.str() || c.qty != c.call.qty ||
                      c.state != "active")) {
        return "the engine applied the reservation; the answer was " + std::to_string(c.status) +
               " " + c.body;
      }
      if (!applied && c.status != 409) {
        return "the engine refused the reservation; the answer was " + std::to_string(c.status) +
               " " + c.body;
      }
      return {};
    }
    case call_kind::release:
      if (ev.type != event_type::reservation_released || ev.reservation_id != c.target_id) {
        return "release journaled an unexpected event " + to_json(ev);
      }
      if (applied != (c.status == 200) || (applied && c.state != "released")) {
        return std::string("the engine ") + (applied ? "applied" : "refused") +
               " the release; the answer was " + std::to_string(c.status) + " " + c.body;
      }
      return {};
    case call_kind::commit:
      if (ev.type != event_type::reservation_committed || ev.reservation_id != c.target_id ||
          ev.order_id != c.call.order_id || ev.line_id != c.call.line_id) {
        return "commit journaled an unexpected event " + to_json(ev);
      }
      if (applied != (c.status == 200) || (applied && c.state != "committed") ||
          (!applied && c.state != "active")) {
        return std::string("the engine ") + (applied ? "applied" : "refused") +
               " the commit (" + std::string(engine::to_string(kind)) +
               "); the answer was " + std::to_string(c.status) + " " + c.body;
      }
      return {};
  }
  return {};
}

/// Checks a reservation call that journaled nothing, against the model as of the last entry
/// journaled before it (`sm`). `expiring` are the expiries journaled between the call's
/// neighbours: the server may have applied them before it handled the call, or not.
std::string check_unjournaled_call(const call_record& c, const seed_model& sm,
                                   const std::vector<ledger_row>& expiring,
                                   const std::map<std::string, std::string>& journaled_keys) {
  auto maybe_expired = [&](const std::string& sku, const std::string& location,
                           const std::string& id) {
    for (const auto& r : expiring) {
      if (r.ev.sku.str() == sku && r.ev.location.str() == location && r.ev.reservation_id == id) {
        return true;
      }
    }
    return false;
  };
  // What `available` at a location may have been when the server looked: at least what the
  // model says now, at most that plus the holds an in-between expiry returned.
  auto bounds = [&](const std::string& sku, const std::string& location) {
    const std::int64_t lo = sm.available(sku, location);
    std::int64_t hi = lo;
    for (const auto& r : expiring) {
      if (r.ev.sku.str() == sku && r.ev.location.str() == location) {
        if (const hold* h = sm.held(sku, location, r.ev.reservation_id)) {
          hi += h->qty;
        }
      }
    }
    return std::pair{lo, hi};
  };
  const std::string& sku = c.call.sku;
  const auto answer = std::to_string(c.status) + " " + c.body;
  const bool is_reserve = c.call.kind == call_kind::reserve ||
                          (c.call.kind == call_kind::reserve_again && !c.key.empty());
  if (is_reserve) {
    std::vector<std::string> tried = c.call.named_location ? std::vector<std::string>{east}
                                                           : locations;
    std::int64_t lo_best = 0;
    std::int64_t hi_best = 0;
    bool surely_enough = false;
    bool maybe_enough = false;
    for (const auto& l : tried) {
      const auto [lo, hi] = bounds(sku, l);
      lo_best = std::max(lo_best, at_least_zero(lo));
      hi_best = std::max(hi_best, at_least_zero(hi));
      surely_enough = surely_enough || lo >= c.call.qty;
      maybe_enough = maybe_enough || hi >= c.call.qty;
    }
    const auto original = journaled_keys.find(c.key);
    if (original == journaled_keys.end()) {
      // A key never journaled: nothing was reserved, so it must have been too little.
      if (c.status != 409 || c.error != "insufficient" || c.available < lo_best ||
          c.available > hi_best || c.available >= c.call.qty) {
        return "nothing was journaled for the reservation, and the model has available between " +
               std::to_string(lo_best) + " and " + std::to_string(hi_best) + " for qty " +
               std::to_string(c.call.qty) + "; the answer was " + answer;
      }
      return {};
    }
    // The same key again (DESIGN §5): the same reservation while held; once it ended, the
    // original answer when there is stock to try, else 409.
    const std::string& id = original->second;
    const auto location = id.substr(2 + sku.size() + 1, id.size() - 2 - sku.size() - 1 - 33);
    const bool held = sm.held(sku, location, id) != nullptr;
    const bool replay_ok = c.status == 201 && c.replayed && c.id == id && c.qty == c.call.qty;
    const bool refused_ok = c.status == 409 && c.error == "insufficient";
    if (!replay_ok && !refused_ok) {
      return "the same key again answered " + answer;
    }
    if (c.call.named_location && held && !maybe_expired(sku, location, id) && !replay_ok) {
      return "the key's reservation " + id + " is held; the same key again answered " + answer;
    }
    if (c.call.named_location && !held && surely_enough && !replay_ok) {
      return "the key's reservation ended and there is stock to try; the same key again "
             "answered " + answer;
    }
    if (c.call.named_location && !held && !maybe_enough && !refused_ok) {
      return "the key's reservation ended and there is not enough stock; the same key again "
             "answered " + answer;
    }
    return {};
  }
  // An end (release or commit) that journaled nothing: the hold was not there.
  const std::string& id = c.target_id;
  const bool commit = c.call.kind == call_kind::commit;
  std::string location;
  for (const auto& l : locations) {
    if (id.starts_with("r." + sku + "." + l + ".")) {
      location = l;
    }
  }
  const hold* h = sm.held(sku, location, id);
  const auto how = sm.ended.find(id);
  const bool expired_meanwhile =
      c.status == 409 && c.error == "reservation already expired";
  if (h != nullptr && maybe_expired(sku, location, id) && expired_meanwhile) {
    return {};  // an expiry journaled around the call came first
  }
  if (h != nullptr) {
    // Held: the end journals nothing only when the engine would refuse it (a commit to an
    // order line that exists), and then the answer is 409 with the hold still active.
    engine::reference::model trial = sm.models.at({sku, location});
    engine::journal_entry probe;
    probe.seq = trial.last_seq + 1;
    probe.ev.type = commit ? event_type::reservation_committed : event_type::reservation_released;
    probe.ev.sku = engine::sku_id(sku);
    probe.ev.location = engine::location_id(location);
    probe.ev.reservation_id = id;
    probe.ev.order_id = c.call.order_id;
    probe.ev.line_id = c.call.line_id;
    probe.ev.qty = h->qty;
    if (engine::reference::step(trial, probe) == engine::outcome_kind::applied) {
      return "reservation " + id + " is held and the model would apply the " +
             (commit ? "commit" : "release") + ", but nothing was journaled; the answer was " +
             answer +
             (maybe_expired(sku, location, id) ? " (an expiry around it would say expired)" : "");
    }
    if (c.status != 409 || c.state != "active" || !c.error.starts_with("inconsistent:")) {
      return "the model refuses the " + std::string(commit ? "commit" : "release") + " of " + id +
             "; the answer was " + answer;
    }
    return {};
  }
  if (how == sm.ended.end()) {
    return c.status == 404 ? std::string{}
                           : "reservation " + id + " was never held; the answer was " + answer;
  }
  const ending& e = how->second;
  const bool same_end = commit ? (e.how == event_type::reservation_committed &&
                                  e.order_id == c.call.order_id)
                               : e.how == event_type::reservation_released;
  if (same_end) {
    if (c.status != 200 || c.state != (commit ? "committed" : "released")) {
      return "a retry of the " + std::string(commit ? "commit" : "release") + " of " + id +
             " answered " + answer;
    }
    return {};
  }
  if (c.status != 409 || c.error != "reservation already " + ended_word(e.how)) {
    return "reservation " + id + " had been " + ended_word(e.how) + "; the answer was " + answer;
  }
  return {};
}

verdict verify(const server_process& server, const seed_run& run) {
  verdict v;
  v.model = seed_model(run.p.seed);
  const plan& p = run.p;
  auto fail = [&v](std::string what) {
    if (v.failure.empty()) {
      v.failure = std::move(what);
    }
  };
  if (!run.failure.empty()) {
    fail(run.failure);
    return v;
  }

  // 1. The POST answers, and the entries they promise.
  std::map<std::uint64_t, event> promised;  // seq -> the event the journal must hold
  std::vector<std::optional<std::uint64_t>> seq_of(p.events.size());
  std::vector<std::uint64_t> step_max_seq(p.steps.size(), 0);  // 0: nothing journaled
  std::vector<std::uint64_t> step_min_seq(p.steps.size(), 0);
  for (std::size_t s = 0; s < p.steps.size(); ++s) {
    if (!run.answers[s]) {
      continue;
    }
    const auto& batch = p.steps[s].batch;
    const auto& answers = *run.answers[s];
    if (answers.size() != batch.size()) {
      fail("step " + std::to_string(s) + ": " + std::to_string(answers.size()) +
           " answers for " + std::to_string(batch.size()) + " events");
      return v;
    }
    for (std::size_t k = 0; k < batch.size(); ++k) {
      const planned_event& pe = p.events[batch[k]];
      const event_answer& a = answers[k];
      v.seen.add("answer " + a.status);
      const std::string where = "step " + std::to_string(s) + " event " + pe.ev.id + ": ";
      if (pe.rejected_at_ingest) {
        if (a.status != "rejected") {
          fail(where + "must be rejected at ingest, answered " + a.status);
        }
        continue;
      }
      auto& seq = seq_of[batch[k]];
      if (seq) {
        if (a.status != "duplicate" || a.seq != *seq) {
          fail(where + "sent again, answered " + a.status + " seq " + std::to_string(a.seq) +
               " (first seq " + std::to_string(*seq) + ")");
        }
        continue;
      }
      const std::vector<event> parts = pe.kit.empty() ? std::vector<event>{pe.ev}
                                                      : expand(pe.ev, pe.kit);
      if (a.status != "accepted" || a.seq == 0 ||
          a.components != (pe.kit.empty() ? 0 : parts.size())) {
        fail(where + "answered " + a.status + " seq " + std::to_string(a.seq) + " components " +
             std::to_string(a.components));
        continue;
      }
      seq = a.seq;
      for (std::size_t i = 0; i < parts.size(); ++i) {
        promised[a.seq + i] = parts[i];
        step_max_seq[s] = std::max(step_max_seq[s], a.seq + i);
        step_min_seq[s] = step_min_seq[s] == 0 ? a.seq : std::min(step_min_seq[s], a.seq);
      }
    }
  }
  if (!v.failure.empty()) {
    return v;
  }

  // 2. The ledgers: the promised entries, and the engine's own, each accounted for.
  std::vector<ledger_row> rows = read_ledger(server, sku_a(p.seed));
  for (auto& r : read_ledger(server, sku_b(p.seed))) {
    rows.push_back(std::move(r));
  }
  std::sort(rows.begin(), rows.end(),
            [](const ledger_row& a, const ledger_row& b) { return a.seq < b.seq; });
  std::vector<journaled> entries;
  std::vector<ledger_row> engine_rows;
  std::size_t promised_seen = 0;
  for (const auto& r : rows) {
    if (r.ev.source.str() == gen_source) {
      auto it = promised.find(r.seq);
      if (it == promised.end()) {
        fail("the ledger has " + to_json(r.ev) + " at seq " + std::to_string(r.seq) +
             ", which no answer promised there");
        return v;
      }
      if (auto d = event_diff(it->second, r.ev); !d.empty()) {
        fail("seq " + std::to_string(r.seq) + ": " + d);
        return v;
      }
      ++promised_seen;
      entries.push_back({r, origin_kind::posted, 0});
    } else if (r.ev.source.str() == engine_source) {
      engine_rows.push_back(r);
    } else {
      fail("the ledger has an entry from source " + r.ev.source.str());
      return v;
    }
  }
  if (promised_seen != promised.size()) {
    fail(std::to_string(promised.size() - promised_seen) +
         " acknowledged events are missing from the ledger");
    return v;
  }
  // Which call journaled which of the engine's entries. A call's entry lies after everything the
  // batches before it journaled and before anything the batches after it did; its event id is
  // fixed by the call. Each id is journaled at most once (dedup), so only calls repeating an id
  // can compete for one entry: for a reservation key it is the call answered 201 as a new hold
  // (an earlier 409 journaled nothing); for a commit the one naming the entry's order and line
  // (a commit refused before journaling may precede it); for a release the first (the hold had
  // ended for a call that journaled nothing, and an ended API hold is never held again).
  const std::size_t n_steps = p.steps.size();
  constexpr std::uint64_t none = std::numeric_limits<std::uint64_t>::max();
  auto windows = [&](std::vector<std::uint64_t>& before, std::vector<std::uint64_t>& after) {
    before.assign(n_steps, 0);
    after.assign(n_steps, none);
    std::uint64_t high = 0;
    for (std::size_t s = 0; s < n_steps; ++s) {
      before[s] = high;
      high = std::max(high, step_max_seq[s]);
    }
    std::uint64_t low = none;
    for (std::size_t s = n_steps; s-- > 0;) {
      after[s] = low;
      if (step_min_seq[s] != 0) {
        low = std::min(low, step_min_seq[s]);
      }
    }
  };
  std::vector<std::uint64_t> prev;
  std::vector<std::uint64_t> next;
  windows(prev, next);  // the batches' alone, for now
  auto expected_id = [](const call_record& c) -> std::string {
    switch (c.call.kind) {
      case call_kind::reserve: return "reservation:" + c.key;
      case call_kind::reserve_again:
        return c.key.empty() ? "release:" + c.target_id : "reservation:" + c.key;
      case call_kind::release: return "release:" + c.target_id;
      case call_kind::commit: return "commit:" + c.target_id;
    }
    return {};
  };
  std::vector<std::optional<std::size_t>> call_row(run.calls.size());  // index into engine_rows
  std::vector<ledger_row> expiries;
  for (std::size_t r = 0; r < engine_rows.size(); ++r) {
    const ledger_row& row = engine_rows[r];
    auto score = [&row](const call_record& c) {
      if (row.ev.id.starts_with("reservation:")) {
        return c.status == 201 && !c.replayed ? 2 : 1;
      }
      if (row.ev.id.starts_with("commit:")) {
        const bool names = c.call.order_id == row.ev.order_id && c.call.line_id == row.ev.line_id;
        return names ? (c.status == 200 ? 3 : 2) : 1;
      }
      return 1;
    };
    std::optional<std::size_t> chosen;
    for (std::size_t i = 0; i < run.calls.size(); ++i) {
      const call_record& c = run.calls[i];
      if (expected_id(c) != row.ev.id || row.seq <= prev[c.step] || row.seq >= next[c.step]) {
        continue;
      }
      if (!chosen || score(c) > score(run.calls[*chosen])) {
        chosen = i;
      }
    }
    if (chosen) {
      call_row[*chosen] = r;
      step_max_seq[run.calls[*chosen].step] = row.seq;
      step_min_seq[run.calls[*chosen].step] = row.seq;
      entries.push_back({row, origin_kind::call, *chosen});
    } else if (row.ev.type == event_type::reservation_expired &&
               row.ev.id.rfind("expire:" + row.ev.reservation_id + "#", 0) == 0) {
      expiries.push_back(row);
      entries.push_back({row, origin_kind::expiry, 0});
    } else {
      fail("the ledger has " + to_json(row.ev) + " at seq " + std::to_string(row.seq) +
           ", which no reservation call made");
      return v;
    }
  }
  windows(prev, next);  // now with the calls' entries
  std::sort(entries.begin(), entries.end(),
            [](const journaled& a, const journaled& b) { return a.row.seq < b.row.seq; });

  // 3. The fold, with each call checked at its place in the journal.
  std::map<std::string, std::string> journaled_keys;  // reserve key -> reservation id
  std::vector<std::size_t> unjournaled;                 // calls, in order
  for (std::size_t i = 0; i < run.calls.size(); ++i) {
    if (!call_row[i]) {
      unjournaled.push_back(i);
    }
  }
  std::size_t next_unjournaled = 0;
  auto check_pending_calls = [&](std::uint64_t upto) {
    // Calls whose window opens at or before `upto` have seen everything folded so far.
    while (next_unjournaled < unjournaled.size()) {
      const call_record& c = run.calls[unjournaled[next_unjournaled]];
      if (prev[c.step] > upto) {
        return;
      }
      std::vector<ledger_row> between;
      for (const auto& e : expiries) {
        if (e.seq > prev[c.step] && e.seq < next[c.step]) {
          between.push_back(e);
        }
      }
      if (auto d = check_unjournaled_call(c, v.model, between, journaled_keys); !d.empty()) {
        fail("reservation call at step " + std::to_string(c.step) + ": " + d);
      }
      ++next_unjournaled;
    }
  };
  for (const auto& c : run.calls) {
    static constexpr const char* kinds[] = {"reserve", "reserve_again", "release", "commit"};
    v.seen.add(std::string("call ") + kinds[static_cast<int>(c.call.kind)] + " " +
               std::to_string(c.status));
  }
  v.seen.add("expiry", expiries.size());
  for (const auto& e : entries) {
    check_pending_calls(e.row.seq - 1);
    if (e.origin == origin_kind::expiry) {
      // The engine expires a hold it holds once its expires_at is at or before its clock (the
      // entry's received_at); one not held any more was ended by something journaled first.
      const event& ev = e.row.ev;
      const hold* h = v.model.held(ev.sku.str(), ev.location.str(), ev.reservation_id);
      if (h != nullptr && (!h->expires_at || *h->expires_at > e.row.received_at)) {
        fail("seq " + std::to_string(e.row.seq) + " expires " + ev.reservation_id +
             " at " + engine::format_rfc3339(e.row.received_at) + ", which " +
             (h->expires_at ? "expires at " + engine::format_rfc3339(*h->expires_at)
                            : std::string("has no expiry")));
      }
    }
    const auto kind = v.model.step(e.row);
    v.seen.add(std::string("outcome ") + std::string(engine::to_string(kind)));
    if (e.row.ev.id.find('#') != std::string::npos) {
      v.seen.add("kit component");
    }
    if (e.origin == origin_kind::call) {
      const call_record& c = run.calls[e.call];
      if (e.row.ev.type == event_type::reservation_created) {
        journaled_keys[c.key] = e.row.ev.reservation_id;
      }
      if (auto d = check_journaled_call(c, e.row, kind); !d.empty()) {
        fail("reservation call at step " + std::to_string(c.step) + " (seq " +
             std::to_string(e.row.seq) + "): " + d);
      }
    }
  }
  check_pending_calls(std::numeric_limits<std::uint64_t>::max());
  if (!v.failure.empty()) {
    return v;
  }

  // 4. Holds past their expiry must have been expired by a journaled event, and none may be
  // about to expire (the restarts below must find the same state): the short ones (a second)
  // are over by now, or the caller retries.
  const auto soon = wall_now() + std::chrono::minutes{10};
  for (const auto& [id, h] : v.model.holds) {
    if (h.expires_at && *h.expires_at <= soon) {
      v.settled = false;
      fail("hold " + std::get<2>(id) + " at " + std::get<0>(id) + "@" + std::get<1>(id) +
           " expires at " + engine::format_rfc3339(*h.expires_at) +
           " and no reservation_expired was journaled for it (now " +
           engine::format_rfc3339(wall_now()) + ")");
      return v;
    }
  }

  // 5. What the server answers for the seed's SKUs and kits.
  seed_view view = read_view(server, p.seed);
  if (!view.problem.empty()) {
    fail(view.problem);
    return v;
  }
  for (const auto& [k, m] : v.model.models) {
    const location_state want = expected_state(v.model, k);
    const location_state& got = view.skus[k.first][k.second];
    if (!(want == got)) {
      fail(k.first + "@" + k.second + ": the model has " + describe(want) + "; stockd has " +
           describe(got));
      return v;
    }
  }
  for (const auto& kit : {kit_a(p.seed), kit_b(p.seed)}) {
    const kit_state want = expected_kit(v.model, p.seed, kit);
    if (!(want == view.kits[kit])) {
      fail("kit " + kit + " availability differs from the model's");
      return v;
    }
  }
  return v;
}

/// The seed's requests and answers in order, with its ledgers: STOCKD_RANDOM_HTTP_TRACE=1 prints
/// this for every failing seed, to minimize it by hand.
std::string trace(const server_process& server, const seed_run& run) {
  std::ostringstream out;
  const plan& p = run.p;
  std::size_t call = 0;
  for (std::size_t s = 0; s < p.steps.size(); ++s) {
    out << "step " << s << ": ";
    if (!p.steps[s].call) {
      out << "POST /v1/events\n";
      for (std::size_t k = 0; k < p.steps[s].batch.size(); ++k) {
        out << "    " << to_json(p.events[p.steps[s].batch[k]].ev);
        if (run.answers[s] && k < run.answers[s]->size()) {
          const auto& a = (*run.answers[s])[k];
          out << " -> " << a.status << " " << a.seq;
        }
        out << "\n";
      }
      continue;
    }
    if (call < run.calls.size() && run.calls[call].step == s) {
      const call_record& c = run.calls[call++];
      static constexpr const char* kinds[] = {"reserve", "reserve_again", "release", "commit"};
      out << kinds[static_cast<int>(c.call.kind)] << " key " << c.key << " id " << c.target_id
          << " qty " << c.call.qty << (c.call.named_location ? " at DC-EAST" : " anywhere")
          << " order " << c.call.order_id << "/" << c.call.line_id << " -> " << c.status << " "
          << c.body << "\n";
    } else {
      out << "(not sent)\n";
    }
  }
  for (const auto& sku : {sku_a(p.seed), sku_b(p.seed)}) {
    out << "ledger of " << sku << ":\n";
    for (const auto& r : read_ledger(server, sku)) {
      out << "    " << r.seq << " " << to_json(r.ev) << "\n";
    }
  }
  return out.str();
}

// ---- the test --------------------------------------------------------------------------------

int env_int(const char* name, int fallback) {
  const char* text = std::getenv(name);
  return text != nullptr && *text != '\0' ? std::atoi(text) : fallback;
}

std::vector<std::uint32_t> default_seeds() {
  std::vector<std::uint32_t> seeds;
  if (const char* one = std::getenv("STOCKD_SEED"); one != nullptr && *one != '\0') {
    seeds.push_back(static_cast<std::uint32_t>(std::strtoul(one, nullptr, 10)));
    return seeds;
  }
  for (const auto& r : regression_seeds) {
    seeds.push_back(r.seed);
  }
  const int count = env_int("STOCKD_RANDOM_HTTP_SEEDS", default_seed_count);
  for (int i = 0; i < count; ++i) {
    const auto seed = first_seed + static_cast<std::uint32_t>(i);
    if (std::find(seeds.begin(), seeds.end(), seed) == seeds.end()) {
      seeds.push_back(seed);
    }
  }
  return seeds;
}

void run_seeds(const std::vector<std::uint32_t>& seeds) {
  REQUIRE_FALSE(seeds.empty());  // no seed would pass without testing anything
  std::printf("random HTTP test: %zu seed(s) from %u (STOCKD_SEED=n runs one)\n", seeds.size(),
              seeds.empty() ? 0u : seeds.front());
  std::vector<seed_run> runs(seeds.size());
  for (std::size_t i = 0; i < seeds.size(); ++i) {
    runs[i].p = make_plan(seeds[i]);
  }
  server_options opts;
  opts.config_toml = config_for(seeds);
  server_process server(opts);
  server.start();
  const auto started = steady::now();

  // Drive: each worker takes the next seed; a seed's requests are sequential on one connection.
  std::atomic<std::size_t> next_seed{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < client_threads; ++t) {
    workers.emplace_back([&] {
      for (std::size_t i = next_seed.fetch_add(1); i < runs.size(); i = next_seed.fetch_add(1)) {
        try {
          drive(server, runs[i]);
        } catch (const std::exception& e) {
          runs[i].failure = std::string("driving threw: ") + e.what();
        }
      }
    });
  }
  for (auto& w : workers) {
    w.join();
  }
  const auto driven = steady::now();
  // The short holds (a second) end on the server's clock: wait them out, then verify.
  std::this_thread::sleep_for(milliseconds(1200));

  // Verify each seed; a seed whose short holds have not expired yet is retried for a while.
  std::vector<verdict> verdicts(runs.size());
  const auto expiry_deadline = steady::now() + std::chrono::seconds(20);
  for (std::size_t i = 0; i < runs.size(); ++i) {
    for (;;) {
      try {
        verdicts[i] = verify(server, runs[i]);
      } catch (const std::exception& e) {
        verdicts[i] = verdict{};
        verdicts[i].failure = std::string("verifying threw: ") + e.what();
      }
      if (verdicts[i].settled || steady::now() > expiry_deadline) {
        break;
      }
      std::this_thread::sleep_for(milliseconds(100));
    }
    INFO("seed " << seeds[i] << " (rerun alone: STOCKD_SEED=" << seeds[i] << ")");
    CHECK(verdicts[i].failure == "");
    if (!verdicts[i].failure.empty() && env_int("STOCKD_RANDOM_HTTP_TRACE", 0) != 0) {
      std::printf("seed %u:\n%s", seeds[i], trace(server, runs[i]).c_str());
    }
  }
  const auto verified = steady::now();

  // Replay equivalence over the real binary: kill -9 (no checkpoints: the journal alone), then
  // SIGTERM (the final checkpoint alone); every seed must answer as before and as the model.
  std::vector<seed_view> live;
  for (auto seed : seeds) {
    live.push_back(read_view(server, seed));
  }
  const std::uint64_t head = server.get_json("/v1/status")["journal"]["head"].get_uint64().value();
  for (int round = 0; round < 2; ++round) {
    if (round == 0) {
      server.kill(SIGKILL);
      REQUIRE(server.wait_exit(std::chrono::seconds(10)).has_value());
      server.start();
      json_doc status = server.get_json("/v1/status");
      CHECK(status["journal"]["head"].get_uint64().value() == head);
      CHECK(status["recovery"]["replayed"].get_uint64().value() == head);
    } else {
      const int status = server.stop();
      CHECK(WIFEXITED(status));
      CHECK(WEXITSTATUS(status) == 0);
      server.start();
      CHECK(server.get_json("/v1/status")["recovery"]["replayed"].get_uint64().value() == 0);
    }
    for (std::size_t i = 0; i < seeds.size(); ++i) {
      seed_view again = read_view(server, seeds[i]);
      INFO("seed " << seeds[i] << " after " << (round == 0 ? "kill -9" : "SIGTERM")
                   << " and a restart (rerun alone: STOCKD_SEED=" << seeds[i] << ")");
      CHECK(again.problem == "");
      CHECK((again == live[i]));
      if (verdicts[i].failure.empty()) {
        for (const auto& [k, m] : verdicts[i].model.models) {
          INFO(k.first << "@" << k.second);
          CHECK(describe(again.skus[k.first][k.second]) ==
                describe(expected_state(verdicts[i].model, k)));
        }
      }
    }
  }
  CHECK(server.get_json("/v1/status")["journal"]["head"].get_uint64().value() == head);
  // The streams must reach what this test claims to cover, or it proves less than it says.
  coverage total;
  for (const auto& v : verdicts) {
    total.merge(v.seen);
  }
  std::string summary;
  for (const auto& [what, n] : total.counts) {
    summary += "  " + what + ": " + std::to_string(n) + "\n";
  }
  std::printf("random HTTP test reached:\n%s", summary.c_str());
  if (seeds.size() >= static_cast<std::size_t>(default_seed_count)) {  // a smaller run may not
    INFO(summary);
    for (const char* what :
         {"answer duplicate", "answer rejected", "outcome applied", "outcome rejected",
          "outcome parked", "outcome stale", "expiry", "kit component", "call reserve 201",
          "call reserve 409", "call reserve_again 201", "call release 200", "call release 404",
          "call commit 200", "call commit 409", "call commit 404"}) {
      CHECK(total[what] > 0);
    }
  }
  const auto seconds = [](auto d) { return std::chrono::duration<double>(d).count(); };
  std::printf("random HTTP test: %zu seed(s), %llu journal entries: driven in %.1f s, verified "
              "in %.1f s, restarts in %.1f s\n",
              seeds.size(), static_cast<unsigned long long>(head), seconds(driven - started),
              seconds(verified - driven), seconds(steady::now() - verified));
}

} // namespace

TEST_CASE("random streams over HTTP give the reference model's state, also after kill -9 and "
          "SIGTERM restarts",
          "[e2e][random]") {
  run_seeds(default_seeds());
}

TEST_CASE("random streams over HTTP, the long sweep", "[.slow]") {
  std::vector<std::uint32_t> seeds;
  for (int i = 0; i < env_int("STOCKD_RANDOM_HTTP_SEEDS", slow_seed_count); ++i) {
    seeds.push_back(first_seed + static_cast<std::uint32_t>(i));
  }
  run_seeds(seeds);
}

} // namespace stockd::e2e
