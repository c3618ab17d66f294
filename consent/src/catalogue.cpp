#include "consent/catalogue.hpp"

#include <algorithm>
#include <cstdint>
#include <exception>
#include <iterator>
#include <optional>
#include <span>
#include <utility>

#include <nlohmann/json.hpp>

namespace cg::consent {

namespace {

using json = nlohmann::json;

// A catalogue is three levels deep; the limit only stops hostile documents early.
constexpr std::size_t max_depth = 32;
// How much of an offending string a message quotes: enough to recognise it, short enough for
// one log line.
constexpr std::size_t preview_chars = 40;
// How much of nlohmann's parse-error text a message keeps ("last read" can be a whole string).
constexpr std::size_t reason_chars = 160;

constexpr std::array<std::string_view, 1> top_fields{"cookies"};
constexpr std::array<std::string_view, 6> rule_fields{"name",    "category", "provider",
                                                      "purpose", "lifetime", "justification"};

// ---------------------------------------------------------------------------------------------
// Message text

bool is_utf8_continuation(char c) {
    return (static_cast<unsigned char>(c) & 0xC0U) == 0x80U;
}

// Shortens `s` to at most `n` bytes ending in "...", never splitting a UTF-8 sequence.
void shorten(std::string& s, std::size_t n) {
    if (s.size() <= n) {
        return;
    }
    std::size_t cut = n - 3;
    while (cut > 0 && is_utf8_continuation(s[cut])) {
        --cut;
    }
    s.resize(cut);
    s += "...";
}

// Control characters are escaped because every problem must stay on one line.
void append_escaped(std::string& out, char c) {
    static constexpr std::string_view hex = "0123456789abcdef";
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20U || u == 0x7FU) {
        out += "\\u00";
        out += hex[u >> 4U];
        out += hex[u & 0x0FU];
    } else {
        out += c;
    }
}

std::string escaped(std::string_view s, std::size_t limit) {
    std::string out;
    for (const char c : s) {
        if (out.size() > limit) {
            break;
        }
        append_escaped(out, c);
    }
    shorten(out, limit);
    return out;
}

// A string as a JSON literal, shortened inside the quotes.
std::string json_literal(std::string_view s) {
    std::string body;
    for (const char c : s) {
        if (body.size() > preview_chars) {
            break;
        }
        if (c == '"' || c == '\\') {
            body += '\\';
        }
        append_escaped(body, c);
    }
    shorten(body, preview_chars);
    return "\"" + body + "\"";
}

// What was found instead of what was expected. Containers are described, not printed: a
// printout would be long and json::dump() recurses.
std::string got(const json& v) {
    std::string what;
    if (v.is_string()) {
        what = json_literal(v.get_ref<const std::string&>());
    } else if (v.is_object()) {
        what = "an object";
    } else if (v.is_array()) {
        what = "an array";
    } else {
        what = v.dump();  // numbers, booleans and null are short
    }
    return " (got " + what + ")";
}

// RFC 6901 §3: "~" is written "~0" and "/" is written "~1" in a JSON Pointer.
std::string pointer_token(std::string_view key) {
    std::string out;
    for (const char c : key) {
        if (c == '~') {
            out += "~0";
        } else if (c == '/') {
            out += "~1";
        } else {
            append_escaped(out, c);
        }
    }
    shorten(out, preview_chars);
    return out;
}

std::string child(const std::string& pointer, std::string_view key) {
    return pointer + "/" + pointer_token(key);
}

std::string child(const std::string& pointer, std::size_t index) {
    return pointer + "/" + std::to_string(index);
}

template <std::size_t N>
std::string joined(const std::array<std::string_view, N>& words) {
    std::string out;
    for (const auto w : words) {
        if (!out.empty()) {
            out += ", ";
        }
        out += w;
    }
    return out;
}

std::string category_list() {
    std::array<std::string_view, all_categories.size()> names{};
    std::transform(all_categories.begin(), all_categories.end(), names.begin(),
                   [](category c) { return name_of(c); });
    return joined(names);
}

// nlohmann's message minus its "[json.exception.parse_error.101] parse error at line 1,
// column 2: " prefix: the position is reported by us, counted on the caller's text.
std::string parse_reason(std::string_view what) {
    if (const auto column = what.find(", column "); column != std::string_view::npos) {
        if (const auto colon = what.find(": ", column); colon != std::string_view::npos) {
            what.remove_prefix(colon + 2);
        }
    } else if (const auto bracket = what.find("] "); bracket != std::string_view::npos) {
        what.remove_prefix(bracket + 2);
    }
    return escaped(what, reason_chars);
}

struct text_position {
    std::size_t line = 1;
    std::size_t column = 1;
};

text_position position_of(std::string_view text, std::size_t offset) {
    text_position p;
    offset = std::min(offset, text.size());
    for (std::size_t i = 0; i < offset; ++i) {
        if (text[i] == '\n') {
            ++p.line;
            p.column = 1;
        } else {
            ++p.column;
        }
    }
    return p;
}

// ---------------------------------------------------------------------------------------------
// Cookie names

// RFC 6265 §4.1.1: cookie-name = token, and RFC 2616 §2.2: token = 1*<any CHAR except CTLs or
// separators>. '*' is a token character, so the wildcard needs no extra allowance (and a
// cookie whose name really contains '*' cannot be named exactly; none is known to exist).
bool is_token_char(char c) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20U || u >= 0x7FU) {
        return false;
    }
    constexpr std::string_view separators = "()<>@,;:\\\"/[]?={}";
    return separators.find(c) == std::string_view::npos;
}

// Literal characters are what makes a pattern specific: `_ga_*` (4) before `_g*` (2).
std::size_t literal_count(std::string_view pattern) {
    return pattern.size() -
           static_cast<std::size_t>(std::count(pattern.begin(), pattern.end(), '*'));
}

// ---------------------------------------------------------------------------------------------
// JSON reading

// Builds the document tree for nlohmann's SAX parser, adding what json::parse lacks: a depth
// limit and a report of fields given twice in one object (json::parse keeps the last silently,
// which would hide a typo such as two "category" fields). nlohmann's parser is iterative, so
// deep input cannot exhaust the stack before the limit is reached.
class tree_builder {
  public:
    bool null() { return add(json(nullptr)); }
    bool boolean(bool v) { return add(json(v)); }
    bool number_integer(json::number_integer_t v) { return add(json(v)); }
    bool number_unsigned(json::number_unsigned_t v) { return add(json(v)); }
    bool number_float(json::number_float_t v, const json::string_t& /*text*/) {
        return add(json(v));
    }
    bool string(json::string_t& v) { return add(json(std::move(v))); }
    bool binary(json::binary_t& /*v*/) { return false; }  // the JSON reader never produces it
    bool start_object(std::size_t /*size*/) { return open(json::object()); }
    bool start_array(std::size_t /*size*/) { return open(json::array()); }
    bool key(json::string_t& k) {
        level& top = levels_.back();
        if (top.node->contains(k)) {
            twice_.push_back(pointer_of_open() + "/" + pointer_token(k));
        }
        top.key = std::move(k);
        return true;
    }
    bool end_object() { return close(); }
    bool end_array() { return close(); }
    bool parse_error(std::size_t position, const std::string& /*last_token*/,
                     const json::exception& e) {
        error_position_ = position;
        error_ = parse_reason(e.what());
        return false;
    }

    json& root() { return root_; }
    bool too_deep() const { return too_deep_; }
    std::size_t error_position() const { return error_position_; }
    const std::string& error() const { return error_; }
    const std::vector<std::string>& fields_given_twice() const { return twice_; }

  private:
    struct level {
        json* node;
        std::string key;  // in an object: the field whose value is being read
    };

    // Returns where `v` went. A node on the stack is never moved: only its last child changes
    // while it is open, and earlier siblings (which may move) are closed.
    json* place(json&& v) {
        if (levels_.empty()) {
            root_ = std::move(v);
            return &root_;
        }
        level& top = levels_.back();
        if (top.node->is_array()) {
            top.node->push_back(std::move(v));
            return &top.node->back();
        }
        json& slot = (*top.node)[top.key];
        slot = std::move(v);
        return &slot;
    }

    bool add(json&& v) {
        place(std::move(v));
        return true;
    }

    bool open(json&& v) {
        if (levels_.size() >= max_depth) {
            too_deep_ = true;
            return false;
        }
        levels_.push_back({place(std::move(v)), {}});
        return true;
    }

    bool close() {
        levels_.pop_back();
        return true;
    }

    // The pointer of the innermost open container.
    std::string pointer_of_open() const {
        std::string p;
        for (std::size_t i = 0; i + 1 < levels_.size(); ++i) {
            const level& l = levels_[i];
            p = l.node->is_array() ? child(p, l.node->size() - 1) : child(p, l.key);
        }
        return p;
    }

    json root_;
    std::vector<level> levels_;
    bool too_deep_ = false;
    std::size_t error_position_ = 0;
    std::string error_;
    std::vector<std::string> twice_;
};

const json* member(const json& object, std::string_view key) {
    const auto it = object.find(key);
    return it == object.end() ? nullptr : &*it;
}

class validator {
  public:
    explicit validator(std::string_view source) : source_(source) {}

    void fail(const std::string& pointer, std::string_view reason) {
        if (pointer.empty()) {
            problems_.push_back(source_ + ": " + std::string(reason));
        } else {
            problems_.push_back(source_ + ": " + pointer + ": " + std::string(reason));
        }
    }

    std::vector<std::string>& problems() { return problems_; }

    std::vector<cookie_rule> read(const json& doc) {
        std::vector<cookie_rule> rules;
        if (!doc.is_object()) {
            fail("", "the document must be a JSON object" + got(doc));
            return rules;
        }
        check_fields(doc, "", top_fields);
        const json* cookies = member(doc, "cookies");
        if (cookies == nullptr) {
            fail("/cookies", "required field is missing");
            return rules;
        }
        if (!cookies->is_array()) {
            fail("/cookies", "must be an array of cookie rules" + got(*cookies));
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
    template <std::size_t N>
    void check_fields(const json& object, const std::string& pointer,
                      const std::array<std::string_view, N>& allowed) {
        for (auto it = object.begin(); it != object.end(); ++it) {
            if (std::find(allowed.begin(), allowed.end(), it.key()) == allowed.end()) {
                fail(child(pointer, it.key()), "unknown field (allowed: " + joined(allowed) + ")");
            }
        }
    }

    // Returns the rule only when the whole entry is valid, so one bad entry cannot hide behind
    // a half-read rule; every problem in it is still reported.
    std::optional<cookie_rule> read_rule(const json& e, const std::string& pointer) {
        if (!e.is_object()) {
            fail(pointer, "must be an object" + got(e));
            return std::nullopt;
        }
        const std::size_t before = problems_.size();
        check_fields(e, pointer, rule_fields);
        cookie_rule rule;
        read_name(e, pointer, rule.name);
        read_category(e, pointer, rule.cat);
        read_text(e, pointer, "provider", rule.provider);
        read_text(e, pointer, "purpose", rule.purpose);
        read_text(e, pointer, "lifetime", rule.lifetime);
        read_text(e, pointer, "justification", rule.justification);
        if (problems_.size() != before) {
            return std::nullopt;
        }
        return rule;
    }

    void read_name(const json& e, const std::string& pointer, std::string& out) {
        const std::string here = child(pointer, "name");
        const json* v = member(e, "name");
        if (v == nullptr) {
            fail(here, "required field is missing");
            return;
        }
        if (!v->is_string()) {
            fail(here, "must be a string" + got(*v));
            return;
        }
        const auto& name = v->get_ref<const std::string&>();
        if (name.empty()) {
            fail(here, "must not be empty");
            return;
        }
        if (!std::all_of(name.begin(), name.end(), is_token_char)) {
            fail(here,
                 "must contain only letters, digits and !#$%&'*+-.^_`|~ (an RFC 6265 cookie "
                 "name; * is the wildcard)" +
                     got(*v));
            return;
        }
        if (literal_count(name) == 0) {
            fail(here, "a pattern of only * would match every cookie" + got(*v));
            return;
        }
        const auto [first, inserted] = first_use_.try_emplace(name, here);
        if (!inserted) {
            fail(here, "duplicate of " + first->second + got(*v));
            return;
        }
        out = name;
    }

    void read_category(const json& e, const std::string& pointer, category& out) {
        const std::string here = child(pointer, "category");
        const json* v = member(e, "category");
        if (v == nullptr) {
            fail(here, "required field is missing");
            return;
        }
        std::optional<category> c;
        if (v->is_string()) {
            c = category_named(v->get_ref<const std::string&>());
        }
        if (!c) {
            fail(here, "must be one of " + category_list() + got(*v));
            return;
        }
        out = *c;
    }

    void read_text(const json& e, const std::string& pointer, std::string_view key,
                   std::string& out) {
        const json* v = member(e, key);
        if (v == nullptr) {
            return;
        }
        if (!v->is_string()) {
            fail(child(pointer, key), "must be a string" + got(*v));
            return;
        }
        out = v->get_ref<const std::string&>();
    }

    std::string source_;
    std::vector<std::string> problems_;
    std::unordered_map<std::string, std::string> first_use_;  // name -> pointer of first use
};

std::vector<cookie_rule> parse_checked(std::string_view text, std::string_view source) {
    const std::string src(source);
    tree_builder builder;
    const bool parsed = json::sax_parse(text.begin(), text.end(), &builder,
                                        json::input_format_t::json, /*strict=*/true,
                                        /*ignore_comments=*/false);
    if (!parsed) {
        if (builder.too_deep()) {
            throw catalogue_error({src + ": invalid catalogue: nested deeper than " +
                                   std::to_string(max_depth) + " levels"});
        }
        // nlohmann counts the bytes read, the offending one included.
        const std::size_t offset = builder.error_position() > 0 ? builder.error_position() - 1 : 0;
        const auto p = position_of(text, offset);
        const std::string reason = builder.error().empty() ? "cannot parse" : builder.error();
        throw catalogue_error({src + ": invalid JSON at line " + std::to_string(p.line) +
                               ", column " + std::to_string(p.column) + ": " + reason});
    }
    validator v(src);
    for (const auto& pointer : builder.fields_given_twice()) {
        v.fail(pointer, "field given twice");
    }
    auto rules = v.read(builder.root());
    if (!v.problems().empty()) {
        throw catalogue_error(std::move(v.problems()));
    }
    return rules;
}

std::string joined_lines(const std::vector<std::string>& lines) {
    std::string out;
    for (const auto& l : lines) {
        if (!out.empty()) {
            out += '\n';
        }
        out += l;
    }
    return out;
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
    : std::runtime_error(joined_lines(problems)), problems_(std::move(problems)) {}

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
