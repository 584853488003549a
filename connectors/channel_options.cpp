#include "connectors/channel_options.hpp"

namespace stockd::connectors {

std::string_view to_string(connector_kind kind) noexcept {
  switch (kind) {
  case connector_kind::shopify: return "shopify";
  case connector_kind::amazon: return "amazon";
  case connector_kind::webhook: return "webhook";
  case connector_kind::none: return "none";
  }
  return "unknown";
}

std::string_view to_string(push_mode mode) noexcept {
  switch (mode) {
  case push_mode::event: return "event";
  case push_mode::interval: return "interval";
  }
  return "unknown";
}

std::string_view to_string(channel_mode mode) noexcept {
  switch (mode) {
  case channel_mode::live: return "live";
  case channel_mode::shadow: return "shadow";
  }
  return "unknown";
}

call_limiter limiter_for(const channel_options& options, limiter_time now) {
  if (options.connector == connector_kind::shopify) {
    return call_limiter(cost_bucket(throttle_status{}, now), shopify_push_cost,
                        shopify_read_cost_base, shopify_read_cost_per_sku,
                        shopify_read_cost_max);
  }
  return call_limiter(token_bucket(options.requests_per_second * token_pace,
                                   static_cast<double>(options.burst), now));
}

} // namespace stockd::connectors
