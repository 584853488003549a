// stocksim: stockd's traffic simulator and channel API emulators (simulator/README.md).
//
//   stocksim emulate shopify|amazon|webhook --port N [options]
//       one emulator on loopback until SIGINT/SIGTERM, then its counters as JSON on stdout
//   stocksim run --scenario NAME --stockd URL --token T [options]
//       a scenario against a running stockd whose config is `stocksim config` (same ports)
//   stocksim demo [options]
//       starts stockd (and the batch baseline) with a matching config, runs a short scenario
//   stocksim config [options]
//       prints the stockd config that `run` expects
#include <pthread.h>
#include <signal.h>

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "simulator/amazon.hpp"
#include "simulator/buyer.hpp"
#include "simulator/large_catalog.hpp"
#include "simulator/listener.hpp"
#include "simulator/run.hpp"
#include "simulator/shopify.hpp"
#include "simulator/stockd_process.hpp"
#include "simulator/webhook.hpp"

namespace {

using namespace stockd::simulator;

constexpr std::string_view usage = R"(usage: stocksim emulate shopify|amazon|webhook --port N [options]
       stocksim run --scenario NAME --stockd URL --token T [run options]
       stocksim demo [run options] [--stockd-bin PATH]
       stocksim config [run options] [--push event|interval:MS|none]

run, demo and config:
  --scenario NAME        steady | flash_sale | chaos | returns_wave | channel_outage |
                         large_catalog (default: steady; demo: flash_sale). large_catalog runs
                         with demo only (it restarts stockd), on one webhook channel, with no
                         baseline; it takes --skus --locations --stock --duration-s --seed
                         --rate-scale, the order and WMS options, the timeouts, --json, --keep
  --duration-s S         traffic time (default 20; demo 10)
  --seed N               one seed for all randomness (default 1)
  --skus N --locations M catalog size: SKUs x selling locations (default 50 x 1; steady
                         and chaos 50 x 2; flash_sale 20 x 1)
  --stock N              initial units per SKU per location (default 40)
  --hot-skus N --hot-stock N --hot-share P   flash_sale's hot SKUs, their stock per location,
                         and their share of the demand
  --rate-scale X         multiplies every channel's purchase attempts per second
  --order-delay-ms N --order-jitter-ms N --order-dup P   orders on their way to stockd
  --fulfil-delay-ms N    WMS: acknowledgement to shipment (default 500)
  --faults SPEC          channel faults while traffic runs (chaos has its own)
  --cancel P --payment-failed P   returns_wave: a covered order cancelled by the customer /
                         failing payment before it ships (default 0.05 / 0.03)
  --returns P --damaged P   returns_wave: a shipped order returned; of the returns, damaged
                         (default 0.25 / 0.3)
  --return-delay-ms N    returns_wave: shipment to return, plus up to as much again (default 300)
  --pos-rate R --pos-pack N --pos-abandon P   the POS (channel pos) that reserves through
                         stockd: customers/s (0: none), units per pack, share abandoning the
                         hold (steady/chaos 4, 6, 0.1; flash_sale 100, 1, 0.1)
  --count-period-ms N --late-counts P   WMS cycle counts (0: none) and the share sent late
                         (steady/chaos 200, 0.3)
  --dc-stock N           units of every SKU at a DC no channel sells from, refilling a low
                         selling location by transfers (0: no DC; steady/chaos 60)
  --kits N --kit-share P   kits of 2-3 catalog SKUs (stockd's [[skus]] components) sold on
                         every emulated channel, and the share of customers wanting one
                         (0: none; steady/chaos 2, 0.1)
  --outage CHANNEL       channel_outage: the channel whose API fails (default amazon)
  --outage-window F:U    from F to U, shares of the traffic duration (default 0.25:0.65)
  --outage-faults SPEC   what it answers meanwhile (default 5xx=0.8,hang-before=0.2,hang-ms=1500)
  --shopify-port N --amazon-port N --webhook-port N   the emulators' ports (run/config:
                         18081, 18082, 18083; demo: free ports)
  --drain-timeout-s S    orders and WMS after traffic (default 30)
  --convergence-timeout-s S   then channels and on-hand (default 60)
  --json FILE            write the JSON summary
  --report FILE          write a self-contained HTML report (inline SVG: hot SKUs over time,
                         latency histograms, the baseline side by side)
  --progress             a progress line per second on stderr even when it is not a terminal
                         (on a terminal it is always shown, rewritten in place)
  --baseline SETTING     a second run, same scenario and seed, against a stockd started by
                         stocksim with push = SETTING: interval:MS (demo default interval:5000),
                         none (stockd pushes nothing), off
  --stockd-bin PATH      the stockd binary for demo and --baseline (default: next to stocksim)
  --keep                 keep the temporary directories of the stockd processes (logs, data)

common:
  --host H               listen address (default 127.0.0.1)
  --port N               listen port (0: any free port, printed)
  --faults SPEC          e.g. "429=0.05,5xx=next:3,hang-before=0.01,hang-ms=500,bad-skus=A|B"
  --sku SKU=QTY          seed one item (repeatable)
  --skus-file FILE       seed items, one "SKU QTY" per line
  --body-max BYTES       request body limit (default 16777216: an Amazon feed is up to 10 MiB)
  --connections-max N    (default 256)
customers (optional):
  --buy-rate R           purchases per second against the displayed quantity
  --stockd URL           post each purchase to URL/v1/events as order_created (http://host:port)
  --token T              bearer token for stockd
  --channel-id ID        source and channel of the orders (default: the emulator's name)
  --order-delay-ms N     delay before an order is sent (default 0)
  --order-jitter-ms N    plus a random 0..N ms (reorders orders)
  --order-dup P          probability that an order is sent twice
  --seed N               seed of the customers' randomness (default 1)
shopify:
  --access-token T       X-Shopify-Access-Token (default shpat_stocksim)
  --bucket-max N         cost bucket size (default 2000)
  --restore-rate N       points restored per second (default 100)
  --sku-search on|off    honour the read-back's sku:"..." query, as Shopify does (default on)
  --locations GID,GID    location GIDs (default gid://shopify/Location/1)
  --strict-from VERSION  API version from which changeFromQuantity and @idempotent are required
                         (default 2026-04)
amazon:
  --access-token T       x-amz-access-token (default Atza|stocksim)
  --seller-id S          (default A1STOCKSIM)   --marketplace-id M (default ATVPDKIKX0DER)
  --rate R --burst B     patchListingsItem token bucket (default 5, 5)
  --feeds-per-5min N     createFeed submissions per 5 minutes, also the burst (default 5)
  --feed-ms N            a feed's processing time, plus --feed-us-per-message (default 2000)
  --feed-us-per-message N  (default 100)
  --lwa-client-id ID --lwa-client-secret S --lwa-refresh-token T
                         what POST /auth/o2/token takes (defaults in simulator/README.md)
  --lwa-lifetime-s N     lifetime of the access tokens it issues (default 3600)
webhook:
  --secret S             HMAC secret (default stocksim-webhook-secret)
  --path P               (default /inventory)
  --rate R --burst B     requests per second (default 10, 10)
  --batch-max N          items per batch (default 100)
  --create-unknown       an unknown SKU is created instead of rejected
)";

[[noreturn]] void die(const std::string& message) {
  std::cerr << "stocksim: " << message << "\n";
  std::exit(2);
}

double to_double(std::string_view flag, const std::string& v) {
  char* end = nullptr;
  double d = std::strtod(v.c_str(), &end);
  if (v.empty() || end != v.c_str() + v.size()) {
    die(std::string(flag) + ": not a number: '" + v + "'");
  }
  return d;
}

std::int64_t to_int(std::string_view flag, std::string_view v) {
  std::int64_t n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc{} || p != v.data() + v.size()) {
    die(std::string(flag) + ": not an integer: '" + std::string(v) + "'");
  }
  return n;
}

struct seed_item {
  std::string sku;
  std::int64_t quantity;
};

// ---- run, demo, config ----------------------------------------------------------------------

struct sim_command {
  std::string verb;  // run | demo | config
  scenario scn;
  std::string stockd_url;
  std::string token;
  channel_ports ports;
  std::optional<push_setting> baseline;
  push_setting push;  // config only
  std::string stockd_bin;
  std::string json_path;
  std::string report_path;
  bool progress = false;
  std::chrono::milliseconds drain_timeout{30'000};
  std::chrono::milliseconds convergence_timeout{60'000};
  bool keep = false;
};

sim_command parse_sim(const std::vector<std::string>& args) {
  sim_command cmd;
  cmd.verb = args[0];
  const bool demo = cmd.verb == "demo";
  std::string name = demo ? "flash_sale" : "steady";
  for (std::size_t i = 1; i + 1 < args.size(); ++i) {
    if (args[i] == "--scenario") {
      name = args[i + 1];
    }
  }
  auto preset = scenario_preset(name);
  if (!preset) {
    std::string names;
    for (const auto& n : scenario_names()) {
      names += (names.empty() ? "" : ", ") + n;
    }
    die("unknown scenario '" + name + "' (" + names + ")");
  }
  cmd.scn = *preset;
  if (demo) {
    cmd.scn.duration = std::chrono::seconds{10};
    cmd.baseline = push_setting{push_setting::kind::interval, std::chrono::milliseconds{5'000}};
  } else {
    cmd.ports = channel_ports{18081, 18082, 18083};
    // A long-lived stockd remembers every SKU: a fresh prefix keeps this run's SKUs its own.
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch()).count();
    char buf[32];
    std::snprintf(buf, sizeof buf, "S%llx-", static_cast<unsigned long long>(now));
    cmd.scn.sku_prefix = buf;
  }
  double rate_scale = 1;
  auto port_of = [](const std::string& flag, const std::string& v) {
    const auto n = to_int(flag, v);
    if (n < 0 || n > 65535) {
      die(flag + ": a port 0..65535");
    }
    return static_cast<std::uint16_t>(n);
  };
  auto ms = [](const std::string& flag, const std::string& v) {
    return std::chrono::milliseconds(to_int(flag, v));
  };
  auto seconds = [](const std::string& flag, const std::string& v) {
    return std::chrono::milliseconds(static_cast<std::int64_t>(to_double(flag, v) * 1000));
  };
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& flag = args[i];
    if (flag == "--help" || flag == "-h") {
      std::cout << usage;
      std::exit(0);
    }
    if (flag == "--keep") {
      cmd.keep = true;
      continue;
    }
    if (flag == "--progress") {
      cmd.progress = true;
      continue;
    }
    if (i + 1 >= args.size()) {
      die(flag + ": needs a value");
    }
    const std::string& v = args[++i];
    if (flag == "--scenario") {
      // read above
    } else if (flag == "--duration-s") {
      cmd.scn.duration = seconds(flag, v);
    } else if (flag == "--seed") {
      cmd.scn.seed = static_cast<std::uint64_t>(to_int(flag, v));
    } else if (flag == "--skus") {
      cmd.scn.skus = static_cast<std::size_t>(to_int(flag, v));
    } else if (flag == "--locations") {
      cmd.scn.locations = static_cast<std::size_t>(to_int(flag, v));
    } else if (flag == "--stock") {
      cmd.scn.stock_per_location = to_int(flag, v);
    } else if (flag == "--hot-skus") {
      cmd.scn.hot_skus = static_cast<std::size_t>(to_int(flag, v));
    } else if (flag == "--hot-stock") {
      cmd.scn.hot_stock_per_location = to_int(flag, v);
    } else if (flag == "--hot-share") {
      cmd.scn.hot_share = to_double(flag, v);
    } else if (flag == "--rate-scale") {
      rate_scale = to_double(flag, v);
    } else if (flag == "--order-delay-ms") {
      cmd.scn.order_delay = ms(flag, v);
    } else if (flag == "--order-jitter-ms") {
      cmd.scn.order_jitter = ms(flag, v);
    } else if (flag == "--order-dup") {
      cmd.scn.order_duplicate_probability = to_double(flag, v);
    } else if (flag == "--fulfil-delay-ms") {
      cmd.scn.fulfil_delay = ms(flag, v);
    } else if (flag == "--faults") {
      cmd.scn.channel_faults = v;
    } else if (flag == "--shopify-port") {
      cmd.ports.shopify = port_of(flag, v);
    } else if (flag == "--amazon-port") {
      cmd.ports.amazon = port_of(flag, v);
    } else if (flag == "--webhook-port") {
      cmd.ports.webhook = port_of(flag, v);
    } else if (flag == "--drain-timeout-s") {
      cmd.drain_timeout = seconds(flag, v);
    } else if (flag == "--convergence-timeout-s") {
      cmd.convergence_timeout = seconds(flag, v);
    } else if (flag == "--json") {
      cmd.json_path = v;
    } else if (flag == "--report") {
      cmd.report_path = v;
    } else if (flag == "--cancel") {
      cmd.scn.cancel_probability = to_double(flag, v);
    } else if (flag == "--payment-failed") {
      cmd.scn.payment_failed_probability = to_double(flag, v);
    } else if (flag == "--returns") {
      cmd.scn.return_probability = to_double(flag, v);
    } else if (flag == "--damaged") {
      cmd.scn.damaged_share = to_double(flag, v);
    } else if (flag == "--return-delay-ms") {
      cmd.scn.return_delay = ms(flag, v);
    } else if (flag == "--pos-rate") {
      cmd.scn.pos_buys_per_second = to_double(flag, v);
    } else if (flag == "--pos-pack") {
      cmd.scn.pos_pack = to_int(flag, v);
    } else if (flag == "--pos-abandon") {
      cmd.scn.pos_abandon_probability = to_double(flag, v);
    } else if (flag == "--count-period-ms") {
      cmd.scn.count_period = ms(flag, v);
    } else if (flag == "--late-counts") {
      cmd.scn.count_late_share = to_double(flag, v);
    } else if (flag == "--dc-stock") {
      cmd.scn.dc_stock = to_int(flag, v);
    } else if (flag == "--kits") {
      cmd.scn.kits = static_cast<std::size_t>(to_int(flag, v));
    } else if (flag == "--kit-share") {
      cmd.scn.kit_share = to_double(flag, v);
    } else if (flag == "--outage") {
      const auto& ids = channel_ids();
      const auto it = std::find(ids.begin(), ids.end(), v);
      if (it == ids.end()) {
        die("--outage: shopify, amazon or webhook, got '" + v + "'");
      }
      cmd.scn.outage_channel = static_cast<std::size_t>(it - ids.begin());
    } else if (flag == "--outage-window") {
      const auto colon = v.find(':');
      if (colon == std::string::npos) {
        die("--outage-window: FROM:UNTIL as shares of the duration, e.g. 0.25:0.65");
      }
      cmd.scn.outage_from = to_double(flag, v.substr(0, colon));
      cmd.scn.outage_until = to_double(flag, v.substr(colon + 1));
      if (!cmd.scn.outage_channel) {
        cmd.scn.outage_channel = 1;
      }
    } else if (flag == "--outage-faults") {
      cmd.scn.outage_faults = v;
      if (!cmd.scn.outage_channel) {
        cmd.scn.outage_channel = 1;
      }
    } else if (flag == "--baseline") {
      if (v == "off") {
        cmd.baseline.reset();
      } else if (auto p = parse_push_setting(v)) {
        cmd.baseline = *p;
      } else {
        die("--baseline: interval:MS (100..86400000), none or off, got '" + v + "'");
      }
    } else if (flag == "--push" && cmd.verb == "config") {
      auto p = parse_push_setting(v);
      if (!p) {
        die("--push: event, interval:MS or none, got '" + v + "'");
      }
      cmd.push = *p;
    } else if (flag == "--stockd-bin") {
      cmd.stockd_bin = v;
    } else if (flag == "--stockd" && cmd.verb == "run") {
      cmd.stockd_url = v;
    } else if (flag == "--token" && cmd.verb == "run") {
      cmd.token = v;
    } else {
      die("unknown option " + flag + " for stocksim " + cmd.verb + " (see --help)");
    }
  }
  for (double& r : cmd.scn.buys_per_second) {
    r *= rate_scale;
  }
  if (auto problem = validate(cmd.scn)) {
    die(*problem);
  }
  if (cmd.drain_timeout.count() < 0 || cmd.convergence_timeout.count() < 0) {
    die("timeouts must be >= 0");
  }
  return cmd;
}

std::string stockd_binary(const sim_command& cmd) {
  if (!cmd.stockd_bin.empty()) {
    return cmd.stockd_bin;
  }
  if (auto sibling = sibling_stockd()) {
    return *sibling;
  }
  die("no stockd next to stocksim: give --stockd-bin PATH");
}

run_options options_for(const sim_command& cmd) {
  run_options o;
  o.scn = cmd.scn;
  o.drain_timeout = cmd.drain_timeout;
  o.convergence_timeout = cmd.convergence_timeout;
  // The progress line: always on a terminal, on request otherwise (CI logs stay short).
  const bool tty = ::isatty(STDERR_FILENO) == 1;
  if (tty || cmd.progress) {
    o.progress = &std::cerr;
    o.progress_tty = tty;
  }
  return o;
}

/// Starts a stockd with `push` and emulators on free ports, runs the scenario, stops both.
run_summary run_with_own_stockd(const sim_command& cmd, const push_setting& push) {
  channel_set channels;
  run_options o = options_for(cmd);
  o.label = push.label();
  if (auto error = channels.start()) {
    die(*error);
  }
  stockd_process_options so;
  so.binary = stockd_binary(cmd);
  so.config_toml = stockd_config(cmd.scn, channels.ports(), push);
  so.keep_dir = cmd.keep;
  stockd_process stockd(so);
  std::cerr << "stocksim: starting " << so.binary << " (" << push.label() << ")" << std::endl;
  if (auto error = stockd.start()) {
    run_summary failed;
    failed.scenario = cmd.scn.name;
    failed.label = o.label;
    failed.seed = cmd.scn.seed;
    failed.skus = cmd.scn.skus;
    // The first line names the reason (e.g. a config key this stockd refuses).
    std::string reason = *error;
    if (auto at = reason.find("config"); at != std::string::npos) {
      auto end = reason.find('\n', at);
      reason = "stockd did not start: " + reason.substr(at, end == std::string::npos ? end : end - at);
    }
    failed.error = reason;
    std::cerr << "stocksim: " << *error << std::endl;
    return failed;
  }
  if (cmd.keep) {
    std::cerr << "stocksim: stockd's directory (log, config, data): " << stockd.dir() << std::endl;
  }
  o.stockd_url = stockd.url();
  o.token = stockd.token();
  o.stockd_rss = [&stockd] { return stockd.resident_bytes(); };
  run_summary s = run_scenario(o, channels);
  s.stockd_ready_s = std::chrono::duration<double>(stockd.ready_after()).count();
  stockd.stop();
  channels.stop();
  return s;
}

/// large_catalog (simulator/large_catalog.hpp): its own runner, which starts and restarts stockd.
int large_catalog_main(const sim_command& cmd) {
  large_catalog_options o;
  o.skus = cmd.scn.skus;
  o.locations = cmd.scn.locations;
  o.stock_per_location = cmd.scn.stock_per_location;
  o.seed = cmd.scn.seed;
  o.duration = cmd.scn.duration;
  o.buys_per_second = 0;
  for (double r : cmd.scn.buys_per_second) {
    o.buys_per_second += r;
  }
  o.zipf_s = cmd.scn.zipf_s;
  o.order_delay = cmd.scn.order_delay;
  o.order_jitter = cmd.scn.order_jitter;
  o.order_duplicate_probability = cmd.scn.order_duplicate_probability;
  o.fulfil_delay = cmd.scn.fulfil_delay;
  o.drain_timeout = std::max(cmd.drain_timeout, o.drain_timeout);
  o.convergence_timeout = std::max(cmd.convergence_timeout, o.convergence_timeout);
  o.stockd_binary = stockd_binary(cmd);
  o.keep_dir = cmd.keep;
  o.progress = &std::cerr;
  signal(SIGPIPE, SIG_IGN);
  const large_catalog_summary s = run_large_catalog(o);
  std::cout << large_catalog_text(s) << std::flush;
  if (!cmd.json_path.empty()) {
    std::ofstream out(cmd.json_path, std::ios::binary);
    out << large_catalog_json(s) << "\n";
    if (!out) {
      die("--json: cannot write " + cmd.json_path);
    }
  }
  return s.passed() ? 0 : 1;
}

int sim_main(const std::vector<std::string>& args) {
  sim_command cmd = parse_sim(args);
  if (cmd.scn.name == "large_catalog") {
    if (cmd.verb == "demo") {
      return large_catalog_main(cmd);
    }
    if (cmd.verb == "config") {
      large_catalog_options o;
      o.skus = cmd.scn.skus;
      o.locations = cmd.scn.locations;
      std::cout << large_catalog_config(o, cmd.ports.webhook);
      return 0;
    }
    die("large_catalog starts and restarts stockd itself: use stocksim demo --scenario "
        "large_catalog");
  }
  if (cmd.verb == "config") {
    std::cout << stockd_config(cmd.scn, cmd.ports, cmd.push);
    return 0;
  }
  export_channel_credentials();
  signal(SIGPIPE, SIG_IGN);
  run_summary main_run;
  if (cmd.verb == "run") {
    if (cmd.stockd_url.empty() || cmd.token.empty()) {
      die("run needs --stockd http://host:port and --token T (stocksim config prints the config)");
    }
    channel_set channels(cmd.ports);
    if (auto error = channels.start()) {
      die(*error);
    }
    run_options o = options_for(cmd);
    o.stockd_url = cmd.stockd_url;
    o.token = cmd.token;
    main_run = run_scenario(o, channels);
    channels.stop();
  } else {
    main_run = run_with_own_stockd(cmd, push_setting{});
  }
  std::optional<run_summary> baseline;
  if (cmd.baseline && main_run.error.empty()) {
    baseline = run_with_own_stockd(cmd, *cmd.baseline);
  }
  std::cout << text_report(main_run, baseline) << std::flush;
  if (!cmd.json_path.empty()) {
    std::ofstream out(cmd.json_path, std::ios::binary);
    out << summary_json(main_run, baseline) << "\n";
    if (!out) {
      die("--json: cannot write " + cmd.json_path);
    }
  }
  if (!cmd.report_path.empty()) {
    std::ofstream out(cmd.report_path, std::ios::binary);
    out << html_report(main_run, baseline);
    if (!out) {
      die("--report: cannot write " + cmd.report_path);
    }
    std::cerr << "stocksim: report written to " << cmd.report_path << std::endl;
  }
  if (!main_run.error.empty()) {
    std::cerr << "stocksim: " << main_run.error << std::endl;
    return 1;
  }
  // The run's verdict: nothing lost, everything converged.
  return main_run.lost == 0 && main_run.converged ? 0 : 1;
}

int emulate_main(const std::vector<std::string>& args) {
  const std::string kind = args[1];
  if (kind != "shopify" && kind != "amazon" && kind != "webhook") {
    die("unknown emulator '" + kind + "' (shopify, amazon or webhook)");
  }
  listener_options lopts;
  std::optional<std::int64_t> port;
  std::string faults;
  std::vector<seed_item> seeds;
  buyer_options bopts;
  bopts.channel_id = kind;
  shopify_options sopts;
  amazon_options aopts;
  webhook_options wopts;
  for (std::size_t i = 2; i < args.size(); ++i) {
    const std::string& flag = args[i];
    if (flag == "--create-unknown") {
      wopts.unknown_sku_creates = true;
      continue;
    }
    if (flag == "--help" || flag == "-h") {
      std::cout << usage;
      return 0;
    }
    if (i + 1 >= args.size()) {
      die(flag + ": needs a value");
    }
    const std::string& v = args[++i];
    if (flag == "--host") {
      lopts.host = v;
    } else if (flag == "--port") {
      port = to_int(flag, v);
    } else if (flag == "--faults") {
      faults = v;
    } else if (flag == "--sku") {
      auto eq = v.find('=');
      seeds.push_back({v.substr(0, eq),
                       eq == std::string::npos ? 0 : to_int(flag, std::string_view(v).substr(eq + 1))});
    } else if (flag == "--skus-file") {
      std::ifstream in(v);
      if (!in) {
        die("--skus-file: cannot read " + v);
      }
      std::string sku;
      std::int64_t quantity = 0;
      while (in >> sku >> quantity) {
        seeds.push_back({sku, quantity});
      }
    } else if (flag == "--body-max") {
      lopts.body_bytes_max = static_cast<std::size_t>(to_int(flag, v));
    } else if (flag == "--connections-max") {
      lopts.connections_max = static_cast<std::size_t>(to_int(flag, v));
    } else if (flag == "--buy-rate") {
      bopts.buys_per_second = to_double(flag, v);
    } else if (flag == "--stockd") {
      bopts.stockd_url = v;
    } else if (flag == "--token") {
      bopts.token = v;
    } else if (flag == "--channel-id") {
      bopts.channel_id = v;
    } else if (flag == "--order-delay-ms") {
      bopts.delay = std::chrono::milliseconds(to_int(flag, v));
    } else if (flag == "--order-jitter-ms") {
      bopts.jitter = std::chrono::milliseconds(to_int(flag, v));
    } else if (flag == "--order-dup") {
      bopts.duplicate_probability = to_double(flag, v);
    } else if (flag == "--seed") {
      bopts.seed = static_cast<std::uint64_t>(to_int(flag, v));
    } else if (flag == "--access-token") {
      sopts.access_token = v;
      aopts.access_token = v;
    } else if (flag == "--bucket-max" && kind == "shopify") {
      sopts.bucket_max = to_double(flag, v);
    } else if (flag == "--restore-rate" && kind == "shopify") {
      sopts.restore_per_second = to_double(flag, v);
    } else if (flag == "--sku-search" && kind == "shopify") {
      sopts.sku_search = v == "on";
    } else if (flag == "--locations" && kind == "shopify") {
      sopts.locations.clear();
      std::string_view rest = v;
      while (!rest.empty()) {
        auto comma = rest.find(',');
        sopts.locations.emplace_back(rest.substr(0, comma));
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
      }
    } else if (flag == "--strict-from" && kind == "shopify") {
      sopts.strict_from_version = v;
    } else if (flag == "--seller-id" && kind == "amazon") {
      aopts.seller_id = v;
    } else if (flag == "--marketplace-id" && kind == "amazon") {
      aopts.marketplace_id = v;
    } else if (flag == "--feeds-per-5min" && kind == "amazon") {
      aopts.create_feed_burst = to_double(flag, v);
      aopts.create_feed_rate = aopts.create_feed_burst / 300.0;
    } else if (flag == "--feed-ms" && kind == "amazon") {
      aopts.feed_time_base = std::chrono::milliseconds(to_int(flag, v));
    } else if (flag == "--feed-us-per-message" && kind == "amazon") {
      aopts.feed_time_per_message = std::chrono::microseconds(to_int(flag, v));
    } else if (flag == "--lwa-client-id" && kind == "amazon") {
      aopts.lwa_client_id = v;
    } else if (flag == "--lwa-client-secret" && kind == "amazon") {
      aopts.lwa_client_secret = v;
    } else if (flag == "--lwa-refresh-token" && kind == "amazon") {
      aopts.lwa_refresh_token = v;
    } else if (flag == "--lwa-lifetime-s" && kind == "amazon") {
      aopts.lwa_token_lifetime = std::chrono::seconds(to_int(flag, v));
    } else if (flag == "--rate" && kind != "shopify") {
      aopts.patch_rate = wopts.rate = to_double(flag, v);
    } else if (flag == "--burst" && kind != "shopify") {
      aopts.patch_burst = wopts.burst = to_double(flag, v);
    } else if (flag == "--secret" && kind == "webhook") {
      wopts.secret = v;
    } else if (flag == "--path" && kind == "webhook") {
      wopts.path = v;
    } else if (flag == "--batch-max" && kind == "webhook") {
      wopts.batch_items_max = static_cast<std::size_t>(to_int(flag, v));
    } else {
      die("unknown option " + flag + " for the " + kind + " emulator (see --help)");
    }
  }
  if (!port || *port < 0 || *port > 65535) {
    die("--port N (0..65535) is required");
  }
  lopts.port = static_cast<std::uint16_t>(*port);
  if (sopts.bucket_max <= 0 || sopts.restore_per_second <= 0 || sopts.locations.empty() ||
      aopts.patch_rate <= 0 || aopts.patch_burst < 1 || aopts.create_feed_burst < 1 ||
      aopts.feed_time_base.count() < 0 || aopts.feed_time_per_message.count() < 0 ||
      aopts.lwa_token_lifetime.count() < 1 ||
      wopts.rate <= 0 || wopts.burst < 1 ||
      wopts.batch_items_max < 1 || lopts.body_bytes_max < 1024 || lopts.connections_max < 1) {
    die("limits must be positive (rate > 0, burst >= 1, batch >= 1, body >= 1024 bytes)");
  }

  // Signals go to sigwait below, not to whichever thread happens to run.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  std::unique_ptr<emulator> channel;
  std::string endpoint;
  if (kind == "shopify") {
    channel = std::make_unique<shopify_emulator>(sopts);
    endpoint = "POST /admin/api/<version>/graphql.json";
  } else if (kind == "amazon") {
    channel = std::make_unique<amazon_emulator>(aopts);
    endpoint = "PATCH|GET /listings/2021-08-01/items/" + aopts.seller_id + "/<sku>";
  } else {
    channel = std::make_unique<webhook_emulator>(wopts);
    endpoint = "POST " + wopts.path + ", GET " + wopts.path + "[/<sku>]";
  }
  if (auto error = channel->set_faults(faults)) {
    die("--faults: " + *error);
  }
  for (const auto& s : seeds) {
    if (auto error = channel->set_quantity(s.sku, s.quantity)) {
      die("--sku " + s.sku + ": " + *error);
    }
  }
  std::unique_ptr<buyer> customers;
  if (bopts.buys_per_second > 0) {
    customers = std::make_unique<buyer>(bopts, *channel);
    buyer* b = customers.get();
    channel->set_extra_stats([b](json_writer& out) { b->write_stats(out); });
  }
  listener server(lopts, [&channel](const request& req) { return channel->handle(req); });
  if (auto error = server.start()) {
    die(*error);
  }
  if (customers) {
    if (auto error = customers->start()) {
      server.stop();
      die("customers: " + *error);
    }
  }
  std::cerr << "stocksim: " << kind << " emulator on http://" << lopts.host << ":" << server.port()
            << " (" << endpoint << "; " << seeds.size() << " item(s) seeded; test API under "
            << "/_emulator/)" << std::endl;
  int sig = 0;
  sigwait(&signals, &sig);
  std::cerr << "stocksim: signal " << sig << ", stopping" << std::endl;
  if (customers) {
    customers->stop(std::chrono::seconds{5});
  }
  server.stop();
  std::cout << channel->stats_json() << std::endl;
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty() && (args[0] == "run" || args[0] == "demo" || args[0] == "config")) {
    return sim_main(args);
  }
  if (args.size() < 2 || args[0] != "emulate") {
    std::cerr << usage;
    return 2;
  }
  return emulate_main(args);
}
