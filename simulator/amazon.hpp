#pragma once
// The Amazon SP-API Listings Items emulator (reference/channels.md, "Amazon"): patchListingsItem
// with a JSON Patch on /attributes/fulfillment_availability, getListingsItem to read it back, the
// per-operation token bucket (5 requests/s, burst 5) answering 429 QuotaExceeded, and
// x-amzn-RateLimit-Limit on every response; and the Feeds 2021-06-30 flow for JSON_LISTINGS_FEED
// (createFeedDocument, the upload, createFeed at 5 per 5 minutes, getFeed, the processing
// report), feeds processed one after another on the emulator's clock; and Login with Amazon's
// refresh-token grant issuing short-lived access tokens (see README.md).
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "simulator/emulator.hpp"

namespace stockd::simulator {

struct amazon_options {
  std::string access_token = "Atza|stocksim";
  std::string seller_id = "A1STOCKSIM";
  std::string marketplace_id = "ATVPDKIKX0DER";
  double patch_rate = 5;  // requests/s per account-application pair
  double patch_burst = 5;
  /// getListingsItem has its own bucket; channels.md gives no figure, so the same one.
  double get_rate = 5;
  double get_burst = 5;
  std::int64_t lead_time_days_default = 2;  // on seeded listings, so a `replace` visibly resets it

  // Feeds 2021-06-30 (reference/channels.md: 5 feed submissions per 5 minutes). The other
  // operations' figures are SP-API's published usage plans.
  double create_feed_rate = 5.0 / 300.0;
  double create_feed_burst = 5;
  double get_feed_rate = 2;
  double get_feed_burst = 15;
  double create_document_rate = 0.5;
  double create_document_burst = 15;
  double get_document_rate = 0.0222;
  double get_document_burst = 10;
  /// A feed's processing time: base plus per message; feeds run one after another.
  std::chrono::milliseconds feed_time_base{2'000};
  std::chrono::microseconds feed_time_per_message{100};
  std::size_t feed_messages_max = 25'000;
  std::size_t feed_bytes_max = 10 * 1024 * 1024;  // a document must be smaller
  /// Documents (feeds' and reports') kept; past it the oldest is forgotten (404 afterwards).
  std::size_t documents_max = 64;
  /// Feeds kept for getFeed; past it the oldest finished one is forgotten.
  std::size_t feeds_max = 1'000;
  /// Submitted and not yet processed; past it createFeed answers 429.
  std::size_t feeds_queued_max = 100;

  // Login with Amazon (POST /auth/o2/token): the refresh-token grant these three pass issues an
  // access token valid for lwa_token_lifetime, taken by the API beside `access_token`.
  std::string lwa_client_id = "amzn1.application-oa2-client.stocksim";
  std::string lwa_client_secret = "stocksim-lwa-secret";
  std::string lwa_refresh_token = "Atzr|stocksim";
  std::chrono::seconds lwa_token_lifetime{3600};
  std::size_t lwa_tokens_max = 1'000;  // live tokens kept; past it one is forgotten
};

class amazon_emulator final : public emulator {
public:
  explicit amazon_emulator(amazon_options opts = {}, clock_fn now = {});
  /// The listing's lead time (nullopt: none, or no listing): a `replace` without it resets it.
  std::optional<std::int64_t> lead_time_days(std::string_view sku);

protected:
  reply on_api(const request& req, std::optional<fault_kind> fault, time_point now) override;
  std::string error_body(unsigned status) const override;
  void decorate(response& res) override;
  std::optional<std::string> do_set_quantity(std::string_view sku, std::int64_t quantity,
                                             std::string_view location) override;
  std::optional<std::int64_t> do_quantity(std::string_view sku,
                                          std::string_view location) const override;
  std::optional<std::string> do_buy_one(std::mt19937_64& rng) override;
  void write_quantities(json_writer& out) const override;
  void write_rate_limit(json_writer& out, time_point now) override;

private:
  struct listing {
    bool has_availability = false;
    std::int64_t quantity = 0;
    std::optional<std::int64_t> lead_time_days;
    std::optional<std::string> restock_date;
  };
  struct issue {
    std::string code;
    std::string message;
  };
  struct document {
    std::string id;
    bool uploaded = false;
    std::string content;
  };
  struct feed {
    std::string id;
    std::string content;     // the input document, until processed
    std::size_t messages = 0;
    time_point submitted;
    time_point started;      // when the previous feed is done (one after another)
    time_point finished;
    bool fatal = false;      // the feed-fatal fault; once processed: ended FATAL
    bool processed = false;
    std::string result_document_id;
  };

  reply listings(const request& req, std::string_view path, time_point now);
  reply patch(const request& req, const std::string& sku, time_point now);
  reply get(const request& req, const std::string& sku, time_point now);
  reply feeds(const request& req, std::string_view path, time_point now);
  reply create_document(const request& req, time_point now);
  reply upload(const request& req, std::string_view path);
  reply download(const request& req, std::string_view path);
  reply create_feed(const request& req, time_point now);
  reply get_feed(const request& req, std::string_view id, time_point now);
  reply get_document(const request& req, std::string_view id, time_point now);
  void on_time(time_point now) override;
  reply lwa_token(const request& req, time_point now);
  /// The API's answer to a request whose token is not `access_token` nor a live LWA one: 401
  /// for an expired LWA token (SP-API's "The access token you provided has expired."), else 403.
  std::optional<reply> refuse_token(const request& req, time_point now);
  void process(feed& f);
  document& new_document();
  /// Applies `patches` to `next` (a copy of a listing): an error message when the patches are
  /// malformed as a whole; value problems go to `issues`.
  std::optional<std::string> apply_patches(const simdjson::dom::array& patches, listing& next,
                                           std::vector<issue>& issues);
  std::string upload_url(const request& req, std::string_view id) const;

  amazon_options opts_;
  connectors::token_bucket patch_bucket_;
  connectors::token_bucket get_bucket_;
  std::map<std::string, listing, std::less<>> listings_;
  std::uint64_t patches_accepted_ = 0;
  std::uint64_t patches_invalid_ = 0;
  std::uint64_t gets_ = 0;
  std::uint64_t lead_time_resets_ = 0;
  std::uint64_t submission_ = 0;
  std::uint64_t responses_ = 0;  // numbers x-amzn-RequestId

  connectors::token_bucket create_feed_bucket_;
  connectors::token_bucket get_feed_bucket_;
  connectors::token_bucket create_document_bucket_;
  connectors::token_bucket get_document_bucket_;
  std::deque<document> documents_;  // oldest first
  std::deque<feed> feeds_;          // in submission order: the processing queue
  std::uint64_t next_document_ = 0;
  std::uint64_t next_feed_ = 0;
  std::uint64_t feeds_submitted_ = 0;
  std::uint64_t feeds_done_ = 0;
  std::uint64_t feeds_fatal_ = 0;
  std::uint64_t feed_messages_accepted_ = 0;
  std::uint64_t feed_messages_invalid_ = 0;
  std::map<std::string, time_point, std::less<>> issued_;  // LWA token -> expiry
  std::uint64_t lwa_issued_ = 0;
  std::uint64_t lwa_refused_ = 0;
  std::uint64_t expired_tokens_ = 0;
};

} // namespace stockd::simulator
