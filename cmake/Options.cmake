# Compiler warnings and sanitizers as INTERFACE targets; every library links them PRIVATE.
add_library(cg_warnings INTERFACE)
add_library(cg::warnings ALIAS cg_warnings)
target_compile_options(cg_warnings INTERFACE
    -Wall                 # the common set, including -Wdelete-non-virtual-dtor
    -Wextra               # unused parameters, missing initialisers, sign compares
    -Wshadow              # a local that hides another is a bug waiting to happen
    -Wconversion          # narrowing between integer widths (sizes from the network)
    -Wsign-conversion     # signed/unsigned mixes in buffer arithmetic
    -Wold-style-cast      # casts must say which kind they are
    -Wcast-align          # misaligned reinterpretation of buffers
    -Wdouble-promotion    # float silently widened in metrics maths
    -Wformat=2            # printf-style format strings checked
    -Wimplicit-fallthrough # switch cases must say [[fallthrough]]
    # GCC 12 misreads Asio's awaitable frame operator new/delete pair as mismatched.
    $<$<CXX_COMPILER_ID:GNU>:-Wno-mismatched-new-delete>
    # Leave out -Wnon-virtual-dtor: it fires on every error_category subclass (STYLE.md §7).
    $<$<BOOL:${CG_WARNINGS_AS_ERRORS}>:-Werror>
)

add_library(cg_options INTERFACE)
add_library(cg::options ALIAS cg_options)
target_compile_features(cg_options INTERFACE cxx_std_20)

# One sanitizer set per build (ASan and TSan cannot share a process): CG_SANITIZER=address
# (preset asan) or thread (preset tsan). CG_SANITIZERS=ON, the older switch, means address.
set(CG_SANITIZER "" CACHE STRING "Sanitizers: empty, address (ASan + UBSan) or thread (TSan)")
set_property(CACHE CG_SANITIZER PROPERTY STRINGS "" address thread)
if(CG_SANITIZERS AND CG_SANITIZER STREQUAL "")
    set(CG_SANITIZER address)  # for this run only; the cache keeps what the user chose
elseif(CG_SANITIZERS AND NOT CG_SANITIZER STREQUAL "address")
    message(FATAL_ERROR "CG_SANITIZERS=ON means CG_SANITIZER=address, not \"${CG_SANITIZER}\"")
endif()
if(CG_SANITIZER STREQUAL "address")
    target_compile_options(cg_options INTERFACE
        -fsanitize=address,undefined  # out-of-bounds, use after free, leaks; UB such as overflow
        -fno-omit-frame-pointer)      # whole stacks in reports
    target_link_options(cg_options INTERFACE -fsanitize=address,undefined)
elseif(CG_SANITIZER STREQUAL "thread")
    target_compile_options(cg_options INTERFACE
        -fsanitize=thread        # data races: io_context workers, the Redis thread, test threads
        -fno-omit-frame-pointer)  # whole stacks in both halves of a report
    target_link_options(cg_options INTERFACE -fsanitize=thread)
    # TSan models no atomic_thread_fence (GCC's -Wtsan warns at every Asio handler call). Asio's
    # handler fences only add ordering on top of its scheduler and strand mutexes, which TSan
    # sees, so a TSan build goes without them.
    target_compile_definitions(cg_options INTERFACE BOOST_ASIO_DISABLE_FENCED_BLOCK)
elseif(NOT CG_SANITIZER STREQUAL "")
    message(FATAL_ERROR "CG_SANITIZER must be empty, address or thread (got \"${CG_SANITIZER}\")")
endif()
