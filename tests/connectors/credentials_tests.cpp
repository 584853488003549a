// Channel credentials references (connectors/credentials.hpp): env:NAME, file:/path, and the
// start-up errors, which must never contain the secret.
#include <catch2/catch.hpp>

#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "connectors/credentials.hpp"

using stockd::connectors::resolve_credentials;

TEST_CASE("credentials env:NAME read the environment variable", "[connectors][credentials]") {
  ::setenv("STOCKD_TEST_SECRET", "s3cret-value\n", 1);
  auto secret = resolve_credentials("env:STOCKD_TEST_SECRET");
  REQUIRE(secret);
  CHECK(*secret == "s3cret-value");
  ::unsetenv("STOCKD_TEST_SECRET");
  auto missing = resolve_credentials("env:STOCKD_TEST_SECRET");
  REQUIRE_FALSE(missing);
  CHECK_THAT(missing.error(), Catch::Contains("STOCKD_TEST_SECRET is not set"));
  ::setenv("STOCKD_TEST_SECRET", "  ", 1);
  auto empty = resolve_credentials("env:STOCKD_TEST_SECRET");
  REQUIRE_FALSE(empty);
  CHECK_THAT(empty.error(), Catch::Contains("empty"));
  ::unsetenv("STOCKD_TEST_SECRET");
  CHECK_FALSE(resolve_credentials("env:"));
}

TEST_CASE("credentials file:/path read the file, trimmed", "[connectors][credentials]") {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("stockd-cred-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto path = (dir / "secret").string();
  std::ofstream(path) << "  file-secret \n";
  auto secret = resolve_credentials("file:" + path);
  REQUIRE(secret);
  CHECK(*secret == "file-secret");

  auto missing = resolve_credentials("file:" + (dir / "nope").string());
  REQUIRE_FALSE(missing);
  CHECK_THAT(missing.error(), Catch::Contains("cannot open") && Catch::Contains("nope"));

  std::ofstream(path, std::ios::trunc) << "\n";
  auto empty = resolve_credentials("file:" + path);
  REQUIRE_FALSE(empty);
  CHECK_THAT(empty.error(), Catch::Contains("empty"));
  std::filesystem::remove_all(dir);
}

TEST_CASE("a credentials value that is not a reference is refused without echoing it",
          "[connectors][credentials]") {
  auto pasted = resolve_credentials("shpat_0123456789abcdef");
  REQUIRE_FALSE(pasted);
  CHECK_THAT(pasted.error(), !Catch::Contains("shpat_0123456789abcdef"));
  CHECK_FALSE(resolve_credentials(""));
}
