# Asio and Beast are compiled once, in cg_asio, instead of in every translation unit
# (BOOST_*_SEPARATE_COMPILATION). Everything that includes Beast links cg::asio.
add_library(cg_asio STATIC ${PROJECT_SOURCE_DIR}/cmake/asio_beast.cpp)
add_library(cg::asio ALIAS cg_asio)
target_compile_definitions(cg_asio PUBLIC
    BOOST_ASIO_SEPARATE_COMPILATION
    BOOST_BEAST_SEPARATE_COMPILATION
    BOOST_ASIO_NO_DEPRECATED)
target_link_libraries(cg_asio PUBLIC Boost::headers Threads::Threads PRIVATE cg::options)
