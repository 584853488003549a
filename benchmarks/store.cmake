# store: durable journal append throughput at several group-commit sizes.
stockd_add_benchmark(bench_store SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/bench_journal.cpp LIBS stockd_store)
