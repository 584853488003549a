# stockload: the ingest load client (standalone Beast/Asio, no CAF, no other stockd library).
add_executable(stockload ${CMAKE_CURRENT_SOURCE_DIR}/stockload.cpp)
target_link_libraries(stockload PRIVATE Boost::headers Threads::Threads)
