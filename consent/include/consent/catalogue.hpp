#pragma once
#include <cstddef>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "consent/category.hpp"

namespace cg::consent {

/// What is known about one cookie name (or a family of names). `name` is either an exact
/// cookie name or a pattern where `*` stands for any run of characters (`_ga_*`,
/// `_hjSessionUser_*`, `wordpress_logged_in_*`). Cookie names are case-sensitive.
struct cookie_rule {
    std::string name;
    category cat = category::necessary;
    std::string provider;       ///< who processes it ("Google Analytics", "the site itself")
    std::string purpose;        ///< what it is for, in English
    std::string lifetime;       ///< typical lifetime as text ("2 years", "session")
    std::string justification;  ///< why a site-added `necessary` rule is strictly necessary

    bool is_pattern() const noexcept { return name.find('*') != std::string::npos; }
};

/// True when `name` matches `pattern` (`*` = any run of characters, possibly empty).
bool matches_pattern(std::string_view pattern, std::string_view name) noexcept;

/// Thrown by load_catalogue / parse_catalogue. Every line is `SOURCE: /json/pointer: reason`.
class catalogue_error : public std::runtime_error {
  public:
    explicit catalogue_error(std::vector<std::string> problems);
    const std::vector<std::string>& problems() const noexcept { return problems_; }

  private:
    std::vector<std::string> problems_;
};

/// Parses a catalogue document: `{"cookies": [{"name", "category", "provider", "purpose",
/// "lifetime"}...]}`. Unknown keys, unknown categories, empty names, a pattern that is only
/// `*` and duplicate names are errors (all reported). `source` names the document in messages.
std::vector<cookie_rule> parse_catalogue(std::string_view json_text, std::string_view source);

/// The catalogue shipped in configs/cookie-catalogue.json, compiled into the binary.
std::string_view builtin_catalogue_json() noexcept;

/// Classifies cookie names for one site: the site's own rules override the catalogue.
/// Lookup order: site exact, site patterns, catalogue exact, catalogue patterns; among
/// patterns the one with the most literal characters wins (`_ga_*` before `_g*`).
/// Immutable after construction; lookups are thread-safe and allocation-free.
class classifier {
  public:
    classifier(std::vector<cookie_rule> catalogue, std::vector<cookie_rule> site_rules);

    /// The rule for `name`, or nullptr for an unknown cookie. Untrusted input.
    const cookie_rule* find(std::string_view name) const noexcept;

    /// Every rule, site rules first (for the admin listener and the banner's cookie list).
    const std::vector<cookie_rule>& rules() const noexcept { return rules_; }

  private:
    struct string_hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept {
            return std::hash<std::string_view>{}(s);
        }
    };
    const cookie_rule* find_pattern(std::size_t begin, std::size_t end,
                                    std::string_view name) const noexcept;

    std::vector<cookie_rule> rules_;  // site rules, then catalogue rules
    std::size_t site_count_ = 0;
    std::unordered_map<std::string, std::size_t, string_hash, std::equal_to<>> site_exact_;
    std::unordered_map<std::string, std::size_t, string_hash, std::equal_to<>> catalogue_exact_;
    std::vector<std::size_t> site_patterns_;       // indexes into rules_, most specific first
    std::vector<std::size_t> catalogue_patterns_;  // the same for catalogue rules
};

}  // namespace cg::consent
