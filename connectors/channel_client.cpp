#include "connectors/channel_client.hpp"

#include "connectors/http_client.hpp"

namespace stockd::connectors {

void classify_status(unsigned status, push_result& out) {
  if (status == 429) {
    out.outcome = call_outcome::throttled;
  } else if (status == 408) {
    out.outcome = call_outcome::timeout;
  } else if (status == 401 || status == 403) {
    out.outcome = call_outcome::unauthorized;
  } else if (status >= 400 && status < 500) {
    out.outcome = call_outcome::bad_request;
  } else if (status >= 500 && status < 600) {
    out.outcome = call_outcome::server_error;
  } else {
    out.outcome = call_outcome::server_error;
    out.code = "unexpected_status_" + std::to_string(status);
  }
}

namespace {

push_result failed(call_outcome outcome, std::string code) {
  push_result out;
  out.outcome = outcome;
  out.code = std::move(code);
  return out;
}

} // namespace

std::optional<push_result> transport_failure(const http_result& answer) {
  switch (answer.error) {
  case http_error::none: return std::nullopt;
  case http_error::timeout: return failed(call_outcome::timeout, "timeout");
  case http_error::bad_url: return failed(call_outcome::unauthorized, "bad_url: " + answer.detail);
  case http_error::network:
  case http_error::tls: return failed(call_outcome::network, answer.detail);
  case http_error::response_too_large:
  case http_error::bad_response:
  case http_error::overloaded:
  case http_error::cancelled:
    return failed(call_outcome::network,
                  std::string(to_string(answer.error)) + ": " + answer.detail);
  }
  return failed(call_outcome::network, "unknown_http_error");
}

} // namespace stockd::connectors
