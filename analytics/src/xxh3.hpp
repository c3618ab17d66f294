#pragma once
// XXH3 compiled into each analytics source that hashes (XXH_INLINE_ALL), not called in the
// shared library: a page view hashes a dozen short values, where a call through the library's
// PLT costs about as much as the hash and keeps the compiler from seeing the input's length.
#define XXH_INLINE_ALL
#include <xxhash.h>
