stockd_add_benchmark(bench_engine SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/bench_apply.cpp LIBS stockd_engine)
