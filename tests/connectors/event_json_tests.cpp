// connectors/event_json: every event type reads back exactly as written (export/import and the
// ledger share it), and a broken line names its field.
#include <string>

#include <catch2/catch.hpp>

#include "connectors/event_json.hpp"

using namespace stockd;

namespace {

engine::journal_entry base(engine::event_type type) {
  engine::journal_entry e;
  e.seq = 42;
  e.received_at = engine::timestamp{std::chrono::milliseconds{1'790'000'000'123}};
  e.ev.source = engine::source_id{"wms \"east\""};
  e.ev.id = "ev-1\n";
  e.ev.type = type;
  e.ev.sku = engine::sku_id{"SHIRT/RED/M"};
  e.ev.location = engine::location_id{"dc-east"};
  e.ev.occurred_at = engine::timestamp{std::chrono::milliseconds{1'789'999'999'001}};
  e.ev.qty = 3;
  return e;
}

} // namespace

TEST_CASE("journal entries of every type read back exactly from their JSON", "[event_json]") {
  for (std::size_t i = 0; i < engine::event_type_count; ++i) {
    const auto type = static_cast<engine::event_type>(i);
    engine::journal_entry e = base(type);
    switch (type) {
      case engine::event_type::adjusted: e.ev.qty = 0; e.ev.delta = -4; e.ev.reason = "breakage"; break;
      case engine::event_type::counted:
        e.ev.qty = 0;
        e.ev.counted = 17;
        e.ev.as_of = e.ev.occurred_at - std::chrono::minutes(5);
        break;
      case engine::event_type::return_received:
        e.ev.order_id = "O-1"; e.ev.line_id = "2";
        e.ev.return_disposition = engine::disposition::quality_control;
        break;
      case engine::event_type::status_changed:
        e.ev.from = engine::bucket::available; e.ev.to = engine::bucket::damaged; break;
      case engine::event_type::transfer_shipped:
        e.ev.transfer_id = "T-9"; e.ev.to_location = engine::location_id{"store-1"}; break;
      case engine::event_type::reservation_created:
        e.ev.reservation_id = "cart-7";
        e.ev.expires_at = e.received_at + std::chrono::minutes(15);
        break;
      case engine::event_type::order_created:
        e.ev.order_id = "O-1"; e.ev.line_id = "1"; e.ev.channel = engine::channel_id{"shopify"}; break;
      case engine::event_type::po_created: e.ev.po_id = "PO-3"; break;
      default: break;
    }
    const std::string json = connectors::journal_entry_json(e);
    auto back = connectors::parse_journal_entry_json(json);
    INFO(json);
    REQUIRE(back);
    CHECK(*back == e);
  }
}

TEST_CASE("a journal entry line that is incomplete or ill-typed names the field", "[event_json]") {
  const std::string good = connectors::journal_entry_json(base(engine::event_type::received));
  CHECK(connectors::parse_journal_entry_json("[1]").error() == "not a JSON object");
  CHECK(connectors::parse_journal_entry_json("{\"seq\":0}").error() == "seq: must be positive");
  CHECK(connectors::parse_journal_entry_json("{\"seq\":\"1\"}").error() == "seq: expected an integer");
  CHECK(connectors::parse_journal_entry_json("{\"seq\":1}").error() == "received_at: missing");
  std::string no_qty = good;
  no_qty.replace(no_qty.find("\"qty\""), 5, "\"qtx\"");
  CHECK(connectors::parse_journal_entry_json(no_qty).error() == "qty: missing");
  std::string bad_type = good;
  bad_type.replace(bad_type.find("\"received\""), 10, "\"recieved\"");
  CHECK(connectors::parse_journal_entry_json(bad_type).error() == "type: unknown event type");
}
