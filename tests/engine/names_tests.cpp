// The JSON names of enums are part of the contract (DESIGN §5): they must parse back.
#include <catch2/catch.hpp>

#include "engine/catalog.hpp"
#include "engine/event.hpp"

using namespace stockd::engine;

TEST_CASE("every event type, bucket and disposition name parses back to itself", "[engine]") {
  for (std::size_t i = 0; i < event_type_count; ++i) {
    const auto type = static_cast<event_type>(i);
    CHECK(parse_event_type(to_string(type)) == type);
  }
  for (std::size_t i = 0; i < bucket_count; ++i) {
    const auto b = static_cast<bucket>(i);
    CHECK(parse_bucket(to_string(b)) == b);
  }
  for (const auto d : {disposition::restock, disposition::damaged, disposition::quality_control}) {
    CHECK(parse_disposition(to_string(d)) == d);
  }
  CHECK(to_string(event_type::reservation_expired) == "reservation_expired");
  CHECK(to_string(bucket::quality_control) == "quality_control");
}

TEST_CASE("unknown names do not parse", "[engine]") {
  CHECK_FALSE(parse_event_type("ordercreated").has_value());
  CHECK_FALSE(parse_event_type("Order_Created").has_value());
  CHECK_FALSE(parse_bucket("on_hand").has_value());
  CHECK_FALSE(parse_disposition("").has_value());
}

TEST_CASE("catalog resolves a source's alias before a canonical location id", "[engine]") {
  const catalog c({
      {location_id{"DC-EAST"}, {{source_id{"wms-east"}, "E1"}, {source_id{"erp"}, "DC-WEST"}}},
      {location_id{"DC-WEST"}, {{source_id{"wms-west"}, "W1"}}},
  });
  CHECK(c.resolve_location(source_id{"wms-east"}, "E1") == location_id{"DC-EAST"});
  CHECK(c.resolve_location(source_id{"wms-west"}, "E1") == std::nullopt);
  CHECK(c.resolve_location(source_id{"pos"}, "DC-WEST") == location_id{"DC-WEST"});
  CHECK(c.resolve_location(source_id{"erp"}, "DC-WEST") == location_id{"DC-EAST"});
  CHECK(c.has_location(location_id{"DC-WEST"}));
  CHECK_FALSE(c.has_location(location_id{"E1"}));
}
