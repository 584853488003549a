#include "server/shopify_webhooks.hpp"

#include <set>

#include "connectors/credentials.hpp"
#include "connectors/json_writer.hpp"
#include "connectors/shopify_webhook.hpp"
#include "server/api.hpp"
#include "server/placement.hpp"
#include "server/url.hpp"

namespace stockd::server {
namespace {

// Webhook ids are UUIDs; anything printable up to this length is taken (it becomes part of the
// event ids, which the journal keys on).
constexpr std::size_t webhook_id_bytes_max = 128;
constexpr std::size_t topic_bytes_max = 128;

bool is_printable(std::string_view text) {
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte >= 0x7f) {
      return false;
    }
  }
  return true;
}

std::string_view header_of(const request& req, std::string_view name) {
  auto value = req[boost::beast::string_view(name.data(), name.size())];
  return {value.data(), value.size()};
}

const shopify_webhook_channel* find_webhook_channel(
    const std::vector<shopify_webhook_channel>* channels, std::string_view channel_in_path,
    std::string_view shop_domain) {
  if (channels == nullptr) {
    return nullptr;
  }
  for (const auto& c : *channels) {
    if (channel_in_path.empty() ? (!c.shop_domain.empty() && c.shop_domain == shop_domain)
                                : c.channel.str() == channel_in_path) {
      return &c;
    }
  }
  return nullptr;
}

} // namespace

std::vector<std::string> shopify_webhook_channel::secrets_at(engine::timestamp now) const {
  std::vector<std::string> out{secret};
  if (!previous_secret.empty() && previous_until && now < *previous_until) {
    out.push_back(previous_secret);
  }
  return out;
}

stockd::result<std::vector<shopify_webhook_channel>, std::string>
resolve_shopify_webhooks(const std::vector<connectors::channel_options>& channels) {
  std::vector<shopify_webhook_channel> out;
  std::set<std::string> domains;
  for (const auto& options : channels) {
    if (options.webhook_secret.empty()) {
      continue;
    }
    shopify_webhook_channel c;
    c.channel = options.id;
    c.shop_domain = options.shop_domain;
    if (!c.shop_domain.empty() && !domains.insert(c.shop_domain).second) {
      return stockd::unexpected("channel " + options.id.str() + ": shop_domain '" +
                                c.shop_domain + "' is another channel's too");
    }
    auto secret = connectors::resolve_credentials(options.webhook_secret);
    if (!secret) {
      return stockd::unexpected("channel " + options.id.str() + ": webhook_secret: " +
                                secret.error());
    }
    c.secret = std::move(*secret);
    if (!options.webhook_secret_previous.empty()) {
      auto previous = connectors::resolve_credentials(options.webhook_secret_previous);
      if (!previous) {
        return stockd::unexpected("channel " + options.id.str() +
                                  ": webhook_secret_previous: " + previous.error());
      }
      c.previous_secret = std::move(*previous);
      c.previous_until = options.webhook_secret_previous_until;
    }
    out.push_back(std::move(c));
  }
  return out;
}

void api::post_shopify_webhook(request&& req, std::string_view channel_in_path,
                               responder respond) {
  const unsigned version = req.version();
  const bool keep_alive = req.keep_alive();
  auto& counters = webhooks_;
  counters.received.fetch_add(1, std::memory_order_relaxed);
  if (req.method() != http::verb::post) {
    respond(error(http::status::method_not_allowed, version, keep_alive, "use POST"));
    return;
  }
  std::optional<std::string> channel_name = std::string{};
  if (!channel_in_path.empty()) {
    channel_name = channel_in_path.find('/') == std::string_view::npos
                       ? percent_decode(channel_in_path)
                       : std::nullopt;
  }
  const auto* channel =
      channel_name ? find_webhook_channel(deps_.shopify_webhooks, *channel_name,
                                          header_of(req, "X-Shopify-Shop-Domain"))
                   : nullptr;
  if (channel == nullptr) {
    respond(error(http::status::not_found, version, keep_alive,
                  channel_in_path.empty()
                      ? "no channel takes webhooks from this X-Shopify-Shop-Domain"
                      : "no such channel, or it takes no webhooks (webhook_secret)",
                  channel_in_path.empty() ? "X-Shopify-Shop-Domain" : "channel"));
    return;
  }
  // The signature first: nothing of an unsigned body is parsed or stored.
  const auto now = std::chrono::time_point_cast<std::chrono::milliseconds>(
      std::chrono::system_clock::now());
  const std::string_view signature = header_of(req, "X-Shopify-Hmac-Sha256");
  if (signature.empty() ||
      !connectors::verify_shopify_hmac(req.body(), signature, channel->secrets_at(now))) {
    counters.unauthorized.fetch_add(1, std::memory_order_relaxed);
    respond(error(http::status::unauthorized, version, keep_alive,
                  signature.empty() ? "missing signature" : "signature does not match",
                  "X-Shopify-Hmac-Sha256"));
    return;
  }
  connectors::shopify_webhook_envelope envelope;
  envelope.channel = channel->channel;
  envelope.topic = std::string(header_of(req, "X-Shopify-Topic"));
  envelope.webhook_id = std::string(header_of(req, "X-Shopify-Webhook-Id"));
  for (auto [name, value, max] :
       {std::tuple{"X-Shopify-Topic", &envelope.topic, topic_bytes_max},
        std::tuple{"X-Shopify-Webhook-Id", &envelope.webhook_id, webhook_id_bytes_max}}) {
    if (value->empty() || value->size() > max || !is_printable(*value)) {
      counters.malformed.fetch_add(1, std::memory_order_relaxed);
      respond(error(http::status::bad_request, version, keep_alive,
                    "is required: printable, at most " + std::to_string(max) + " bytes", name));
      return;
    }
  }
  auto decoded =
      connectors::decode_shopify_webhook(req.body(), envelope, *deps_.catalog, *deps_.limits);
  if (!decoded) {
    auto& counter = decoded.error().http_status == 400 ? counters.malformed : counters.unmappable;
    counter.fetch_add(1, std::memory_order_relaxed);
    respond(error(static_cast<http::status>(decoded.error().http_status), version, keep_alive,
                  decoded.error().message, "body"));
    return;
  }
  if (decoded->ignored) {
    counters.ignored.fetch_add(1, std::memory_order_relaxed);
    connectors::json_writer w;
    w.begin_object().field("topic", envelope.topic).field("ignored", true).end_object();
    response res{http::status::ok, version};
    res.set(http::field::server, "stockd");
    res.set(http::field::content_type, "application/json");
    res.keep_alive(keep_alive);
    res.body() = w.take();
    res.prepare_payload();
    respond(std::move(res));
    return;
  }
  counters.lines_without_sku.fetch_add(decoded->lines_without_sku, std::memory_order_relaxed);
  misses_.record(decoded->events);
  for (const auto& e : decoded->events) {
    if (!e.ev) {
      // All or nothing: a delivery is one fact (an order, a refund) and Shopify sends it again.
      counters.unmappable.fetch_add(1, std::memory_order_relaxed);
      respond(error(http::status::unprocessable_entity, version, keep_alive,
                    "line " + e.id + ": " + e.error.reason, e.error.field));
      return;
    }
  }
  counters.mapped.fetch_add(1, std::memory_order_relaxed);
  // The same path as POST /v1/events: readiness, placement, the in-flight bound, the journal.
  if (!deps_.counters->ready.load(std::memory_order_relaxed)) {
    auto res = error(http::status::service_unavailable, version, keep_alive,
                     "recovering: not ready to accept events");
    res.set(http::field::retry_after, std::to_string(deps_.opts->retry_after.count()));
    respond(std::move(res));
    return;
  }
  auto results =
      std::make_shared<std::vector<connectors::decoded_event>>(std::move(decoded->events));
  if (needs_placement(*results)) {
    place_lines(results, *deps_.catalog, *deps_.engine,
                [deps = deps_, results, version, keep_alive, respond = std::move(respond)] {
                  // A cancel or refund delivered before its order (Shopify does not keep
                  // order): refused whole, so that Shopify sends it again later.
                  for (const auto& e : *results) {
                    if (!e.ev) {
                      respond(api::error(http::status::conflict, version, keep_alive,
                                         "line " + e.id + ": " + e.error.reason +
                                             " (the order is not known yet: retry later)",
                                         e.error.field));
                      return;
                    }
                  }
                  submit_decoded(deps, results, version, keep_alive, respond);
                });
    return;
  }
  submit_decoded(deps_, results, version, keep_alive, std::move(respond));
}

} // namespace stockd::server
