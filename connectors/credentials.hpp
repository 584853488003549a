#pragma once
// Resolves a channel's `credentials` reference (DESIGN §7: "a reference such as env:NAME, never
// the secret itself") to the secret, once, at start-up:
//   "env:NAME"   the value of environment variable NAME
//   "file:/path" the contents of the file, with leading and trailing whitespace trimmed (so a
//                file written by `echo` works)
// A missing variable or file, an empty secret, or an unknown form is an error the caller reports
// before anything runs. Error messages name the reference (variable name or path), never the
// secret; callers must not log the returned value either.
#include <string>
#include <string_view>

#include "engine/result.hpp"

namespace stockd::connectors {

/// A secret file larger than this is refused (a secret is a token, not a document).
inline constexpr std::size_t credentials_file_bytes_max = 64 * 1024;

result<std::string, std::string> resolve_credentials(std::string_view reference);

} // namespace stockd::connectors
