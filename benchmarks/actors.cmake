# A plain program, not Google Benchmark: one measurement of a million actors.
add_executable(bench_actor_memory ${CMAKE_CURRENT_SOURCE_DIR}/bench_actor_memory.cpp)
target_link_libraries(bench_actor_memory PRIVATE stockd_actors)
target_include_directories(bench_actor_memory PRIVATE ${PROJECT_SOURCE_DIR})

# A plain program: the whole channel actor absorbing stock updates under a saturated limit.
add_executable(bench_channel_actor ${CMAKE_CURRENT_SOURCE_DIR}/bench_channel_actor.cpp)
target_link_libraries(bench_channel_actor PRIVATE stockd_actors)
target_include_directories(bench_channel_actor PRIVATE ${PROJECT_SOURCE_DIR})
