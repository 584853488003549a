#include "server/auth.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

namespace stockd::server {

std::string sha256_hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr);
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(length * 2);
  for (unsigned int i = 0; i < length; ++i) {
    out += hex[digest[i] >> 4];
    out += hex[digest[i] & 15];
  }
  return out;
}

auth_result authenticator::check(std::string_view header, scope needed) const {
  constexpr std::string_view prefix = "Bearer ";
  if (header.size() <= prefix.size() || header.substr(0, prefix.size()) != prefix) {
    return auth_result::missing;
  }
  const std::string digest = sha256_hex(header.substr(prefix.size()));
  for (const auto& token : tokens_) {
    // Digests have a fixed length, so comparing them leaks nothing about the token.
    if (token.sha256_hex.size() == digest.size() &&
        CRYPTO_memcmp(token.sha256_hex.data(), digest.data(), digest.size()) == 0) {
      return (token.scopes & static_cast<std::uint8_t>(needed)) != 0 ? auth_result::ok
                                                                      : auth_result::forbidden;
    }
  }
  return auth_result::invalid;
}

std::optional<std::string> authenticator::identify(std::string_view header) const {
  constexpr std::string_view prefix = "Bearer ";
  if (header.size() <= prefix.size() || header.substr(0, prefix.size()) != prefix) {
    return std::nullopt;
  }
  const std::string digest = sha256_hex(header.substr(prefix.size()));
  for (const auto& token : tokens_) {
    if (token.sha256_hex.size() == digest.size() &&
        CRYPTO_memcmp(token.sha256_hex.data(), digest.data(), digest.size()) == 0) {
      // Config tokens always have a name; a nameless one is known by its digest's prefix.
      return token.name.empty() ? "sha256:" + token.sha256_hex.substr(0, 12) : token.name;
    }
  }
  return std::nullopt;
}

} // namespace stockd::server
