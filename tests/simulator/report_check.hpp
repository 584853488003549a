#pragma once
// Holds an HTML report (simulator/html_report.cpp) against the JSON summary of the same run:
// self-contained (no script, no external resource), SVG present, and every data-key figure
// equal to the JSON value at that path (to the report's 2 decimals).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include <simdjson.h>

namespace stockd::simulator::testing {

struct keyed_figure {
  std::string key;
  std::string text;
};

/// Every data-key="K">TEXT< in the page, in order.
inline std::vector<keyed_figure> keyed_figures(const std::string& html) {
  std::vector<keyed_figure> out;
  const std::string marker = "data-key=\"";
  for (std::size_t at = html.find(marker); at != std::string::npos;
       at = html.find(marker, at + 1)) {
    const std::size_t key_begin = at + marker.size();
    const std::size_t key_end = html.find('"', key_begin);
    const std::size_t text_begin = html.find('>', key_end) + 1;
    const std::size_t text_end = html.find('<', text_begin);
    REQUIRE(key_end != std::string::npos);
    REQUIRE(text_end != std::string::npos);
    out.push_back({html.substr(key_begin, key_end - key_begin),
                   html.substr(text_begin, text_end - text_begin)});
  }
  return out;
}

inline std::size_t occurrences(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) {
    ++n;
  }
  return n;
}

/// Checks the page's structure and figures; returns how many figures it compared.
inline std::size_t check_report_against_json(const std::string& html, const std::string& json) {
  CHECK(html.rfind("<!DOCTYPE html>", 0) == 0);
  CHECK(html.find("</html>") != std::string::npos);
  CHECK(occurrences(html, "<svg") >= 2);
  CHECK(occurrences(html, "<svg") == occurrences(html, "</svg>"));
  // Self-contained: nothing fetched, nothing run.
  for (const char* banned : {"<script", "src=", "href=", "url(", "@import", "http://",
                             "https://", "<link", "<img", "<iframe"}) {
    INFO("banned: " << banned);
    CHECK(html.find(banned) == std::string::npos);
  }
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  REQUIRE(parser.parse(json).get(root) == simdjson::SUCCESS);
  std::size_t compared = 0;
  for (const auto& f : keyed_figures(html)) {
    std::string pointer = "/";
    for (char c : f.key) {
      pointer += c == '.' ? '/' : c;
    }
    INFO("data-key " << f.key << " shows '" << f.text << "'");
    simdjson::dom::element value;
    REQUIRE(root.at_pointer(pointer).get(value) == simdjson::SUCCESS);
    if (value.is_bool()) {
      CHECK(f.text == (value.get_bool().value() ? "true" : "false"));
    } else if (value.is_string()) {
      CHECK(f.text == std::string(value.get_string().value()));
    } else if ((value.is_uint64() || value.is_int64()) && f.text.find('.') == std::string::npos) {
      CHECK(f.text == simdjson::minify(value));  // a count: exactly
    } else {
      // A measurement: the page rounds to 2 decimals, the JSON to 6 significant digits (so a
      // whole number may come as an integer).
      double want = 0;
      REQUIRE(value.get_double().get(want) == simdjson::SUCCESS);
      char* end = nullptr;
      const double shown = std::strtod(f.text.c_str(), &end);
      CHECK(end == f.text.c_str() + f.text.size());
      CHECK(std::abs(shown - want) <= std::max(0.0051, std::abs(want) * 1e-5));
    }
    ++compared;
  }
  return compared;
}

} // namespace stockd::simulator::testing
