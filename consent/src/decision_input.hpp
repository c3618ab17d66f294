#pragma once
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "consent/category.hpp"

namespace cg::consent {

/// What the body of a POST /_consent says the visitor chose, before anything is checked
/// against the request (Origin, Sec-GPC) or recorded. The texts are the visitor's, decoded:
/// they may hold any bytes (a form field "%FF" decodes to a byte that is not UTF-8), so
/// whatever writes them into JSON must use json_config::dump.
struct decision_input {
    category_set granted{category::necessary};  ///< always holds necessary
    bool form = false;                          ///< a form post (answered with 303), else JSON
    bool gpc_method = false;  ///< action "gpc": valid only with the request's Sec-GPC: 1
    bool accept_all = false;  ///< action "accept-all" (not an explicit list of categories)
    std::string language;     ///< the language field as sent ("" when absent)
    std::string return_to;    ///< form posts: where to send the browser back, as sent
    /// 0 when the body was understood; else 400 (a body that says nothing valid) or 415 (a
    /// content type other than JSON or a form), with `error` saying why for the visitor.
    unsigned status = 0;
    std::string error;  ///< empty when status is 0; at most a few hundred bytes otherwise
};

/// Reads a decision from a body of `content_type` (application/json or
/// application/x-www-form-urlencoded, parameters and case ignored):
///   JSON `{"categories": [...], "action": "...", "language": "..."}`, an object with only
///   these members, "categories" or "action" required, none of them twice (nlohmann would keep
///   the last of duplicate keys: the decision would depend on the reader); nesting beyond what
///   that needs is refused before parsing;
///   a form with fields `category`/`categories` (repeated, one per checkbox), `action`,
///   `language` and `return_to` (each at most once, or repeated with the same value); other
///   fields are ignored, as HTML forms expect. An empty form grants necessary only.
/// Actions: accept-all (every category in `offered`), reject-all, save (the categories
/// given), gpc. JSON and form bodies mean the same: accept-all, reject-all or gpc together
/// with categories that say otherwise (`reject-all` with `marketing`) is refused (400) instead
/// of one of them winning. A category that `offered` lacks is an error naming what the site
/// offers. Errors quote at most 40 bytes of the input, as valid UTF-8 (other bytes shown as
/// U+FFFD). Untrusted input, any bytes, any length (the endpoint bounds it at
/// max_endpoint_body); never throws except std::bad_alloc; no I/O. Thread-safe.
decision_input read_decision(std::string_view content_type, std::string_view body,
                             category_set offered);

/// The fields of an application/x-www-form-urlencoded text (WHATWG URL §5.1): split on '&',
/// empty pieces skipped, name and value percent-decoded with '+' as a space; a field without
/// '=' has an empty value. Decoded text may be any bytes. Untrusted input; never throws
/// except std::bad_alloc. Thread-safe.
std::vector<std::pair<std::string, std::string>> form_fields(std::string_view text);

}  // namespace cg::consent
