// stockctl's tables (apps/stockctl_tables.*) by plain calls, no server: the samples are answers
// a real stockd gave (GET /v1/status, /v1/skus/{sku}, /v1/sync/out-of-sync; two locations, a
// connector "none" channel and a webhook channel whose endpoint refuses connections), or built
// from the fields the server writes (the ledger: connectors/event_json.cpp; dead letters:
// server/api.cpp; runs: connectors/reconcile.cpp and snapshot_variance.cpp; repush and
// reconcile run: server/api.cpp and reconciliation.cpp), some with fields added or removed.
// Missing fields print "-", never fail.
#include <string>
#include <string_view>

#include <catch2/catch.hpp>

#include "apps/stockctl_tables.hpp"

namespace {

bool has_line(const std::string& text, std::string_view line) {
  return ("\n" + text).find("\n" + std::string(line) + "\n") != std::string::npos;
}

// GET /v1/status as stockd 'main' answers it. The webhook channel's outbox is given "pending"
// (being added to the answer) and an error, to show both.
constexpr std::string_view status_sample = R"({"status":"ready","uptime_s":9,
"events":{"accepted":3,"duplicate":0,"rejected":1},"unmapped":{"count":0,"sample":[]},
"unknown_units":{"count":2,"sample":[]},
"engine":{"applied":3,"rejected":0,"parked":0,"stale":0,"skipped":0,"oversold_units":0,
"live_actors":3,"in_flight":0,"in_flight_max":2000000,"shards":4,"scheduler_threads":1},
"journal":{"head":3,"writer_queue":0,"commits":1,"events_per_commit":3,"commit_ms_mean":93.6339,
"completion_ms_mean":0.094149,"commits_with_checkpoints":2,"map_size_bytes":1073741824,
"map_used_bytes":69632},"checkpoint":{"watermark":3,"lag_events":0,"rounds":4,"records":3,
"failures":0},"recovery":{"replayed":0},"alerts":{"sent":0,"suppressed":0,"failed":0,
"sinks_failing":0},"http":{"requests":2,"responses_4xx":0,"responses_5xx":0,"overloaded":0},
"webhooks":{"shopify":{"received":0,"mapped":0,"ignored":0,"unauthorized":0,"malformed":0,
"unmappable":0,"lines_without_sku":0}},
"channels":[{"id":"shadow","connector":"none","circuit":"closed","skus":2,
"queued":{"urgent":0,"normal":2,"bulk":0},"bulk_jobs":{"sent":0,"in_flight":0,"failed":0},
"out_of_sync":2,"oldest_out_of_sync_ms":3028,"updates":2,"calls":0,"items_sent":0,
"items_applied":0,"throttled":0,"failures":0,"retries":0,"stale":0,"rejected":0,"coalesced":0,
"dead_letters":0,"rate_limit_use":0,"outbox":{"writes":0,"failures":0,"error":null},
"reconciliation":{"policy":"report","cycle_s":0,"running":false,"runs":0,"skus_read":0,
"read_calls":0,"variances":{"hand_edit":0,"order_not_seen":0,"push_lost":0,"unknown":0},
"corrected":0,"alerts":0,"store_failures":0,"last_run":null},"mode":"live","shadow":null},
{"id":"wholesale","connector":"webhook","circuit":"open","skus":2,
"queued":{"urgent":1,"normal":2,"bulk":130},"bulk_jobs":{"sent":0,"in_flight":0,"failed":0},
"out_of_sync":2,"oldest_out_of_sync_ms":7384000,"updates":3,"calls":5,"items_sent":6,
"items_applied":0,"throttled":0,"failures":5,"retries":4,"stale":0,"rejected":0,"coalesced":1,
"dead_letters":4,"rate_limit_use":0.372,"outbox":{"writes":4,"failures":2,"pending":7,
"error":"MDB_MAP_FULL: Environment mapsize limit reached"},
"reconciliation":{"policy":"report","cycle_s":0,"running":false,"runs":0,"skus_read":0,
"read_calls":0,"variances":{"hand_edit":0,"order_not_seen":0,"push_lost":0,"unknown":0},
"corrected":0,"alerts":0,"store_failures":0,"last_run":null},"mode":"shadow","shadow":null}]})";

// GET /v1/skus/TSHIRT-RED-M; 'web' got a push through and is in sync, and an oversold order.
constexpr std::string_view sku_sample = R"({"sku":"TSHIRT-RED-M","locations":{
"dc-2":{"available":4,"committed":0,"reserved":0,"safety_stock":0,"damaged":0,
"quality_control":0,"incoming":0,"on_hand":4,"oversold":0,"oversold_by_channel":{},
"last_event":{"source":"wms","id":"r2","occurred_at":"2026-11-27T10:01:00.000Z","seq":2},
"applied_seq":2},
"main":{"available":-2,"committed":12,"reserved":1,"safety_stock":2,"damaged":3,
"quality_control":1,"incoming":20,"on_hand":17,"oversold":2,
"oversold_by_channel":{"web":{"units":2,"cases":1}},
"last_event":{"source":"wms","id":"r1","occurred_at":"2026-11-27T10:00:00.000Z","seq":1},
"applied_seq":1}},
"channels":{"shadow":{"expected":10,"last_pushed":null,"in_sync":false,
"out_of_sync_since":"2026-11-28T01:38:08.158Z","reason":"no_connector"},
"wholesale":{"expected":14,"last_pushed":null,"in_sync":false,
"out_of_sync_since":"2026-11-28T01:38:08.158Z",
"reason":"channel_error: connect http://127.0.0.1:9: Connection refused"},
"web":{"expected":0,"last_pushed":0,"in_sync":true,"out_of_sync_since":null,"reason":null}},
"complete":true})";

// GET /v1/skus/GIFT-BOX: a kit of 2 shirts and a mug.
constexpr std::string_view kit_sample = R"({"sku":"GIFT-BOX","locations":{},
"channels":{"shadow":{"expected":2,"last_pushed":null,"in_sync":false,
"out_of_sync_since":"2026-11-28T01:38:36.768Z","reason":"no_connector"}},
"kit":{"components":[{"sku":"TSHIRT-RED-M","qty":2,"available":14},
{"sku":"MUG-BLUE","qty":1,"available":2}],"available":2,"locations":{"main":2,"dc-2":0}},
"complete":true})";

// GET /v1/sync/out-of-sync, oldest first; ages from under a second to days.
constexpr std::string_view out_of_sync_sample = R"({"out_of_sync":[
{"channel":"shadow","sku":"MUG-BLUE","expected":2,"last_pushed":null,
"since":"2026-11-25T01:38:08.159Z","age_ms":273600000,"reason":"no_connector"},
{"channel":"wholesale","sku":"TSHIRT-RED-M","expected":14,"last_pushed":9,
"since":"2026-11-28T01:37:05.159Z","age_ms":63000,
"reason":"channel_error: connect http://127.0.0.1:9: Connection refused"},
{"channel":"wholesale","sku":"MUG-BLUE","expected":2,"last_pushed":3,
"since":"2026-11-28T01:38:08.159Z","age_ms":420,"reason":"circuit_open"}]})";

// GET /v1/skus/CTL-A/events?limit=2: newest first, and the seq to page on.
constexpr std::string_view events_sample = R"({"sku":"CTL-A","events":[
{"seq":3,"received_at":"2026-11-28T01:38:08.201Z","source":"e2e-wms","id":"o1",
"type":"order_created","sku":"CTL-A","location":"main","occurred_at":"2026-11-27T10:15:00.000Z",
"qty":3,"order_id":"ORD-1","line_id":"1","channel":"web"},
{"seq":1,"received_at":"2026-11-28T01:38:08.200Z","source":"e2e-wms","id":"r1",
"type":"received","sku":"CTL-A","location":"main","occurred_at":"2026-11-27T10:15:00.000Z",
"qty":10}],"next_before":1})";

// GET /v1/skus/CTL-C/events: an adjustment each way and a count, the whole ledger.
constexpr std::string_view ledger_sample = R"({"sku":"CTL-C","events":[
{"seq":12,"received_at":"2026-11-28T01:40:00.000Z","source":"e2e-wms","id":"c1",
"type":"counted","sku":"CTL-C","location":"main","occurred_at":"2026-11-27T10:15:00.000Z",
"counted":5,"as_of":"2026-11-27T10:15:00.000Z"},
{"seq":9,"received_at":"2026-11-28T01:39:00.000Z","source":"e2e-wms","id":"a2",
"type":"adjusted","sku":"CTL-C","location":"dc-2","occurred_at":"2026-11-27T10:14:00.000Z",
"delta":-2,"reason":"broken"},
{"seq":5,"received_at":"2026-11-28T01:38:08.202Z","source":"e2e-wms","id":"a1",
"type":"adjusted","sku":"CTL-C","location":"main","occurred_at":"2026-11-27T10:13:00.000Z",
"delta":7,"reason":"found"}],"next_before":null})";

// GET /v1/sync/dead-letters: a SKU the webhook channel refuses, and one never out of sync.
constexpr std::string_view dead_letters_sample = R"({"dead_letters":[
{"channel":"wholesale","sku":"HOOK-BAD","expected":4,"last_pushed":null,
"since":"2026-11-28T01:30:08.159Z","age_ms":480000,"reason":"rejected_item: rejected"},
{"channel":"wholesale","sku":"HOOK-ODD","expected":0,"last_pushed":2,
"since":"2026-11-28T01:38:08.159Z","age_ms":0,"reason":"rejected_item: invalid_quantity"}]})";

// GET /v1/reconciliation/runs: a channel run under the correct policy (a hand edit and a lost
// push corrected, an order the channel took held) and two snapshot reports, one a dry run.
constexpr std::string_view runs_sample = R"({"runs":[
{"id":"shop.1","kind":"channel","channel":"shop","seq":1,"trigger":"admin","policy":"correct",
"status":"finished","started_at_ms":1795776488159,"finished_at_ms":1795776489999,
"duration_ms":1840,"cycle_ms":0,"skus_planned":4,"skus_read":4,"skus_skipped":0,"read_calls":1,
"read_failures":0,"variances":3,"by_class":{"hand_edit":1,"order_not_seen":1,"push_lost":1,
"unknown":0},"corrected":2,"held":1,"alerts":0,"variances_listed":3},
{"id":"snapshot:main.3","kind":"snapshot","location":"main","seq":3,"source":"erp",
"snapshot":"inv-1127","as_of":"2026-11-27T12:00:00Z","dry_run":false,"status":"finished",
"started_at_ms":1795776512000,"finished_at_ms":1795776512003,"duration_ms":3,"lines":5,
"rejected":0,"compared":5,"unchanged":1,"variances":3,"by_class":{"shrinkage":1,
"missed_receipt":2},"shrinkage_units":3,"missed_receipt_units":6,"stale":1,"refused":0,
"duplicate":0,"not_compared":0,"variances_listed":3},
{"id":"snapshot:main.2","kind":"snapshot","location":"main","seq":2,"source":"erp",
"snapshot":"inv-1127","as_of":"2026-11-27T12:00:00Z","dry_run":true,"status":"finished",
"started_at_ms":1795776510000,"finished_at_ms":1795776510002,"duration_ms":2,"lines":5,
"rejected":0,"compared":5,"unchanged":1,"variances":0,"by_class":{"shrinkage":0,
"missed_receipt":0},"shrinkage_units":0,"missed_receipt_units":0,"stale":1,"refused":0,
"duplicate":0,"not_compared":0,"variances_listed":0}]})";

// GET /v1/reconciliation/runs/shop.1: the summary above with its variances.
constexpr std::string_view channel_run_sample = R"({"kind":"channel","id":"shop.1",
"channel":"shop","seq":1,"trigger":"admin","policy":"correct","status":"finished",
"started_at_ms":1795776488159,"finished_at_ms":1795776489999,"duration_ms":1840,"cycle_ms":0,
"skus_planned":4,"skus_read":4,"skus_skipped":0,"read_calls":1,"read_failures":0,
"variances":3,"by_class":{"hand_edit":1,"order_not_seen":1,"push_lost":1,"unknown":0},
"corrected":2,"held":1,"alerts":0,"variances_listed":3,"variance_list":[
{"sku":"R-EDIT","class":"hand_edit","action":"corrected","expected":10,"last_pushed":10,
"believed":10,"channel_shows":25},
{"sku":"R-LOST","class":"push_lost","action":"corrected","expected":7,"last_pushed":7,
"believed":7,"channel_shows":10},
{"sku":"R-SOLD","class":"order_not_seen","action":"held","expected":10,"last_pushed":10,
"believed":10,"channel_shows":8}]})";

// GET /v1/reconciliation/runs/snapshot:main.3: largest |delta| first.
constexpr std::string_view snapshot_run_sample = R"({"id":"snapshot:main.3","kind":"snapshot",
"location":"main","seq":3,"source":"erp","snapshot":"inv-1127","as_of":"2026-11-27T12:00:00Z",
"dry_run":false,"status":"finished","started_at_ms":1795776512000,
"finished_at_ms":1795776512003,"duration_ms":3,"lines":5,"rejected":0,"compared":5,
"unchanged":1,"variances":3,"by_class":{"shrinkage":1,"missed_receipt":2},"shrinkage_units":3,
"missed_receipt_units":6,"stale":1,"refused":0,"duplicate":0,"not_compared":0,
"variances_listed":3,"variance_list":[
{"sku":"MISSED","class":"missed_receipt","action":"applied","on_hand_before":5,"counted":9,
"on_hand_after":9,"delta":4},
{"sku":"SHRINK","class":"shrinkage","action":"applied","on_hand_before":10,"counted":7,
"on_hand_after":7,"delta":-3},
{"sku":"NEW","class":"missed_receipt","action":"applied","on_hand_before":0,"counted":2,
"on_hand_after":2,"delta":2}]})";

} // namespace

TEST_CASE("stockctl status prints a header block and a row per channel", "[stockctl][tables]") {
  const std::string out = stockctl::format_status(status_sample);
  INFO(out);
  CHECK(has_line(out, "status            ready"));
  CHECK(has_line(out, "uptime            9s"));
  CHECK(has_line(out, "journal head      3 (writer queue 0)"));
  CHECK(has_line(out, "events            accepted 3, duplicate 0, rejected 1"));
  CHECK(has_line(out, "catalog misses    unmapped 0, unknown units 2"));
  CHECK(has_line(out, "checkpoints       watermark 3, event lag 0, failures 0"));
  CHECK(has_line(out, "http              requests 2, 4xx 0, 5xx 0, overloaded 0"));
  // Numbers right-aligned under their headers, the free-text error last and unpadded; an
  // outbox without "pending" (the answer before that field) shows "-".
  CHECK(has_line(out, "CHANNEL    CONNECTOR  MODE    CIRCUIT  QUEUED U/N/B  OUT OF SYNC  OLDEST  "
                      "DEAD  RATE USE  OUTBOX PEND/FAIL  LAST ERROR"));
  CHECK(has_line(out, "shadow     none       live    closed          0/2/0            2      3s  "
                      "   0        0%               -/0  -"));
  CHECK(has_line(out, "wholesale  webhook    shadow  open          1/2/130            2   2h03m  "
                      "   4       37%               7/2  MDB_MAP_FULL: Environment mapsize limit "
                      "reached"));
}

TEST_CASE("stockctl status prints a dash for what the answer lacks and survives a non-object",
          "[stockctl][tables]") {
  const std::string sparse =
      stockctl::format_status(R"({"status":"recovering","channels":[{"id":"c1"},{}]})");
  INFO(sparse);
  CHECK(has_line(sparse, "status        recovering"));
  CHECK(has_line(sparse, "uptime        -"));
  CHECK(has_line(sparse, "journal head  - (writer queue -)"));
  CHECK(sparse.find("events") == std::string::npos);  // a group the answer lacks is left out
  CHECK(has_line(sparse, "c1       -          -     -               -/-/-            -       -  "
                         "   -         -               -/-  -"));
  CHECK(has_line(sparse, "-        -          -     -               -/-/-            -       -  "
                         "   -         -               -/-  -"));

  CHECK(stockctl::format_status(R"({"status":"ready","channels":[]})")
            .ends_with("\nno channels\n"));
  CHECK(stockctl::format_status(R"({"status":"ready"})").ends_with("\nno channels\n"));
  // Wrong types where numbers belong: printed as they are, no failure.
  const std::string odd = stockctl::format_status(
      R"({"uptime_s":"soon","channels":[{"id":"c","out_of_sync":"x","rate_limit_use":"y"}]})");
  CHECK(has_line(odd, "uptime        -"));
  CHECK(has_line(odd, "c        -          -     -               -/-/-            x       -     -  "
                      "       -               -/-  -"));

  for (std::string_view body : {std::string_view("<html>busy</html>"), std::string_view("[1,2]"),
                                std::string_view("")}) {
    const std::string bad = stockctl::format_status(body);
    CHECK(bad.starts_with("stockctl: the server's answer is not a status (as JSON):\n"));
    CHECK(bad.find(body) != std::string::npos);
  }
}

TEST_CASE("stockctl sku prints the buckets per location and each channel's sync state",
          "[stockctl][tables]") {
  const std::string out = stockctl::format_sku(sku_sample);
  INFO(out);
  CHECK(out.starts_with("SKU TSHIRT-RED-M\n\n"));
  CHECK(has_line(out, "LOCATION  AVAILABLE  COMMITTED  RESERVED  SAFETY  DAMAGED  QC  INCOMING  "
                      "ON HAND  OVERSOLD  LAST EVENT"));
  CHECK(has_line(out, "dc-2              4          0         0       0        0   0         0  "
                      "      4         0  wms:r2 (seq 2)"));
  CHECK(has_line(out, "main             -2         12         1       2        3   1        20  "
                      "     17         2  wms:r1 (seq 1)"));
  CHECK(has_line(out, "oversold at main by web: 2 units in 1 orders"));
  CHECK(has_line(out, "CHANNEL    EXPECTED  LAST PUSHED  IN SYNC  OUT OF SYNC SINCE         "
                      "REASON"));
  CHECK(has_line(out, "shadow           10            -  no       2026-11-28T01:38:08.158Z  "
                      "no_connector"));
  CHECK(has_line(out, "wholesale        14            -  no       2026-11-28T01:38:08.158Z  "
                      "channel_error: connect http://127.0.0.1:9: Connection refused"));
  CHECK(has_line(out, "web               0            0  yes      -                         -"));
  CHECK(out.find("incomplete") == std::string::npos);
}

TEST_CASE("stockctl sku prints a kit's components and marks an incomplete answer",
          "[stockctl][tables]") {
  const std::string kit = stockctl::format_sku(kit_sample);
  INFO(kit);
  CHECK(kit.starts_with("SKU GIFT-BOX (a kit: no stock of its own)\n\n"));
  CHECK(has_line(kit, "kits available: 2 (main 2, dc-2 0)"));
  CHECK(has_line(kit, "COMPONENT     PER KIT  AVAILABLE"));
  CHECK(has_line(kit, "TSHIRT-RED-M        2         14"));
  CHECK(has_line(kit, "MUG-BLUE            1          2"));
  CHECK(kit.find("LOCATION") == std::string::npos);
  CHECK(has_line(kit, "shadow          2            -  no       2026-11-28T01:38:36.768Z  "
                      "no_connector"));

  const std::string partial = stockctl::format_sku(
      R"({"sku":"X","locations":{"main":{}},"channels":{"web":{}},"complete":false})");
  INFO(partial);
  CHECK(has_line(partial, "incomplete: a location did not answer in time; run it again"));
  CHECK(has_line(partial, "main              -          -         -       -        -   -  "
                          "       -        -         -  -"));
  CHECK(has_line(partial, "web             -            -  -        -                  -"));

  const std::string bare = stockctl::format_sku(R"({})");
  CHECK(bare.starts_with("SKU -\n"));
  CHECK(has_line(bare, "no locations"));
  CHECK(has_line(bare, "no channels"));
  CHECK(stockctl::format_sku("not json").starts_with("stockctl: the server's answer is not a SKU"));
}

TEST_CASE("stockctl prints control characters from the server as question marks",
          "[stockctl][tables]") {
  const std::string out = stockctl::format_sku(
      R"({"sku":"A\u001b[2JB","channels":{"web":{"reason":"line one\nline two"}}})");
  CHECK(out.starts_with("SKU A?[2JB\n"));
  CHECK(out.find("line one?line two") != std::string::npos);
  CHECK(out.find('\x1b') == std::string::npos);
}

TEST_CASE("stockctl out-of-sync prints a row per SKU and channel with its age in human units",
          "[stockctl][tables]") {
  const std::string out = stockctl::format_out_of_sync(out_of_sync_sample);
  INFO(out);
  CHECK(out == "SKU           CHANNEL    SINCE  EXPECTED  LAST PUSHED  REASON\n"
               "MUG-BLUE      shadow     3d04h         2            -  no_connector\n"
               "TSHIRT-RED-M  wholesale  1m03s        14            9  channel_error: connect "
               "http://127.0.0.1:9: Connection refused\n"
               "MUG-BLUE      wholesale    <1s         2            3  circuit_open\n");

  CHECK(stockctl::format_out_of_sync(R"({"out_of_sync":[]})") == "nothing out of sync\n");
  // Without age_ms the server's timestamp stands in; without anything, dashes.
  const std::string sparse = stockctl::format_out_of_sync(
      R"({"out_of_sync":[{"sku":"A","since":"2026-11-28T01:38:08.159Z"},{}]})");
  INFO(sparse);
  CHECK(sparse == "SKU  CHANNEL                     SINCE  EXPECTED  LAST PUSHED  REASON\n"
                  "A    -        2026-11-28T01:38:08.159Z         -            -  -\n"
                  "-    -                               -         -            -  -\n");
  CHECK(stockctl::format_out_of_sync(R"({"error":"unknown channel"})") == "nothing out of sync\n");
  CHECK(stockctl::format_out_of_sync("{").starts_with(
      "stockctl: the server's answer is not an out-of-sync list (as JSON):\n{"));
}

TEST_CASE("stockctl events prints a SKU's ledger newest first with the seq to page on",
          "[stockctl][tables]") {
  const std::string out = stockctl::format_events(events_sample);
  INFO(out);
  CHECK(out.starts_with("SKU CTL-A\n\n"));
  CHECK(has_line(out, "SEQ  OCCURRED                  TYPE           LOCATION  QTY  EVENT       "
                      "DETAILS"));
  CHECK(has_line(out, "  3  2026-11-27T10:15:00.000Z  order_created  main        3  e2e-wms:o1  "
                      "order_id=ORD-1 line_id=1 channel=web"));
  CHECK(has_line(out, "  1  2026-11-27T10:15:00.000Z  received       main       10  e2e-wms:r1  "
                      "-"));
  CHECK(out.ends_with("\n\nolder events: --before 1\n"));

  // A delta with its sign, a count as "=N"; no page after the last.
  const std::string ledger = stockctl::format_events(ledger_sample);
  INFO(ledger);
  CHECK(has_line(ledger, " 12  2026-11-27T10:15:00.000Z  counted   main       =5  e2e-wms:c1  "
                         "as_of=2026-11-27T10:15:00.000Z"));
  CHECK(has_line(ledger, "  9  2026-11-27T10:14:00.000Z  adjusted  dc-2       -2  e2e-wms:a2  "
                         "reason=broken"));
  CHECK(has_line(ledger, "  5  2026-11-27T10:13:00.000Z  adjusted  main       +7  e2e-wms:a1  "
                         "reason=found"));
  CHECK(ledger.find("older events") == std::string::npos);
}

TEST_CASE("stockctl events prints a dash for what an entry lacks and survives a non-object",
          "[stockctl][tables]") {
  const std::string sparse = stockctl::format_events(R"({"events":[{}]})");
  INFO(sparse);
  CHECK(sparse == "SKU -\n\n"
                  "SEQ  OCCURRED  TYPE  LOCATION  QTY  EVENT  DETAILS\n"
                  "  -  -         -     -           -  -:-    -\n");
  CHECK(stockctl::format_events(R"({"sku":"X","events":[],"next_before":null})") ==
        "SKU X\n\nno events\n");
  for (std::string_view body : {std::string_view("[]"), std::string_view("upstream timeout")}) {
    const std::string bad = stockctl::format_events(body);
    CHECK(bad.starts_with("stockctl: the server's answer is not a SKU's events (as JSON):\n"));
    CHECK(bad.find(body) != std::string::npos);
  }
}

TEST_CASE("stockctl dead-letters prints a row per refused item with the channel's reason",
          "[stockctl][tables]") {
  const std::string out = stockctl::format_dead_letters(dead_letters_sample);
  INFO(out);
  CHECK(out == "SKU       CHANNEL    SINCE  EXPECTED  LAST PUSHED  REASON\n"
               "HOOK-BAD  wholesale  8m00s         4            -  rejected_item: rejected\n"
               "HOOK-ODD  wholesale    <1s         0            2  rejected_item: "
               "invalid_quantity\n");
  CHECK(stockctl::format_dead_letters(R"({"dead_letters":[]})") == "no dead letters\n");
  const std::string sparse = stockctl::format_dead_letters(R"({"dead_letters":[{"sku":"A"}]})");
  CHECK(sparse == "SKU  CHANNEL  SINCE  EXPECTED  LAST PUSHED  REASON\n"
                  "A    -            -         -            -  -\n");
  CHECK(stockctl::format_dead_letters("<html>busy</html>")
            .starts_with("stockctl: the server's answer is not a dead-letter list (as JSON):\n"
                         "<html>busy</html>"));
}

TEST_CASE("stockctl reconcile show lists channel runs and snapshot reports in one table",
          "[stockctl][tables]") {
  const std::string out = stockctl::format_runs(runs_sample);
  INFO(out);
  CHECK(out == "RUN              KIND      STATUS    STARTED               TOOK  CHECKED  "
               "VARIANCES  DETAIL\n"
               "shop.1           channel   finished  2026-11-27T10:48:08Z    1s        4  "
               "        3  admin, policy correct, hand_edit 1, order_not_seen 1, push_lost 1\n"
               "snapshot:main.3  snapshot  finished  2026-11-27T10:48:32Z   <1s        5  "
               "        3  erp inv-1127, shrinkage 1, missed_receipt 2\n"
               "snapshot:main.2  snapshot  finished  2026-11-27T10:48:30Z   <1s        5  "
               "        0  erp inv-1127, dry run\n");
  CHECK(stockctl::format_runs(R"({"runs":[]})") == "no reconciliation runs\n");
  // A run without its fields: dashes; a failed snapshot says why.
  const std::string sparse = stockctl::format_runs(
      R"({"runs":[{},{"id":"snapshot:main.9","kind":"snapshot","status":"failed",
      "started_at_ms":0,"error":"the store is full"}]})");
  INFO(sparse);
  CHECK(has_line(sparse, "-                -         -       -           -        -          -  "
                         "-, policy -"));
  CHECK(has_line(sparse, "snapshot:main.9  snapshot  failed  -           -        -          -  "
                         "- -, error: the store is full"));
  CHECK(stockctl::format_runs("[]").starts_with(
      "stockctl: the server's answer is not a list of runs (as JSON):\n[]"));
}

TEST_CASE("stockctl reconcile show RUN prints a channel run's summary and each variance",
          "[stockctl][tables]") {
  const std::string out = stockctl::format_run(channel_run_sample);
  INFO(out);
  CHECK(out == "run        shop.1 (channel shop)\n"
               "status     finished\n"
               "started    2026-11-27T10:48:08Z, took 1s\n"
               "trigger    admin, policy correct\n"
               "checked    planned 4, read 4, skipped 0, read calls 1, read failures 0\n"
               "variances  3 (hand_edit 1, order_not_seen 1, push_lost 1, unknown 0)\n"
               "actions    corrected 2, held 1, alerts 0\n"
               "\n"
               "SKU     CLASS           ACTION     EXPECTED  LAST PUSHED  BELIEVED  CHANNEL SHOWS\n"
               "R-EDIT  hand_edit       corrected        10           10        10             25\n"
               "R-LOST  push_lost       corrected         7            7         7             10\n"
               "R-SOLD  order_not_seen  held             10           10        10              "
               "8\n");
}

TEST_CASE("stockctl reconcile show RUN prints a snapshot report's counts and deltas",
          "[stockctl][tables]") {
  const std::string out = stockctl::format_run(snapshot_run_sample);
  INFO(out);
  CHECK(out == "run        snapshot:main.3 (snapshot of main)\n"
               "status     finished\n"
               "started    2026-11-27T10:48:32Z, took <1s\n"
               "snapshot   inv-1127 from erp, as of 2026-11-27T12:00:00Z\n"
               "lines      5 (rejected 0, compared 5, unchanged 1, stale 1, refused 0, "
               "duplicate 0, not compared 0)\n"
               "variances  3 (shrinkage 1, missed_receipt 2)\n"
               "units      shrinkage 3, missed receipt 6\n"
               "\n"
               "SKU     CLASS           ACTION   ON HAND BEFORE  COUNTED  ON HAND AFTER  DELTA\n"
               "MISSED  missed_receipt  applied               5        9              9     +4\n"
               "SHRINK  shrinkage       applied              10        7              7     -3\n"
               "NEW     missed_receipt  applied               0        2              2     +2\n");
}

TEST_CASE("stockctl reconcile show RUN says when the list is cut short and survives sparse answers",
          "[stockctl][tables]") {
  // A large run keeps its first variances only: the table must not pass for all of them.
  const std::string cut = stockctl::format_run(
      R"({"id":"snapshot:main.4","kind":"snapshot","location":"main","dry_run":true,
      "variances":3,"variances_listed":1,"error":"line 7: counted: expected an integer",
      "variance_list":[{"sku":"A","class":"shrinkage","action":"none","delta":-1}]})");
  INFO(cut);
  CHECK(has_line(cut, "snapshot   - from -, as of - (dry run: nothing applied)"));
  CHECK(has_line(cut, "error      line 7: counted: expected an integer"));
  CHECK(has_line(cut, "listed: the first 1 of 3 variances"));
  CHECK(has_line(cut, "A    shrinkage  none                 -        -              -     -1"));

  const std::string bare = stockctl::format_run("{}");
  INFO(bare);
  CHECK(bare == "run        - (channel -)\n"
                "status     -\n"
                "started    -, took -\n"
                "trigger    -, policy -\n"
                "checked    planned -, read -, skipped -, read calls -, read failures -\n"
                "variances  -\n"
                "actions    corrected -, held -, alerts -\n"
                "\n"
                "no variances listed\n");
  CHECK(stockctl::format_run("").starts_with(
      "stockctl: the server's answer is not a run (as JSON):\n"));
}

TEST_CASE("stockctl repush and reconcile run print one line with what was queued or started",
          "[stockctl][tables]") {
  CHECK(stockctl::format_repush(R"({"channel":"shadow","queued":1,"lane":"bulk"})") ==
        "queued a full re-push of channel shadow: 1 SKU on the bulk lane\n");
  CHECK(stockctl::format_repush(R"({"channel":"wholesale","queued":130,"lane":"bulk"})") ==
        "queued a full re-push of channel wholesale: 130 SKUs on the bulk lane\n");
  CHECK(stockctl::format_repush("{}") ==
        "queued a full re-push of channel -: - SKUs on the - lane\n");
  CHECK(stockctl::format_repush("queued").starts_with(
      "stockctl: the server's answer is not a re-push answer (as JSON):\nqueued"));

  CHECK(stockctl::format_reconcile_started(
            R"({"channel":"shop","run":"shop.1","started":true})") ==
        "started reconciliation run shop.1 on channel shop (when it is done: stockctl reconcile "
        "show shop.1)\n");
  CHECK(stockctl::format_reconcile_started(
            R"({"channel":"shop","run":"shop.2","started":false})") ==
        "not started: reconciliation run shop.2 is already going on channel shop\n");
  CHECK(stockctl::format_reconcile_started("{}") ==
        "reconciliation run - on channel - (started: -)\n");
  CHECK(stockctl::format_reconcile_started("[true]").starts_with(
      "stockctl: the server's answer is not a reconcile answer (as JSON):\n[true]"));
}

TEST_CASE("stockctl prints durations in human units", "[stockctl][tables]") {
  CHECK(stockctl::human_duration_ms(-5) == "<1s");
  CHECK(stockctl::human_duration_ms(0) == "<1s");
  CHECK(stockctl::human_duration_ms(999) == "<1s");
  CHECK(stockctl::human_duration_ms(1000) == "1s");
  CHECK(stockctl::human_duration_ms(59'999) == "59s");
  CHECK(stockctl::human_duration_ms(60'000) == "1m00s");
  CHECK(stockctl::human_duration_ms(3'599'999) == "59m59s");
  CHECK(stockctl::human_duration_ms(3'600'000) == "1h00m");
  CHECK(stockctl::human_duration_ms(86'399'999) == "23h59m");
  CHECK(stockctl::human_duration_ms(86'400'000) == "1d00h");
  CHECK(stockctl::human_duration_ms(400LL * 86'400'000 + 3'600'000) == "400d01h");
}
