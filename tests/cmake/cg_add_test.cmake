# cg_add_test(<executable> PREFIX <ctest prefix> LABEL <label> SOURCES <file>...
#             [LIBRARIES <target>...] [TIMEOUT <seconds>] [DEFINITIONS <definition>...]
#             [INCLUDES <dir>...] [DEPENDS <target>...])
#
# One GoogleTest executable, its tests registered with ctest as <prefix>.<Suite>.<Test> and
# labelled <label> (STYLE.md §8: `unit.consent.*` carries the label `unit`). Links cg::options,
# cg::warnings and GTest::gtest_main besides LIBRARIES; DEFINITIONS and INCLUDES are private to
# the executable, DEPENDS are targets it needs built first (a binary it starts). TIMEOUT, when
# given, is each test's ctest timeout.
#
# Example: cg_add_test(unit_consent PREFIX unit.consent LABEL unit
#                      SOURCES consent/catalogue_test.cpp LIBRARIES cg::consent)
function(cg_add_test name)
    cmake_parse_arguments(PARSE_ARGV 1 arg
        "" "PREFIX;LABEL;TIMEOUT" "SOURCES;LIBRARIES;DEFINITIONS;INCLUDES;DEPENDS")
    if(arg_UNPARSED_ARGUMENTS)
        message(FATAL_ERROR "cg_add_test(${name}): unknown arguments: ${arg_UNPARSED_ARGUMENTS}")
    endif()
    foreach(required PREFIX LABEL SOURCES)
        if(NOT arg_${required})
            message(FATAL_ERROR "cg_add_test(${name}): ${required} is required")
        endif()
    endforeach()
    # The label is the first part of every name, so `ctest -L unit` and `ctest -R '^unit\.'`
    # select the same tests.
    if(NOT arg_PREFIX MATCHES "^${arg_LABEL}\\.[a-z0-9_.]*[a-z0-9_]$")
        message(FATAL_ERROR "cg_add_test(${name}): PREFIX ${arg_PREFIX} must be "
                            "${arg_LABEL}.<name> (lower case, no trailing dot)")
    endif()

    add_executable(${name} ${arg_SOURCES})
    target_link_libraries(${name} PRIVATE
        ${arg_LIBRARIES} cg::options cg::warnings GTest::gtest_main)
    if(arg_DEFINITIONS)
        target_compile_definitions(${name} PRIVATE ${arg_DEFINITIONS})
    endif()
    if(arg_INCLUDES)
        target_include_directories(${name} PRIVATE ${arg_INCLUDES})
    endif()
    if(arg_DEPENDS)
        add_dependencies(${name} ${arg_DEPENDS})
    endif()

    # A test that calls GTEST_SKIP() reports itself skipped, not passed.
    set(properties LABELS ${arg_LABEL} SKIP_REGULAR_EXPRESSION "\\[  SKIPPED \\]")
    if(arg_TIMEOUT)
        list(APPEND properties TIMEOUT ${arg_TIMEOUT})
    endif()
    gtest_discover_tests(${name}
        TEST_PREFIX ${arg_PREFIX}.
        # Listing the tests runs the executable at build time; under a sanitizer it starts slowly.
        DISCOVERY_TIMEOUT 60
        PROPERTIES ${properties})
endfunction()
