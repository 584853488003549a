#pragma once
// Bearer tokens with scopes. The config keeps only SHA-256 digests; a presented token is hashed
// and compared in constant time against each entry.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/options.hpp"

namespace stockd::server {

std::string sha256_hex(std::string_view data);

enum class auth_result { ok, missing, invalid, forbidden };

class authenticator {
public:
  explicit authenticator(std::vector<token_entry> tokens) : tokens_(std::move(tokens)) {}
  /// `header` is the Authorization header's value ("Bearer <token>").
  auth_result check(std::string_view header, scope needed) const;
  /// The name of the token `header` carries (for audit: who loaded a config version); nullopt
  /// when it matches none. Never the token itself.
  std::optional<std::string> identify(std::string_view header) const;
  bool empty() const noexcept { return tokens_.empty(); }

private:
  std::vector<token_entry> tokens_;
};

} // namespace stockd::server
