stockd_add_benchmark(bench_decode
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/bench_decode.cpp
  LIBS stockd_connectors)
stockd_add_benchmark(bench_channel_sync
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/bench_channel_sync.cpp
  LIBS stockd_connectors)
