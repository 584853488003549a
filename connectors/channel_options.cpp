#include "connectors/channel_options.hpp"

namespace stockd::connectors {

std::string_view to_string(connector_kind kind) noexcept {
  switch (kind) {
  case connector_kind::shopify: return "shopify";
  case connector_kind::amazon: return "amazon";
  case connector_kind::webhook: return "webhook";
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

} // namespace stockd::connectors
