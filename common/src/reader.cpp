#include "json_config/reader.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <memory>
#include <system_error>

#include <arpa/inet.h>

namespace cg::json_config {

namespace {

using json = nlohmann::json;

// How much of an offending value a message quotes (STYLE.md §6: say what was found, briefly).
constexpr std::size_t preview_chars = 40;
// How much of nlohmann's parse-error text a message keeps ("last read" can be a whole string).
constexpr std::size_t reason_chars = 200;

// ---------------------------------------------------------------------------------------------
// Small text helpers

bool is_utf8_continuation(char c) {
    return (static_cast<unsigned char>(c) & 0xC0U) == 0x80U;
}

// Cuts `s` to at most `n` bytes plus "...", never inside a UTF-8 sequence.
void truncate(std::string& s, std::size_t n) {
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

void append_escaped_char(std::string& out, char c) {
    static constexpr std::string_view hex = "0123456789abcdef";
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
        out += '\\';
        out += c;
    } else if (u < 0x20U || u == 0x7FU) {
        // Control characters would break the one-line-per-problem format.
        out += "\\u00";
        out += hex[u >> 4U];
        out += hex[u & 0x0FU];
    } else {
        out += c;
    }
}

// Appends `s` as a JSON string literal, stopping early once `out` is longer than `limit`.
void append_quoted(std::string& out, std::string_view s, std::size_t limit) {
    out += '"';
    for (const char c : s) {
        if (out.size() > limit) {
            return;
        }
        append_escaped_char(out, c);
    }
    out += '"';
}

// Like json::dump(), but stops after `limit` characters. Each level adds at least one character
// before descending, so the recursion depth is bounded by `limit` whatever the input.
void append_preview(std::string& out, const json& v, std::size_t limit) {
    if (out.size() > limit) {
        return;
    }
    if (v.is_object() || v.is_array()) {
        out += v.is_object() ? '{' : '[';
        bool first = true;
        for (auto it = v.begin(); it != v.end() && out.size() <= limit; ++it) {
            if (!first) {
                out += ',';
            }
            first = false;
            if (v.is_object()) {
                append_quoted(out, it.key(), limit);
                out += ':';
            }
            append_preview(out, it.value(), limit);
        }
        out += v.is_object() ? '}' : ']';
    } else if (v.is_string()) {
        append_quoted(out, v.get_ref<const std::string&>(), limit);
    } else {
        out += v.dump();  // numbers, booleans and null are short
    }
}

// One JSON Pointer reference token (RFC 6901 §3: "~" → "~0", "/" → "~1"). Beyond the RFC,
// control characters are escaped and long keys cut, because the pointer goes into a log line.
std::string pointer_token(std::string_view key) {
    std::string out;
    for (const char c : key) {
        if (c == '~') {
            out += "~0";
        } else if (c == '/') {
            out += "~1";
        } else if (c == '"' || c == '\\') {
            out += c;
        } else {
            append_escaped_char(out, c);
        }
    }
    truncate(out, preview_chars);
    return out;
}

// ---------------------------------------------------------------------------------------------
// Reading the document

struct text_position {
    std::size_t line = 1;
    std::size_t column = 1;
};

// 1-based line and byte column of the byte at `offset` (offset == size means end of input).
text_position position_of(std::string_view text, std::size_t offset) {
    offset = std::min(offset, text.size());
    const auto before = text.substr(0, offset);
    text_position p;
    p.line = 1 + static_cast<std::size_t>(std::count(before.begin(), before.end(), '\n'));
    const auto newline = before.rfind('\n');
    p.column = offset - (newline == std::string_view::npos ? 0 : newline + 1) + 1;
    return p;
}

// nlohmann's message minus its "[json.exception.parse_error.101] parse error at line 1,
// column 2: " prefix, which we replace with our own position. Its "last read" token can span
// several tokens and whole strings; keep only its end, where the offending character is.
std::string short_reason(std::string_view what) {
    if (const auto bracket = what.find("] "); bracket != std::string_view::npos) {
        what.remove_prefix(bracket + 2);
    }
    if (what.starts_with("parse error")) {
        if (const auto colon = what.find(": "); colon != std::string_view::npos) {
            what.remove_prefix(colon + 2);
        }
    }
    std::string message(what);
    constexpr std::string_view last_read = "; last read: '";
    if (const auto at = message.find(last_read); at != std::string::npos) {
        const std::size_t start = at + last_read.size();
        std::size_t end = message.rfind("'; expected ");
        if (end == std::string::npos || end < start) {
            end = message.ends_with('\'') ? message.size() - 1 : message.size();
        }
        if (end - start > preview_chars) {
            std::size_t cut = end - (preview_chars - 3);
            while (cut < end && is_utf8_continuation(message[cut])) {
                ++cut;
            }
            message.replace(start, cut - start, "...");
        }
    }
    std::string out;
    for (const char c : message) {
        if (c == '"' || c == '\\') {
            out += c;
        } else {
            append_escaped_char(out, c);
        }
    }
    truncate(out, reason_chars);
    return out;
}

// Builds the DOM with a depth limit and reports duplicate keys, which nlohmann's own parser
// silently resolves (last one wins). Iterative like nlohmann's parser, so deep input cannot
// exhaust the stack. Satisfies nlohmann's SAX interface.
class dom_builder {
  public:
    bool null() { return put(json(nullptr)) != nullptr; }
    bool boolean(bool v) { return put(json(v)) != nullptr; }
    bool number_integer(json::number_integer_t v) { return put(json(v)) != nullptr; }
    bool number_unsigned(json::number_unsigned_t v) { return put(json(v)) != nullptr; }
    bool number_float(json::number_float_t v, const json::string_t& /*text*/) {
        return put(json(v)) != nullptr;
    }
    bool string(json::string_t& v) { return put(json(std::move(v))) != nullptr; }
    bool binary(json::binary_t& /*v*/) { return false; }  // never produced by the JSON reader
    bool start_object(std::size_t /*size*/) { return open(json::object()); }
    bool key(json::string_t& k) {
        frame& top = stack_.back();
        if (top.node->contains(k)) {
            duplicates_.push_back(pointer_to(k));
        }
        top.key = std::move(k);
        return true;
    }
    bool end_object() { return close(); }
    bool start_array(std::size_t /*size*/) { return open(json::array()); }
    bool end_array() { return close(); }
    bool parse_error(std::size_t position, const std::string& /*last_token*/,
                     const json::exception& ex) {
        error_position_ = position;
        error_ = short_reason(ex.what());
        return false;
    }

    json& root() { return root_; }
    bool too_deep() const { return too_deep_; }
    std::size_t error_position() const { return error_position_; }
    const std::string& error() const { return error_; }
    std::vector<std::string>& duplicates() { return duplicates_; }

  private:
    struct frame {
        json* node;
        std::string key;  // objects: the key whose value is being read
    };

    // Parents are never modified while a child is open, so the pointers stay valid.
    json* put(json&& v) {
        if (stack_.empty()) {
            root_ = std::move(v);
            return &root_;
        }
        frame& top = stack_.back();
        if (top.node->is_array()) {
            top.node->push_back(std::move(v));
            return &top.node->back();
        }
        json& slot = (*top.node)[top.key];
        slot = std::move(v);
        return &slot;
    }

    bool open(json&& v) {
        if (stack_.size() >= max_depth) {
            too_deep_ = true;
            return false;
        }
        stack_.push_back({put(std::move(v)), {}});
        return true;
    }

    bool close() {
        stack_.pop_back();
        return true;
    }

    std::string pointer_to(std::string_view k) const {
        std::string p;
        for (std::size_t i = 0; i + 1 < stack_.size(); ++i) {
            const frame& f = stack_[i];
            p = f.node->is_array() ? child(p, f.node->size() - 1) : child(p, f.key);
        }
        return child(p, k);
    }

    json root_;
    std::vector<frame> stack_;
    bool too_deep_ = false;
    std::size_t error_position_ = 0;
    std::string error_;
    std::vector<std::string> duplicates_;
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// Documents and files

document parse_document(std::string_view text, std::string_view source) {
    dom_builder builder;
    const bool parsed = json::sax_parse(text.begin(), text.end(), &builder,
                                        json::input_format_t::json, /*strict=*/true,
                                        /*ignore_comments=*/false);
    if (!parsed) {
        std::size_t offset = 0;
        std::string reason;
        if (builder.too_deep()) {
            offset = offset_beyond_depth(text, max_depth);
            reason = "nested deeper than " + std::to_string(max_depth) + " levels";
        } else {
            // nlohmann reports how many bytes it read, including the offending one.
            offset = builder.error_position() > 0 ? builder.error_position() - 1 : 0;
            reason = builder.error().empty() ? "cannot parse" : builder.error();
        }
        const auto p = position_of(text, offset);
        throw syntax_error(std::string(source) + ": invalid JSON at line " +
                           std::to_string(p.line) + ", column " + std::to_string(p.column) + ": " +
                           reason);
    }
    return {std::move(builder.root()), std::move(builder.duplicates())};
}

// parse_document calls this only after the SAX parser stopped at the depth limit, so the text
// before the offending bracket is valid JSON and string tracking is exact there. On text that
// is not JSON a stray quote shifts what counts as a string, so the level is approximate, but a
// parser would reject such text anyway; the scan stays linear and in range.
std::size_t offset_beyond_depth(std::string_view text, std::size_t depth) noexcept {
    bool in_string = false;
    bool escaped = false;
    std::size_t level = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (in_string) {
            if (escaped) {
                escaped = false;
            } else if (c == '\\') {
                escaped = true;
            } else if (c == '"') {
                in_string = false;
            }
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++level > depth) {
                return i;
            }
        } else if ((c == ']' || c == '}') && level > 0) {
            --level;
        }
    }
    return text.size();
}

std::optional<std::string> read_file(const std::filesystem::path& file, std::size_t max_bytes,
                                     std::string& error) {
    const std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(file.c_str(), "rb"),
                                                            &std::fclose);
    if (!f) {
        error = std::generic_category().message(errno);
        return std::nullopt;
    }
    std::string text;
    std::array<char, 64 * 1024> chunk{};
    for (;;) {
        const std::size_t n = std::fread(chunk.data(), 1, chunk.size(), f.get());
        text.append(chunk.data(), n);
        // The cap also stops reads of /dev/zero and the like.
        if (text.size() > max_bytes) {
            constexpr std::size_t mib = 1024 * 1024;
            error = max_bytes % mib == 0 ? "larger than " + std::to_string(max_bytes / mib) + " MiB"
                                         : "larger than " + std::to_string(max_bytes) + " bytes";
            return std::nullopt;
        }
        if (n < chunk.size()) {
            if (std::ferror(f.get()) != 0) {
                // e.g. EISDIR: fopen succeeds on a directory and the first read fails.
                error = std::generic_category().message(errno);
                return std::nullopt;
            }
            break;
        }
    }
    return text;
}

// ---------------------------------------------------------------------------------------------
// Pieces of messages

std::string child(const std::string& pointer, std::string_view key) {
    return pointer + "/" + pointer_token(key);
}

std::string child(const std::string& pointer, std::size_t index) {
    return pointer + "/" + std::to_string(index);
}

std::string preview(const json& v) {
    std::string out;
    append_preview(out, v, preview_chars);
    truncate(out, preview_chars);
    return out;
}

std::string literal(std::string_view s) {
    std::string out;
    append_quoted(out, s, preview_chars);
    truncate(out, preview_chars);
    return out;
}

std::string got(const json& v) {
    return " (got " + preview(v) + ")";
}

std::string join(std::span<const std::string_view> words) {
    std::string out;
    for (const auto w : words) {
        if (!out.empty()) {
            out += ", ";
        }
        out += w;
    }
    return out;
}

std::string join_lines(std::span<const std::string> lines) {
    std::string out;
    for (const auto& l : lines) {
        if (!out.empty()) {
            out += '\n';
        }
        out += l;
    }
    return out;
}

const json* member(const json& object, std::string_view key) {
    if (!object.is_object()) {
        return nullptr;
    }
    const auto it = object.find(key);
    return it == object.end() ? nullptr : &*it;
}

std::string range_text(uint_range r) {
    return std::to_string(r.min) + "-" + std::to_string(r.max);
}

// ---------------------------------------------------------------------------------------------
// Value checks

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), ascii_lower);
    return out;
}

bool is_host_name(std::string_view s) {
    if (s.empty() || s.front() == '.' || s.find("..") != std::string_view::npos) {
        return false;
    }
    return std::all_of(s.begin(), s.end(), [](char c) {
        const char l = ascii_lower(c);
        return (l >= 'a' && l <= 'z') || is_digit(l) || l == '-' || l == '_' || l == '.';
    });
}

bool is_name_or_ipv4(std::string_view s) {
    if (!is_host_name(s)) {
        return false;
    }
    if (std::all_of(s.begin(), s.end(), [](char c) { return is_digit(c) || c == '.'; })) {
        // inet_pton takes only the four-part dotted decimal form (no "127.1", no octal), which
        // is what Asio's make_address_v4 accepts too.
        std::array<unsigned char, 4> bytes{};
        return ::inet_pton(AF_INET, std::string(s).c_str(), bytes.data()) == 1;
    }
    return true;
}

// ---------------------------------------------------------------------------------------------
// reader

void reader::fail(const std::string& pointer, std::string_view reason) {
    problems_.push_back(source_ + ": " + pointer + ": " + std::string(reason));
}

void reader::fail_document(std::string_view reason) {
    problems_.push_back(source_ + ": " + std::string(reason));
}

void reader::add_problem(std::string line) {
    problems_.push_back(std::move(line));
}

void reader::report_duplicates(const document& doc) {
    for (const auto& pointer : doc.duplicates) {
        fail(pointer, "duplicate field");
    }
}

bool reader::check_object(const json& v, const std::string& pointer,
                          std::span<const std::string_view> allowed) {
    if (!v.is_object()) {
        fail(pointer, "must be an object" + got(v));
        return false;
    }
    for (auto it = v.begin(); it != v.end(); ++it) {
        if (std::find(allowed.begin(), allowed.end(), it.key()) == allowed.end()) {
            fail(child(pointer, it.key()), "unknown field (allowed: " + join(allowed) + ")");
        }
    }
    return true;
}

// Integers only; a float with a fraction is "not a whole number", one without (1e3) counts.
std::optional<std::uint64_t> reader::read_uint64(const json& object, const std::string& pointer,
                                                 std::string_view key, uint_range range) {
    const json* v = member(object, key);
    if (v == nullptr) {
        return std::nullopt;
    }
    const std::string here = child(pointer, key);
    const std::string out_of_range = "must be " + range_text(range) + got(*v);
    std::uint64_t value = 0;
    if (v->is_number_unsigned()) {
        value = v->get<std::uint64_t>();
    } else if (v->is_number_integer()) {
        const auto i = v->get<std::int64_t>();
        if (i < 0) {
            fail(here, out_of_range);
            return std::nullopt;
        }
        value = static_cast<std::uint64_t>(i);
    } else if (v->is_number_float()) {
        const double d = v->get<double>();
        if (std::floor(d) != d) {
            fail(here, "must be a whole number" + got(*v));
            return std::nullopt;
        }
        // 2^64 is exactly representable; anything at or above it does not fit.
        if (d < 0 || d >= 18446744073709551616.0) {
            fail(here, out_of_range);
            return std::nullopt;
        }
        value = static_cast<std::uint64_t>(d);
    } else {
        fail(here, out_of_range);
        return std::nullopt;
    }
    if (value < range.min || value > range.max) {
        fail(here, out_of_range);
        return std::nullopt;
    }
    return value;
}

bool reader::read_bool(const json& object, const std::string& pointer, std::string_view key,
                       bool& out) {
    const json* v = member(object, key);
    if (v == nullptr) {
        return false;
    }
    if (!v->is_boolean()) {
        fail(child(pointer, key), "must be true or false" + got(*v));
        return false;
    }
    out = v->get<bool>();
    return true;
}

std::optional<std::filesystem::path> reader::read_path(const json& object,
                                                       const std::string& pointer,
                                                       std::string_view key,
                                                       const std::filesystem::path& base_dir) {
    const std::string* s = read_string(object, pointer, key);
    if (s == nullptr) {
        return std::nullopt;
    }
    const std::string here = child(pointer, key);
    if (s->empty()) {
        fail(here, "must not be empty");
        return std::nullopt;
    }
    const bool control = std::any_of(s->begin(), s->end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u < 0x20U || u == 0x7FU;
    });
    if (control) {
        fail(here, "must not contain control characters" + got(json(*s)));
        return std::nullopt;
    }
    return base_dir / *s;
}

const std::string* reader::read_string(const json& object, const std::string& pointer,
                                       std::string_view key) {
    const json* v = member(object, key);
    if (v == nullptr) {
        return nullptr;
    }
    if (!v->is_string()) {
        fail(child(pointer, key), "must be a string" + got(*v));
        return nullptr;
    }
    return &v->get_ref<const std::string&>();
}

std::optional<std::size_t> reader::read_choice(const json& object, const std::string& pointer,
                                               std::string_view key,
                                               std::span<const std::string_view> choices) {
    const json* v = member(object, key);
    if (v == nullptr) {
        return std::nullopt;
    }
    if (v->is_string()) {
        const auto& s = v->get_ref<const std::string&>();
        for (std::size_t i = 0; i < choices.size(); ++i) {
            if (choices[i] == s) {
                return i;
            }
        }
    }
    fail(child(pointer, key), "must be one of " + join(choices) + got(*v));
    return std::nullopt;
}

}  // namespace cg::json_config
