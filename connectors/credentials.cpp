#include "connectors/credentials.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>

namespace stockd::connectors {
namespace {

std::string_view trim(std::string_view s) {
  constexpr std::string_view space = " \t\r\n\f\v";
  const auto begin = s.find_first_not_of(space);
  if (begin == std::string_view::npos) {
    return {};
  }
  const auto end = s.find_last_not_of(space);
  return s.substr(begin, end - begin + 1);
}

result<std::string, std::string> from_env(std::string_view reference, std::string_view name) {
  if (name.empty()) {
    return unexpected{"credentials '" + std::string(reference) + "': no variable name after env:"};
  }
  const char* value = std::getenv(std::string(name).c_str());
  if (value == nullptr) {
    return unexpected{"credentials '" + std::string(reference) + "': environment variable " +
                      std::string(name) + " is not set"};
  }
  std::string secret(trim(value));
  if (secret.empty()) {
    return unexpected{"credentials '" + std::string(reference) + "': environment variable " +
                      std::string(name) + " is empty"};
  }
  return secret;
}

result<std::string, std::string> from_file(std::string_view reference, std::string_view path) {
  const std::string prefix = "credentials '" + std::string(reference) + "': ";
  if (path.empty()) {
    return unexpected{prefix + "no path after file:"};
  }
  std::ifstream in{std::string(path), std::ios::binary};
  if (!in) {
    return unexpected{prefix + "cannot open " + std::string(path) + ": " + std::strerror(errno)};
  }
  std::string contents;
  char buf[4096];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    contents.append(buf, static_cast<std::size_t>(in.gcount()));
    if (contents.size() > credentials_file_bytes_max) {
      return unexpected{prefix + "file larger than " +
                        std::to_string(credentials_file_bytes_max) + " bytes"};
    }
  }
  if (in.bad()) {
    return unexpected{prefix + "cannot read " + std::string(path)};
  }
  std::string secret(trim(contents));
  if (secret.empty()) {
    return unexpected{prefix + "file is empty"};
  }
  return secret;
}

} // namespace

result<std::string, std::string> resolve_credentials(std::string_view reference) {
  constexpr std::string_view env = "env:";
  constexpr std::string_view file = "file:";
  if (reference.substr(0, env.size()) == env) {
    return from_env(reference, reference.substr(env.size()));
  }
  if (reference.substr(0, file.size()) == file) {
    return from_file(reference, reference.substr(file.size()));
  }
  if (reference.empty()) {
    return unexpected{std::string("credentials: none configured (\"env:NAME\" or \"file:/path\")")};
  }
  // Do not echo the value: someone may have pasted the secret itself here.
  return unexpected{std::string("credentials: not a reference (\"env:NAME\" or \"file:/path\"); "
                                "the value is not shown in case it is the secret itself")};
}

} // namespace stockd::connectors
