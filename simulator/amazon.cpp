#include "simulator/amazon.hpp"

#include <algorithm>
#include <cstdio>
#include <set>
#include <vector>

namespace stockd::simulator {
namespace {

constexpr std::string_view prefix = "/listings/2021-08-01/items/";
constexpr std::string_view availability_path = "/attributes/fulfillment_availability";

std::string errors_json(std::string_view code, std::string_view message) {
  json_writer out;
  out.begin_object().key("errors").begin_array().begin_object();
  out.field("code", code).field("message", message).field("details", "");
  out.end_object().end_array().end_object();
  return out.take();
}

std::string rate_text(double rate) {
  char buf[32];
  // SP-API writes "5.0", and "0.0167" for the feeds' 5 per 300 s.
  std::snprintf(buf, sizeof buf, rate >= 1 ? "%.1f" : "%.4f", rate);
  return buf;
}

constexpr std::string_view feeds_prefix = "/feeds/2021-06-30/";
constexpr std::string_view uploads_prefix = "/_uploads/";
constexpr std::string_view feed_type = "JSON_LISTINGS_FEED";

std::string_view to_string(bool fatal, bool processed, bool started) {
  if (processed) {
    return fatal ? "FATAL" : "DONE";
  }
  return started ? "IN_PROGRESS" : "IN_QUEUE";
}

} // namespace

amazon_emulator::amazon_emulator(amazon_options opts, clock_fn now)
    : emulator("amazon", now),
      opts_(std::move(opts)),
      patch_bucket_(opts_.patch_rate, opts_.patch_burst, now ? now() : clock_type::now()),
      get_bucket_(opts_.get_rate, opts_.get_burst, now ? now() : clock_type::now()),
      create_feed_bucket_(opts_.create_feed_rate, opts_.create_feed_burst,
                          now ? now() : clock_type::now()),
      get_feed_bucket_(opts_.get_feed_rate, opts_.get_feed_burst, now ? now() : clock_type::now()),
      create_document_bucket_(opts_.create_document_rate, opts_.create_document_burst,
                              now ? now() : clock_type::now()),
      get_document_bucket_(opts_.get_document_rate, opts_.get_document_burst,
                           now ? now() : clock_type::now()) {}

std::string amazon_emulator::error_body(unsigned status) const {
  if (status == 429) {
    return errors_json("QuotaExceeded", "You exceeded your quota for the requested resource.");
  }
  return errors_json("InternalFailure", "We encountered an internal error. Please try again.");
}

void amazon_emulator::decorate(response& res) {
  if (res.find("x-amzn-RateLimit-Limit") == res.end()) {  // the feed routes set their own
    res.set("x-amzn-RateLimit-Limit", rate_text(opts_.patch_rate));
  }
  // One per response, as SP-API's: a throttled call or a read must not show the id of the last
  // accepted patch (a trace would then name another call's id).
  res.set("x-amzn-RequestId", "amzn-request-" + std::to_string(++responses_));
}

std::optional<std::int64_t> amazon_emulator::lead_time_days(std::string_view sku) {
  std::lock_guard lock(state_mutex());
  auto it = listings_.find(sku);
  return it == listings_.end() ? std::nullopt : it->second.lead_time_days;
}

reply amazon_emulator::on_api(const request& req, std::optional<fault_kind>, time_point now) {
  const std::string_view path = target_path(to_std(req.target()));
  if (path.substr(0, prefix.size()) == prefix) {
    return listings(req, path, now);
  }
  if (path.substr(0, feeds_prefix.size()) == feeds_prefix) {
    return feeds(req, path, now);
  }
  if (path == "/auth/o2/token") {
    return lwa_token(req, now);
  }
  if (path.substr(0, uploads_prefix.size()) == uploads_prefix) {
    // The presigned S3 URL: no access token, as the real one.
    if (req.method() == http::verb::put) {
      return upload(req, path);
    }
    return download(req, path);
  }
  reply r;
  r.res = make_response(req, http::status::not_found,
                        errors_json("NotFound", "Resource not found"));
  return r;
}

reply amazon_emulator::listings(const request& req, std::string_view path, time_point now) {
  reply r;
  std::string_view rest = path.substr(prefix.size());
  auto slash = rest.find('/');
  if (slash == std::string_view::npos || slash + 1 == rest.size()) {
    r.res = make_response(req, http::status::not_found,
                          errors_json("NotFound", "Resource not found"));
    return r;
  }
  const std::string seller = percent_decode(rest.substr(0, slash));
  const std::string sku = percent_decode(rest.substr(slash + 1));
  if (auto refused = refuse_token(req, now)) {
    return std::move(*refused);
  }
  if (seller != opts_.seller_id) {
    r.res = make_response(req, http::status::forbidden,
                          errors_json("Unauthorized", "Access to requested resource is denied."));
    return r;
  }
  auto marketplaces = query_param(to_std(req.target()), "marketplaceIds");
  if (!marketplaces || marketplaces->find(opts_.marketplace_id) == std::string::npos) {
    r.res = make_response(req, http::status::bad_request,
                          errors_json("InvalidInput", "marketplaceIds: required, and must include " +
                                                          opts_.marketplace_id));
    return r;
  }
  if (req.method() == http::verb::patch) {
    return patch(req, sku, now);
  }
  if (req.method() == http::verb::get) {
    return get(req, sku, now);
  }
  r.res = make_response(req, http::status::method_not_allowed,
                        errors_json("MethodNotAllowed", "PATCH or GET"));
  return r;
}

reply amazon_emulator::patch(const request& req, const std::string& sku, time_point now) {
  reply r;
  if (!patch_bucket_.try_take(now)) {
    count_throttled();
    r.res = make_response(req, http::status::too_many_requests, error_body(429));
    return r;
  }
  auto bad_input = [&](std::string message) {
    reply b;
    b.res = make_response(req, http::status::bad_request, errors_json("InvalidInput", message));
    return b;
  };
  simdjson::dom::element doc;
  std::string_view product_type;
  simdjson::dom::array patches;
  if (json_parser().parse(req.body()).get(doc) ||
      doc["productType"].get_string().get(product_type) || product_type.empty() ||
      doc["patches"].get_array().get(patches) || patches.size() == 0) {
    return bad_input("body: expected {\"productType\": string, \"patches\": [non-empty]}");
  }
  auto found = listings_.find(sku);
  if (found == listings_.end()) {
    r.res = make_response(req, http::status::not_found,
                          errors_json("NotFound", "SKU '" + sku + "' has no listing"));
    return r;
  }
  // Validate every patch first: a request is accepted whole or not at all.
  std::vector<issue> issues;
  listing next = found->second;
  if (auto malformed = apply_patches(patches, next, issues)) {
    return bad_input(*malformed);
  }
  if (faults().bad_sku(sku)) {
    issues.push_back({"8541", "the listing cannot be updated (emulator bad-skus fault)"});
  }
  json_writer out;
  out.begin_object().field("sku", sku);
  if (issues.empty()) {
    if (!lose_this_set()) {  // else answered ACCEPTED, not kept: a lost push
      found->second = next;
    }
    ++patches_accepted_;
    count_call_items(1);
    out.field("status", "ACCEPTED");
  } else {
    ++patches_invalid_;
    out.field("status", "INVALID");
  }
  out.field("submissionId", "stocksim-" + std::to_string(++submission_));
  out.key("issues").begin_array();
  for (const auto& i : issues) {
    out.begin_object().field("code", i.code).field("message", i.message);
    out.field("severity", "ERROR").key("attributeNames").begin_array();
    out.value("fulfillment_availability").end_array().end_object();
  }
  out.end_array().end_object();
  r.res = make_response(req, http::status::ok, out.take());
  return r;
}

std::optional<std::string> amazon_emulator::apply_patches(const simdjson::dom::array& patches,
                                                          listing& next,
                                                          std::vector<issue>& issues) {
  for (auto p : patches) {
    std::string_view op;
    std::string_view path;
    if (p["op"].get_string().get(op) || p["path"].get_string().get(path)) {
      return std::string("patches[]: op and path are required strings");
    }
    if (path != availability_path) {
      issues.push_back({"90000900", "the emulator accepts only " + std::string(availability_path)});
      continue;
    }
    if (op == "delete") {
      next.has_availability = false;
      next.quantity = 0;
      continue;
    }
    if (op != "merge" && op != "replace" && op != "add") {
      return std::string("patches[].op: add, replace, merge or delete");
    }
    simdjson::dom::array values;
    if (p["value"].get_array().get(values) || values.size() != 1) {
      issues.push_back({"90000900", "fulfillment_availability: one DEFAULT entry expected"});
      continue;
    }
    auto v = values.at(0);
    std::string_view channel;
    std::int64_t quantity = 0;
    if (v["fulfillment_channel_code"].get_string().get(channel) || channel != "DEFAULT") {
      issues.push_back({"90000900", "fulfillment_channel_code must be DEFAULT"});
      continue;
    }
    if (v["quantity"].get_int64().get(quantity) || quantity < 0) {
      issues.push_back({"90000900", "quantity must be an integer >= 0"});
      continue;
    }
    if (op != "merge") {
      // replace/add sets the whole attribute: what it does not name is gone (channels.md: use
      // merge "so lead time and restock date are not reset").
      if (next.lead_time_days || next.restock_date) {
        ++lead_time_resets_;
      }
      next.lead_time_days.reset();
      next.restock_date.reset();
    }
    std::int64_t lead = 0;
    if (!v["lead_time_to_ship_max_days"].get_int64().get(lead)) {
      next.lead_time_days = lead;
    }
    std::string_view restock;
    if (!v["restock_date"].get_string().get(restock)) {
      next.restock_date = std::string(restock);
    }
    next.has_availability = true;
    next.quantity = quantity;
  }
  return std::nullopt;
}

reply amazon_emulator::get(const request& req, const std::string& sku, time_point now) {
  reply r;
  if (!get_bucket_.try_take(now)) {
    count_throttled();
    r.res = make_response(req, http::status::too_many_requests, error_body(429));
    return r;
  }
  ++gets_;
  auto found = listings_.find(sku);
  if (found == listings_.end()) {
    r.res = make_response(req, http::status::not_found,
                          errors_json("NotFound", "SKU '" + sku + "' has no listing"));
    return r;
  }
  const std::string included = query_param(to_std(req.target()), "includedData").value_or("summaries");
  json_writer out;
  out.begin_object().field("sku", sku);
  if (included.find("fulfillmentAvailability") != std::string::npos) {
    out.key("fulfillmentAvailability").begin_array();
    if (found->second.has_availability) {
      out.begin_object().field("fulfillmentChannelCode", "DEFAULT");
      out.field("quantity", found->second.quantity).end_object();
    }
    out.end_array();
  }
  if (included.find("summaries") != std::string::npos) {
    out.key("summaries").begin_array().begin_object();
    out.field("marketplaceId", opts_.marketplace_id).field("productType", "PRODUCT");
    out.end_object().end_array();
  }
  out.end_object();
  r.res = make_response(req, http::status::ok, out.take());
  return r;
}

// --- Feeds 2021-06-30 -------------------------------------------------------------------------

std::string amazon_emulator::upload_url(const request& req, std::string_view id) const {
  std::string host(to_std(req[http::field::host]));
  if (host.empty()) {
    host = "127.0.0.1";
  }
  return "http://" + host + std::string(uploads_prefix) + std::string(id);
}

amazon_emulator::document& amazon_emulator::new_document() {
  if (documents_.size() >= opts_.documents_max) {
    documents_.pop_front();  // the oldest is forgotten (a later GET of it is 404)
  }
  documents_.push_back(document{"amzn1.tortuga.4.stocksim." + std::to_string(++next_document_),
                                false, {}});
  return documents_.back();
}

reply amazon_emulator::feeds(const request& req, std::string_view path, time_point now) {
  reply r;
  if (auto refused = refuse_token(req, now)) {
    return std::move(*refused);
  }
  const std::string_view rest = path.substr(feeds_prefix.size());
  if (rest == "documents" && req.method() == http::verb::post) {
    return create_document(req, now);
  }
  if (rest == "feeds" && req.method() == http::verb::post) {
    return create_feed(req, now);
  }
  if (rest.substr(0, 6) == "feeds/" && rest.size() > 6 && req.method() == http::verb::get) {
    return get_feed(req, rest.substr(6), now);
  }
  if (rest.substr(0, 10) == "documents/" && rest.size() > 10 &&
      req.method() == http::verb::get) {
    return get_document(req, rest.substr(10), now);
  }
  r.res = make_response(req, http::status::not_found,
                        errors_json("NotFound", "Resource not found"));
  return r;
}

reply amazon_emulator::create_document(const request& req, time_point now) {
  reply r;
  if (!create_document_bucket_.try_take(now)) {
    count_throttled();
    r.res = make_response(req, http::status::too_many_requests, error_body(429));
  } else {
    simdjson::dom::element doc;
    std::string_view content_type;
    if (json_parser().parse(req.body()).get(doc) ||
        doc["contentType"].get_string().get(content_type) || content_type.empty()) {
      r.res = make_response(req, http::status::bad_request,
                            errors_json("InvalidInput", "contentType: a required string"));
    } else {
      const document& d = new_document();
      json_writer out;
      out.begin_object().field("feedDocumentId", d.id).field("url", upload_url(req, d.id));
      out.end_object();
      r.res = make_response(req, http::status::created, out.take());
    }
  }
  r.res.set("x-amzn-RateLimit-Limit", rate_text(opts_.create_document_rate));
  return r;
}

reply amazon_emulator::upload(const request& req, std::string_view path) {
  reply r;
  const std::string id = percent_decode(path.substr(uploads_prefix.size()));
  for (auto& d : documents_) {
    if (d.id == id) {
      d.content = req.body();
      d.uploaded = true;
      r.res = make_response(req, http::status::ok, "");
      r.res.set(http::field::etag, "\"stocksim-" + std::to_string(d.content.size()) + "\"");
      return r;
    }
  }
  r.res = make_response(req, http::status::not_found,
                        errors_json("NoSuchKey", "The specified key does not exist."));
  return r;
}

reply amazon_emulator::download(const request& req, std::string_view path) {
  reply r;
  const std::string id = percent_decode(path.substr(uploads_prefix.size()));
  for (const auto& d : documents_) {
    if (d.id == id && d.uploaded && req.method() == http::verb::get) {
      r.res = make_response(req, http::status::ok, d.content);
      return r;
    }
  }
  r.res = make_response(req, http::status::not_found,
                        errors_json("NoSuchKey", "The specified key does not exist."));
  return r;
}

reply amazon_emulator::create_feed(const request& req, time_point now) {
  reply r;
  auto answer = [&](http::status status, std::string body) {
    r.res = make_response(req, status, std::move(body));
    r.res.set("x-amzn-RateLimit-Limit", rate_text(opts_.create_feed_rate));
    return r;
  };
  auto invalid = [&](std::string message) {
    return answer(http::status::bad_request, errors_json("InvalidInput", message));
  };
  std::size_t queued = 0;
  for (const auto& f : feeds_) {
    queued += f.processed ? 0 : 1;
  }
  if (queued >= opts_.feeds_queued_max || !create_feed_bucket_.try_take(now)) {
    count_throttled();
    return answer(http::status::too_many_requests, error_body(429));
  }
  simdjson::dom::element doc;
  std::string_view type;
  simdjson::dom::array marketplaces;
  std::string_view input;
  if (json_parser().parse(req.body()).get(doc) || doc["feedType"].get_string().get(type) ||
      doc["marketplaceIds"].get_array().get(marketplaces) ||
      doc["inputFeedDocumentId"].get_string().get(input)) {
    return invalid("body: expected {\"feedType\": string, \"marketplaceIds\": [string], "
                   "\"inputFeedDocumentId\": string}");
  }
  if (type != feed_type) {
    return invalid("feedType: the emulator takes only JSON_LISTINGS_FEED");
  }
  bool ours = false;
  for (auto m : marketplaces) {
    std::string_view id;
    ours = ours || (!m.get_string().get(id) && id == opts_.marketplace_id);
  }
  if (!ours) {
    return invalid("marketplaceIds: must include " + opts_.marketplace_id);
  }
  auto found = std::find_if(documents_.begin(), documents_.end(),
                            [&](const document& d) { return d.id == input; });
  if (found == documents_.end() || !found->uploaded) {
    return invalid("inputFeedDocumentId: no uploaded document '" + std::string(input) + "'");
  }
  if (found->content.size() >= opts_.feed_bytes_max) {
    return invalid("the feed document must be smaller than " +
                   std::to_string(opts_.feed_bytes_max) + " bytes");
  }
  feed f;
  // A document that does not parse is taken, and ends FATAL (as SP-API does); one that parses
  // must carry 1..feed_messages_max messages.
  simdjson::dom::element content;
  simdjson::dom::array messages;
  if (!json_parser().parse(found->content).get(content) &&
      !content["messages"].get_array().get(messages)) {
    f.messages = messages.size();
    if (f.messages == 0 || f.messages > opts_.feed_messages_max) {
      return invalid("messages: 1 to " + std::to_string(opts_.feed_messages_max) +
                     " per feed, not " + std::to_string(f.messages));
    }
  }
  f.id = std::to_string(50'000'000'000ULL + ++next_feed_);
  f.content = std::move(found->content);
  documents_.erase(found);  // its content moved into the feed
  f.submitted = now;
  f.started = feeds_.empty() || feeds_.back().finished < now ? now : feeds_.back().finished;
  f.finished = f.started + opts_.feed_time_base +
               opts_.feed_time_per_message * static_cast<std::int64_t>(f.messages);
  f.fatal = faults().take_feed_fatal();
  ++feeds_submitted_;
  json_writer out;
  out.begin_object().field("feedId", f.id).end_object();
  feeds_.push_back(std::move(f));
  while (feeds_.size() > opts_.feeds_max && feeds_.front().processed) {
    feeds_.pop_front();
  }
  return answer(http::status::accepted, out.take());
}

reply amazon_emulator::get_feed(const request& req, std::string_view id, time_point now) {
  reply r;
  if (!get_feed_bucket_.try_take(now)) {
    count_throttled();
    r.res = make_response(req, http::status::too_many_requests, error_body(429));
  } else {
    auto found = std::find_if(feeds_.begin(), feeds_.end(),
                              [&](const feed& f) { return f.id == id; });
    if (found == feeds_.end()) {
      r.res = make_response(req, http::status::not_found,
                            errors_json("NotFound", "no feed '" + std::string(id) + "'"));
    } else {
      json_writer out;
      out.begin_object().field("feedId", found->id).field("feedType", feed_type);
      out.key("marketplaceIds").begin_array().value(opts_.marketplace_id).end_array();
      out.field("processingStatus",
                to_string(found->fatal, found->processed, found->started <= now));
      if (found->processed) {
        out.field("resultFeedDocumentId", found->result_document_id);
      }
      out.end_object();
      r.res = make_response(req, http::status::ok, out.take());
    }
  }
  r.res.set("x-amzn-RateLimit-Limit", rate_text(opts_.get_feed_rate));
  return r;
}

reply amazon_emulator::get_document(const request& req, std::string_view id, time_point now) {
  reply r;
  if (!get_document_bucket_.try_take(now)) {
    count_throttled();
    r.res = make_response(req, http::status::too_many_requests, error_body(429));
  } else {
    auto found = std::find_if(documents_.begin(), documents_.end(),
                              [&](const document& d) { return d.id == id; });
    if (found == documents_.end()) {
      r.res = make_response(req, http::status::not_found,
                            errors_json("NotFound", "no document '" + std::string(id) + "'"));
    } else {
      json_writer out;
      out.begin_object().field("feedDocumentId", found->id);
      out.field("url", upload_url(req, found->id)).end_object();
      r.res = make_response(req, http::status::ok, out.take());
    }
  }
  r.res.set("x-amzn-RateLimit-Limit", rate_text(opts_.get_document_rate));
  return r;
}

void amazon_emulator::on_time(time_point now) {
  // Feeds finish in submission order, each after the one before it.
  for (auto& f : feeds_) {
    if (f.processed) {
      continue;
    }
    if (f.finished > now) {
      break;
    }
    process(f);
  }
}

void amazon_emulator::process(feed& f) {
  struct message_issue {
    std::int64_t message_id = 0;
    issue what;
  };
  std::vector<message_issue> issues;
  std::uint64_t processed = 0;
  std::uint64_t accepted = 0;
  std::uint64_t invalid = 0;
  simdjson::dom::element doc;
  simdjson::dom::array messages;
  std::string_view seller;
  bool fatal = f.fatal;
  if (!fatal && (json_parser().parse(f.content).get(doc) ||
                 doc["header"]["sellerId"].get_string().get(seller) ||
                 seller != opts_.seller_id || doc["messages"].get_array().get(messages))) {
    fatal = true;
    issues.push_back({0, {"FATAL", "the feed document is not a JSON_LISTINGS_FEED of seller " +
                                       opts_.seller_id + " with a messages array"}});
  } else if (fatal) {
    issues.push_back({0, {"FATAL", "the feed failed as a whole (emulator feed-fatal fault)"}});
  }
  if (!fatal) {
    std::set<std::int64_t> seen;
    for (auto m : messages) {
      ++processed;
      std::int64_t id = 0;
      std::string_view sku;
      std::string_view operation;
      std::string_view product_type;
      simdjson::dom::array patches;
      std::vector<issue> found;
      if (m["messageId"].get_int64().get(id) || id < 1) {
        found.push_back({"INVALID_MESSAGE", "messageId: a required integer >= 1"});
        id = 0;
      } else if (!seen.insert(id).second) {
        found.push_back({"DUPLICATE_MESSAGE_ID", "messageId " + std::to_string(id) +
                                                     " is used by an earlier message"});
      } else if (m["sku"].get_string().get(sku) || sku.empty() ||
                 m["operationType"].get_string().get(operation) ||
                 m["productType"].get_string().get(product_type) || product_type.empty() ||
                 m["patches"].get_array().get(patches) || patches.size() == 0) {
        found.push_back({"INVALID_MESSAGE", "a message needs sku, operationType, productType "
                                            "and non-empty patches"});
      } else if (operation != "PATCH") {
        found.push_back({"INVALID_MESSAGE", "operationType: the emulator takes only PATCH"});
      } else {
        auto listed = listings_.find(sku);
        if (listed == listings_.end()) {
          found.push_back({"NotFound", "SKU '" + std::string(sku) + "' has no listing"});
        } else {
          listing next = listed->second;
          if (auto malformed = apply_patches(patches, next, found)) {
            found.push_back({"INVALID_MESSAGE", *malformed});
          }
          if (faults().bad_sku(sku)) {
            found.push_back({"8541", "the listing cannot be updated (emulator bad-skus fault)"});
          }
          if (found.empty() && !lose_this_set()) {  // else reported done, not kept: lost
            listed->second = next;
          }
        }
      }
      if (found.empty()) {
        ++accepted;
      } else {
        ++invalid;
        for (auto& i : found) {
          issues.push_back({id, std::move(i)});
        }
      }
    }
    count_call_items(accepted);
  }
  json_writer out;
  out.begin_object().key("header").begin_object();
  out.field("sellerId", opts_.seller_id).field("version", "2.0").field("feedId", f.id);
  out.end_object().key("issues").begin_array();
  for (const auto& i : issues) {
    out.begin_object().field("messageId", i.message_id).field("code", i.what.code);
    out.field("severity", "ERROR").field("message", i.what.message).end_object();
  }
  out.end_array().key("summary").begin_object();
  out.field("errors", static_cast<std::uint64_t>(issues.size())).field("warnings", 0);
  out.field("messagesProcessed", processed).field("messagesAccepted", accepted);
  out.field("messagesInvalid", invalid).end_object().end_object();
  document& report = new_document();
  report.uploaded = true;
  report.content = out.take();
  f.result_document_id = report.id;
  f.fatal = fatal;
  f.processed = true;
  f.content.clear();
  f.content.shrink_to_fit();
  ++(fatal ? feeds_fatal_ : feeds_done_);
  feed_messages_accepted_ += accepted;
  feed_messages_invalid_ += invalid;
}

// --- Login with Amazon ------------------------------------------------------------------------

reply amazon_emulator::lwa_token(const request& req, time_point now) {
  reply r;
  auto field = [&](std::string_view name) {
    // application/x-www-form-urlencoded: the body is a query string.
    return query_param("?" + req.body(), name).value_or("");
  };
  if (req.method() != http::verb::post || field("grant_type") != "refresh_token") {
    json_writer out;
    out.begin_object().field("error", "unsupported_grant_type");
    out.field("error_description", "POST with grant_type=refresh_token").end_object();
    r.res = make_response(req, http::status::bad_request, out.take());
    return r;
  }
  if (field("client_id") != opts_.lwa_client_id ||
      field("client_secret") != opts_.lwa_client_secret) {
    ++lwa_refused_;
    json_writer out;
    out.begin_object().field("error", "invalid_client");
    out.field("error_description", "Client authentication failed").end_object();
    r.res = make_response(req, http::status::unauthorized, out.take());
    return r;
  }
  if (field("refresh_token") != opts_.lwa_refresh_token) {
    ++lwa_refused_;
    json_writer out;
    out.begin_object().field("error", "invalid_grant");
    out.field("error_description", "The request has an invalid grant parameter : refresh_token")
        .end_object();
    r.res = make_response(req, http::status::bad_request, out.take());
    return r;
  }
  // Forget the expired ones, and the oldest past the limit.
  for (auto it = issued_.begin(); it != issued_.end();) {
    it = it->second <= now ? issued_.erase(it) : std::next(it);
  }
  while (issued_.size() >= opts_.lwa_tokens_max) {
    issued_.erase(issued_.begin());
  }
  const std::string token = "Atza|stocksim-lwa-" + std::to_string(++lwa_issued_);
  issued_.emplace(token, now + opts_.lwa_token_lifetime);
  json_writer out;
  out.begin_object().field("access_token", token).field("refresh_token", opts_.lwa_refresh_token);
  out.field("token_type", "bearer");
  out.field("expires_in", static_cast<std::int64_t>(opts_.lwa_token_lifetime.count()));
  out.end_object();
  r.res = make_response(req, http::status::ok, out.take());
  return r;
}

std::optional<reply> amazon_emulator::refuse_token(const request& req, time_point now) {
  const auto given = to_std(req["x-amz-access-token"]);
  if (!given.empty() && given == opts_.access_token) {
    return std::nullopt;
  }
  auto found = issued_.find(given);
  if (found != issued_.end() && now < found->second) {
    return std::nullopt;
  }
  reply r;
  if (found != issued_.end()) {
    ++expired_tokens_;
    r.res = make_response(
        req, http::status::unauthorized,
        errors_json("Unauthorized", "The access token you provided has expired."));
    return r;
  }
  r.res = make_response(req, http::status::forbidden,
                        errors_json("Unauthorized", "Access to requested resource is denied."));
  return r;
}

std::optional<std::string> amazon_emulator::do_set_quantity(std::string_view sku,
                                                            std::int64_t quantity,
                                                            std::string_view location) {
  if (sku.empty() || quantity < 0 || !(location.empty() || location == "DEFAULT")) {
    return std::string("amazon: sku non-empty, quantity >= 0, location DEFAULT or none");
  }
  auto [it, created] = listings_.try_emplace(std::string(sku));
  if (created) {
    it->second.lead_time_days = opts_.lead_time_days_default;
  }
  it->second.has_availability = true;
  it->second.quantity = quantity;
  return std::nullopt;
}

std::optional<std::int64_t> amazon_emulator::do_quantity(std::string_view sku,
                                                         std::string_view) const {
  auto it = listings_.find(sku);
  if (it == listings_.end() || !it->second.has_availability) {
    return std::nullopt;
  }
  return it->second.quantity;
}

std::optional<std::string> amazon_emulator::do_buy_one(std::mt19937_64& rng) {
  std::vector<listing*> candidates;
  std::vector<const std::string*> names;
  for (auto& [sku, l] : listings_) {
    if (l.has_availability && l.quantity > 0) {
      candidates.push_back(&l);
      names.push_back(&sku);
    }
  }
  if (candidates.empty()) {
    return std::nullopt;
  }
  std::uniform_int_distribution<std::size_t> pick(0, candidates.size() - 1);
  auto i = pick(rng);
  --candidates[i]->quantity;
  return *names[i];
}

void amazon_emulator::write_quantities(json_writer& out) const {
  for (const auto& [sku, l] : listings_) {
    out.begin_object().field("sku", sku).field("location", "DEFAULT");
    if (l.has_availability) {
      out.field("quantity", l.quantity);
    } else {
      out.key("quantity").null();
    }
    if (l.lead_time_days) {
      out.field("lead_time_to_ship_max_days", *l.lead_time_days);
    }
    out.end_object();
  }
}

void amazon_emulator::write_rate_limit(json_writer& out, time_point now) {
  const double elapsed = seconds_since_start(now);
  out.field("kind", "token_bucket").field("rate", patch_bucket_.rate());
  out.field("burst", patch_bucket_.burst());
  const double capacity = patch_bucket_.burst() + elapsed * patch_bucket_.rate();
  const double used = static_cast<double>(patches_accepted_ + patches_invalid_);
  out.field("utilisation", capacity > 0 ? used / capacity : 0.0);
  out.field("patches_accepted", patches_accepted_).field("patches_invalid", patches_invalid_);
  out.field("gets", gets_).field("lead_time_resets", lead_time_resets_);
  std::uint64_t queued = 0;
  for (const auto& f : feeds_) {
    queued += f.processed ? 0 : 1;
  }
  out.key("feeds").begin_object();
  out.field("create_feed_rate", create_feed_bucket_.rate());
  out.field("create_feed_burst", create_feed_bucket_.burst());
  out.field("submitted", feeds_submitted_).field("queued", queued);
  out.field("done", feeds_done_).field("fatal", feeds_fatal_);
  out.field("processed", feeds_done_ + feeds_fatal_);
  out.field("messages_accepted", feed_messages_accepted_);
  out.field("messages_invalid", feed_messages_invalid_);
  out.end_object();
  out.key("lwa").begin_object().field("tokens_issued", lwa_issued_);
  out.field("refused", lwa_refused_).field("expired_tokens_refused", expired_tokens_);
  out.end_object();
}

} // namespace stockd::simulator
