#pragma once
// The names of a set of categories as one string, for the upstream header and Redis fields.
#include <string>
#include <string_view>

#include "consent/category.hpp"

namespace cg::consent {

/// The names of the categories in `s`, in all_categories order, separated by `separator`;
/// empty for an empty set. Allocates only (may throw std::bad_alloc); thread-safe.
inline std::string category_names(category_set s, std::string_view separator) {
    std::string out;
    for (const auto c : all_categories) {
        if (s.contains(c)) {
            if (!out.empty()) {
                out += separator;
            }
            out += name_of(c);
        }
    }
    return out;
}

}  // namespace cg::consent
