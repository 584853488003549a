#include "simulator/emulator.hpp"

#include <cassert>

namespace stockd::simulator {
namespace {

constexpr std::size_t json_depth_max = 32;
constexpr std::size_t test_api_items_max = 100'000;

std::string error_json(std::string_view message) {
  json_writer out;
  out.begin_object().field("error", message).end_object();
  return out.take();
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

} // namespace

response make_response(const request& req, http::status status, std::string body,
                       std::string_view content_type) {
  response res{status, req.version()};
  res.set(http::field::server, "stocksim");
  res.set(http::field::content_type, boost::beast::string_view(content_type.data(), content_type.size()));
  res.keep_alive(req.keep_alive());
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

std::string_view target_path(std::string_view target) {
  return target.substr(0, target.find('?'));
}

std::string percent_decode(std::string_view raw, bool plus_is_space) {
  std::string value;
  for (std::size_t i = 0; i < raw.size(); ++i) {
    int hi = i + 2 < raw.size() && raw[i] == '%' ? hex_digit(raw[i + 1]) : -1;
    int lo = hi >= 0 ? hex_digit(raw[i + 2]) : -1;
    if (lo >= 0) {
      value += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      value += plus_is_space && raw[i] == '+' ? ' ' : raw[i];
    }
  }
  return value;
}

std::optional<std::string> query_param(std::string_view target, std::string_view name) {
  auto q = target.find('?');
  if (q == std::string_view::npos) {
    return std::nullopt;
  }
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    auto amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
    auto eq = pair.find('=');
    if (pair.substr(0, eq) != name) {
      continue;
    }
    std::string_view raw = eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
    std::string value = percent_decode(raw, true);
    return value;
  }
  return std::nullopt;
}

emulator::emulator(std::string kind, clock_fn now)
    : kind_(std::move(kind)), now_(now ? std::move(now) : clock_fn([] { return clock_type::now(); })),
      started_(now_()) {
  [[maybe_unused]] auto ec = parser_.allocate(64 * 1024, json_depth_max);
  assert(!ec);
}

reply emulator::handle(const request& req) {
  std::lock_guard lock(mu_);
  const time_point now = now_();
  on_time(now);
  if (target_path(to_std(req.target())).substr(0, 11) == "/_emulator/") {
    return test_api(req);
  }
  ++calls_;
  std::optional<fault_kind> fault = faults_.draw();
  if (fault && !supports(*fault)) {
    fault.reset();
  }
  reply r;
  if (fault) {
    faults_.count_injected(*fault);
  }
  if (fault && *fault != fault_kind::hang_after && *fault != fault_kind::stale_cas) {
    r = fault_reply(req, *fault);
  } else {
    r = on_api(req, fault, now);
    if (fault == fault_kind::hang_after) {
      r.after = disposition::hang_then_close;
      r.hang = faults_.settings().hang;
    }
  }
  decorate(r.res);
  count_response(r.after == disposition::respond ? r.res.result_int() : 0);
  return r;
}

reply emulator::fault_reply(const request& req, fault_kind kind) {
  reply r;
  switch (kind) {
    case fault_kind::reset:
      r.after = disposition::reset;
      break;
    case fault_kind::hang_before:
      r.after = disposition::hang_then_close;
      r.hang = faults_.settings().hang;
      break;
    case fault_kind::throttle:
    case fault_kind::throttle_no_retry:
      r.res = make_response(req, http::status::too_many_requests, error_body(429));
      if (kind == fault_kind::throttle) {
        r.res.set(http::field::retry_after,
                  std::to_string(faults_.settings().retry_after.count()));
      }
      break;
    case fault_kind::server_error: {
      unsigned status = faults_.settings().server_error_status;
      r.res = make_response(req, static_cast<http::status>(status), error_body(status));
      break;
    }
    default:
      assert(false && "hang_after and stale_cas are applied by the emulator");
  }
  return r;
}

void emulator::count_response(unsigned status) {
  std::size_t slot = 5;
  if (status == 429) {
    slot = 3;
  } else if (status >= 500) {
    slot = 4;
  } else if (status >= 400) {
    slot = 2;
  } else if (status >= 300) {
    slot = 1;
  } else if (status >= 200) {
    slot = 0;
  }
  ++responses_[slot];
}

void emulator::count_call_items(std::size_t items) {
  ++item_calls_;
  items_ += items;
  items_per_call_max_ = std::max<std::uint64_t>(items_per_call_max_, items);
}

double emulator::seconds_since_start(time_point now) const {
  return now <= started_ ? 0.0 : std::chrono::duration<double>(now - started_).count();
}

reply emulator::test_api(const request& req) {
  auto path = target_path(to_std(req.target()));
  reply r;
  if (path == "/_emulator/stats" && req.method() == http::verb::get) {
    r.res = make_response(req, http::status::ok, "");
    // stats_json takes the lock itself: build it here instead.
    json_writer out;
    const time_point now = now_();
    out.begin_object().field("emulator", kind_).field("uptime_s", seconds_since_start(now));
    out.field("calls", calls_);
    out.key("responses").begin_object();
    out.field("2xx", responses_[0]).field("3xx", responses_[1]).field("4xx", responses_[2]);
    out.field("429", responses_[3]).field("5xx", responses_[4]).field("none", responses_[5]);
    out.end_object();
    out.field("item_calls", item_calls_).field("items", items_);
    out.field("items_per_call_max", items_per_call_max_);
    out.field("items_per_call_mean",
              item_calls_ == 0 ? 0.0
                               : static_cast<double>(items_) / static_cast<double>(item_calls_));
    out.field("throttled", throttled_);
    out.key("faults_injected").begin_object();
    for (std::size_t k = 0; k < fault_kind_count; ++k) {
      out.field(to_string(static_cast<fault_kind>(k)), faults_.injected(static_cast<fault_kind>(k)));
    }
    out.end_object();
    out.key("rate_limit").begin_object();
    write_rate_limit(out, now);
    out.end_object();
    if (extra_stats_) {
      out.key("buyer");
      extra_stats_(out);
    }
    out.end_object();
    r.res.body() = out.take();
    r.res.prepare_payload();
    return r;
  }
  if (path == "/_emulator/faults" && req.method() == http::verb::get) {
    json_writer out;
    out.begin_object().field("faults", describe(faults_.settings())).end_object();
    r.res = make_response(req, http::status::ok, out.take());
    return r;
  }
  if (path == "/_emulator/faults" && req.method() == http::verb::post) {
    auto parsed = parse_faults(req.body());
    if (!parsed.settings) {
      r.res = make_response(req, http::status::bad_request, error_json(parsed.error));
      return r;
    }
    faults_.set(std::move(*parsed.settings));
    json_writer out;
    out.begin_object().field("faults", describe(faults_.settings())).end_object();
    r.res = make_response(req, http::status::ok, out.take());
    return r;
  }
  if (path == "/_emulator/quantities" && req.method() == http::verb::get) {
    json_writer out;
    out.begin_object().key("items").begin_array();
    write_quantities(out);
    out.end_array().end_object();
    r.res = make_response(req, http::status::ok, out.take());
    return r;
  }
  if (path == "/_emulator/quantities" && req.method() == http::verb::post) {
    simdjson::dom::element doc;
    simdjson::dom::array items;
    if (parser_.parse(req.body()).get(doc) || doc["items"].get_array().get(items)) {
      r.res = make_response(req, http::status::bad_request,
                            error_json("items: expected {\"items\": [...]}"));
      return r;
    }
    std::size_t n = 0;
    for (auto item : items) {
      std::string_view sku;
      std::int64_t quantity = 0;
      std::string_view location;
      if (++n > test_api_items_max || item["sku"].get_string().get(sku) ||
          item["quantity"].get_int64().get(quantity) ||
          (item["location"].error() != simdjson::NO_SUCH_FIELD &&
           item["location"].get_string().get(location))) {
        r.res = make_response(req, http::status::bad_request,
                              error_json("items[]: each needs sku (string), quantity (integer), "
                                         "location (string, optional); at most 100000"));
        return r;
      }
      if (auto error = do_set_quantity(sku, quantity, location)) {
        r.res = make_response(req, http::status::bad_request, error_json(*error));
        return r;
      }
    }
    json_writer out;
    out.begin_object().field("set", static_cast<std::uint64_t>(n)).end_object();
    r.res = make_response(req, http::status::ok, out.take());
    return r;
  }
  r.res = make_response(req, http::status::not_found, error_json("no such emulator endpoint"));
  return r;
}

std::optional<std::string> emulator::set_faults(std::string_view spec) {
  auto parsed = parse_faults(spec);
  if (!parsed.settings) {
    return parsed.error;
  }
  std::lock_guard lock(mu_);
  faults_.set(std::move(*parsed.settings));
  return std::nullopt;
}

std::optional<std::string> emulator::set_quantity(std::string_view sku, std::int64_t quantity,
                                                  std::string_view location) {
  std::lock_guard lock(mu_);
  on_time(now_());
  return do_set_quantity(sku, quantity, location);
}

void emulator::lose_next_sets(std::size_t n) {
  std::lock_guard lock(mu_);
  lose_next_ = n;
}

std::optional<std::int64_t> emulator::quantity(std::string_view sku, std::string_view location) {
  std::lock_guard lock(mu_);
  on_time(now_());
  return do_quantity(sku, location);
}

std::optional<std::string> emulator::buy_one(
    std::mt19937_64& rng, const std::function<void(std::string_view sku)>& sold) {
  std::lock_guard lock(mu_);
  on_time(now_());
  auto sku = do_buy_one(rng);
  if (sku && sold) {
    sold(*sku);
  }
  return sku;
}

bool emulator::buy(std::string_view sku, const std::function<void(std::string_view sku)>& sold) {
  std::lock_guard lock(mu_);
  on_time(now_());
  const auto shown = do_quantity(sku, {});
  if (!shown || *shown <= 0) {
    return false;
  }
  // The same decrement do_buy_one makes: the channel lowers its own quantity when it sells.
  if (do_set_quantity(sku, *shown - 1, {})) {
    return false;
  }
  if (sold) {
    sold(sku);
  }
  return true;
}

std::string emulator::stats_json() {
  request req{http::verb::get, "/_emulator/stats", 11};
  return handle(req).res.body();
}

std::string emulator::quantities_json() {
  request req{http::verb::get, "/_emulator/quantities", 11};
  return handle(req).res.body();
}

void emulator::set_extra_stats(std::function<void(json_writer&)> writer) {
  std::lock_guard lock(mu_);
  extra_stats_ = std::move(writer);
}

} // namespace stockd::simulator
