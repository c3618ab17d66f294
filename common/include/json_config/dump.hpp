#pragma once
// Writing JSON that holds untrusted text. nlohmann's plain dump() throws type_error 316 on a
// string that is not UTF-8, and such strings arrive easily: a percent-decoded form field, a
// cookie name from an upstream, a Redis reply. Untrusted bytes must never throw (STYLE.md §4).
#include <string>

#include <nlohmann/json.hpp>

namespace cg::json_config {

/// `v` as compact JSON (no spaces, no newline, non-ASCII written as UTF-8, not \u-escaped).
/// Bytes of its strings and keys that are not UTF-8 are written as U+FFFD instead of making
/// nlohmann throw. Use it for every document that carries untrusted text. Throws only
/// std::bad_alloc. Thread-safe.
inline std::string dump(const nlohmann::json& v) {
    return v.dump(-1, ' ', /*ensure_ascii=*/false, nlohmann::json::error_handler_t::replace);
}

}  // namespace cg::json_config
