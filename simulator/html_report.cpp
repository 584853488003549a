// `stocksim ... --report out.html`: one self-contained page (report.hpp). Inline CSS and SVG only:
// no script, no font, no image, no link, so it opens the same offline, attached to an issue or
// archived by CI. Every figure that is also in the JSON summary carries its JSON path in
// data-key, which the simulator's test uses to hold the page against the summary.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "simulator/report.hpp"
#include "simulator/scenario.hpp"

namespace stockd::simulator {
namespace {

constexpr const char* channel_colors[] = {"#2ca02c", "#ff7f0e", "#1f77b4", "#9467bd"};
constexpr const char* physical_color = "#555555";
constexpr const char* sellable_color = "#000000";
constexpr const char* expected_color = "#d62728";

std::string escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string num(double v, int decimals = 2) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string num(std::uint64_t v) { return std::to_string(v); }

/// A table cell holding a figure of the JSON summary.
std::string cell(const std::string& key, const std::string& text) {
  return "<td class=\"n\" data-key=\"" + escape(key) + "\">" + escape(text) + "</td>";
}

/// baseline / run, as the text report does: spelled out when the run's figure is 0.
std::string ratio(double run, double baseline) {
  if (run == 0) {
    return baseline == 0 ? "both 0" : "&infin; (run 0)";
  }
  return num(baseline / run, 2) + "&times;";
}

// ---- SVG -------------------------------------------------------------------------------------

struct line_series {
  std::string name;
  std::string color;
  std::vector<std::optional<double>> values;  // one per time point; a gap where empty
  bool dashed = false;
};

constexpr double chart_w = 760;
constexpr double chart_h = 240;
constexpr double margin_l = 52;
constexpr double margin_r = 12;
constexpr double margin_t = 12;
constexpr double margin_b = 34;

/// A step chart of `series` over `t_s` (seconds), y from 0 to the largest value; an optional
/// shaded window [shade_from, shade_until) (the outage).
std::string svg_steps(const std::string& title, const std::vector<double>& t_s,
                      const std::vector<line_series>& series, double shade_from = -1,
                      double shade_until = -1) {
  std::string s = "<figure><svg class=\"chart\" role=\"img\" viewBox=\"0 0 " + num(chart_w, 0) +
                  " " + num(chart_h, 0) + "\" width=\"" + num(chart_w, 0) + "\" height=\"" +
                  num(chart_h, 0) + "\"><title>" + escape(title) + "</title>";
  double t_max = t_s.empty() ? 1 : std::max(t_s.back(), 1e-3);
  double y_max = 1;
  for (const auto& l : series) {
    for (const auto& v : l.values) {
      if (v) {
        y_max = std::max(y_max, *v);
      }
    }
  }
  y_max = std::ceil(y_max * 1.05);
  const double plot_w = chart_w - margin_l - margin_r;
  const double plot_h = chart_h - margin_t - margin_b;
  auto x_of = [&](double t) { return margin_l + plot_w * std::clamp(t / t_max, 0.0, 1.0); };
  auto y_of = [&](double v) { return margin_t + plot_h * (1 - std::clamp(v / y_max, 0.0, 1.0)); };
  if (shade_until > shade_from && shade_from >= 0) {
    s += "<rect class=\"shade\" x=\"" + num(x_of(shade_from), 1) + "\" y=\"" + num(margin_t, 1) +
         "\" width=\"" + num(x_of(shade_until) - x_of(shade_from), 1) + "\" height=\"" +
         num(plot_h, 1) + "\"/>";
  }
  // Axes with 5 ticks each.
  for (int i = 0; i <= 4; ++i) {
    const double v = y_max * i / 4;
    const double y = y_of(v);
    s += "<line class=\"grid\" x1=\"" + num(margin_l, 1) + "\" x2=\"" + num(chart_w - margin_r, 1) +
         "\" y1=\"" + num(y, 1) + "\" y2=\"" + num(y, 1) + "\"/>";
    s += "<text class=\"tick\" x=\"" + num(margin_l - 6, 1) + "\" y=\"" + num(y + 4, 1) +
         "\" text-anchor=\"end\">" + num(v, v < 10 && y_max < 10 ? 1 : 0) + "</text>";
    const double t = t_max * i / 4;
    s += "<text class=\"tick\" x=\"" + num(x_of(t), 1) + "\" y=\"" + num(chart_h - margin_b + 16, 1) +
         "\" text-anchor=\"middle\">" + num(t, 1) + " s</text>";
  }
  s += "<line class=\"axis\" x1=\"" + num(margin_l, 1) + "\" x2=\"" + num(margin_l, 1) + "\" y1=\"" +
       num(margin_t, 1) + "\" y2=\"" + num(margin_t + plot_h, 1) + "\"/>";
  s += "<line class=\"axis\" x1=\"" + num(margin_l, 1) + "\" x2=\"" + num(chart_w - margin_r, 1) +
       "\" y1=\"" + num(margin_t + plot_h, 1) + "\" y2=\"" + num(margin_t + plot_h, 1) + "\"/>";
  for (const auto& l : series) {
    // A step line per run of values; a missing value breaks it.
    std::string points;
    auto flush = [&] {
      if (!points.empty()) {
        s += "<polyline fill=\"none\" stroke=\"" + l.color + "\" stroke-width=\"1.6\"" +
             (l.dashed ? " stroke-dasharray=\"5 3\"" : "") + " points=\"" + points + "\"/>";
        points.clear();
      }
    };
    // (a flag and a value rather than an optional: GCC 12 warns maybe-uninitialized on it)
    bool has_previous = false;
    double previous = 0;
    for (std::size_t i = 0; i < t_s.size() && i < l.values.size(); ++i) {
      if (!l.values[i]) {
        flush();
        has_previous = false;
        continue;
      }
      const double x = x_of(t_s[i]);
      const double v = *l.values[i];
      if (has_previous) {
        points += num(x, 1) + "," + num(y_of(previous), 1) + " ";  // the step
      }
      points += num(x, 1) + "," + num(y_of(v), 1) + " ";
      has_previous = true;
      previous = v;
    }
    flush();
  }
  s += "</svg><figcaption>" + escape(title) + ": ";
  for (const auto& l : series) {
    s += "<span class=\"key\"><span class=\"swatch\" style=\"background:" + l.color +
         "\"></span>" + escape(l.name) + (l.dashed ? " (dashed)" : "") + "</span> ";
  }
  if (shade_until > shade_from && shade_from >= 0) {
    s += "<span class=\"key\"><span class=\"swatch shade-key\"></span>outage</span>";
  }
  s += "</figcaption></figure>\n";
  return s;
}

struct histogram_series {
  std::string name;
  std::string color;
  const std::vector<std::uint64_t>* counts;
};

/// Grouped bars per latency bucket, each series as a share of its own samples.
std::string svg_histogram(const std::string& title, const std::vector<histogram_series>& series) {
  const auto& bounds = latency_bucket_bounds_ms();
  const std::size_t buckets = bounds.size() + 1;
  std::string s = "<figure><svg class=\"chart\" role=\"img\" viewBox=\"0 0 " + num(chart_w, 0) +
                  " " + num(chart_h, 0) + "\" width=\"" + num(chart_w, 0) + "\" height=\"" +
                  num(chart_h, 0) + "\"><title>" + escape(title) + "</title>";
  const double plot_w = chart_w - margin_l - margin_r;
  const double plot_h = chart_h - margin_t - margin_b;
  const double group_w = plot_w / static_cast<double>(buckets);
  const double bar_w = (group_w - 4) / static_cast<double>(std::max<std::size_t>(1, series.size()));
  for (int i = 0; i <= 4; ++i) {
    const double y = margin_t + plot_h * (1 - i / 4.0);
    s += "<line class=\"grid\" x1=\"" + num(margin_l, 1) + "\" x2=\"" + num(chart_w - margin_r, 1) +
         "\" y1=\"" + num(y, 1) + "\" y2=\"" + num(y, 1) + "\"/>";
    s += "<text class=\"tick\" x=\"" + num(margin_l - 6, 1) + "\" y=\"" + num(y + 4, 1) +
         "\" text-anchor=\"end\">" + std::to_string(i * 25) + " %</text>";
  }
  for (std::size_t b = 0; b < buckets; ++b) {
    const double gx = margin_l + group_w * static_cast<double>(b);
    const std::string label = b < bounds.size() ? "≤" + num(bounds[b], bounds[b] < 1 ? 1 : 0)
                                                : "&gt;" + num(bounds.back(), 0);
    s += "<text class=\"tick\" x=\"" + num(gx + group_w / 2, 1) + "\" y=\"" +
         num(chart_h - margin_b + 16, 1) + "\" text-anchor=\"middle\">" + label + "</text>";
    for (std::size_t k = 0; k < series.size(); ++k) {
      const auto& counts = *series[k].counts;
      std::uint64_t total = 0;
      for (auto n : counts) {
        total += n;
      }
      const std::uint64_t n = b < counts.size() ? counts[b] : 0;
      if (total == 0 || n == 0) {
        continue;
      }
      const double share = static_cast<double>(n) / static_cast<double>(total);
      const double h = plot_h * share;
      s += "<rect fill=\"" + series[k].color + "\" x=\"" +
           num(gx + 2 + bar_w * static_cast<double>(k), 1) + "\" y=\"" +
           num(margin_t + plot_h - h, 1) + "\" width=\"" + num(std::max(bar_w - 1, 1.0), 1) +
           "\" height=\"" + num(h, 1) + "\"><title>" + escape(series[k].name) + ": " +
           std::to_string(n) + " (" + num(share * 100, 1) + " %)</title></rect>";
    }
  }
  s += "<line class=\"axis\" x1=\"" + num(margin_l, 1) + "\" x2=\"" + num(chart_w - margin_r, 1) +
       "\" y1=\"" + num(margin_t + plot_h, 1) + "\" y2=\"" + num(margin_t + plot_h, 1) + "\"/>";
  s += "</svg><figcaption>" + escape(title) + " (ms buckets; share of each series' samples): ";
  for (const auto& h : series) {
    std::uint64_t total = 0;
    for (auto n : *h.counts) {
      total += n;
    }
    s += "<span class=\"key\"><span class=\"swatch\" style=\"background:" + h.color +
         "\"></span>" + escape(h.name) + " (" + std::to_string(total) + ")</span> ";
  }
  s += "</figcaption></figure>\n";
  return s;
}

// ---- sections --------------------------------------------------------------------------------

double over_display_total(const run_summary& s) {
  double t = 0;
  for (const auto& c : s.channels) {
    t += c.over_display_sku_s;
  }
  return t;
}

double wrong_display_total(const run_summary& s) {
  double t = 0;
  for (const auto& c : s.channels) {
    t += c.wrong_display_sku_s;
  }
  return t;
}

bool passed(const run_summary& s) { return s.error.empty() && s.lost == 0 && s.converged; }

/// One row of the summary table: the run's figure, and with a baseline its figure and the ratio.
struct figure_row {
  std::string label;
  std::string path;  // JSON path below run./baseline., empty: not in the JSON
  double (*get)(const run_summary&);
  int decimals;  // -1: an integer
};

std::string format_figure(const figure_row& r, const run_summary& s) {
  const double v = r.get(s);
  return r.decimals < 0 ? std::to_string(static_cast<std::uint64_t>(v)) : num(v, r.decimals);
}

std::string summary_table(const run_summary& run, const std::optional<run_summary>& baseline) {
  static const figure_row rows[] = {
      {"oversold units", "oversold_units",
       [](const run_summary& s) { return static_cast<double>(s.oversold_units); }, -1},
      {"units sold", "units_sold",
       [](const run_summary& s) { return static_cast<double>(s.units_sold); }, -1},
      {"over-shown SKU·s (all channels)", "",
       [](const run_summary& s) { return over_display_total(s); }, 2},
      {"wrong SKU·s (all channels)", "",
       [](const run_summary& s) { return wrong_display_total(s); }, 2},
      {"events created", "events.created",
       [](const run_summary& s) { return static_cast<double>(s.events.created); }, -1},
      {"events acknowledged", "events.acknowledged",
       [](const run_summary& s) { return static_cast<double>(s.events.acknowledged); }, -1},
      {"events lost", "events.lost",
       [](const run_summary& s) { return static_cast<double>(s.lost); }, -1},
      {"events per second", "events.per_second",
       [](const run_summary& s) { return s.events_per_second; }, 2},
      {"ack latency p50 (ms)", "ack_latency.p50_ms",
       [](const run_summary& s) { return s.ack_latency.p50_ms; }, 2},
      {"ack latency p99 (ms)", "ack_latency.p99_ms",
       [](const run_summary& s) { return s.ack_latency.p99_ms; }, 2},
      {"convergence (s after traffic)", "convergence.seconds",
       [](const run_summary& s) { return s.convergence_s; }, 2},
  };
  std::string h = "<table class=\"summary\"><tr><th>figure</th><th>" + escape(run.label) + "</th>";
  if (baseline) {
    h += "<th>" + escape(baseline->label) + "</th><th>baseline / stockd</th>";
  }
  h += "</tr>\n";
  for (const auto& r : rows) {
    h += "<tr><th>" + escape(r.label) + "</th>";
    h += r.path.empty() ? "<td class=\"n\">" + format_figure(r, run) + "</td>"
                        : cell("run." + r.path, format_figure(r, run));
    if (baseline) {
      h += r.path.empty() ? "<td class=\"n\">" + format_figure(r, *baseline) + "</td>"
                          : cell("baseline." + r.path, format_figure(r, *baseline));
      h += "<td class=\"n\">" + ratio(r.get(run), r.get(*baseline)) + "</td>";
    }
    h += "</tr>\n";
  }
  // Propagation per channel, the figure the baseline exists to compare.
  for (std::size_t c = 0; c < run.channels.size(); ++c) {
    const auto& rc = run.channels[c];
    if (rc.reserves) {
      continue;  // no display to propagate to
    }
    h += "<tr><th>propagation p50 (ms), " + escape(rc.id) + "</th>";
    h += cell("run.channels." + rc.id + ".propagation.p50_ms", num(rc.propagation.p50_ms));
    if (baseline && c < baseline->channels.size()) {
      const auto& bc = baseline->channels[c];
      h += cell("baseline.channels." + bc.id + ".propagation.p50_ms", num(bc.propagation.p50_ms));
      h += "<td class=\"n\">" + ratio(rc.propagation.p50_ms, bc.propagation.p50_ms) + "</td>";
    }
    h += "</tr>\n";
  }
  h += "<tr><th>converged</th><td data-key=\"run.convergence.converged\">" +
       std::string(run.converged ? "true" : "false") + "</td>";
  if (baseline) {
    h += "<td data-key=\"baseline.convergence.converged\">" +
         std::string(baseline->converged ? "true" : "false") + "</td><td></td>";
  }
  h += "</tr>\n</table>\n";
  return h;
}

std::string channel_table(const run_summary& s, const std::string& who) {
  std::string h =
      "<table><tr><th>channel</th><th>sold</th><th>oversold</th><th>over-shown SKU·s</th>"
      "<th>wrong SKU·s</th><th>API calls</th><th>items/call</th><th>throttled</th><th>429s</th>"
      "<th>propagation p50 / p99 / max (ms)</th><th>probes not shown</th><th>out of sync at "
      "the end</th></tr>\n";
  for (const auto& c : s.channels) {
    const std::string k = who + ".channels." + c.id + ".";
    // A channel that reserves through stockd has no display of its own (not emulated).
    h += "<tr><th>" + escape(c.id) + (c.reserves ? " (reserves through stockd)" : "") + "</th>" +
         cell(k + "units_sold", num(c.units_sold)) +
         cell(k + "oversold_units", num(c.oversold_units)) +
         cell(k + "over_display_sku_s", num(c.over_display_sku_s)) +
         cell(k + "wrong_display_sku_s", num(c.wrong_display_sku_s)) +
         cell(k + "api_calls", num(c.api_calls)) +
         cell(k + "items_per_call", num(c.items_per_call)) +
         cell(k + "throttled", num(c.throttled)) + cell(k + "responses_429", num(c.responses_429)) +
         "<td class=\"n\"><span data-key=\"" + k + "propagation.p50_ms\">" +
         num(c.propagation.p50_ms) + "</span> / <span data-key=\"" + k + "propagation.p99_ms\">" +
         num(c.propagation.p99_ms) + "</span> / <span data-key=\"" + k + "propagation.max_ms\">" +
         num(c.propagation.max_ms) + "</span></td>" +
         cell(k + "propagation_timeouts", num(c.propagation_timeouts)) +
         cell(k + "out_of_sync_skus", num(c.out_of_sync_skus)) + "</tr>\n";
  }
  return h + "</table>\n";
}

std::string outage_section(const run_summary& s, const std::string& who) {
  std::string h;
  for (const auto& c : s.channels) {
    if (!c.outage) {
      continue;
    }
    const std::string k = who + ".channels." + c.id + ".outage.";
    h += "<p class=\"outage\">Outage of <b>" + escape(c.id) + "</b> from <span data-key=\"" + k +
         "from_s\">" + num(c.outage_from_s) + "</span> s to <span data-key=\"" + k +
         "until_s\">" + num(c.outage_until_s) + "</span> s (its API answered 5xx or hung). "
         "Meanwhile it showed more than the shelves held for <span data-key=\"" + k +
         "over_display_sku_s\">" + num(c.outage_over_display_sku_s) +
         "</span> SKU·s and something else than them for <span data-key=\"" + k +
         "wrong_display_sku_s\">" + num(c.outage_wrong_display_sku_s) + "</span> SKU·s. ";
    if (c.outage_recovered_s >= 0) {
      h += "It was back to its level before the outage <span data-key=\"" + k +
           "recovered_s\">" + num(c.outage_recovered_s) + "</span> s after the API recovered";
    } else {
      h += "It was <b>not</b> back to its level before the outage while it was sampled";
    }
    h += "; at the end it was " +
         std::string(c.out_of_sync_skus == 0 ? "in sync with stockd (converged)"
                                             : "<b>out of sync</b> on " +
                                                   std::to_string(c.out_of_sync_skus) + " SKUs") +
         ".</p>\n";
  }
  return h;
}

std::string timeline_section(const run_summary& s) {
  const timeline& tl = s.series;
  double shade_from = -1;
  double shade_until = -1;
  for (const auto& c : s.channels) {
    if (c.outage) {
      shade_from = c.outage_from_s;
      shade_until = c.outage_until_s;
    }
  }
  std::string h;
  if (tl.t_s.empty()) {
    return "<p>No samples were taken.</p>\n";
  }
  h += "<p>Sampled every " + num(tl.period_s, 2) + " s (" + std::to_string(tl.t_s.size()) +
       " points; the period doubles whenever " + std::to_string(timeline::points_max) +
       " are reached).</p>\n";
  for (const auto& tr : tl.tracks) {
    std::vector<line_series> lines;
    auto to_opt = [](const std::vector<std::int64_t>& v) {
      std::vector<std::optional<double>> out;
      out.reserve(v.size());
      for (auto x : v) {
        out.emplace_back(static_cast<double>(x));
      }
      return out;
    };
    lines.push_back({"physical on hand (world)", physical_color, to_opt(tr.physical), true});
    lines.push_back({"sellable (world)", sellable_color, to_opt(tr.sellable), false});
    std::vector<std::optional<double>> expected;
    for (const auto& e : tr.expected) {
      expected.push_back(e ? std::optional<double>(static_cast<double>(*e)) : std::nullopt);
    }
    lines.push_back({"stockd expected", expected_color, std::move(expected), true});
    for (std::size_t c = 0; c < tr.shown.size() && c < channel_ids().size(); ++c) {
      lines.push_back({channel_ids()[c] + " displayed", channel_colors[c % 4], to_opt(tr.shown[c]),
                       false});
    }
    h += svg_steps("SKU " + tr.sku, tl.t_s, lines, shade_from, shade_until);
  }
  std::vector<line_series> wrong;
  for (std::size_t c = 0; c < tl.wrong.size() && c < channel_ids().size(); ++c) {
    std::vector<std::optional<double>> v;
    for (auto n : tl.wrong[c]) {
      v.emplace_back(static_cast<double>(n));
    }
    wrong.push_back({channel_ids()[c], channel_colors[c % 4], std::move(v), false});
  }
  h += svg_steps("sampled SKUs each channel shows wrong (≠ sellable)", tl.t_s, wrong, shade_from,
                 shade_until);
  return h;
}

std::string latency_section(const run_summary& run, const std::optional<run_summary>& baseline) {
  std::string h;
  std::vector<histogram_series> ack = {{run.label, expected_color, &run.ack_latency.histogram}};
  if (baseline) {
    ack.push_back({baseline->label, physical_color, &baseline->ack_latency.histogram});
  }
  h += svg_histogram("ack latency (POST /v1/events round trip)", ack);
  auto propagation = [&](const run_summary& s) {
    std::vector<histogram_series> p;
    for (std::size_t c = 0; c < s.channels.size(); ++c) {
      if (s.channels[c].reserves) {
        continue;  // no display to propagate to
      }
      p.push_back({s.channels[c].id, channel_colors[c % 4], &s.channels[c].propagation.histogram});
    }
    return svg_histogram("propagation, " + s.label + " (probe acknowledged → channel shows it)",
                         p);
  };
  h += propagation(run);
  if (baseline) {
    h += propagation(*baseline);
  }
  return h;
}

std::string world_table(const run_summary& s, const std::string& who) {
  const std::string k = who + ".world.";
  const auto& w = s.world;
  return "<table><tr><th>shipped</th><th>cancelled (oversold)</th><th>cancelled by the "
         "customer</th><th>payment failed</th><th>returned, restocked</th><th>returned, "
         "damaged</th><th>of them at the till</th><th>purchase orders</th><th>kits sold</th>"
         "<th>kits oversold</th></tr><tr>" +
         cell(k + "shipped", num(w.shipped)) + cell(k + "cancelled_oversold", num(w.cancelled_oversold)) +
         cell(k + "cancelled_by_customer", num(w.cancelled_by_customer)) +
         cell(k + "payment_failed", num(w.payment_failed)) +
         cell(k + "returned_restocked", num(w.returned_restocked)) +
         cell(k + "returned_damaged", num(w.returned_damaged)) +
         cell(k + "returned_at_till", num(w.returned_at_till)) +
         cell(k + "purchase_orders", num(w.purchase_orders)) +
         cell(who + ".kits.units_sold", num(s.kit_units_sold)) +
         cell(who + ".kits.oversold_units", num(s.kit_oversold_units)) + "</tr></table>\n";
}

std::string process_section(const run_summary& s, const std::string& who) {
  if (!s.stockd_ready_s && !s.stockd_rss_bytes) {
    return "<p>stockd was started outside stocksim: its start-up time and memory are not "
           "known here.</p>\n";
  }
  std::string h = "<p>";
  if (s.stockd_ready_s) {
    h += "stockd was ready (GET /readyz) <span data-key=\"" + who + ".stockd_process.ready_s\">" +
         num(*s.stockd_ready_s) + "</span> s after launch. ";
  }
  auto mib = [](std::uint64_t b) { return num(static_cast<double>(b) / (1024.0 * 1024.0), 1); };
  if (s.stockd_rss_bytes) {
    h += "Resident memory (VmRSS) when traffic stopped: " + mib(*s.stockd_rss_bytes) +
         " MiB (<span data-key=\"" + who + ".stockd_process.rss_bytes\">" +
         num(*s.stockd_rss_bytes) + "</span> bytes)";
    if (s.stockd_rss_peak_bytes) {
      h += ", the largest sample during the run " + mib(*s.stockd_rss_peak_bytes) +
           " MiB (<span data-key=\"" + who + ".stockd_process.rss_peak_bytes\">" +
           num(*s.stockd_rss_peak_bytes) + "</span> bytes)";
    }
    h += ".";
  }
  return h + "</p>\n";
}

std::string one_run(const run_summary& s, const std::string& who) {
  std::string h = "<section><h2>" + escape(s.label) + "</h2>\n";
  if (!s.error.empty()) {
    return h + "<p class=\"fail\">NOT RUN: " + escape(s.error) + "</p></section>\n";
  }
  h += "<p>" + std::string(passed(s) ? "<b class=\"pass\">PASS</b>" : "<b class=\"fail\">FAIL</b>") +
       ": <span data-key=\"" + who + ".events.lost\">" + num(s.lost) +
       "</span> events lost, " + (s.converged ? "converged" : "<b>not converged</b>") + " (" +
       num(s.convergence_s) + " s after traffic, limit " + num(s.convergence_timeout_s, 0) +
       " s). Scenario " + escape(s.scenario) + ", seed <span data-key=\"" + who + ".seed\">" +
       num(s.seed) + "</span>, <span data-key=\"" + who + ".duration_s\">" + num(s.duration_s) +
       "</span> s of traffic, <span data-key=\"" + who + ".skus\">" +
       num(static_cast<std::uint64_t>(s.skus)) + "</span> SKUs.</p>\n";
  if (!s.mismatches.empty()) {
    h += "<details><summary>mismatches (the first " + std::to_string(s.mismatches.size()) +
         ")</summary><ul>";
    for (const auto& m : s.mismatches) {
      h += "<li><code>" + escape(m) + "</code></li>";
    }
    h += "</ul></details>\n";
  }
  h += outage_section(s, who);
  h += "<h3>Hot SKUs over time</h3>\n" + timeline_section(s);
  h += "<h3>Channels</h3>\n" + channel_table(s, who);
  h += "<h3>The world's orders</h3>\n" + world_table(s, who);
  h += "<h3>stockd process</h3>\n" + process_section(s, who);
  return h + "</section>\n";
}

constexpr const char* style = R"(
body{font:14px/1.45 system-ui,sans-serif;margin:1.5em auto;max-width:1000px;color:#222}
h1{font-size:1.5em}h2{margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.6em 0}td,th{border:1px solid #ddd;padding:3px 8px}
th{text-align:left;background:#f6f6f6;font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums}
.pass{color:#1a7f37}.fail{color:#c62828}.outage{background:#fff4e5;padding:.5em}
svg.chart{background:#fff;border:1px solid #eee}svg .grid{stroke:#eee}svg .axis{stroke:#999}
svg .tick{font-size:10px;fill:#666}svg .shade{fill:#ffe0b2;opacity:.6}
figure{margin:1em 0}figcaption{font-size:12px;color:#444}
.key{margin-right:1em;white-space:nowrap}.swatch{display:inline-block;width:12px;height:3px;margin-right:4px;vertical-align:middle}
.shade-key{background:#ffe0b2;height:10px}
)";

} // namespace

std::string html_report(const run_summary& run, const std::optional<run_summary>& baseline) {
  std::string h = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                  "<title>stocksim — " + escape(run.scenario) + ", seed " +
                  std::to_string(run.seed) + "</title><style>" + style + "</style></head><body>\n";
  h += "<h1>stocksim report: scenario <span data-key=\"run.scenario\">" + escape(run.scenario) +
       "</span></h1>\n";
  h += "<p>Ground truth from the simulated world; stockd measured from outside. Oversold units: "
       "sales no shelf could cover at the instant of the sale. Over-shown SKU·s: time a channel "
       "showed more than the shelves held, summed over the sampled SKUs (<span data-key=\"run."
       "sampled_skus\">" + num(static_cast<std::uint64_t>(run.sampled_skus)) +
       "</span>).</p>\n";
  h += "<h2>Summary</h2>\n" + summary_table(run, baseline);
  h += "<h2>Latency</h2>\n" + latency_section(run, baseline);
  h += one_run(run, "run");
  if (baseline) {
    h += one_run(*baseline, "baseline");
  }
  h += "</body></html>\n";
  return h;
}

} // namespace stockd::simulator
