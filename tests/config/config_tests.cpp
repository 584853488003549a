#include <catch2/catch.hpp>

#include "config/config.hpp"

using stockd::config::parse;

namespace {

std::string error_of(std::string_view toml) {
  auto r = parse(toml, "test.toml");
  REQUIRE_FALSE(r.has_value());
  return r.error().to_string();
}

} // namespace

TEST_CASE("the embedded default has one location main, ./data and 127.0.0.1:8080", "[config]") {
  auto s = stockd::config::embedded_default();
  REQUIRE(s.catalog.locations().size() == 1);
  CHECK(s.catalog.locations()[0].id.str() == "main");
  CHECK(s.store.dir == "./data");
  CHECK(s.server.listen_host == "127.0.0.1");
  CHECK(s.server.listen_port == 8080);
}

TEST_CASE("a full config file sets every part it names", "[config]") {
  auto r = parse(R"(
[server]
listen = "0.0.0.0:9090"
data_dir = "/var/lib/stockd"
body_bytes_max = 4096
read_timeout_ms = 2500

[engine]
threads = 2
shards = 16
checkpoint_interval_ms = 250

[store]
map_size_mb = 64
map_size_max_mb = 1024

[limits]
events_per_request_max = 500

[[tokens]]
name = "wms"
sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
scopes = ["ingest"]

[[locations]]
id = "DC-EAST"
aliases = { "wms-east" = ["E1", "EAST"], "erp" = ["0001"] }

[[locations]]
id = "STORE-1"
)",
                 "full.toml");
  REQUIRE(r.has_value());
  const auto& s = *r;
  CHECK(s.server.listen_host == "0.0.0.0");
  CHECK(s.server.listen_port == 9090);
  CHECK(s.store.dir == "/var/lib/stockd");
  CHECK(s.server.body_bytes_max == 4096);
  CHECK(s.server.read_timeout == std::chrono::milliseconds(2500));
  CHECK(s.actors.threads == 2);
  CHECK(s.actors.shards == 16);
  CHECK(s.actors.checkpoint_interval == std::chrono::milliseconds(250));
  CHECK(s.store.map_size_bytes == 64u << 20);
  CHECK(s.decode.events_max == 500);
  REQUIRE(s.server.tokens.size() == 1);
  CHECK(s.server.tokens[0].scopes == static_cast<std::uint8_t>(stockd::server::scope::ingest));
  REQUIRE(s.catalog.locations().size() == 2);
  using stockd::engine::source_id;
  auto east = s.catalog.resolve_location(source_id("wms-east"), "E1");
  REQUIRE(east.has_value());
  CHECK(east->str() == "DC-EAST");
  CHECK(s.catalog.resolve_location(source_id("erp"), "0001")->str() == "DC-EAST");
  CHECK(s.catalog.resolve_location(source_id("erp"), "STORE-1")->str() == "STORE-1");
  CHECK_FALSE(s.catalog.resolve_location(source_id("erp"), "E1").has_value());
}

TEST_CASE("the snapshot route's limits come from the server and limits sections", "[config]") {
  const auto defaults = stockd::config::embedded_default();
  CHECK(defaults.server.snapshot_bytes_max == std::uint64_t{4} << 30);
  CHECK(defaults.server.snapshot_line_bytes_max == 64 * 1024);
  auto r = parse(R"(
[server]
snapshot_timeout_ms = 60000
snapshots_concurrent_max = 2

[limits]
snapshot_bytes_max = 1099511627776
snapshot_line_bytes_max = 4096
)",
                 "snapshots.toml");
  REQUIRE(r.has_value());
  CHECK(r->server.snapshot_timeout == std::chrono::milliseconds(60000));
  CHECK(r->server.snapshots_concurrent_max == 2);
  CHECK(r->server.snapshot_bytes_max == std::uint64_t{1} << 40);
  CHECK(r->server.snapshot_line_bytes_max == 4096);
  CHECK(error_of("[limits]\nsnapshot_line_bytes_max = 10\n") ==
        "limits.snapshot_line_bytes_max: must be between 1024 and 16777216");
}

TEST_CASE("the dashboard's history interval comes from the server section, 1 to 60 s",
          "[config]") {
  CHECK(stockd::config::embedded_default().server.history_interval ==
        std::chrono::milliseconds(10'000));
  auto r = parse("[server]\nhistory_interval_ms = 1000\n", "history.toml");
  REQUIRE(r.has_value());
  CHECK(r->server.history_interval == std::chrono::milliseconds(1000));
  CHECK(error_of("[server]\nhistory_interval_ms = 999\n").find("server.history_interval_ms: ") ==
        0);
  CHECK(error_of("[server]\nhistory_interval_ms = 60001\n").find("server.history_interval_ms: ") ==
        0);
}

TEST_CASE("an unknown key is an error that names the key", "[config]") {
  CHECK(error_of("[server]\nlistne = \"127.0.0.1:1\"\n") == "server.listne: unknown key");
  CHECK(error_of("[sever]\n") == "sever: unknown key");
  CHECK(error_of("[[locations]]\nid = \"a\"\ncolour = 1\n") == "locations[0].colour: unknown key");
}

TEST_CASE("an unknown key that is empty or needs quotes is named as TOML spells it", "[config]") {
  // Found by the config fuzzer: `""=""` was refused with an empty key.
  CHECK(error_of("\"\" = \"\"\n") == "\"\": unknown key");
  CHECK(error_of("\"line 1\" = 1\n") == "\"line 1\": unknown key");
  CHECK(error_of("[server]\n\"a.b\" = 1\n") == "server.\"a.b\": unknown key");
  CHECK(error_of("[server]\n\"q\\\"\" = 1\n") == "server.\"q\\\"\": unknown key");
}

TEST_CASE("ill-typed and out-of-range values are errors that name the key", "[config]") {
  CHECK(error_of("[server]\nio_threads = \"two\"\n") == "server.io_threads: must be an integer");
  CHECK(error_of("[server]\nio_threads = 0\n") == "server.io_threads: must be between 1 and 64");
  CHECK(error_of("[server]\nlisten = \"nowhere\"\n").find("server.listen: must be HOST:PORT") == 0);
  CHECK(error_of("[store]\nmap_size_mb = 64\nmap_size_max_mb = 32\n") ==
        "store.map_size_max_mb: must be at least map_size_mb");
  CHECK(error_of("server = 3\n") == "server: must be a table ([server])");
}

TEST_CASE("locations must be present, well named and unique", "[config]") {
  CHECK(error_of("locations = []\n") == "locations: at least one location is required");
  CHECK(error_of("[[locations]]\nid = \"a b\"\n").find("locations[0].id: is required") == 0);
  CHECK(error_of("[[locations]]\nid = \"a\"\n[[locations]]\nid = \"a\"\n") ==
        "locations[1].id: duplicate location id 'a'");
  CHECK(error_of("[[locations]]\nid = \"a\"\naliases = { s = [\"x\"] }\n[[locations]]\nid = "
                 "\"b\"\naliases = { s = [\"x\"] }\n") ==
        "locations[1].aliases.s: alias 'x' is used twice for this source");
}

TEST_CASE("tokens are kept as SHA-256 digests with known scopes only", "[config]") {
  CHECK(error_of("[server]\ntoken = \"secret\"\n").find("server.token: plain tokens") == 0);
  CHECK(error_of("[[tokens]]\nname = \"a\"\nsha256 = \"abc\"\nscopes = [\"read\"]\n")
            .find("tokens[0].sha256: must be the 64") == 0);
  CHECK(error_of("[[tokens]]\nname = \"a\"\nsha256 = "
                 "\"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\"\nscopes = "
                 "[\"root\"]\n")
            .find("tokens[0].scopes: unknown scope") == 0);
}

TEST_CASE("a TOML syntax error names the line", "[config]") {
  CHECK(error_of("[server\n").find("line 1") == 0);
}

TEST_CASE("channels carry their connector, locations in priority order and rules", "[config]") {
  auto r = parse(R"(
[[locations]]
id = "DC-EAST"
[[locations]]
id = "DC-WEST"

[[channels]]
id = "shopify-main"
connector = "shopify"
endpoint = "https://example.myshopify.com/admin/api/2024-07/graphql.json"
credentials = "env:SHOPIFY_TOKEN"
shopify_location = "gid://shopify/Location/72"
locations = ["DC-WEST", "DC-EAST"]
settle_ms = 2000
unseen_hold_ms = 120000
rules = { allocation = "percent", percent = 30, rounding = "nearest", keep_one = true, buffer = 2, zero_at_or_below = 1, max = 50, preorder_limit = 10 }

[[channels]]
id = "wholesale"
connector = "webhook"
endpoint = "http://127.0.0.1:9300/stock"
locations = ["DC-EAST"]
requests_per_second = 0.5
burst = 1
batch_size = 500
push_interval_ms = 60000
rules = { allocation = "fixed", fixed = 20, floor = 5 }
)",
                 "test.toml");
  REQUIRE(r.has_value());
  const auto& catalog = r->catalog;
  REQUIRE(catalog.channels().size() == 2);
  const auto* shop = catalog.find_channel(stockd::engine::channel_id("shopify-main"));
  REQUIRE(shop != nullptr);
  REQUIRE(shop->locations.size() == 2);
  CHECK(shop->locations[0].str() == "DC-WEST");
  CHECK(shop->rules.allocation == stockd::engine::allocation_kind::percent);
  CHECK(shop->rules.percent == 30);
  CHECK(shop->rules.percent_rounding == stockd::engine::rounding::nearest);
  CHECK(shop->rules.keep_one);
  CHECK(shop->rules.buffer == 2);
  CHECK(shop->rules.zero_at_or_below == std::optional<std::int64_t>{1});
  CHECK(shop->rules.max == std::optional<std::int64_t>{50});
  CHECK(shop->rules.preorder_limit == 10);
  REQUIRE(r->channels.size() == 2);
  CHECK(r->channels[0].connector == stockd::connectors::connector_kind::shopify);
  CHECK(r->channels[0].batch_size == 250);
  CHECK(r->channels[0].credentials == "env:SHOPIFY_TOKEN");
  CHECK(r->channels[0].shopify_location == "gid://shopify/Location/72");
  CHECK(r->channels[1].shopify_location.empty());
  CHECK(r->channels[0].settle == std::chrono::milliseconds(2000));
  CHECK(r->channels[0].unseen_hold == std::chrono::milliseconds(120000));
  CHECK(r->channels[1].unseen_hold == std::chrono::minutes(15));
  CHECK(r->channels[1].push == stockd::connectors::push_mode::event);
  CHECK(r->channels[1].requests_per_second == 0.5);
  CHECK(r->channels[1].batch_size == 500);
  const auto* wholesale = catalog.find_channel(stockd::engine::channel_id("wholesale"));
  REQUIRE(wholesale != nullptr);
  CHECK(wholesale->rules.allocation == stockd::engine::allocation_kind::fixed);
  CHECK(wholesale->rules.fixed == 20);
  CHECK(wholesale->rules.floor == std::optional<std::int64_t>{5});
  // A channel the config does not know places its lines over every location in config order.
  auto everywhere = catalog.locations_for(stockd::engine::channel_id("pos"));
  REQUIRE(everywhere.size() == 2);
  CHECK(everywhere[0].str() == "DC-EAST");
  CHECK(catalog.locations_for(stockd::engine::channel_id("shopify-main"))[0].str() == "DC-WEST");
}

TEST_CASE("a bad channel is refused with the key and the problem", "[config]") {
  const std::string head = "[[channels]]\nid = \"c\"\n";
  const std::string ok = "connector = \"webhook\"\nendpoint = \"https://x.example/\"\n"
                         "locations = [\"main\"]\n";
  CHECK(error_of(head + "endpoint = \"https://x/\"\nlocations = [\"main\"]\n") ==
        "channels[0].connector: is required: \"shopify\", \"amazon\", \"webhook\" or \"none\"");
  CHECK(error_of(head + "connector = \"ebay\"\n") ==
        "channels[0].connector: must be one of \"shopify\", \"amazon\", \"webhook\", \"none\"");
  CHECK(error_of(head + "connector = \"webhook\"\nendpoint = \"http://shop.example/\"\n")
            .find("channels[0].endpoint: must be https://") == 0);
  CHECK(error_of(head + "connector = \"webhook\"\nendpoint = \"https://x/\"\n") ==
        "channels[0].locations: is required: the locations it sells from, in priority order, "
        "e.g. [\"DC-EAST\", \"DC-WEST\"]");
  CHECK(error_of(head + "connector = \"webhook\"\nendpoint = \"https://x/\"\n"
                        "locations = [\"nowhere\"]\n") ==
        "channels[0].locations: unknown location 'nowhere'");
  CHECK(error_of(head + ok + "credentials = \"shpat_123\"\n")
            .find("channels[0].credentials: must be a reference") == 0);
  CHECK(error_of(head + ok + "batch_size = 0\n") ==
        "channels[0].batch_size: must be between 1 and 100000");
  CHECK(error_of(head + "connector = \"shopify\"\nendpoint = \"https://x/\"\n"
                        "locations = [\"main\"]\nbatch_size = 251\n") ==
        "channels[0].batch_size: must be between 1 and 250");
  const std::string shop = "connector = \"shopify\"\nendpoint = \"https://x/\"\n"
                           "locations = [\"main\"]\n";
  CHECK(error_of(head + shop) ==
        "channels[0].shopify_location: is required for connector \"shopify\": the Location GID "
        "it sets, e.g. \"gid://shopify/Location/1\"");
  CHECK(error_of(head + shop + "shopify_location = \"gid://shopify/Location/1\"\n"
                               "requests_per_second = 5\n") ==
        "channels[0].requests_per_second: is not for connector \"shopify\": it paces on the "
        "cost bucket the shop reports");
  CHECK(error_of(head + shop + "shopify_location = \"gid://shopify/Location/1\"\nburst = 5\n") ==
        "channels[0].burst: is not for connector \"shopify\": it paces on the cost bucket the "
        "shop reports");
  CHECK(error_of(head + shop + "shopify_location = \"Location/1\"\n") ==
        "channels[0].shopify_location: must be a Location GID such as "
        "\"gid://shopify/Location/1\"");
  CHECK(error_of(head + shop + "shopify_location = \"gid://shopify/Location/1x\"\n") ==
        "channels[0].shopify_location: must be a Location GID such as "
        "\"gid://shopify/Location/1\"");
  CHECK(error_of(head + ok + "shopify_location = \"gid://shopify/Location/1\"\n") ==
        "channels[0].shopify_location: is only for connector \"shopify\"");
  CHECK(error_of(head + ok + "rules = { allocation = \"percent\" }\n") ==
        "channels[0].rules.percent: is required with allocation = \"percent\"");
  CHECK(error_of(head + ok + "rules = { percent = 50 }\n") ==
        "channels[0].rules.allocation: percent, rounding and keep_one need allocation = "
        "\"percent\"");
  CHECK(error_of(head + ok + "rules = { allocation = \"percent\", percent = 101 }\n") ==
        "channels[0].rules.percent: must be between 0 and 100");
  CHECK(error_of(head + ok + "rules = { bufer = 1 }\n") == "channels[0].rules.bufer: unknown key");
  CHECK(error_of(head + ok + "rules = { max = 1, floor = 2 }\n") ==
        "channels[0].rules.floor: must not be above max");
  CHECK(error_of(head + ok + "push = \"hourly\"\n") ==
        "channels[0].push: must be one of \"event\", \"interval\"");
  CHECK(error_of(head + ok + "push = \"interval\"\npush_interval_ms = 50\n") ==
        "channels[0].push_interval_ms: must be between 100 and 86400000");
  CHECK(error_of(head + ok + "[[channels]]\nid = \"c\"\n" + ok) ==
        "channels[1].id: duplicate channel id 'c'");
}

TEST_CASE("an amazon channel carries its seller and marketplace and paces at 5 per second",
          "[config]") {
  auto r = parse(R"(
[[channels]]
id = "amazon-us"
connector = "amazon"
endpoint = "https://sellingpartnerapi-na.amazon.com"
credentials = "env:AMAZON_TOKEN"
seller_id = "A1STOCKSIM"
marketplace_id = "ATVPDKIKX0DER"
locations = ["main"]

[[channels]]
id = "amazon-slow"
connector = "amazon"
endpoint = "http://127.0.0.1:9200"
seller_id = "A2"
marketplace_id = "A1PA6795UKMFR9"
locations = ["main"]
requests_per_second = 1.5
burst = 3
)",
                 "test.toml");
  REQUIRE(r.has_value());
  REQUIRE(r->channels.size() == 2);
  CHECK(r->channels[0].connector == stockd::connectors::connector_kind::amazon);
  CHECK(r->channels[0].seller_id == "A1STOCKSIM");
  CHECK(r->channels[0].marketplace_id == "ATVPDKIKX0DER");
  CHECK(r->channels[0].requests_per_second == 5.0);
  CHECK(r->channels[0].burst == 5);
  CHECK(r->channels[1].requests_per_second == 1.5);
  CHECK(r->channels[1].burst == 3);
}

TEST_CASE("an amazon channel without a valid seller or marketplace id is refused", "[config]") {
  const std::string head = "[[channels]]\nid = \"a\"\nconnector = \"amazon\"\n"
                           "endpoint = \"https://x.example/\"\nlocations = [\"main\"]\n";
  CHECK(error_of(head + "marketplace_id = \"ATVPDKIKX0DER\"\n") ==
        "channels[0].seller_id: is required for connector = \"amazon\"");
  CHECK(error_of(head + "seller_id = \"A1\"\n") ==
        "channels[0].marketplace_id: is required for connector = \"amazon\"");
  CHECK(error_of(head + "seller_id = \"A1/../x\"\nmarketplace_id = \"ATVPDKIKX0DER\"\n") ==
        "channels[0].seller_id: must be 1 to 32 upper-case letters and digits");
  CHECK(error_of(head + "seller_id = \"A1\"\nmarketplace_id = 7\n") ==
        "channels[0].marketplace_id: must be a string");
  CHECK(error_of("[[channels]]\nid = \"w\"\nconnector = \"webhook\"\n"
                 "endpoint = \"https://x.example/\"\nlocations = [\"main\"]\n"
                 "seller_id = \"A1\"\n") ==
        "channels[0].seller_id: is only for connector = \"amazon\"");
}

TEST_CASE("an amazon channel takes an lwa_endpoint, https or loopback http only", "[config]") {
  const std::string head = "[[channels]]\nid = \"a\"\nconnector = \"amazon\"\n"
                           "endpoint = \"https://x.example/\"\nlocations = [\"main\"]\n"
                           "seller_id = \"A1\"\nmarketplace_id = \"ATVPDKIKX0DER\"\n";
  auto r = parse(head + "lwa_endpoint = \"http://127.0.0.1:9200/auth/o2/token\"\n", "test.toml");
  REQUIRE(r);
  CHECK(r->channels[0].lwa_endpoint == "http://127.0.0.1:9200/auth/o2/token");
  auto unset = parse(head, "test.toml");
  REQUIRE(unset);
  CHECK(unset->channels[0].lwa_endpoint.empty());  // the client's default: api.amazon.com
  CHECK(error_of(head + "lwa_endpoint = \"http://lwa.example/token\"\n") ==
        "channels[0].lwa_endpoint: must be https:// (plain http:// only on loopback, for "
        "emulators)");
  CHECK(error_of("[[channels]]\nid = \"w\"\nconnector = \"webhook\"\n"
                 "endpoint = \"https://x.example/\"\nlocations = [\"main\"]\n"
                 "lwa_endpoint = \"https://api.amazon.com/auth/o2/token\"\n") ==
        "channels[0].lwa_endpoint: is only for connector = \"amazon\"");
}

TEST_CASE("skus carry units and kit components and mappings carry SKU and location names",
          "[config]") {
  auto r = parse(R"(
[[locations]]
id = "DC-EAST"
aliases = { "wms-east" = ["E1"] }

[[skus]]
id = "TSHIRT-RED-M"
units = { pack6 = 6, case = 24 }

[[skus]]
id = "GIFT-BOX"
components = [{ sku = "TSHIRT-RED-M", qty = 2 }, { sku = "MUG", qty = 1 }]

[[mappings]]
source = "erp"
skus = { "ERP-1001" = "TSHIRT-RED-M", "ERP-2000" = "GIFT-BOX" }
locations = { "0001" = "DC-EAST" }

[[mappings]]
source = "wms-east"
locations = { "EAST" = "DC-EAST" }
)",
                 "skus.toml");
  INFO((r.has_value() ? std::string() : r.error().to_string()));
  REQUIRE(r.has_value());
  const auto& c = r->catalog;
  using stockd::engine::kit_component;
  using stockd::engine::sku_id;
  using stockd::engine::source_id;
  CHECK(c.unit_factor(sku_id("TSHIRT-RED-M"), "case") == 24);
  CHECK(c.unit_factor(sku_id("TSHIRT-RED-M"), "each") == 1);
  REQUIRE(c.kit_components(sku_id("GIFT-BOX")).size() == 2);
  CHECK(c.kit_components(sku_id("GIFT-BOX"))[0] == kit_component{sku_id("TSHIRT-RED-M"), 2});
  CHECK(c.kit_components(sku_id("GIFT-BOX"))[1] == kit_component{sku_id("MUG"), 1});
  CHECK(c.resolve_sku(source_id("erp"), "ERP-1001") == sku_id("TSHIRT-RED-M"));
  CHECK(c.resolve_sku(source_id("erp"), "TSHIRT-RED-M") == std::nullopt);
  // A mapping with only locations leaves the source's SKUs as they are.
  CHECK(c.resolve_sku(source_id("wms-east"), "TSHIRT-RED-M") == sku_id("TSHIRT-RED-M"));
  CHECK(c.resolve_location(source_id("erp"), "0001")->str() == "DC-EAST");
  CHECK(c.resolve_location(source_id("wms-east"), "EAST")->str() == "DC-EAST");
  CHECK(c.resolve_location(source_id("wms-east"), "E1")->str() == "DC-EAST");
}

TEST_CASE("sku units must be named and have a factor of at least one", "[config]") {
  CHECK(error_of("[[skus]]\nid = \"A\"\nunits = { case = 0 }\n")
            .find("skus[0].units.case: must be an integer factor from 1 to") == 0);
  CHECK(error_of("[[skus]]\nid = \"A\"\nunits = { case = 2.5 }\n")
            .find("skus[0].units.case: must be an integer factor") == 0);
  CHECK(error_of("[[skus]]\nid = \"A\"\nunits = { \"a case\" = 2 }\n")
            .find("skus[0].units.\"a case\": unit names are") == 0);
  CHECK(error_of("[[skus]]\nid = \"A\"\nunits = 6\n").find("skus[0].units: must be a table") == 0);
  CHECK(error_of("[[skus]]\nid = \"A\"\ncolour = 1\n") == "skus[0].colour: unknown key");
  CHECK(error_of("[[skus]]\nunits = { case = 2 }\n") == "skus[0].id: must be a non-empty SKU id");
  CHECK(error_of("[[skus]]\nid = \"A\"\n[[skus]]\nid = \"A\"\n") ==
        "skus[1].id: duplicate SKU id 'A'");
}

TEST_CASE("kits name valid components once each, never themselves and never another kit",
          "[config]") {
  CHECK(error_of("[[skus]]\nid = \"K\"\ncomponents = [{ sku = \"K\", qty = 1 }]\n") ==
        "skus[0].components[0].sku: a kit cannot contain itself");
  CHECK(error_of("[[skus]]\nid = \"K\"\ncomponents = [{ sku = \"A\", qty = 1 }, { sku = \"A\", "
                 "qty = 2 }]\n") == "skus[0].components[1].sku: component 'A' is listed twice");
  CHECK(error_of("[[skus]]\nid = \"K\"\ncomponents = [{ sku = \"A\" }]\n")
            .find("skus[0].components[0].qty: is required") == 0);
  CHECK(error_of("[[skus]]\nid = \"K\"\ncomponents = [{ sku = \"A\", qty = 0 }]\n") ==
        "skus[0].components[0].qty: must be between 1 and 1000000");
  CHECK(error_of("[[skus]]\nid = \"K\"\ncomponents = [{ sku = \"\", qty = 1 }]\n") ==
        "skus[0].components[0].sku: must be a non-empty SKU id");
  CHECK(error_of("[[skus]]\nid = \"K\"\ncomponents = []\n")
            .find("skus[0].components: must be a non-empty list") == 0);
  CHECK(error_of("[[skus]]\nid = \"K\"\ncomponents = [{ sku = \"A\", qty = 1, size = 2 }]\n") ==
        "skus[0].components[0].size: unknown key");
  // K2 contains K1, which is itself a kit: refused wherever the two are declared.
  CHECK(error_of("[[skus]]\nid = \"K2\"\ncomponents = [{ sku = \"K1\", qty = 1 }]\n"
                 "[[skus]]\nid = \"K1\"\ncomponents = [{ sku = \"A\", qty = 1 }]\n") ==
        "skus[0].components[0].sku: 'K1' is a kit: kits of kits are not supported");
}

TEST_CASE("mappings name their source once, valid SKUs and configured locations", "[config]") {
  CHECK(error_of("[[mappings]]\nskus = { X = \"A\" }\n")
            .find("mappings[0].source: is required") == 0);
  CHECK(error_of("[[mappings]]\nsource = \"erp\"\n[[mappings]]\nsource = \"erp\"\n") ==
        "mappings[1].source: source 'erp' is mapped twice");
  CHECK(error_of("[[mappings]]\nsource = \"erp\"\nskus = { X = 3 }\n") ==
        "mappings[0].skus.X: must be a string (the canonical SKU)");
  CHECK(error_of("[[mappings]]\nsource = \"erp\"\nskus = { X = \"\" }\n") ==
        "mappings[0].skus.X: must be a non-empty SKU id");
  CHECK(error_of("[[mappings]]\nsource = \"erp\"\nlocations = { X = \"nowhere\" }\n") ==
        "mappings[0].locations.X: unknown location 'nowhere'");
  CHECK(error_of("[[locations]]\nid = \"a\"\naliases = { erp = [\"X\"] }\n[[mappings]]\nsource = "
                 "\"erp\"\nlocations = { X = \"a\" }\n") ==
        "mappings[0].locations.X: alias 'X' is used twice for this source");
  CHECK(error_of("[[mappings]]\nsource = \"erp\"\nitems = {}\n") ==
        "mappings[0].items: unknown key");
}

TEST_CASE("listen addresses parse with IPv4, names and bracketed IPv6", "[config]") {
  using stockd::config::parse_listen;
  CHECK(parse_listen("127.0.0.1:8080")->second == 8080);
  CHECK(parse_listen("[::1]:9000")->first == "::1");
  CHECK(parse_listen("localhost:1")->first == "localhost");
  CHECK_FALSE(parse_listen("127.0.0.1").has_value());
  CHECK_FALSE(parse_listen("127.0.0.1:99999").has_value());
  CHECK_FALSE(parse_listen(":80").has_value());
  CHECK_FALSE(parse_listen("h:8x").has_value());
}

// Found by fuzz_config (fuzz/corpus/config/listen_brackets_in_host.toml): "[[a]]]:9090" was read
// as host "[a]]", an address nobody can bind and parse_listen cannot read back.
TEST_CASE("a listen address with a bracket or a space inside its host is refused", "[config]") {
  using stockd::config::parse_listen;
  CHECK_FALSE(parse_listen("[[locations]]]:9090").has_value());
  CHECK_FALSE(parse_listen("[a]b]:80").has_value());
  CHECK_FALSE(parse_listen("a]:80").has_value());
  CHECK_FALSE(parse_listen("local host:80").has_value());
  CHECK_FALSE(parse_listen("[::1\t]:80").has_value());
  CHECK(parse_listen("[fe80::1%eth0]:80")->first == "fe80::1%eth0");
  CHECK(error_of("[server]\nlisten = \"[[locations]]]:9090\"\n")
            .find("server.listen: must be HOST:PORT") == 0);
}

TEST_CASE("a missing config file is an error naming its path", "[config]") {
  auto r = stockd::config::load_file("/nonexistent/stockd.toml");
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().message.find("/nonexistent/stockd.toml") != std::string::npos);
}

TEST_CASE("the writer's commit limits come from the engine section", "[config]") {
  auto r = parse("[engine]\ncommit_batch_events_max = 500\ncheckpoint_records_per_commit_max = 32\n",
                 "w.toml");
  REQUIRE(r.has_value());
  CHECK(r->writer.batch_events_max == 500);
  CHECK(r->writer.checkpoint_records_per_commit_max == 32);
  CHECK(error_of("[engine]\ncheckpoint_records_per_commit_max = 0\n") ==
        "engine.checkpoint_records_per_commit_max: must be between 1 and 1000000");
  CHECK(r->writer.checkpoint_records_per_idle_commit_max == 1024);  // the default
  auto idle = parse("[engine]\ncheckpoint_records_per_idle_commit_max = 256\n", "w.toml");
  REQUIRE(idle.has_value());
  CHECK(idle->writer.checkpoint_records_per_idle_commit_max == 256);
  CHECK(error_of("[engine]\ncheckpoint_records_per_idle_commit_max = 0\n") ==
        "engine.checkpoint_records_per_idle_commit_max: must be between 1 and 1000000");
}

TEST_CASE("a channel with connector none computes its values and takes nothing about pushing",
          "[config]") {
  const std::string head = "[[channels]]\nid = \"c\"\nconnector = \"none\"\nlocations = [\"main\"]\n";
  auto r = parse(head, "test.toml");
  REQUIRE(r.has_value());
  REQUIRE(r->channels.size() == 1);
  CHECK(r->channels[0].connector == stockd::connectors::connector_kind::none);
  CHECK(r->catalog.find_channel(stockd::engine::channel_id("c")) != nullptr);
  CHECK(error_of(head + "endpoint = \"https://x/\"\n") ==
        "channels[0].endpoint: is not for connector \"none\": it pushes nothing");
  CHECK(error_of(head + "credentials = \"env:X\"\n") ==
        "channels[0].credentials: is not for connector \"none\": it pushes nothing");
  CHECK(error_of(head + "shopify_location = \"gid://shopify/Location/1\"\n") ==
        "channels[0].shopify_location: is only for connector \"shopify\"");
}

TEST_CASE("a shopify or none channel takes webhook secrets by reference, with a rotation window",
          "[config]") {
  const std::string head = "[[channels]]\nid = \"c\"\nconnector = \"none\"\nlocations = [\"main\"]\n";
  auto r = parse(head + "webhook_secret = \"env:NEW\"\nwebhook_secret_previous = \"file:/s/old\"\n"
                        "webhook_secret_previous_until = \"2026-11-28T12:00:00Z\"\n"
                        "shop_domain = \"example.myshopify.com\"\n",
                 "test.toml");
  REQUIRE(r.has_value());
  const auto& c = r->channels[0];
  CHECK(c.webhook_secret == "env:NEW");
  CHECK(c.webhook_secret_previous == "file:/s/old");
  REQUIRE(c.webhook_secret_previous_until);
  CHECK(*c.webhook_secret_previous_until ==
        *stockd::engine::parse_rfc3339("2026-11-28T12:00:00Z"));
  CHECK(c.shop_domain == "example.myshopify.com");
  CHECK(error_of(head + "webhook_secret = \"shpss_abc\"\n")
            .find("channels[0].webhook_secret: must be a reference") == 0);
  CHECK(error_of(head + "webhook_secret = \"env:A\"\nwebhook_secret_previous = \"env:B\"\n")
            .find("channels[0].webhook_secret_previous_until: is required") == 0);
  CHECK(error_of(head + "webhook_secret_previous = \"env:B\"\n") ==
        "channels[0].webhook_secret_previous: needs webhook_secret (the new secret)");
  CHECK(error_of(head + "webhook_secret = \"env:A\"\nwebhook_secret_previous = \"env:B\"\n"
                        "webhook_secret_previous_until = \"tomorrow\"\n")
            .find("channels[0].webhook_secret_previous_until: must be an RFC 3339") == 0);
  CHECK(error_of(head + "shop_domain = \"Example.com/x\"\n")
            .find("channels[0].shop_domain: must be the shop's domain") == 0);
  CHECK(error_of("[[channels]]\nid = \"c\"\nconnector = \"webhook\"\n"
                 "endpoint = \"https://x/\"\nlocations = [\"main\"]\nwebhook_secret = \"env:A\"\n") ==
        "channels[0].webhook_secret: is only for connector \"shopify\" or \"none\"");
}

TEST_CASE("server.admin_listen sets a second listener for the admin endpoints", "[config]") {
  auto r = parse("[server]\nadmin_listen = \"127.0.0.1:8081\"\n", "test.toml");
  REQUIRE(r.has_value());
  CHECK(r->server.admin_listen);
  CHECK(r->server.admin_listen_host == "127.0.0.1");
  CHECK(r->server.admin_listen_port == 8081);
  auto plain = parse("", "test.toml");
  REQUIRE(plain.has_value());
  CHECK_FALSE(plain->server.admin_listen);
  CHECK(error_of("[server]\nadmin_listen = \"8081\"\n") ==
        "server.admin_listen: must be HOST:PORT, e.g. \"127.0.0.1:8081\"");
}

TEST_CASE("a channel's reconciliation cycle and policy are read and checked", "[config]") {
  const std::string head = "[[channels]]\nid = \"c\"\nlocations = [\"main\"]\n";
  const std::string hook = head + "connector = \"webhook\"\nendpoint = \"https://x.example/\"\n";
  auto defaults = parse(hook, "test.toml");
  REQUIRE(defaults.has_value());
  CHECK(defaults->channels[0].reconcile_cycle == std::chrono::seconds(0));
  CHECK(defaults->channels[0].reconcile == stockd::connectors::reconcile_policy::report);
  auto set = parse(hook + "reconcile_cycle_s = 3600\nreconcile_policy = \"correct\"\n", "t.toml");
  REQUIRE(set.has_value());
  CHECK(set->channels[0].reconcile_cycle == std::chrono::hours(1));
  CHECK(set->channels[0].reconcile == stockd::connectors::reconcile_policy::correct);
  CHECK(error_of(hook + "reconcile_policy = \"fix\"\n") ==
        "channels[0].reconcile_policy: must be one of \"report\", \"correct\", \"alert\"");
  CHECK(error_of(hook + "reconcile_cycle_s = -1\n") ==
        "channels[0].reconcile_cycle_s: must be between 0 and 604800");
  CHECK(error_of(hook + "reconcile_cycle_s = \"1h\"\n").starts_with(
      "channels[0].reconcile_cycle_s: "));
  // A channel without a connector has nothing to read back.
  CHECK(error_of(head + "connector = \"none\"\nreconcile_policy = \"alert\"\n") ==
        "channels[0].reconcile_policy: is not for connector \"none\": it pushes nothing");
}
