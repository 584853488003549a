// Kits, units and SKU mapping as the catalog and the pure kit functions define them (DESIGN §2,
// §3 step 2; docs/semantics.md "Kits, units and SKU mapping").
#include <catch2/catch.hpp>

#include <vector>

#include "engine/catalog.hpp"
#include "engine/kits.hpp"

using namespace stockd::engine;

namespace {

catalog kit_catalog() {
  return catalog(
      {{location_id{"main"}, {}}},
      {
          {sku_id{"TSHIRT-RED-M"}, {{"pack6", 6}, {"case", 24}}, {}},
          {sku_id{"GIFT-BOX"}, {}, {{sku_id{"TSHIRT-RED-M"}, 2}, {sku_id{"MUG"}, 1}}},
          {sku_id{"DUO"}, {{"pair", 2}}, {{sku_id{"MUG"}, 2}}},
      },
      {{source_id{"erp"},
        {{"ERP-1001", sku_id{"TSHIRT-RED-M"}}, {"ERP-2000", sku_id{"GIFT-BOX"}}}}});
}

sku_location_state state_with(const char* location, std::int64_t available) {
  sku_location_state s;
  s.key = {sku_id{"X"}, location_id{location}};
  s.qty.available = available;
  return s;
}

} // namespace

TEST_CASE("a mapped source speaks only its own ids and other sources pass SKUs through",
          "[engine]") {
  const catalog c = kit_catalog();
  CHECK(c.resolve_sku(source_id{"erp"}, "ERP-1001") == sku_id{"TSHIRT-RED-M"});
  // The canonical id is not an id of the ERP's table: it is unmapped for the ERP.
  CHECK(c.resolve_sku(source_id{"erp"}, "TSHIRT-RED-M") == std::nullopt);
  CHECK(c.resolve_sku(source_id{"erp"}, "ERP-9999") == std::nullopt);
  CHECK(c.resolve_sku(source_id{"pos"}, "ANYTHING") == sku_id{"ANYTHING"});
  CHECK(c.has_sku_mapping(source_id{"erp"}));
  CHECK_FALSE(c.has_sku_mapping(source_id{"pos"}));
}

TEST_CASE("every SKU knows each as one base unit and configured SKUs know their units",
          "[engine]") {
  const catalog c = kit_catalog();
  CHECK(c.unit_factor(sku_id{"TSHIRT-RED-M"}, "case") == 24);
  CHECK(c.unit_factor(sku_id{"TSHIRT-RED-M"}, "pack6") == 6);
  CHECK(c.unit_factor(sku_id{"TSHIRT-RED-M"}, "each") == 1);
  CHECK(c.unit_factor(sku_id{"NOT-CONFIGURED"}, "each") == 1);
  CHECK(c.unit_factor(sku_id{"NOT-CONFIGURED"}, "case") == std::nullopt);
  CHECK(c.unit_factor(sku_id{"TSHIRT-RED-M"}, "pallet") == std::nullopt);
  CHECK(c.unit_factor(sku_id{"DUO"}, "pair") == 2);
}

TEST_CASE("a kit lists its components in configured order and other SKUs are not kits",
          "[engine]") {
  const catalog c = kit_catalog();
  const auto box = c.kit_components(sku_id{"GIFT-BOX"});
  REQUIRE(box.size() == 2);
  CHECK(box[0] == kit_component{sku_id{"TSHIRT-RED-M"}, 2});
  CHECK(box[1] == kit_component{sku_id{"MUG"}, 1});
  CHECK(c.is_kit(sku_id{"GIFT-BOX"}));
  CHECK_FALSE(c.is_kit(sku_id{"TSHIRT-RED-M"}));
  CHECK_FALSE(c.is_kit(sku_id{"MUG"}));
  // The reverse index: MUG is in both kits (SKU order), the shirt in one, a kit in none.
  const auto mug = c.kits_containing(sku_id{"MUG"});
  REQUIRE(mug.size() == 2);
  CHECK(mug[0] == sku_id{"DUO"});
  CHECK(mug[1] == sku_id{"GIFT-BOX"});
  REQUIRE(c.kits_containing(sku_id{"TSHIRT-RED-M"}).size() == 1);
  CHECK(c.kits_containing(sku_id{"GIFT-BOX"}).empty());
}

TEST_CASE("kit availability is the minimum over components of floor(available / qty)",
          "[engine]") {
  // 7 shirts make 3 boxes of 2; 5 mugs would make 5: the shirts limit it.
  const std::vector<component_stock> box{{2, 7}, {1, 5}};
  CHECK(kit_available(box) == 3);
  // An oversold component counts as 0, never as a negative number of kits.
  const std::vector<component_stock> oversold{{2, 7}, {1, -4}};
  CHECK(kit_available(oversold) == 0);
  const std::vector<component_stock> exact{{3, 9}};
  CHECK(kit_available(exact) == 3);
  CHECK(kit_available(std::vector<component_stock>{}) == 0);
}

TEST_CASE("two kits sharing a component each see the whole of its stock", "[engine]") {
  // GIFT-BOX = 2 shirts + 1 mug; DUO = 2 mugs. 7 shirts, 5 mugs.
  const std::int64_t shirts = 7;
  const std::int64_t mugs = 5;
  const std::vector<component_stock> box{{2, shirts}, {1, mugs}};
  const std::vector<component_stock> duo{{2, mugs}};
  CHECK(kit_available(box) == 3);
  CHECK(kit_available(duo) == 2);
  // Selling 2 DUO commits 4 mugs: the box drops to 1 through the shared component.
  const std::vector<component_stock> box_after{{2, shirts}, {1, mugs - 4}};
  const std::vector<component_stock> duo_after{{2, mugs - 4}};
  CHECK(kit_available(box_after) == 1);
  CHECK(kit_available(duo_after) == 0);
}

TEST_CASE("a SKU's pool sums max(0, available) over its locations", "[engine]") {
  const std::vector<sku_location_state> states{state_with("a", 4), state_with("b", -3),
                                               state_with("c", 6)};
  CHECK(pooled_available(states) == 10);
  CHECK(pooled_available(std::vector<sku_location_state>{}) == 0);
}

TEST_CASE("only order-line events expand for a kit", "[engine]") {
  for (auto type : {event_type::order_created, event_type::order_cancelled,
                    event_type::payment_failed, event_type::order_fulfilled,
                    event_type::return_received}) {
    CHECK(kit_accepts(type));
  }
  for (auto type : {event_type::received, event_type::counted, event_type::adjusted,
                    event_type::po_created, event_type::transfer_shipped,
                    event_type::reservation_created, event_type::status_changed}) {
    CHECK_FALSE(kit_accepts(type));
  }
}

TEST_CASE("a kit order becomes one order per component with suffixed ids and lines",
          "[engine]") {
  const catalog c = kit_catalog();
  event ev;
  ev.source = source_id{"erp"};
  ev.id = "o-1";
  ev.type = event_type::order_created;
  ev.sku = sku_id{"GIFT-BOX"};
  ev.location = location_id{"main"};
  ev.qty = 3;
  ev.order_id = "ORDER-7";
  ev.line_id = "1";
  ev.channel = channel_id{"shop"};
  const auto parts = expand_kit_event(ev, c.kit_components(ev.sku));
  REQUIRE(parts.size() == 2);
  CHECK(parts[0].id == "o-1#TSHIRT-RED-M");
  CHECK(parts[0].sku == sku_id{"TSHIRT-RED-M"});
  CHECK(parts[0].qty == 6);
  CHECK(parts[0].line_id == "1/TSHIRT-RED-M");
  CHECK(parts[0].order_id == "ORDER-7");
  CHECK(parts[1].id == "o-1#MUG");
  CHECK(parts[1].qty == 3);
  CHECK(parts[1].line_id == "1/MUG");
  for (const auto& part : parts) {
    CHECK(part.source == ev.source);
    CHECK(part.location == ev.location);
    CHECK(part.channel == ev.channel);
    CHECK(part.type == ev.type);
    CHECK(part.occurred_at == ev.occurred_at);
    CHECK(is_kit_component_event(part));  // not the channel's own order of the component
  }
  CHECK_FALSE(is_kit_component_event(ev));
  event plain = parts[0];
  plain.id = "o-2";  // a sender's own order of the component, even on a line like a kit's
  CHECK_FALSE(is_kit_component_event(plain));
  plain = parts[0];
  plain.line_id = "TSHIRT-RED-M";
  CHECK_FALSE(is_kit_component_event(plain));
}
