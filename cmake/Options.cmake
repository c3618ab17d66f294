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
if(CG_SANITIZERS)
    target_compile_options(cg_options INTERFACE -fsanitize=address,undefined -fno-omit-frame-pointer)
    target_link_options(cg_options INTERFACE -fsanitize=address,undefined)
endif()
