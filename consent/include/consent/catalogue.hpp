#pragma once
#include <array>
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

/// True when `name` matches `pattern`, where `*` stands for any run of characters (possibly
/// empty) and every other character matches itself, case-sensitively. A pattern without `*`
/// matches only the identical name. Iterative: time is at most proportional to
/// size(pattern) * size(name) and nothing is allocated, so untrusted names of any length are safe.
/// Thread-safe.
bool matches_pattern(std::string_view pattern, std::string_view name) noexcept;

/// Thrown by parse_catalogue. Every problem is one line `SOURCE: /json/pointer: reason` (or
/// `SOURCE: reason` for the document as a whole); what() joins them with newlines.
class catalogue_error : public std::runtime_error {
  public:
    explicit catalogue_error(std::vector<std::string> problems);
    const std::vector<std::string>& problems() const noexcept { return problems_; }

  private:
    std::vector<std::string> problems_;
};

/// Parses a catalogue document: `{"cookies": [{"name", "category", "provider", "purpose",
/// "lifetime", "justification"}...]}`; `name` and `category` are required, the other fields
/// are optional strings. Returns the rules in document order. `source` names the document in
/// messages (a file name, "built-in catalogue").
///
/// Throws catalogue_error listing every problem found, in document order: invalid JSON (with
/// line and column), nesting deeper than 64 levels, a field given twice in one object, unknown
/// fields, missing or non-string fields, a category other than necessary, preferences,
/// analytics or marketing, an empty name, a name with characters that RFC 6265 does not allow
/// in a cookie name (`*` is allowed: it is the wildcard), a name made only of `*` (it would
/// match every cookie) and a name used twice. For startup: it allocates and may take a while
/// on large input. Thread-safe (no shared state).
std::vector<cookie_rule> parse_catalogue(std::string_view json_text, std::string_view source);

/// The catalogue shipped in configs/cookie-catalogue.json, compiled into the binary.
std::string_view builtin_catalogue_json() noexcept;

/// Classifies cookie names for one site: the site's own rules override the catalogue.
/// Lookup order: site exact, site patterns, catalogue exact, catalogue patterns, so any site
/// rule that matches wins over every catalogue rule. Among patterns of one kind the one with
/// the most literal (non-`*`) characters wins (`_ga_*` before `_g*`); between equally specific
/// patterns, and between rules with the same name, the earlier rule wins.
/// The constructor trusts its rules (validate them with parse_catalogue or the site config
/// parser first) and may throw std::bad_alloc. Immutable after construction; lookups are
/// thread-safe and allocation-free.
class classifier {
  public:
    classifier(std::vector<cookie_rule> catalogue, std::vector<cookie_rule> site_rules);

    /// The rule for `name`, or nullptr for an unknown cookie. Untrusted input of any length;
    /// never throws, never allocates. The pointer lives as long as the classifier.
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
    using exact_index = std::unordered_map<std::string, std::size_t, string_hash, std::equal_to<>>;

    // The patterns of one kind (site or catalogue). A name can only match a pattern that
    // begins with its own first byte or with '*', so each lookup scans two short lists.
    struct pattern_index {
        std::vector<std::size_t> ranked;  // indexes into rules_, most specific first
        // For each first byte of a pattern: positions in `ranked`, ascending.
        std::array<std::vector<std::size_t>, 256> by_first_byte;
    };

    void index_patterns(std::vector<std::size_t> patterns, pattern_index& index) const;
    const cookie_rule* find_pattern(const pattern_index& index,
                                    std::string_view name) const noexcept;

    std::vector<cookie_rule> rules_;  // site rules, then catalogue rules
    std::size_t site_count_ = 0;
    exact_index site_exact_;
    exact_index catalogue_exact_;
    pattern_index site_patterns_;
    pattern_index catalogue_patterns_;
};

}  // namespace cg::consent
