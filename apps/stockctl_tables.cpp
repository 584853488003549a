#include "apps/stockctl_tables.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <initializer_list>
#include <optional>
#include <utility>
#include <vector>

#include <simdjson.h>

namespace stockctl {

namespace {

using simdjson::dom::element;

// ---- reading the answer ----------------------------------------------------------------------

/// The value at `path` below `e`; nullopt when a key is missing or the value is null.
std::optional<element> at(element e, std::initializer_list<std::string_view> path) {
  for (std::string_view key : path) {
    element next;
    if (e[key].get(next) != simdjson::SUCCESS) {
      return std::nullopt;
    }
    e = next;
  }
  if (e.is_null()) {
    return std::nullopt;
  }
  return e;
}

/// Text from the server goes to a terminal: control characters (a newline in a reason, an
/// escape sequence in a SKU) would break the table or the terminal, so they print as '?'.
std::string printable(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      c = '?';
    }
  }
  return out;
}

std::string format_double(double d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", d);
  return buf;
}

/// A value as a table cell: strings as they are, booleans yes/no, numbers in decimal, and "-"
/// for a missing or null value (or an empty string).
std::string cell(element e, std::initializer_list<std::string_view> path) {
  auto v = at(e, path);
  if (!v) {
    return "-";
  }
  std::string_view s;
  if (v->get_string().get(s) == simdjson::SUCCESS) {
    return s.empty() ? "-" : printable(s);
  }
  bool b = false;
  if (v->get_bool().get(b) == simdjson::SUCCESS) {
    return b ? "yes" : "no";
  }
  std::int64_t i = 0;
  if (v->get_int64().get(i) == simdjson::SUCCESS) {
    return std::to_string(i);
  }
  std::uint64_t u = 0;
  if (v->get_uint64().get(u) == simdjson::SUCCESS) {
    return std::to_string(u);
  }
  double d = 0;
  if (v->get_double().get(d) == simdjson::SUCCESS) {
    return format_double(d);
  }
  return printable(simdjson::to_string(*v));  // an object or array where a value was expected
}

std::optional<std::int64_t> integer(element e, std::initializer_list<std::string_view> path) {
  auto v = at(e, path);
  std::int64_t i = 0;
  if (!v || v->get_int64().get(i) != simdjson::SUCCESS) {
    return std::nullopt;
  }
  return i;
}

std::optional<double> number(element e, std::initializer_list<std::string_view> path) {
  auto v = at(e, path);
  double d = 0;
  if (!v || v->get_double().get(d) != simdjson::SUCCESS) {
    return std::nullopt;
  }
  return d;
}

/// An integer with its sign ("+3", "-2", "0"), as a delta reads; otherwise as cell() prints it.
std::string signed_cell(element e, std::initializer_list<std::string_view> path) {
  const auto i = integer(e, path);
  if (!i) {
    return cell(e, path);
  }
  return (*i > 0 ? "+" : "") + std::to_string(*i);
}

/// Unix epoch milliseconds as UTC, "2026-11-28T01:38:08Z"; "-" when missing or not after 1970.
std::string utc_time_ms(element e, std::initializer_list<std::string_view> path) {
  const auto ms = integer(e, path);
  if (!ms || *ms <= 0) {
    return "-";
  }
  const std::time_t t = static_cast<std::time_t>(*ms / 1000);
  std::tm tm{};
  if (::gmtime_r(&t, &tm) == nullptr) {
    return "-";
  }
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

/// "hand_edit 1, push_lost 2": each member of the object at `path` in the answer's order,
/// those at 0 left out when `nonzero_only`; "" when there is no such object.
std::string by_class(element e, std::initializer_list<std::string_view> path, bool nonzero_only) {
  const auto v = at(e, path);
  simdjson::dom::object classes;
  if (!v || v->get_object().get(classes) != simdjson::SUCCESS) {
    return "";
  }
  std::string out;
  for (auto [name, n] : classes) {
    std::int64_t count = 0;
    if (nonzero_only && n.get_int64().get(count) == simdjson::SUCCESS && count == 0) {
      continue;
    }
    if (!out.empty()) {
      out += ", ";
    }
    out += printable(name) + " " + cell(n, {});
  }
  return out;
}

/// "accepted 3, duplicate 0, rejected 1": each (key, label) of the object `e`, "-" if missing.
std::string counters(element e, std::initializer_list<std::pair<std::string_view, std::string_view>>
                                    fields) {
  std::string out;
  for (const auto& [key, label] : fields) {
    if (!out.empty()) {
      out += ", ";
    }
    out += label;
    out += ' ';
    out += cell(e, {key});
  }
  return out;
}

/// The parsed answer, or a note for a body that is not a JSON object (printed with the body,
/// so nothing the server said is lost).
struct parsed {
  simdjson::dom::parser parser;
  element root;
  std::string failure;  // non-empty: not a JSON object
};

void parse(std::string_view body, std::string_view what, parsed& p) {
  simdjson::padded_string padded(body);
  if (p.parser.parse(padded).get(p.root) != simdjson::SUCCESS || !p.root.is_object()) {
    p.failure = "stockctl: the server's answer is not " + std::string(what) + " (as JSON):\n" +
                std::string(body);
    if (p.failure.back() != '\n') {
      p.failure += '\n';
    }
  }
}

// ---- tables ----------------------------------------------------------------------------------

/// Display width: UTF-8 code points (SKUs and reasons may hold non-ASCII text).
std::size_t width(std::string_view s) {
  std::size_t n = 0;
  for (char c : s) {
    n += (static_cast<unsigned char>(c) & 0xC0) != 0x80 ? 1 : 0;
  }
  return n;
}

struct column {
  std::string_view header;
  bool right = false;  // numbers align right
};

/// Columns two spaces apart, each as wide as its widest cell; the last one is not padded (it
/// holds free text: a reason, an error).
class table {
public:
  explicit table(std::vector<column> columns) : columns_(std::move(columns)) {}

  void add(std::vector<std::string> cells) {
    cells.resize(columns_.size(), "-");
    rows_.push_back(std::move(cells));
  }

  bool empty() const { return rows_.empty(); }

  std::string str(bool with_header = true) const {
    std::vector<std::size_t> widths(columns_.size(), 0);
    for (std::size_t c = 0; c < columns_.size(); ++c) {
      widths[c] = with_header ? width(columns_[c].header) : 0;
      for (const auto& row : rows_) {
        widths[c] = std::max(widths[c], width(row[c]));
      }
    }
    std::string out;
    auto line = [&](auto cell_of) {
      std::string text;
      for (std::size_t c = 0; c < columns_.size(); ++c) {
        const std::string_view v = cell_of(c);
        const std::size_t pad = widths[c] - width(v);
        if (c > 0) {
          text += "  ";
        }
        if (columns_[c].right) {
          text.append(pad, ' ');
          text += v;
        } else {
          text += v;
          if (c + 1 < columns_.size()) {
            text.append(pad, ' ');
          }
        }
      }
      while (!text.empty() && text.back() == ' ') {
        text.pop_back();
      }
      out += text;
      out += '\n';
    };
    if (with_header) {
      line([&](std::size_t c) { return columns_[c].header; });
    }
    for (const auto& row : rows_) {
      line([&](std::size_t c) { return std::string_view(row[c]); });
    }
    return out;
  }

private:
  std::vector<column> columns_;
  std::vector<std::vector<std::string>> rows_;
};

} // namespace

std::string human_duration_ms(std::int64_t ms) {
  if (ms < 1000) {
    return "<1s";
  }
  const std::int64_t s = ms / 1000;
  char buf[48];
  if (s < 60) {
    std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(s));
  } else if (s < 3600) {
    std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  } else if (s < 86400) {
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(s / 3600),
                  static_cast<long long>(s % 3600 / 60));
  } else {
    std::snprintf(buf, sizeof buf, "%lldd%02lldh", static_cast<long long>(s / 86400),
                  static_cast<long long>(s % 86400 / 3600));
  }
  return buf;
}

std::string format_status(std::string_view json_body) {
  parsed p;
  parse(json_body, "a status", p);
  if (!p.failure.empty()) {
    return p.failure;
  }
  const element root = p.root;
  table head({{"", false}, {"", false}});
  const auto uptime = integer(root, {"uptime_s"});
  head.add({"status", cell(root, {"status"})});
  head.add({"uptime", uptime ? human_duration_ms(*uptime * 1000) : "-"});
  head.add({"journal head", cell(root, {"journal", "head"}) + " (writer queue " +
                                cell(root, {"journal", "writer_queue"}) + ")"});
  // The counter groups the answer has, each counter "-" when missing.
  auto group = [&](std::string_view label, std::initializer_list<std::string_view> path,
                   std::initializer_list<std::pair<std::string_view, std::string_view>> fields) {
    if (auto e = at(root, path); e && e->is_object()) {
      head.add({std::string(label), counters(*e, fields)});
    }
  };
  group("events", {"events"},
        {{"accepted", "accepted"}, {"duplicate", "duplicate"}, {"rejected", "rejected"}});
  group("engine", {"engine"},
        {{"applied", "applied"},
         {"rejected", "rejected"},
         {"parked", "parked"},
         {"stale", "stale"},
         {"oversold_units", "oversold units"},
         {"in_flight", "in flight"}});
  if (at(root, {"unmapped"}) || at(root, {"unknown_units"})) {
    head.add({"catalog misses", "unmapped " + cell(root, {"unmapped", "count"}) +
                                    ", unknown units " + cell(root, {"unknown_units", "count"})});
  }
  group("shopify webhooks", {"webhooks", "shopify"},
        {{"received", "received"},
         {"mapped", "mapped"},
         {"ignored", "ignored"},
         {"unauthorized", "unauthorized"},
         {"malformed", "malformed"},
         {"unmappable", "unmappable"}});
  group("checkpoints", {"checkpoint"},
        {{"watermark", "watermark"}, {"lag_events", "event lag"}, {"failures", "failures"}});
  group("http", {"http"},
        {{"requests", "requests"},
         {"responses_4xx", "4xx"},
         {"responses_5xx", "5xx"},
         {"overloaded", "overloaded"}});
  group("alerts", {"alerts"},
        {{"sent", "sent"},
         {"suppressed", "suppressed"},
         {"failed", "failed"},
         {"sinks_failing", "sinks failing"}});
  std::string out = head.str(false);

  table channels({{"CHANNEL"},
                  {"CONNECTOR"},
                  {"MODE"},
                  {"CIRCUIT"},
                  {"QUEUED U/N/B", true},
                  {"OUT OF SYNC", true},
                  {"OLDEST", true},
                  {"DEAD", true},
                  {"RATE USE", true},
                  {"OUTBOX PEND/FAIL", true},
                  {"LAST ERROR"}});
  simdjson::dom::array list;
  if (root["channels"].get(list) == simdjson::SUCCESS) {
    for (element c : list) {
      const auto oos = integer(c, {"out_of_sync"});
      const auto oldest = integer(c, {"oldest_out_of_sync_ms"});
      const auto use = number(c, {"rate_limit_use"});
      std::string rate = "-";
      if (use) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.0f%%", *use * 100.0);
        rate = buf;
      }
      channels.add({cell(c, {"id"}), cell(c, {"connector"}), cell(c, {"mode"}),
                    cell(c, {"circuit"}),
                    cell(c, {"queued", "urgent"}) + "/" + cell(c, {"queued", "normal"}) + "/" +
                        cell(c, {"queued", "bulk"}),
                    cell(c, {"out_of_sync"}),
                    oos && *oos > 0 && oldest ? human_duration_ms(*oldest) : "-",
                    cell(c, {"dead_letters"}), rate,
                    cell(c, {"outbox", "pending"}) + "/" + cell(c, {"outbox", "failures"}),
                    cell(c, {"outbox", "error"})});
    }
  }
  out += '\n';
  out += channels.empty() ? "no channels\n" : channels.str();
  return out;
}

std::string format_sku(std::string_view json_body) {
  parsed p;
  parse(json_body, "a SKU", p);
  if (!p.failure.empty()) {
    return p.failure;
  }
  const element root = p.root;
  const auto kit = at(root, {"kit"});
  const bool is_kit = kit && kit->is_object();
  std::string out =
      "SKU " + cell(root, {"sku"}) + (is_kit ? " (a kit: no stock of its own)\n" : "\n");
  bool complete = true;
  if (root["complete"].get(complete) == simdjson::SUCCESS && !complete) {
    out += "incomplete: a location did not answer in time; run it again\n";
  }

  table locations({{"LOCATION"},
                   {"AVAILABLE", true},
                   {"COMMITTED", true},
                   {"RESERVED", true},
                   {"SAFETY", true},
                   {"DAMAGED", true},
                   {"QC", true},
                   {"INCOMING", true},
                   {"ON HAND", true},
                   {"OVERSOLD", true},
                   {"LAST EVENT"}});
  std::string oversold;
  simdjson::dom::object by_location;
  if (root["locations"].get(by_location) == simdjson::SUCCESS) {
    for (auto [name, s] : by_location) {
      std::string last = "-";
      if (at(s, {"last_event"})) {
        last = cell(s, {"last_event", "source"}) + ":" + cell(s, {"last_event", "id"}) +
               " (seq " + cell(s, {"last_event", "seq"}) + ")";
      }
      locations.add({printable(name), cell(s, {"available"}), cell(s, {"committed"}),
                     cell(s, {"reserved"}), cell(s, {"safety_stock"}), cell(s, {"damaged"}),
                     cell(s, {"quality_control"}), cell(s, {"incoming"}), cell(s, {"on_hand"}),
                     cell(s, {"oversold"}), last});
      simdjson::dom::object by_channel;
      if (s["oversold_by_channel"].get(by_channel) == simdjson::SUCCESS) {
        for (auto [channel, o] : by_channel) {
          oversold += "oversold at " + printable(name) + " by " + printable(channel) + ": " +
                      cell(o, {"units"}) + " units in " + cell(o, {"cases"}) + " orders\n";
        }
      }
    }
  }
  if (!locations.empty()) {
    out += '\n' + locations.str() + oversold;
  } else if (!is_kit) {
    out += "\nno locations\n";
  }

  if (is_kit) {
    out += "\nkits available: " + cell(*kit, {"available"});
    simdjson::dom::object per_location;
    if ((*kit)["locations"].get(per_location) == simdjson::SUCCESS) {
      std::string sep = " (";
      for (auto [name, n] : per_location) {
        out += sep + printable(name) + " " + cell(n, {});
        sep = ", ";
      }
      out += sep == ", " ? ")" : "";
    }
    out += '\n';
    table components({{"COMPONENT"}, {"PER KIT", true}, {"AVAILABLE", true}});
    simdjson::dom::array parts;
    if ((*kit)["components"].get(parts) == simdjson::SUCCESS) {
      for (element c : parts) {
        components.add({cell(c, {"sku"}), cell(c, {"qty"}), cell(c, {"available"})});
      }
    }
    if (!components.empty()) {
      out += components.str();
    }
  }

  table channels({{"CHANNEL"},
                  {"EXPECTED", true},
                  {"LAST PUSHED", true},
                  {"IN SYNC"},
                  {"OUT OF SYNC SINCE"},
                  {"REASON"}});
  simdjson::dom::object by_channel;
  if (root["channels"].get(by_channel) == simdjson::SUCCESS) {
    for (auto [name, c] : by_channel) {
      channels.add({printable(name), cell(c, {"expected"}), cell(c, {"last_pushed"}),
                    cell(c, {"in_sync"}), cell(c, {"out_of_sync_since"}), cell(c, {"reason"})});
    }
  }
  out += '\n';
  out += channels.empty() ? "no channels\n" : channels.str();
  return out;
}

namespace {

/// The rows of /v1/sync/out-of-sync and /v1/sync/dead-letters: both list the same fields
/// under `key`, oldest first.
std::string sync_list(std::string_view json_body, std::string_view what, std::string_view key,
                      std::string_view none) {
  parsed p;
  parse(json_body, what, p);
  if (!p.failure.empty()) {
    return p.failure;
  }
  table rows({{"SKU"},
              {"CHANNEL"},
              {"SINCE", true},
              {"EXPECTED", true},
              {"LAST PUSHED", true},
              {"REASON"}});
  simdjson::dom::array list;
  if (p.root[key].get(list) == simdjson::SUCCESS) {
    for (element e : list) {
      // The age the server measured; its timestamp when the age is missing.
      std::string since = cell(e, {"since"});
      if (const auto age = integer(e, {"age_ms"})) {
        since = human_duration_ms(*age);
      }
      rows.add({cell(e, {"sku"}), cell(e, {"channel"}), since, cell(e, {"expected"}),
                cell(e, {"last_pushed"}), cell(e, {"reason"})});
    }
  }
  if (rows.empty()) {
    return std::string(none) + "\n";
  }
  return rows.str();
}

/// The fields of a ledger entry other than the ones with a column, as they are named in the
/// answer (connectors/event_json.cpp writes each only when the event has it).
constexpr std::string_view event_details[] = {
    "order_id", "line_id",        "channel",     "po_id", "transfer_id", "to_location",
    "reason",   "reservation_id", "disposition", "from",  "to",          "as_of",
    "expires_at"};

/// "3 (hand_edit 1, order_not_seen 2, push_lost 0, unknown 0)": a run's count and its classes.
std::string variances_line(element run) {
  const std::string classes = by_class(run, {"by_class"}, false);
  return cell(run, {"variances"}) + (classes.empty() ? "" : " (" + classes + ")");
}

/// A channel run's summary lines (connectors::run_summary_json).
void channel_run_summary(element root, table& head) {
  head.add({"trigger", cell(root, {"trigger"}) + ", policy " + cell(root, {"policy"})});
  head.add({"checked", counters(root, {{"skus_planned", "planned"},
                                        {"skus_read", "read"},
                                        {"skus_skipped", "skipped"},
                                        {"read_calls", "read calls"},
                                        {"read_failures", "read failures"}})});
  head.add({"variances", variances_line(root)});
  head.add({"actions", counters(root, {{"corrected", "corrected"},
                                        {"held", "held"},
                                        {"alerts", "alerts"}})});
}

/// A snapshot run's summary lines (connectors::snapshot_run_summary_json).
void snapshot_run_summary(element root, table& head) {
  bool dry_run = false;
  const bool is_dry = root["dry_run"].get(dry_run) == simdjson::SUCCESS && dry_run;
  head.add({"snapshot", cell(root, {"snapshot"}) + " from " + cell(root, {"source"}) +
                            ", as of " + cell(root, {"as_of"}) +
                            (is_dry ? " (dry run: nothing applied)" : "")});
  head.add({"lines", cell(root, {"lines"}) + " (" +
                         counters(root, {{"rejected", "rejected"},
                                         {"compared", "compared"},
                                         {"unchanged", "unchanged"},
                                         {"stale", "stale"},
                                         {"refused", "refused"},
                                         {"duplicate", "duplicate"},
                                         {"not_compared", "not compared"}}) +
                         ")"});
  head.add({"variances", variances_line(root)});
  head.add({"units", counters(root, {{"shrinkage_units", "shrinkage"},
                                      {"missed_receipt_units", "missed receipt"}})});
  if (at(root, {"error"})) {
    head.add({"error", cell(root, {"error"})});
  }
}

bool is_snapshot(element run) { return cell(run, {"kind"}) == "snapshot"; }

} // namespace

std::string format_out_of_sync(std::string_view json_body) {
  return sync_list(json_body, "an out-of-sync list", "out_of_sync", "nothing out of sync");
}

std::string format_dead_letters(std::string_view json_body) {
  return sync_list(json_body, "a dead-letter list", "dead_letters", "no dead letters");
}

std::string format_events(std::string_view json_body) {
  parsed p;
  parse(json_body, "a SKU's events", p);
  if (!p.failure.empty()) {
    return p.failure;
  }
  const element root = p.root;
  table rows({{"SEQ", true},
              {"OCCURRED"},
              {"TYPE"},
              {"LOCATION"},
              {"QTY", true},
              {"EVENT"},
              {"DETAILS"}});
  simdjson::dom::array list;
  if (root["events"].get(list) == simdjson::SUCCESS) {
    for (element e : list) {
      std::string qty = "-";
      if (at(e, {"qty"})) {
        qty = cell(e, {"qty"});
      } else if (at(e, {"delta"})) {
        qty = signed_cell(e, {"delta"});
      } else if (at(e, {"counted"})) {
        qty = "=" + cell(e, {"counted"});
      }
      std::string details;
      for (std::string_view key : event_details) {
        if (at(e, {key})) {
          details += (details.empty() ? "" : " ") + std::string(key) + "=" + cell(e, {key});
        }
      }
      rows.add({cell(e, {"seq"}), cell(e, {"occurred_at"}), cell(e, {"type"}),
                cell(e, {"location"}), qty, cell(e, {"source"}) + ":" + cell(e, {"id"}),
                details.empty() ? "-" : details});
    }
  }
  std::string out = "SKU " + cell(root, {"sku"}) + "\n\n";
  out += rows.empty() ? "no events\n" : rows.str();
  if (at(root, {"next_before"})) {
    out += "\nolder events: --before " + cell(root, {"next_before"}) + "\n";
  }
  return out;
}

std::string format_runs(std::string_view json_body) {
  parsed p;
  parse(json_body, "a list of runs", p);
  if (!p.failure.empty()) {
    return p.failure;
  }
  table rows({{"RUN"},
              {"KIND"},
              {"STATUS"},
              {"STARTED"},
              {"TOOK", true},
              {"CHECKED", true},
              {"VARIANCES", true},
              {"DETAIL"}});
  simdjson::dom::array list;
  if (p.root["runs"].get(list) == simdjson::SUCCESS) {
    for (element r : list) {
      const bool snapshot = is_snapshot(r);
      const auto took_ms = integer(r, {"duration_ms"});
      std::string took = "-";
      if (took_ms) {
        took = human_duration_ms(*took_ms);
      }
      // What the run was and what it found: a channel run's trigger and policy, a snapshot's
      // source and id; then the classes it found.
      std::string detail;
      if (snapshot) {
        bool dry_run = false;
        detail = cell(r, {"source"}) + " " + cell(r, {"snapshot"});
        if (r["dry_run"].get(dry_run) == simdjson::SUCCESS && dry_run) {
          detail += ", dry run";
        }
      } else {
        detail = cell(r, {"trigger"}) + ", policy " + cell(r, {"policy"});
      }
      if (const std::string classes = by_class(r, {"by_class"}, true); !classes.empty()) {
        detail += ", " + classes;
      }
      if (at(r, {"error"})) {
        detail += ", error: " + cell(r, {"error"});
      }
      rows.add({cell(r, {"id"}), cell(r, {"kind"}), cell(r, {"status"}),
                utc_time_ms(r, {"started_at_ms"}), took,
                cell(r, {snapshot ? "compared" : "skus_read"}), cell(r, {"variances"}), detail});
    }
  }
  if (rows.empty()) {
    return "no reconciliation runs\n";
  }
  return rows.str();
}

std::string format_run(std::string_view json_body) {
  parsed p;
  parse(json_body, "a run", p);
  if (!p.failure.empty()) {
    return p.failure;
  }
  const element root = p.root;
  const bool snapshot = is_snapshot(root);
  table head({{"", false}, {"", false}});
  head.add({"run", cell(root, {"id"}) + (snapshot ? " (snapshot of " + cell(root, {"location"})
                                                  : " (channel " + cell(root, {"channel"})) +
                       ")"});
  head.add({"status", cell(root, {"status"})});
  const auto took_ms = integer(root, {"duration_ms"});
  std::string took = "-";
  if (took_ms) {
    took = human_duration_ms(*took_ms);
  }
  head.add({"started", utc_time_ms(root, {"started_at_ms"}) + ", took " + took});
  if (snapshot) {
    snapshot_run_summary(root, head);
  } else {
    channel_run_summary(root, head);
  }
  std::string out = head.str(false);
  // The server keeps the first variances of a large run: say so rather than let the table
  // pass for all of them.
  const auto listed = integer(root, {"variances_listed"});
  const auto all = integer(root, {"variances"});
  if (listed && all && *listed < *all) {
    out += "listed: the first " + std::to_string(*listed) + " of " + std::to_string(*all) +
           " variances\n";
  }

  table rows = snapshot ? table({{"SKU"},
                                 {"CLASS"},
                                 {"ACTION"},
                                 {"ON HAND BEFORE", true},
                                 {"COUNTED", true},
                                 {"ON HAND AFTER", true},
                                 {"DELTA", true}})
                        : table({{"SKU"},
                                 {"CLASS"},
                                 {"ACTION"},
                                 {"EXPECTED", true},
                                 {"LAST PUSHED", true},
                                 {"BELIEVED", true},
                                 {"CHANNEL SHOWS", true}});
  simdjson::dom::array list;
  if (root["variance_list"].get(list) == simdjson::SUCCESS) {
    for (element v : list) {
      if (snapshot) {
        rows.add({cell(v, {"sku"}), cell(v, {"class"}), cell(v, {"action"}),
                  cell(v, {"on_hand_before"}), cell(v, {"counted"}), cell(v, {"on_hand_after"}),
                  signed_cell(v, {"delta"})});
      } else {
        rows.add({cell(v, {"sku"}), cell(v, {"class"}), cell(v, {"action"}),
                  cell(v, {"expected"}), cell(v, {"last_pushed"}), cell(v, {"believed"}),
                  cell(v, {"channel_shows"})});
      }
    }
  }
  out += '\n';
  out += rows.empty() ? "no variances listed\n" : rows.str();
  return out;
}

std::string format_repush(std::string_view json_body) {
  parsed p;
  parse(json_body, "a re-push answer", p);
  if (!p.failure.empty()) {
    return p.failure;
  }
  const auto queued = integer(p.root, {"queued"});
  const bool one = queued && *queued == 1;
  return "queued a full re-push of channel " + cell(p.root, {"channel"}) + ": " +
         cell(p.root, {"queued"}) + (one ? " SKU" : " SKUs") + " on the " +
         cell(p.root, {"lane"}) + " lane\n";
}

std::string format_reconcile_started(std::string_view json_body) {
  parsed p;
  parse(json_body, "a reconcile answer", p);
  if (!p.failure.empty()) {
    return p.failure;
  }
  const element root = p.root;
  const std::string run = cell(root, {"run"});
  const std::string channel = cell(root, {"channel"});
  bool started = false;
  if (root["started"].get(started) != simdjson::SUCCESS) {
    return "reconciliation run " + run + " on channel " + channel + " (started: " +
           cell(root, {"started"}) + ")\n";
  }
  if (!started) {
    return "not started: reconciliation run " + run + " is already going on channel " + channel +
           "\n";
  }
  return "started reconciliation run " + run + " on channel " + channel +
         " (when it is done: stockctl reconcile show " + run + ")\n";
}

} // namespace stockctl
