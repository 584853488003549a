# stocksim: the simulator's command line (stocksim emulate shopify|amazon|webhook ...).
add_executable(stocksim ${CMAKE_CURRENT_SOURCE_DIR}/stocksim.cpp)
target_link_libraries(stocksim PRIVATE stockd_simulator)
