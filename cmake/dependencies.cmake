# How each dependency is found on Debian 12 (see shared/reference/toolchain.md).
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(Boost 1.74 REQUIRED CONFIG)            # Boost::headers (Asio, Beast)
find_package(simdjson 3.0 REQUIRED CONFIG)          # simdjson::simdjson
find_package(OpenSSL REQUIRED)
find_package(tomlplusplus 3 REQUIRED CONFIG)        # tomlplusplus::tomlplusplus
pkg_check_modules(LMDB REQUIRED IMPORTED_TARGET lmdb)  # PkgConfig::LMDB

# CAF 0.17.6 ships neither a CMake config nor a pkg-config file.
find_path(CAF_INCLUDE_DIR caf/all.hpp REQUIRED)
find_library(CAF_CORE_LIBRARY caf_core REQUIRED)
find_library(CAF_IO_LIBRARY caf_io REQUIRED)
add_library(caf::core UNKNOWN IMPORTED)
set_target_properties(caf::core PROPERTIES
  IMPORTED_LOCATION "${CAF_CORE_LIBRARY}"
  INTERFACE_INCLUDE_DIRECTORIES "${CAF_INCLUDE_DIR}"
  INTERFACE_LINK_LIBRARIES Threads::Threads)

find_package(Catch2 2 REQUIRED CONFIG)
if(STOCKD_BENCHMARKS)
  find_package(benchmark REQUIRED CONFIG)
endif()
