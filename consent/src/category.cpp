#include "consent/category.hpp"

namespace cg::consent {

namespace {

constexpr std::array<std::string_view, 4> category_names{"necessary", "preferences", "analytics",
                                                         "marketing"};
constexpr std::array<std::string_view, 3> language_codes{"nb", "nn", "en"};

}  // namespace

std::string_view name_of(category c) noexcept {
    return category_names[static_cast<std::size_t>(c)];
}

std::optional<category> category_named(std::string_view name) noexcept {
    for (const auto c : all_categories) {
        if (name_of(c) == name) {
            return c;
        }
    }
    return std::nullopt;
}

std::string_view name_of(language l) noexcept {
    return language_codes[static_cast<std::size_t>(l)];
}

std::optional<language> language_named(std::string_view code) noexcept {
    if (code == "no") {
        return language::nb;  // the macrolanguage code; Bokmål is what "no" means in practice
    }
    for (const auto l : all_languages) {
        if (name_of(l) == code) {
            return l;
        }
    }
    return std::nullopt;
}

}  // namespace cg::consent
