#include "connectors/amazon_client.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdlib>
#include <initializer_list>

#include <simdjson.h>

#include "connectors/credentials.hpp"
#include "connectors/json_writer.hpp"
#include "connectors/webhook_client.hpp"  // parse_retry_after

namespace stockd::connectors {
namespace {

namespace od = simdjson::ondemand;

constexpr std::string_view listings_path = "/listings/2021-08-01/items/";

/// x-amzn-RateLimit-Limit: a positive decimal ("5.0"); nullopt when absent or not one.
std::optional<double> rate_limit(const http_response& response) {
  auto header = response.header("x-amzn-RateLimit-Limit");
  if (!header || header->empty() || header->size() > 32) {
    return std::nullopt;
  }
  const std::string text(*header);
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || !std::isfinite(value) || value <= 0.0) {
    return std::nullopt;
  }
  return value;
}

/// The first error's code of an SP-API error body {"errors":[{"code":...}]}; empty when none.
std::string error_code(std::string_view body) {
  simdjson::padded_string padded(body);
  od::parser parser;
  od::document doc;
  od::array errors;
  if (parser.iterate(padded).get(doc) ||
      doc.find_field_unordered("errors").get_array().get(errors)) {
    return {};
  }
  for (auto element : errors) {
    std::string_view code;
    if (element.find_field_unordered("code").get_string().get(code)) {
      return {};
    }
    return std::string(code);
  }
  return {};
}

/// A patchListingsItem 200 body as the item's result; nullopt when it is not one.
std::optional<item_result> patch_answer(std::string_view body) {
  simdjson::padded_string padded(body);
  od::parser parser;
  od::document doc;
  od::object root;
  std::string_view status;
  if (parser.iterate(padded).get(doc) || doc.get_object().get(root) ||
      root.find_field_unordered("status").get_string().get(status)) {
    return std::nullopt;
  }
  if (status == "ACCEPTED") {
    return item_result{item_outcome::applied, {}, std::nullopt};
  }
  if (status != "INVALID") {
    return std::nullopt;
  }
  item_result out{item_outcome::rejected, {}, std::nullopt};
  od::array issues;
  if (root.find_field_unordered("issues").get_array().get(issues)) {
    out.code = "INVALID";
    return out;
  }
  std::string first;
  for (auto element : issues) {
    od::object issue;
    std::string_view code;
    if (element.get_object().get(issue) ||
        issue.find_field_unordered("code").get_string().get(code)) {
      return std::nullopt;
    }
    std::string_view severity;
    const bool is_error =
        issue.find_field_unordered("severity").get_string().get(severity) == simdjson::SUCCESS &&
        severity == "ERROR";
    if (is_error) {
      out.code = std::string(code);
      return out;
    }
    if (first.empty()) {
      first = std::string(code);
    }
  }
  out.code = first.empty() ? std::string("INVALID") : first;
  return out;
}

/// The DEFAULT quantity of a getListingsItem body; `found` false when the listing has none.
bool read_answer(std::string_view body, bool& found, std::int64_t& quantity) {
  simdjson::padded_string padded(body);
  od::parser parser;
  od::document doc;
  od::array availability;
  if (parser.iterate(padded).get(doc) ||
      doc.find_field_unordered("fulfillmentAvailability").get_array().get(availability)) {
    return false;
  }
  found = false;
  for (auto element : availability) {
    od::object entry;
    std::string_view channel;
    if (element.get_object().get(entry) ||
        entry.find_field_unordered("fulfillmentChannelCode").get_string().get(channel)) {
      return false;
    }
    if (channel != "DEFAULT") {
      continue;  // an Amazon-fulfilled (AFN) entry: Amazon's stock, not ours to sync
    }
    if (entry.find_field_unordered("quantity").get_int64().get(quantity)) {
      return false;
    }
    found = true;
  }
  return true;
}

} // namespace

// --- Login with Amazon ------------------------------------------------------------------------

/// The access token every SP-API call carries: fixed, or exchanged for the refresh token at LWA
/// and cached. Shared by the client and its calls in flight (which may outlive it).
struct amazon_token_source {
  amazon_token_source(http_client& h, const amazon_options& o)
      : http(h), lwa(o.lwa), lwa_endpoint(o.lwa_endpoint), timeout(o.timeout),
        refresh_margin(o.token_refresh_margin), token(o.access_token) {}

  /// The token to use, or the LWA exchange's failure as an http_result (see the header).
  using answer_fn = std::function<void(std::string token, std::optional<http_result> failure)>;

  /// Calls `done` with a token that is not `stale` and not about to expire; refreshes first when
  /// there is none (calls meanwhile wait in `waiters`, at most amazon_token_waiters_max).
  void get(const std::shared_ptr<amazon_token_source>& self, const std::string& stale,
           answer_fn done) {
    std::unique_lock lock(mu);
    const auto now = std::chrono::steady_clock::now();
    if (!lwa || (!token.empty() && token != stale && now < refresh_after)) {
      std::string current = token;
      lock.unlock();
      done(std::move(current), std::nullopt);
      return;
    }
    if (waiters.size() >= amazon_token_waiters_max) {
      lock.unlock();
      http_result overloaded;
      overloaded.error = http_error::overloaded;
      overloaded.detail = "login-with-amazon: " + std::to_string(amazon_token_waiters_max) +
                          " calls already wait for a token";
      done({}, std::move(overloaded));
      return;
    }
    waiters.push_back(std::move(done));
    if (refreshing) {
      return;
    }
    refreshing = true;
    lock.unlock();
    refresh(self);
  }

  void refresh(const std::shared_ptr<amazon_token_source>& self) {
    http_request request;
    request.method = http_method::post;
    request.url = lwa_endpoint;
    request.timeout = timeout;
    request.headers = {{"Content-Type", "application/x-www-form-urlencoded;charset=UTF-8"},
                       {"Accept", "application/json"}};
    request.body = "grant_type=refresh_token&refresh_token=" + percent_encode(lwa->refresh_token) +
                   "&client_id=" + percent_encode(lwa->client_id) +
                   "&client_secret=" + percent_encode(lwa->client_secret);
    http.send(std::move(request), [self](http_result r) { self->on_refresh(std::move(r)); });
  }

  void on_refresh(http_result r) {
    std::optional<http_result> failure;
    std::string fresh;
    std::chrono::seconds lifetime{0};
    if (r.error != http_error::none) {
      failure = std::move(r);  // the transport's detail names the endpoint, never the body
    } else if (r.response.status != 200) {
      failure = lwa_failure(r.response);
    } else if (!read_token(r.response.body, fresh, lifetime)) {
      http_result bad;
      bad.error = http_error::bad_response;
      bad.detail = "login-with-amazon: the token answer is not {access_token, expires_in}";
      failure = std::move(bad);
    }
    std::vector<answer_fn> waiting;
    {
      std::lock_guard lock(mu);
      if (!failure) {
        token = fresh;
        // refresh_margin before it expires; a token shorter-lived than twice the margin is
        // used for half its life (else every call would refresh it).
        const std::chrono::milliseconds life = lifetime;
        refresh_after =
            std::chrono::steady_clock::now() + std::max(life - refresh_margin, life / 2);
      }
      refreshing = false;
      waiting.swap(waiters);
    }
    for (auto& done : waiting) {
      done(failure ? std::string() : fresh, failure);
    }
  }

  /// LWA refused: 400 invalid_grant / invalid_client, 401 invalid_client: the credentials are
  /// wrong, a systemic failure (unauthorized, as a 401 of SP-API); 429 and 5xx pass as they are.
  static http_result lwa_failure(const http_response& response) {
    http_result out;
    out.response.status = response.status;
    std::string code = lwa_error_code(response.body);
    if (response.status == 400 || response.status == 401 || response.status == 403) {
      out.response.status = 401;
    }
    json_writer w;
    w.begin_object().key("errors").begin_array().begin_object();
    w.field("code", "lwa_" + (code.empty() ? std::to_string(response.status) : code));
    w.end_object().end_array().end_object();
    out.response.body = w.take();
    for (const auto& h : response.headers) {
      if (h.name == "Retry-After" || h.name == "retry-after") {
        out.response.headers.push_back(h);
      }
    }
    return out;
  }

  /// LWA's {"error":"invalid_client",...}: the code only (it is ours to log; the description
  /// might echo input).
  static std::string lwa_error_code(std::string_view body) {
    simdjson::padded_string padded(body);
    od::parser parser;
    od::document doc;
    std::string_view code;
    if (parser.iterate(padded).get(doc) ||
        doc.find_field_unordered("error").get_string().get(code)) {
      return {};
    }
    std::string out;
    for (char c : code.substr(0, 64)) {
      const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                         (c >= '0' && c <= '9') || c == '_';
      if (plain) {
        out += c;
      }
    }
    return out;
  }

  static bool read_token(std::string_view body, std::string& token,
                         std::chrono::seconds& lifetime) {
    simdjson::padded_string padded(body);
    od::parser parser;
    od::document doc;
    od::object root;
    std::string_view access;
    std::int64_t expires_in = 0;
    if (parser.iterate(padded).get(doc) || doc.get_object().get(root) ||
        root.find_field_unordered("access_token").get_string().get(access) || access.empty() ||
        root.find_field_unordered("expires_in").get_int64().get(expires_in) || expires_in <= 0) {
      return false;
    }
    token = std::string(access);
    lifetime = std::chrono::seconds(std::min<std::int64_t>(expires_in, 24 * 3600));
    return true;
  }

  http_client& http;
  const std::optional<lwa_credentials> lwa;
  const std::string lwa_endpoint;
  const std::optional<std::chrono::milliseconds> timeout;
  const std::chrono::milliseconds refresh_margin;
  std::mutex mu;
  std::string token;  // fixed, or the last one LWA gave
  std::chrono::steady_clock::time_point refresh_after{};
  bool refreshing = false;
  std::vector<answer_fn> waiters;
};

namespace {

/// Sends the request `make` builds with a token; on 401/403 to an LWA token, gets a new one and
/// sends once more. `done(answer, from_lwa)`: from_lwa when the answer is the token exchange's
/// failure, not SP-API's.
using make_fn = std::function<http_request(const std::string& token)>;
using answer_fn = std::function<void(http_result, bool from_lwa)>;

void send_authorized(std::shared_ptr<amazon_token_source> tokens, make_fn make, answer_fn done,
                     std::string stale = {}) {
  const bool retry = !stale.empty();
  auto source = tokens;
  source->get(source, stale,
              [tokens = std::move(tokens), make = std::move(make), done = std::move(done),
               retry](std::string token, std::optional<http_result> failure) mutable {
                if (failure) {
                  done(std::move(*failure), true);
                  return;
                }
                auto request = make(token);
                auto& http = tokens->http;
                http.send(std::move(request),
                          [tokens = std::move(tokens), make = std::move(make),
                           done = std::move(done), retry,
                           token = std::move(token)](http_result r) mutable {
                            const bool refused =
                                r.error == http_error::none &&
                                (r.response.status == 401 || r.response.status == 403);
                            if (refused && tokens->lwa && !retry) {
                              // The token expired early or was revoked: a new one, once.
                              send_authorized(std::move(tokens), std::move(make), std::move(done),
                                              std::move(token));
                              return;
                            }
                            done(std::move(r), false);
                          });
              });
}

/// A push_result of the token exchange's failure: its code says so ("lwa_invalid_client",
/// "lwa_503", "lwa: connect ...").
void mark_lwa(push_result& out, const http_result& answer) {
  if (answer.error != http_error::none) {
    out.code = "lwa: " + out.code;
    return;
  }
  const std::string code = error_code(answer.response.body);
  out.code = code.rfind("lwa_", 0) == 0 ? code : "lwa_" + out.code;
}

} // namespace

std::optional<std::string> parse_amazon_credentials(std::string secret, amazon_options& out) {
  if (secret.empty() || secret.front() != '{') {
    out.access_token = std::move(secret);
    out.lwa.reset();
    return std::nullopt;
  }
  simdjson::padded_string padded(secret);
  od::parser parser;
  od::document doc;
  od::object root;
  lwa_credentials lwa;
  const std::string form =
      "credentials: a JSON object needs client_id, client_secret and refresh_token, each a "
      "non-empty string";
  if (parser.iterate(padded).get(doc) || doc.get_object().get(root)) {
    return form;
  }
  for (auto [name, field] : {std::pair{"client_id", &lwa.client_id},
                             std::pair{"client_secret", &lwa.client_secret},
                             std::pair{"refresh_token", &lwa.refresh_token}}) {
    std::string_view value;
    if (root.find_field_unordered(name).get_string().get(value) || value.empty()) {
      return form;
    }
    *field = std::string(value);
  }
  out.access_token.clear();
  out.lwa = std::move(lwa);
  return std::nullopt;
}

std::string amazon_item_url(const amazon_options& options, const engine::sku_id& sku) {
  std::string url = options.endpoint;
  while (!url.empty() && url.back() == '/') {
    url.pop_back();
  }
  url.append(listings_path)
      .append(percent_encode(options.seller_id))
      .append("/")
      .append(percent_encode(sku.str()))
      .append("?marketplaceIds=")
      .append(percent_encode(options.marketplace_id));
  return url;
}

std::string amazon_patch_body(std::int64_t quantity) {
  json_writer w;
  w.begin_object().field("productType", "PRODUCT").key("patches").begin_array();
  w.begin_object()
      .field("op", "merge")
      .field("path", "/attributes/fulfillment_availability")
      .key("value")
      .begin_array();
  w.begin_object().field("fulfillment_channel_code", "DEFAULT").field("quantity", quantity);
  w.end_object().end_array().end_object().end_array().end_object();
  return w.take();
}

push_result amazon_push_outcome(const http_result& answer,
                                std::chrono::system_clock::time_point now) {
  if (auto failure = transport_failure(answer)) {
    return std::move(*failure);
  }
  const http_response& response = answer.response;
  const unsigned status = response.status;
  push_result out;
  out.code = std::to_string(status);
  out.rate_limit_per_second = rate_limit(response);
  if (auto id = response.header("x-amzn-RequestId")) {
    out.request_id = std::string(*id);
  }
  if (auto retry = response.header("Retry-After")) {
    out.retry_after = parse_retry_after(*retry, now);
  }
  if (status == 200) {
    auto item = patch_answer(response.body);
    if (!item) {
      out.outcome = call_outcome::server_error;
      out.code = "invalid_response";
      return out;
    }
    out.outcome = call_outcome::ok;
    out.items.push_back(std::move(*item));
    return out;
  }
  if (status == 404) {
    std::string code = error_code(response.body);
    out.outcome = call_outcome::ok;
    out.items.push_back(
        item_result{item_outcome::rejected, code.empty() ? "NotFound" : code, std::nullopt});
    return out;
  }
  classify_status(status, out);
  return out;
}

read_result amazon_read_outcome(const http_result& answer, const engine::sku_id& sku) {
  read_result out;
  if (answer.error != http_error::none) {
    out.code = answer.error == http_error::timeout ? std::string("timeout")
                                                   : std::string(to_string(answer.error)) +
                                                         ": " + answer.detail;
    return out;
  }
  const unsigned status = answer.response.status;
  out.code = std::to_string(status);
  if (status == 404) {
    out.ok = true;
    return out;
  }
  if (status != 200) {
    return out;
  }
  bool found = false;
  std::int64_t quantity = 0;
  if (!read_answer(answer.response.body, found, quantity)) {
    out.code = "invalid_response";
    return out;
  }
  if (found) {
    out.quantities.emplace_back(sku, quantity);
  }
  out.ok = true;
  return out;
}

amazon_client::amazon_client(http_client& http, amazon_options options)
    : http_(http), options_(std::move(options)) {
  assert(!options_.access_token.empty() || options_.lwa);
  assert(!options_.seller_id.empty());
  assert(!options_.marketplace_id.empty());
  assert(options_.feed_poll_first.count() > 0 &&
         options_.feed_poll_max >= options_.feed_poll_first);
  tokens_ = std::make_shared<amazon_token_source>(http_, options_);
}

amazon_client::~amazon_client() { stopped_->store(true); }

result<std::unique_ptr<amazon_client>, std::string>
amazon_client::create(http_client& http, const channel_options& channel) {
  auto token = resolve_credentials(channel.credentials);
  if (!token) {
    return unexpected{"channel '" + channel.id.str() + "': " + token.error()};
  }
  if (channel.seller_id.empty() || channel.marketplace_id.empty()) {
    return unexpected{"channel '" + channel.id.str() + "': seller_id and marketplace_id are "
                                                       "required for connector = \"amazon\""};
  }
  amazon_options options;
  options.channel = channel.id;
  options.endpoint = channel.endpoint;
  if (auto error = parse_amazon_credentials(std::move(token.value()), options)) {
    return unexpected{"channel '" + channel.id.str() + "': " + *error + " (in " +
                      channel.credentials + ")"};
  }
  if (!channel.lwa_endpoint.empty()) {
    options.lwa_endpoint = channel.lwa_endpoint;
  }
  options.seller_id = channel.seller_id;
  options.marketplace_id = channel.marketplace_id;
  return std::make_unique<amazon_client>(http, std::move(options));
}

void amazon_client::push(std::vector<push_item> batch, std::function<void(push_result)> done) {
  assert(done);
  assert(batch.size() <= batch_max());  // the channel actor batches to batch_max()
  if (batch.empty()) {
    push_result out;
    out.outcome = call_outcome::ok;
    done(std::move(out));
    return;
  }
  const push_item& item = batch.front();
  auto make = [url = amazon_item_url(options_, item.sku), body = amazon_patch_body(item.quantity),
               timeout = options_.timeout](const std::string& token) {
    http_request request;
    request.method = http_method::patch;
    request.url = url;
    request.body = body;
    request.timeout = timeout;
    request.headers = {
        {"Content-Type", "application/json"},
        {"Accept", "application/json"},
        {"x-amz-access-token", token},
    };
    return request;
  };
  // The callbacks hold no pointer to this client: they may run after the client is gone.
  send_authorized(tokens_, std::move(make), [done = std::move(done)](http_result r, bool lwa) {
    auto out = amazon_push_outcome(r, std::chrono::system_clock::now());
    if (lwa) {
      mark_lwa(out, r);
    }
    done(std::move(out));
  });
}

void amazon_client::read(std::vector<engine::sku_id> skus,
                         std::function<void(read_result)> done) {
  assert(done);
  assert(skus.size() <= batch_max());  // one limiter token per call (see the header)
  if (skus.empty()) {
    read_result out;
    out.ok = true;
    done(std::move(out));
    return;
  }
  auto make = [url = amazon_item_url(options_, skus.front()) +
                    "&includedData=fulfillmentAvailability",
               timeout = options_.timeout](const std::string& token) {
    http_request request;
    request.method = http_method::get;
    request.url = url;
    request.timeout = timeout;
    request.headers = {
        {"Accept", "application/json"},
        {"x-amz-access-token", token},
    };
    return request;
  };
  send_authorized(tokens_, std::move(make),
                  [sku = skus.front(), done = std::move(done)](http_result r, bool lwa) {
                    auto out = amazon_read_outcome(r, sku);
                    if (lwa) {
                      out.code = "lwa: " + out.code;
                    }
                    done(std::move(out));
                  });
}

// --- push_bulk: JSON_LISTINGS_FEED ------------------------------------------------------------

namespace {

constexpr std::string_view feeds_path = "/feeds/2021-06-30/";
constexpr std::string_view feed_content_type = "application/json; charset=UTF-8";
/// An item of the batch left out of the feed to keep the document under its size limit.
constexpr std::string_view code_not_in_feed = "not_in_feed";
/// One message alone over the document limit (a SKU of megabytes): it can never go.
constexpr std::string_view code_message_too_large = "feed_message_too_large";

using steady = std::chrono::steady_clock;

/// One feed, from createFeedDocument to the report. Kept alive by the pending callback (of the
/// http client's send() or after()); holds no pointer to the amazon_client, which may go first.
struct feed_job {
  feed_job(http_client& h, amazon_options o, std::shared_ptr<amazon_token_source> t,
           std::shared_ptr<const std::atomic<bool>> s, std::function<void(push_result)> d)
      : http(h), options(std::move(o)), tokens(std::move(t)), stopped(std::move(s)),
        done(std::move(d)) {}

  http_client& http;
  amazon_options options;
  std::shared_ptr<amazon_token_source> tokens;
  std::shared_ptr<const std::atomic<bool>> stopped;
  std::function<void(push_result)> done;
  std::size_t items = 0;
  std::size_t included = 0;
  std::string document;  // the feed, until uploaded
  steady::time_point deadline;
  std::chrono::milliseconds poll_wait{0};
  std::string upload_url;
  std::string document_id;
  std::string feed_id;
  std::string request_id;  // createFeed's x-amzn-RequestId
  std::string report_document_id;
  std::string report_url;
};
using job_pointer = std::shared_ptr<feed_job>;

void do_upload(job_pointer job);
void do_create_feed(job_pointer job);
void do_poll(job_pointer job);
void do_get_report_document(job_pointer job);
void do_download_report(job_pointer job);

std::string feeds_url(const amazon_options& options, std::string_view rest) {
  std::string url = options.endpoint;
  while (!url.empty() && url.back() == '/') {
    url.pop_back();
  }
  return url.append(feeds_path).append(rest);
}

void finish(const job_pointer& job, push_result out) {
  if (out.request_id.empty()) {
    out.request_id = job->request_id;
  }
  auto done = std::move(job->done);
  job->done = nullptr;
  assert(done);  // exactly once
  done(std::move(out));
}

push_result whole(call_outcome outcome, std::string code) {
  push_result out;
  out.outcome = outcome;
  out.code = std::move(code);
  return out;
}

/// Checks before every step: the client stopped, or the deadline passed. True when finished.
bool ended(const job_pointer& job) {
  if (job->stopped->load()) {
    finish(job, whole(call_outcome::network, "cancelled: the amazon client stopped"));
    return true;
  }
  if (steady::now() >= job->deadline) {
    finish(job, whole(call_outcome::timeout, "timeout"));
    return true;
  }
  return false;
}

/// The per-request timeout: the client's, never past the feed's deadline.
std::chrono::milliseconds request_timeout(const feed_job& job) {
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(job.deadline - steady::now());
  const auto own = job.options.timeout.value_or(job.http.options().request_timeout);
  return std::max(std::chrono::milliseconds(1), std::min(own, left));
}

/// An SP-API call of the feed, with a token (a new one, once, on 401/403). A token exchange
/// that fails answers as its own http_result, its code marked "lwa" by the step's mapping.
void send_api(const job_pointer& job, http_method method, std::string url, std::string body,
              answer_fn done) {
  auto make = [job, method, url = std::move(url),
               body = std::move(body)](const std::string& token) {
    http_request request;
    request.method = method;
    request.url = url;
    request.body = body;
    request.timeout = request_timeout(*job);
    request.headers = {{"Accept", "application/json"}, {"x-amz-access-token", token}};
    if (!request.body.empty()) {
      request.headers.push_back({"Content-Type", "application/json"});
    }
    return request;
  };
  send_authorized(job->tokens, std::move(make), std::move(done));
}

/// A step before the feed exists failed as a whole: the same mapping as push() (a 404 included:
/// these paths name no listing).
push_result step_failure(const http_result& answer, bool lwa = false) {
  if (auto failure = transport_failure(answer)) {
    if (lwa) {
      mark_lwa(*failure, answer);
    }
    return std::move(*failure);
  }
  push_result out;
  out.code = std::to_string(answer.response.status);
  if (auto id = answer.response.header("x-amzn-RequestId")) {
    out.request_id = std::string(*id);
  }
  if (auto retry = answer.response.header("Retry-After")) {
    out.retry_after = parse_retry_after(*retry, std::chrono::system_clock::now());
  }
  classify_status(answer.response.status, out);
  if (lwa) {
    mark_lwa(out, answer);
  }
  return out;
}

/// The string fields of a small JSON answer; false when it is not an object carrying them.
bool read_fields(std::string_view body, std::initializer_list<std::pair<std::string_view,
                                                                        std::string*>> fields) {
  simdjson::padded_string padded(body);
  od::parser parser;
  od::document doc;
  od::object root;
  if (parser.iterate(padded).get(doc) || doc.get_object().get(root)) {
    return false;
  }
  for (const auto& [name, out] : fields) {
    std::string_view value;
    if (root.find_field_unordered(name).get_string().get(value) || value.empty()) {
      return false;
    }
    *out = std::string(value);
  }
  return true;
}

/// After the feed exists, a failed poll or report read is tried again (reading is safe, and a
/// resubmission would cost one of the 5 feeds per 5 minutes): true when `answer` is worth
/// another try; else `out` says how the whole call ends.
bool transient(const http_result& answer, bool lwa, push_result& out,
               std::optional<std::chrono::milliseconds>& retry_after) {
  if (answer.error == http_error::cancelled || answer.error == http_error::bad_url ||
      answer.error == http_error::response_too_large) {
    // Stopping, or an answer that would be as wrong the next time: end now, not at the deadline.
    out = step_failure(answer, lwa);
    return false;
  }
  if (answer.error != http_error::none) {
    return true;  // timeout, network, overloaded, ...: the next poll may pass
  }
  const unsigned status = answer.response.status;
  if (status == 429 || status == 408 || status >= 500) {
    if (auto retry = answer.response.header("Retry-After")) {
      retry_after = parse_retry_after(*retry, std::chrono::system_clock::now());
    }
    return true;
  }
  out = step_failure(answer, lwa);
  if (out.outcome == call_outcome::bad_request) {
    // The feed or its report is gone (404) or the poll is refused: nothing says which items
    // applied, and no item is to blame.
    out.outcome = call_outcome::server_error;
    out.code = "feed_lost_" + std::to_string(status);
  }
  return false;
}

/// Waits the poll interval (or what a 429 asked, or what is left), then `next`.
void wait_then(job_pointer job, std::optional<std::chrono::milliseconds> asked,
               void (*next)(job_pointer)) {
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(job->deadline - steady::now());
  auto delay = std::max(job->poll_wait, asked.value_or(std::chrono::milliseconds(0)));
  delay = std::max(std::chrono::milliseconds(0), std::min(delay, left));
  job->poll_wait = std::min(job->poll_wait * 2, job->options.feed_poll_max);
  auto& http = job->http;
  http.after(delay, [job = std::move(job), next](bool fired) {
    if (!fired) {
      finish(job, whole(call_outcome::network, "cancelled: the http client shut down"));
      return;
    }
    if (!ended(job)) {
      next(job);
    }
  });
}

void do_create_document(job_pointer job) {
  json_writer w;
  w.begin_object().field("contentType", feed_content_type).end_object();
  auto url = feeds_url(job->options, "documents");
  send_api(job, http_method::post, std::move(url), w.take(), [job](http_result r, bool lwa) {
    const unsigned status = r.error == http_error::none ? r.response.status : 0;
    if (lwa || (status != 200 && status != 201)) {
      return finish(job, step_failure(r, lwa));
    }
    if (!read_fields(r.response.body,
                     {{"feedDocumentId", &job->document_id}, {"url", &job->upload_url}})) {
      return finish(job, whole(call_outcome::server_error, "invalid_response"));
    }
    if (!ended(job)) {
      do_upload(job);
    }
  });
}

void do_upload(job_pointer job) {
  // The presigned URL carries its own authorization: no access token goes to it.
  http_request request;
  request.method = http_method::put;
  request.url = job->upload_url;
  request.body = std::move(job->document);
  request.timeout = request_timeout(*job);
  request.headers = {{"Content-Type", std::string(feed_content_type)}};
  auto& http = job->http;
  http.send(std::move(request), [job = std::move(job)](http_result r) {
    const unsigned status = r.error == http_error::none ? r.response.status : 0;
    if (status < 200 || status >= 300) {
      push_result out = step_failure(r);
      if (out.outcome == call_outcome::bad_request || out.outcome == call_outcome::unauthorized) {
        // The presigned URL refused (expired, or S3's own 4xx): neither our credentials nor an
        // item is to blame, so neither unauthorized nor bad_request (the actor would split).
        out.outcome = call_outcome::server_error;
        out.code = "feed_upload_" + std::to_string(status);
      }
      return finish(job, std::move(out));
    }
    if (!ended(job)) {
      do_create_feed(job);
    }
  });
}

void do_create_feed(job_pointer job) {
  json_writer w;
  w.begin_object().field("feedType", "JSON_LISTINGS_FEED").key("marketplaceIds").begin_array();
  w.value(job->options.marketplace_id).end_array();
  w.field("inputFeedDocumentId", job->document_id).end_object();
  auto url = feeds_url(job->options, "feeds");
  send_api(job, http_method::post, std::move(url), w.take(), [job](http_result r, bool lwa) {
    const unsigned status = r.error == http_error::none ? r.response.status : 0;
    if (lwa || (status != 202 && status != 200)) {
      return finish(job, step_failure(r, lwa));
    }
    if (auto id = r.response.header("x-amzn-RequestId")) {
      job->request_id = std::string(*id);
    }
    if (!read_fields(r.response.body, {{"feedId", &job->feed_id}})) {
      return finish(job, whole(call_outcome::server_error, "invalid_response"));
    }
    job->poll_wait = job->options.feed_poll_first;
    wait_then(job, std::nullopt, do_poll);
  });
}

void do_poll(job_pointer job) {
  auto url = feeds_url(job->options, "feeds/" + percent_encode(job->feed_id));
  send_api(job, http_method::get, std::move(url), {}, [job](http_result r, bool lwa) {
    push_result out;
    std::optional<std::chrono::milliseconds> asked;
    if (lwa || r.error != http_error::none || r.response.status != 200) {
      if (transient(r, lwa, out, asked)) {
        return wait_then(job, asked, do_poll);
      }
      return finish(job, std::move(out));
    }
    simdjson::padded_string padded(r.response.body);
    od::parser parser;
    od::document doc;
    od::object root;
    std::string_view status;
    if (parser.iterate(padded).get(doc) || doc.get_object().get(root) ||
        root.find_field_unordered("processingStatus").get_string().get(status)) {
      return finish(job, whole(call_outcome::server_error, "invalid_response"));
    }
    if (status == "FATAL") {
      return finish(job, whole(call_outcome::server_error, "feed_fatal"));
    }
    if (status == "CANCELLED") {
      return finish(job, whole(call_outcome::server_error, "feed_cancelled"));
    }
    if (status != "DONE") {
      return wait_then(job, std::nullopt, do_poll);  // IN_QUEUE, IN_PROGRESS
    }
    std::string_view report;
    if (root.find_field_unordered("resultFeedDocumentId").get_string().get(report) ||
        report.empty()) {
      return finish(job, whole(call_outcome::server_error, "invalid_response"));
    }
    job->report_document_id = std::string(report);
    if (!ended(job)) {
      do_get_report_document(job);
    }
  });
}

void do_get_report_document(job_pointer job) {
  auto url = feeds_url(job->options, "documents/" + percent_encode(job->report_document_id));
  send_api(job, http_method::get, std::move(url), {}, [job](http_result r, bool lwa) {
    push_result out;
    std::optional<std::chrono::milliseconds> asked;
    if (lwa || r.error != http_error::none || r.response.status != 200) {
      if (transient(r, lwa, out, asked)) {
        return wait_then(job, asked, do_get_report_document);
      }
      return finish(job, std::move(out));
    }
    std::string compression;
    if (read_fields(r.response.body, {{"compressionAlgorithm", &compression}})) {
      // SP-API may GZIP a large report; this client asks for none and reads none.
      return finish(job, whole(call_outcome::server_error, "unsupported_compression"));
    }
    if (!read_fields(r.response.body, {{"url", &job->report_url}})) {
      return finish(job, whole(call_outcome::server_error, "invalid_response"));
    }
    if (!ended(job)) {
      do_download_report(job);
    }
  });
}

void do_download_report(job_pointer job) {
  http_request request;
  request.method = http_method::get;
  request.url = job->report_url;  // presigned: no access token
  request.timeout = request_timeout(*job);
  auto& http = job->http;
  http.send(std::move(request), [job = std::move(job)](http_result r) {
    push_result out;
    std::optional<std::chrono::milliseconds> asked;
    if (r.error != http_error::none || r.response.status != 200) {
      if (transient(r, false, out, asked)) {
        return wait_then(job, asked, do_download_report);
      }
      return finish(job, std::move(out));
    }
    auto items = amazon_feed_report_items(r.response.body, job->items, job->included);
    if (!items) {
      return finish(job, whole(call_outcome::server_error, "invalid_response"));
    }
    out.outcome = call_outcome::ok;
    out.code = "DONE";
    out.items = std::move(*items);
    finish(job, std::move(out));
  });
}

std::string feed_message(std::size_t message_id, const push_item& item) {
  json_writer w;
  w.begin_object().field("messageId", static_cast<std::uint64_t>(message_id));
  w.field("sku", item.sku.str()).field("operationType", "PATCH").field("productType", "PRODUCT");
  w.key("patches").begin_array().begin_object().field("op", "merge");
  w.field("path", "/attributes/fulfillment_availability").key("value").begin_array();
  w.begin_object().field("fulfillment_channel_code", "DEFAULT").field("quantity", item.quantity);
  w.end_object().end_array().end_object().end_array().end_object();
  return w.take();
}

} // namespace

std::string amazon_feed_document(const amazon_options& options,
                                 const std::vector<push_item>& batch, std::size_t& included,
                                 std::size_t bytes_max) {
  json_writer w;
  w.begin_object().key("header").begin_object().field("sellerId", options.seller_id);
  w.field("version", "2.0").field("issueLocale", "en_US").end_object();
  w.key("messages").begin_array();
  constexpr std::size_t closing = 2;  // "]}"
  included = 0;
  for (const auto& item : batch) {
    std::string message = feed_message(included + 1, item);
    if (w.out().size() + 1 + message.size() + closing >= bytes_max) {
      break;
    }
    w.raw(message);
    ++included;
  }
  w.end_array().end_object();
  return w.take();
}

std::optional<std::vector<item_result>> amazon_feed_report_items(std::string_view report,
                                                                 std::size_t items,
                                                                 std::size_t included) {
  assert(included <= items);
  std::vector<item_result> out(items);
  for (std::size_t i = 0; i < items; ++i) {
    out[i] = i < included
                 ? item_result{item_outcome::applied, {}, std::nullopt}
                 : item_result{item_outcome::retry, std::string(code_not_in_feed), std::nullopt};
  }
  simdjson::padded_string padded(report);
  od::parser parser;
  od::document doc;
  od::object root;
  od::array issues;
  if (parser.iterate(padded).get(doc) || doc.get_object().get(root) ||
      root.find_field_unordered("issues").get_array().get(issues)) {
    return std::nullopt;
  }
  std::vector<bool> rejected(included, false);
  for (auto element : issues) {
    od::object issue;
    std::int64_t message_id = 0;
    std::string_view code;
    std::string_view severity;
    if (element.get_object().get(issue) ||
        issue.find_field_unordered("messageId").get_int64().get(message_id) ||
        issue.find_field_unordered("code").get_string().get(code) ||
        issue.find_field_unordered("severity").get_string().get(severity)) {
      return std::nullopt;
    }
    if (severity != "ERROR" || message_id < 1 || static_cast<std::size_t>(message_id) > included) {
      continue;  // a WARNING, or about the feed as a whole: no item to blame
    }
    const auto i = static_cast<std::size_t>(message_id - 1);
    if (!rejected[i]) {  // the first ERROR of a message names it
      rejected[i] = true;
      out[i] = item_result{item_outcome::rejected, std::string(code), std::nullopt};
    }
  }
  return out;
}

std::optional<bulk_limits> amazon_client::bulk() const {
  bulk_limits limits;
  limits.batch_max = amazon_feed_messages_max;
  limits.jobs_per_second = amazon_feeds_per_second;
  limits.burst = amazon_feed_burst;
  limits.deadline = options_.feed_deadline;
  return limits;
}

void amazon_client::push_bulk(std::vector<push_item> batch,
                              std::function<void(push_result)> done) {
  assert(done);
  assert(batch.size() <= amazon_feed_messages_max);  // the actor batches to bulk()->batch_max
  if (batch.empty()) {
    push_result out;
    out.outcome = call_outcome::ok;
    done(std::move(out));
    return;
  }
  auto job = std::make_shared<feed_job>(http_, options_, tokens_, stopped_, std::move(done));
  job->items = batch.size();
  job->document = amazon_feed_document(options_, batch, job->included);
  job->deadline = steady::now() + options_.feed_deadline;
  if (job->included == 0) {
    // Its first message alone is over the document limit: that item can never go as a feed.
    push_result out;
    out.outcome = call_outcome::ok;
    out.items = *amazon_feed_report_items(R"({"issues":[]})", batch.size(), 0);
    out.items[0] = item_result{item_outcome::rejected, std::string(code_message_too_large),
                               std::nullopt};
    finish(job, std::move(out));
    return;
  }
  do_create_document(std::move(job));
}

} // namespace stockd::connectors
