# How each dependency is found on Debian 12 (see shared/reference/toolchain.md).
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(Boost 1.74 REQUIRED CONFIG)            # Boost::headers (Asio, Beast)
find_package(simdjson 3.0 REQUIRED CONFIG)          # simdjson::simdjson
find_package(OpenSSL REQUIRED)
find_package(tomlplusplus 3 REQUIRED CONFIG)        # tomlplusplus::tomlplusplus
pkg_check_modules(LMDB REQUIRED IMPORTED_TARGET lmdb)  # PkgConfig::LMDB

# CAF 0.17.6 ships neither a CMake config nor a pkg-config file.
# STOCKD_CAF_PREFIX: take CAF's headers and libcaf_core from that install prefix only, never
# mixed with /usr's (scripts/test-tsan.sh: CAF built with ThreadSanitizer by
# scripts/build-caf-tsan.sh). The library's directory goes into the tests' build RPATH, so they
# load it and not Debian's /usr/lib one. That prefix has no libcaf_io (nothing links it).
set(STOCKD_CAF_PREFIX "" CACHE PATH "Install prefix of a CAF 0.17.6 to use instead of /usr's")
if(STOCKD_CAF_PREFIX)
  foreach(var CAF_INCLUDE_DIR CAF_CORE_LIBRARY)
    string(FIND "${${var}}" "${STOCKD_CAF_PREFIX}/" at)
    if(NOT at EQUAL 0)
      unset(${var} CACHE)  # found under /usr by an earlier configure
    endif()
  endforeach()
  find_path(CAF_INCLUDE_DIR caf/all.hpp PATHS "${STOCKD_CAF_PREFIX}/include" NO_DEFAULT_PATH
            REQUIRED)
  find_library(CAF_CORE_LIBRARY caf_core PATHS "${STOCKD_CAF_PREFIX}/lib" NO_DEFAULT_PATH
               REQUIRED)
else()
  find_path(CAF_INCLUDE_DIR caf/all.hpp REQUIRED)
  find_library(CAF_CORE_LIBRARY caf_core REQUIRED)
  find_library(CAF_IO_LIBRARY caf_io REQUIRED)
endif()
add_library(caf::core UNKNOWN IMPORTED)
set_target_properties(caf::core PROPERTIES
  IMPORTED_LOCATION "${CAF_CORE_LIBRARY}"
  INTERFACE_INCLUDE_DIRECTORIES "${CAF_INCLUDE_DIR}"
  INTERFACE_LINK_LIBRARIES Threads::Threads)

find_package(Catch2 2 REQUIRED CONFIG)
if(STOCKD_BENCHMARKS)
  find_package(benchmark REQUIRED CONFIG)
endif()
