# peer_bench: the same reservation workload against stockd, Redis (Lua) and PostgreSQL
# (benchmarks/peers/run.sh drives it). It speaks RESP itself and PostgreSQL through libpq, so it
# is built only where libpq-dev is installed (run.sh installs it); the rest of the tree never
# needs it.
find_package(PkgConfig QUIET)
if(PkgConfig_FOUND)
  pkg_check_modules(LIBPQ QUIET IMPORTED_TARGET libpq)
endif()
if(LIBPQ_FOUND)
  add_executable(peer_bench ${CMAKE_CURRENT_SOURCE_DIR}/peers/peer_bench.cpp)
  target_link_libraries(peer_bench PRIVATE PkgConfig::LIBPQ simdjson::simdjson Threads::Threads)
else()
  message(STATUS "peer_bench not built: libpq (libpq-dev) not found; benchmarks/peers/run.sh "
                 "installs it")
endif()

if(LIBPQ_FOUND AND STOCKD_TESTS)
  add_test(NAME peer_bench_stockd_smoke
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/peers/smoke.sh $<TARGET_FILE:stockd>
                   $<TARGET_FILE:peer_bench>)
  set_tests_properties(peer_bench_stockd_smoke PROPERTIES TIMEOUT 180)
endif()
