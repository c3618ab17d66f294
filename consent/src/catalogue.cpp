#include "consent/catalogue.hpp"

#include <algorithm>
#include <array>
#include <exception>
#include <iterator>
#include <optional>
#include <span>
#include <utility>

#include "cookie_text.hpp"
#include "json_config/reader.hpp"

namespace cg::consent {

namespace {

using json = nlohmann::json;
using json_config::child;
using json_config::got;
using json_config::member;

constexpr std::array<std::string_view, 1> top_fields{"cookies"};
constexpr std::array<std::string_view, 6> rule_fields{"name",    "category", "provider",
                                                      "purpose", "lifetime", "justification"};

// Literal characters are what makes a pattern specific: `_ga_*` (4) before `_g*` (2).
std::size_t literal_count(std::string_view pattern) {
    return pattern.size() -
           static_cast<std::size_t>(std::count(pattern.begin(), pattern.end(), '*'));
}

// The category names in all_categories order, as reader::read_choice wants them.
std::span<const std::string_view> category_choices() {
    static const auto names = [] {
        std::array<std::string_view, all_categories.size()> out{};
        std::transform(all_categories.begin(), all_categories.end(), out.begin(),
                       [](category c) { return name_of(c); });
        return out;
    }();
    return names;
}

// Reads the rules on top of the shared config reader, which words every problem and keeps
// them in document order.
class catalogue_reader {
  public:
    explicit catalogue_reader(json_config::reader& r) : r_(r) {}

    std::vector<cookie_rule> read(const json& doc) {
        std::vector<cookie_rule> rules;
        if (!doc.is_object()) {
            r_.fail_document("the document must be a JSON object" + got(doc));
            return rules;
        }
        r_.check_object(doc, "", top_fields);
        const json* cookies = member(doc, "cookies");
        if (cookies == nullptr) {
            r_.fail("/cookies", "required field is missing");
            return rules;
        }
        if (!cookies->is_array()) {
            r_.fail("/cookies", "must be an array of cookie rules" + got(*cookies));
            return rules;
        }
        rules.reserve(cookies->size());
        for (std::size_t i = 0; i < cookies->size(); ++i) {
            if (auto rule = read_rule((*cookies)[i], child("/cookies", i))) {
                rules.push_back(std::move(*rule));
            }
        }
        return rules;
    }

  private:
    // Returns the rule only when the whole entry is valid, so one bad entry cannot hide behind
    // a half-read rule; every problem in it is still reported.
    std::optional<cookie_rule> read_rule(const json& e, const std::string& pointer) {
        const std::size_t before = r_.problems().size();
        if (!r_.check_object(e, pointer, rule_fields)) {
            return std::nullopt;
        }
        cookie_rule rule;
        read_name(e, pointer, rule.name);
        read_category(e, pointer, rule.cat);
        read_text(e, pointer, "provider", rule.provider);
        read_text(e, pointer, "purpose", rule.purpose);
        read_text(e, pointer, "lifetime", rule.lifetime);
        read_text(e, pointer, "justification", rule.justification);
        if (r_.problems().size() != before) {
            return std::nullopt;
        }
        return rule;
    }

    void read_name(const json& e, const std::string& pointer, std::string& out) {
        const std::string here = child(pointer, "name");
        const json* v = member(e, "name");
        if (v == nullptr) {
            r_.fail(here, "required field is missing");
            return;
        }
        const std::string* name = r_.read_string(e, pointer, "name");
        if (name == nullptr) {
            return;
        }
        if (name->empty()) {
            r_.fail(here, "must not be empty");
            return;
        }
        if (!std::all_of(name->begin(), name->end(), is_token_char)) {
            r_.fail(here,
                    "must contain only letters, digits and !#$%&'*+-.^_`|~ (an RFC 6265 cookie "
                    "name; * is the wildcard)" +
                        got(*v));
            return;
        }
        if (literal_count(*name) == 0) {
            r_.fail(here, "a pattern of only * would match every cookie" + got(*v));
            return;
        }
        const auto [first, inserted] = first_use_.try_emplace(*name, here);
        if (!inserted) {
            r_.fail(here, "duplicate of " + first->second + got(*v));
            return;
        }
        out = *name;
    }

    void read_category(const json& e, const std::string& pointer, category& out) {
        if (member(e, "category") == nullptr) {
            r_.fail(child(pointer, "category"), "required field is missing");
            return;
        }
        if (const auto i = r_.read_choice(e, pointer, "category", category_choices())) {
            out = all_categories[*i];
        }
    }

    void read_text(const json& e, const std::string& pointer, std::string_view key,
                   std::string& out) {
        if (const std::string* text = r_.read_string(e, pointer, key)) {
            out = *text;
        }
    }

    json_config::reader& r_;
    std::unordered_map<std::string, std::string> first_use_;  // name -> pointer of first use
};

std::vector<cookie_rule> parse_checked(std::string_view text, std::string_view source) {
    std::vector<cookie_rule> rules;
    auto problems = json_config::problems_in(
        text, source,
        [&](json_config::reader& r, const json& root) { rules = catalogue_reader(r).read(root); });
    if (!problems.empty()) {
        throw catalogue_error(std::move(problems));
    }
    return rules;
}

}  // namespace

// Splits the pattern at its stars: the part before the first star must start the name, the
// part after the last must end it, and each part in between must occur in order in what is
// left. Taking the leftmost occurrence of each middle part is always safe (a later occurrence
// only leaves less room for the rest), so there is no backtracking and no recursion.
bool matches_pattern(std::string_view pattern, std::string_view name) noexcept {
    const auto first_star = pattern.find('*');
    if (first_star == std::string_view::npos) {
        return pattern == name;
    }
    const auto last_star = pattern.rfind('*');
    const std::string_view head = pattern.substr(0, first_star);
    const std::string_view tail = pattern.substr(last_star + 1);
    if (name.size() < head.size() + tail.size() || !name.starts_with(head) ||
        !name.ends_with(tail)) {
        return false;
    }
    std::string_view rest = name.substr(head.size(), name.size() - head.size() - tail.size());
    std::string_view middle = pattern.substr(first_star + 1, last_star - first_star);
    while (!middle.empty()) {
        const auto star = middle.find('*');  // always found: `middle` ends with the last star
        const std::string_view part = middle.substr(0, star);
        if (!part.empty()) {
            const auto at = rest.find(part);
            if (at == std::string_view::npos) {
                return false;
            }
            rest.remove_prefix(at + part.size());
        }
        middle.remove_prefix(star + 1);
    }
    return true;
}

catalogue_error::catalogue_error(std::vector<std::string> problems)
    : std::runtime_error(json_config::join_lines(problems)), problems_(std::move(problems)) {}

std::vector<cookie_rule> parse_catalogue(std::string_view json_text, std::string_view source) {
    try {
        return parse_checked(json_text, source);
    } catch (const catalogue_error&) {
        throw;
    } catch (const std::exception& e) {
        // Only allocation failures are expected here; the contract is catalogue_error or nothing.
        throw catalogue_error({std::string(source) + ": cannot load catalogue: " + e.what()});
    }
}

classifier::classifier(std::vector<cookie_rule> catalogue, std::vector<cookie_rule> site_rules)
    : site_count_(site_rules.size()) {
    rules_ = std::move(site_rules);
    rules_.reserve(site_count_ + catalogue.size());
    std::move(catalogue.begin(), catalogue.end(), std::back_inserter(rules_));

    std::vector<std::size_t> site_patterns;
    std::vector<std::size_t> catalogue_patterns;
    for (std::size_t i = 0; i < rules_.size(); ++i) {
        const bool from_site = i < site_count_;
        if (rules_[i].is_pattern()) {
            (from_site ? site_patterns : catalogue_patterns).push_back(i);
        } else {
            // try_emplace keeps the first rule for a name: earlier rules win, as documented.
            (from_site ? site_exact_ : catalogue_exact_).try_emplace(rules_[i].name, i);
        }
    }
    index_patterns(std::move(site_patterns), site_patterns_);
    index_patterns(std::move(catalogue_patterns), catalogue_patterns_);
}

void classifier::index_patterns(std::vector<std::size_t> patterns, pattern_index& index) const {
    // Stable, so equally specific patterns keep their order and the earlier rule wins.
    std::stable_sort(patterns.begin(), patterns.end(), [this](std::size_t a, std::size_t b) {
        return literal_count(rules_[a].name) > literal_count(rules_[b].name);
    });
    index.ranked = std::move(patterns);
    for (std::size_t rank = 0; rank < index.ranked.size(); ++rank) {
        const std::string& name = rules_[index.ranked[rank]].name;
        // is_pattern() holds, so the name has at least its '*'.
        index.by_first_byte[static_cast<unsigned char>(name.front())].push_back(rank);
    }
}

const cookie_rule* classifier::find_pattern(const pattern_index& index,
                                            std::string_view name) const noexcept {
    // Candidates are the patterns that begin with the name's first byte and those that begin
    // with '*'. Both lists are in rank order; walking them merged finds the most specific
    // match first.
    const std::span<const std::size_t> starred =
        index.by_first_byte[static_cast<unsigned char>('*')];
    std::span<const std::size_t> same_start;
    if (!name.empty() && name.front() != '*') {
        same_start = index.by_first_byte[static_cast<unsigned char>(name.front())];
    }
    std::size_t i = 0;
    std::size_t j = 0;
    while (i < same_start.size() || j < starred.size()) {
        std::size_t rank = 0;
        if (j == starred.size() || (i < same_start.size() && same_start[i] < starred[j])) {
            rank = same_start[i++];
        } else {
            rank = starred[j++];
        }
        const cookie_rule& rule = rules_[index.ranked[rank]];
        if (matches_pattern(rule.name, name)) {
            return &rule;
        }
    }
    return nullptr;
}

const cookie_rule* classifier::find(std::string_view name) const noexcept {
    // Transparent hashing: looking up a string_view builds no std::string.
    if (const auto it = site_exact_.find(name); it != site_exact_.end()) {
        return &rules_[it->second];
    }
    if (const cookie_rule* rule = find_pattern(site_patterns_, name)) {
        return rule;
    }
    if (const auto it = catalogue_exact_.find(name); it != catalogue_exact_.end()) {
        return &rules_[it->second];
    }
    return find_pattern(catalogue_patterns_, name);
}

}  // namespace cg::consent
