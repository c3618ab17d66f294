# Asio and Beast are compiled once, in cg_asio, instead of in every translation unit
# (BOOST_*_SEPARATE_COMPILATION). Everything that includes Beast links cg::asio.
add_library(cg_asio STATIC ${PROJECT_SOURCE_DIR}/cmake/asio_beast.cpp)
add_library(cg::asio ALIAS cg_asio)
target_compile_definitions(cg_asio PUBLIC
    BOOST_ASIO_SEPARATE_COMPILATION
    BOOST_BEAST_SEPARATE_COMPILATION
    BOOST_ASIO_NO_DEPRECATED
    # Asio recycles the memory of coroutine frames and handlers per thread, two blocks per
    # purpose by default. A proxied request nests about ten awaitables (session, forward,
    # exchange, relay, reads, writes), so frames went to malloc; eight blocks keep the small
    # ones recycled (frames over ~1 KiB never are: keep big objects off coroutine frames).
    # Every target that uses Asio links cg::asio, so all see the same value (a layout).
    BOOST_ASIO_RECYCLING_ALLOCATOR_CACHE_SIZE=8)
# Asio's TLS streams too: the proxy listener terminates TLS, the analytics forwarder speaks it.
target_link_libraries(cg_asio PUBLIC Boost::headers Threads::Threads OpenSSL::SSL
                      PRIVATE cg::options)
