#include "connectors/channel_client.hpp"

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

} // namespace stockd::connectors
