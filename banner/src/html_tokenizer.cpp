#include "banner/html_tokenizer.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>

namespace cg::banner {

// One enumerator per WHATWG tokenizer state we model (HTML §13.2.5). The RCDATA and RAWTEXT
// "less-than sign", "end tag open" and "end tag name" states share raw_* states; end_return_
// says which text state they fall back to. The comment less-than-sign states are left out:
// they only report parse errors and produce the same comment data.
enum class html_tokenizer::state : std::uint8_t {
    data,
    rcdata,
    rawtext,
    script_data,
    plaintext,
    tag_open,
    end_tag_open,
    tag_name,
    raw_lt,
    script_lt,
    raw_end_tag_open,
    raw_end_tag_name,
    script_escape_start,
    script_escape_start_dash,
    script_escaped,
    script_escaped_dash,
    script_escaped_dash_dash,
    script_escaped_lt,
    script_double_escape_start,
    script_double_escaped,
    script_double_escaped_dash,
    script_double_escaped_dash_dash,
    script_double_escaped_lt,
    script_double_escape_end,
    before_attr_name,
    attr_name,
    after_attr_name,
    before_attr_value,
    attr_value_dq,
    attr_value_sq,
    attr_value_unq,
    after_attr_value_quoted,
    self_closing,
    markup_decl_open,
    comment_start,
    comment_start_dash,
    comment,
    comment_end_dash,
    comment_end,
    comment_end_bang,
    bogus_comment,
    doctype,
};

namespace {

constexpr std::string_view replacement_char = "\xEF\xBF\xBD";  // U+FFFD in UTF-8

bool is_space(unsigned char c) {
    // §13.2.5: tab, LF, FF, space; CR too, since input preprocessing turns it into LF.
    return c == '\t' || c == '\n' || c == '\f' || c == ' ' || c == '\r';
}

bool is_alpha(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool is_digit(unsigned char c) {
    return c >= '0' && c <= '9';
}

bool is_hex(unsigned char c) {
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

char to_lower(unsigned char c) {
    return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
}

void append_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

// §13.2.5.80 numeric character reference end state: C1 controls map through windows-1252.
std::uint32_t numeric_reference_value(std::uint32_t cp) {
    static constexpr std::array<std::uint16_t, 32> c1{
        0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
        0x2039, 0x0152, 0x008D, 0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
        0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178};
    if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        return 0xFFFD;
    }
    if (cp >= 0x80 && cp <= 0x9F) {
        return c1[cp - 0x80];
    }
    return cp;
}

struct named_reference {
    std::string_view name;
    std::string_view value;
    bool legacy;  // recognised without the semicolon (§13.5 named character references table)
};

// The references pages use in URLs and text attributes; the full table is not needed to
// compare URLs (DESIGN: tracker hold-back matches hosts and paths).
constexpr std::array<named_reference, 12> named_references{{
    {"amp", "&", true},
    {"AMP", "&", true},
    {"lt", "<", true},
    {"LT", "<", true},
    {"gt", ">", true},
    {"GT", ">", true},
    {"quot", "\"", true},
    {"QUOT", "\"", true},
    {"COPY", "\xC2\xA9", true},
    {"apos", "'", false},
    {"nbsp", "\xC2\xA0", true},
    {"copy", "\xC2\xA9", true},
}};

// Decodes an attribute value as the attribute value states would (§13.2.5.72 onwards), for
// the references above, plus CR normalisation and NUL replacement from input preprocessing.
std::string decode_attribute_value(std::string_view raw) {
    std::string out;
    out.reserve(raw.size());
    std::size_t i = 0;
    while (i < raw.size()) {
        const auto c = static_cast<unsigned char>(raw[i]);
        if (c == '\r') {
            out += '\n';
            i += (i + 1 < raw.size() && raw[i + 1] == '\n') ? 2U : 1U;
            continue;
        }
        if (c == 0) {
            out += replacement_char;
            ++i;
            continue;
        }
        if (c != '&') {
            out += static_cast<char>(c);
            ++i;
            continue;
        }
        std::string_view rest = raw.substr(i + 1);
        if (!rest.empty() && rest[0] == '#') {
            std::size_t j = 1;
            const bool hex = rest.size() > 1 && (rest[1] == 'x' || rest[1] == 'X');
            if (hex) {
                j = 2;
            }
            const std::size_t digits_from = j;
            std::uint32_t cp = 0;
            while (j < rest.size() && (hex ? is_hex(static_cast<unsigned char>(rest[j]))
                                           : is_digit(static_cast<unsigned char>(rest[j])))) {
                const auto d = static_cast<unsigned char>(rest[j]);
                const std::uint32_t v =
                    is_digit(d) ? d - '0' : static_cast<std::uint32_t>(to_lower(d) - 'a' + 10);
                if (cp <= 0x10FFFF) {  // saturate: anything larger becomes U+FFFD anyway
                    cp = cp * (hex ? 16 : 10) + v;
                }
                ++j;
            }
            if (j == digits_from) {  // "&#" or "&#x" without digits is not a reference
                out += '&';
                ++i;
                continue;
            }
            if (j < rest.size() && rest[j] == ';') {
                ++j;
            }
            append_utf8(out, numeric_reference_value(cp));
            i += 1 + j;
            continue;
        }
        bool done = false;
        for (const auto& ref : named_references) {
            if (!rest.starts_with(ref.name)) {
                continue;
            }
            const std::string_view after = rest.substr(ref.name.size());
            if (!after.empty() && after[0] == ';') {
                out += ref.value;
                i += 1 + ref.name.size() + 1;
                done = true;
                break;
            }
            // §13.2.5.73: in attributes a reference without ';' followed by '=' or an
            // alphanumeric is left alone, for historical reasons (query strings).
            const bool blocked =
                !after.empty() &&
                (after[0] == '=' || is_alpha(static_cast<unsigned char>(after[0])) ||
                 is_digit(static_cast<unsigned char>(after[0])));
            if (ref.legacy && !blocked) {
                out += ref.value;
                i += 1 + ref.name.size();
                done = true;
            }
            break;
        }
        if (!done) {
            out += '&';
            ++i;
        }
    }
    return out;
}

std::string normalize_newlines(std::string_view in) {
    std::string out;
    out.reserve(in.size());
    for (std::size_t i = 0; i < in.size(); ++i) {
        if (in[i] == '\r') {
            out += '\n';
            if (i + 1 < in.size() && in[i + 1] == '\n') {
                ++i;
            }
        } else {
            out += in[i];
        }
    }
    return out;
}

}  // namespace

const html_attribute* html_token::find(std::string_view attribute_name) const {
    for (const auto& a : attributes) {
        if (a.name == attribute_name) {
            return &a;
        }
    }
    return nullptr;
}

html_tokenizer::html_tokenizer(html_tokenizer_options options)
    : options_(std::move(options)), state_(state::data), end_return_(state::data) {
    switch (options_.initial_state) {
        case html_text_state::data:
            state_ = state::data;
            break;
        case html_text_state::rcdata:
            state_ = state::rcdata;
            break;
        case html_text_state::rawtext:
            state_ = state::rawtext;
            break;
        case html_text_state::script_data:
            state_ = state::script_data;
            break;
        case html_text_state::plaintext:
            state_ = state::plaintext;
            break;
    }
    last_start_tag_ = options_.last_start_tag;
}

std::optional<std::uint64_t> html_tokenizer::hold_from() const {
    if (holding()) {
        return token_begin_;
    }
    return std::nullopt;
}

bool html_tokenizer::holding() const {
    if (!in_token_ || overflow_) {
        return false;
    }
    switch (state_) {
        case state::markup_decl_open:
        case state::comment_start:
        case state::comment_start_dash:
        case state::comment:
        case state::comment_end_dash:
        case state::comment_end:
        case state::comment_end_bang:
        case state::bogus_comment:
        case state::doctype:
            return false;
        default:
            return true;
    }
}

void html_tokenizer::begin_candidate() {
    token_begin_ = pos_;
    in_token_ = true;
    overflow_ = false;
    from_data_ = false;
}

void html_tokenizer::drop_token() {
    in_token_ = false;
    overflow_ = false;
    attr_open_ = false;
}

void html_tokenizer::start_tag_token(html_token_kind kind) {
    token_.kind = kind;
    token_.name.clear();
    // The attributes' strings go back to spare_ with their buffers, so the next tags' attributes
    // reuse them instead of allocating three strings each.
    for (auto& a : token_.attributes) {
        spare_.push_back(std::move(a));
    }
    token_.attributes.clear();
    token_.self_closing = false;
    token_.data.clear();
    attr_open_ = false;
}

void html_tokenizer::start_comment() {
    start_tag_token(html_token_kind::comment);
}

void html_tokenizer::begin_attribute() {
    finish_attribute();
    if (!spare_.empty()) {
        attr_ = std::move(spare_.back());
        spare_.pop_back();
    }
    attr_.name.clear();
    attr_.raw_value.clear();
    attr_.value.clear();
    attr_open_ = true;
}

void html_tokenizer::finish_attribute() {
    if (!attr_open_) {
        return;
    }
    attr_open_ = false;
    // §13.2.5.33: a later attribute with the same name as an earlier one is dropped.
    if (token_.find(attr_.name) != nullptr) {
        return;
    }
    if (attr_.raw_value.find_first_of("&\r", 0) == std::string::npos &&
        attr_.raw_value.find('\0') == std::string::npos) {
        attr_.value.assign(attr_.raw_value);  // nothing to decode: keep the buffer
    } else {
        attr_.value = decode_attribute_value(attr_.raw_value);
    }
    token_.attributes.push_back(std::move(attr_));
}

void html_tokenizer::append_lowered(std::string& to, unsigned char c) {
    if (overflow_) {
        return;
    }
    if (c == 0) {
        to += replacement_char;
    } else {
        to += to_lower(c);
    }
}

void html_tokenizer::append_attr_value(unsigned char c) {
    if (!overflow_) {
        attr_.raw_value += static_cast<char>(c);
    }
}

void html_tokenizer::append_data(std::string_view s) {
    if (token_.data.size() >= options_.max_token_bytes) {
        return;  // comments are not held back, only their data is capped
    }
    for (char ch : s) {
        if (ch == '\0') {
            token_.data += replacement_char;
        } else {
            token_.data += ch;
        }
    }
}

void html_tokenizer::emit_text_until(std::uint64_t limit) {
    if (limit <= text_from_) {
        return;
    }
    text_token_.kind = html_token_kind::text;
    text_token_.begin = text_from_;
    text_token_.end = limit;
    text_from_ = limit;
    (*handler_)(text_token_);
}

bool html_tokenizer::appropriate_end_tag() const {
    return !overflow_ && !last_start_tag_.empty() && token_.name == last_start_tag_;
}

std::optional<html_tokenizer::state> html_tokenizer::text_state_for(std::string_view tag) const {
    // §13.2.6 tree construction: the elements whose start tag switches the tokenizer. With
    // scripting enabled (the default, as in the browsers we serve) noscript is RAWTEXT too.
    // Asked for every tag: the length decides first.
    switch (tag.size()) {
        case 3:
            return tag == "xmp" ? std::optional{state::rawtext} : std::nullopt;
        case 5:
            return tag == "title"   ? std::optional{state::rcdata}
                   : tag == "style" ? std::optional{state::rawtext}
                                    : std::nullopt;
        case 6:
            return tag == "script"   ? std::optional{state::script_data}
                   : tag == "iframe" ? std::optional{state::rawtext}
                                     : std::nullopt;
        case 7:
            return tag == "noembed" ? std::optional{state::rawtext} : std::nullopt;
        case 8:
            return tag == "textarea" ? std::optional{state::rcdata}
                   : tag == "noframes" || (tag == "noscript" && options_.scripting)
                       ? std::optional{state::rawtext}
                       : std::nullopt;
        case 9:
            return tag == "plaintext" ? std::optional{state::plaintext} : std::nullopt;
        default:
            return std::nullopt;
    }
}

bool html_tokenizer::reported(html_token_kind kind, std::string_view name, bool from_data) const {
    if (wanted_ == nullptr || !from_data) {
        return true;
    }
    return (*wanted_)(kind, name) || (kind == html_token_kind::start_tag &&
                                       options_.follow_tree_builder && text_state_for(name));
}

void html_tokenizer::emit_tag() {
    finish_attribute();
    if (!reported(token_.kind, token_.name, from_data_)) {
        // Not wanted: its bytes stay in the text run, as read_whole_tag would leave them.
        in_token_ = false;
        overflow_ = false;
        state_ = state::data;
        return;
    }
    emit_reported_tag();
}

void html_tokenizer::emit_reported_tag() {
    emit_text_until(token_begin_);
    token_.begin = token_begin_;
    token_.end = pos_ + 1;
    token_.truncated = overflow_;
    const bool start = token_.kind == html_token_kind::start_tag;
    if (start) {
        last_start_tag_ = token_.name;
    }
    (*handler_)(token_);
    text_from_ = token_.end;
    in_token_ = false;
    overflow_ = false;
    state_ = state::data;
    if (start && options_.follow_tree_builder) {
        if (const auto next = text_state_for(token_.name)) {
            state_ = *next;
        }
    }
}

void html_tokenizer::emit_comment(std::uint64_t end) {
    emit_text_until(token_begin_);
    token_.data = normalize_newlines(token_.data);
    token_.begin = token_begin_;
    token_.end = end;
    token_.truncated = false;
    (*handler_)(token_);
    text_from_ = end;
    in_token_ = false;
    state_ = state::data;
}

// Consumes one byte in the current state. Returns true when the byte must be reconsumed in
// the new state ("reconsume in the ... state" in the spec).
bool html_tokenizer::step(unsigned char c) {
    switch (state_) {
        case state::data:
            if (c == '<') {
                begin_candidate();
                from_data_ = true;
                state_ = state::tag_open;
            }
            return false;
        case state::rcdata:
        case state::rawtext:
            if (c == '<') {
                begin_candidate();
                end_return_ = state_;
                state_ = state::raw_lt;
            }
            return false;
        case state::script_data:
            if (c == '<') {
                begin_candidate();
                state_ = state::script_lt;
            }
            return false;
        case state::plaintext:
            return false;
        case state::tag_open:
            if (c == '!') {
                buffer_.clear();
                state_ = state::markup_decl_open;
                return false;
            }
            if (c == '/') {
                state_ = state::end_tag_open;
                return false;
            }
            if (is_alpha(c)) {
                start_tag_token(html_token_kind::start_tag);
                state_ = state::tag_name;
                return true;
            }
            if (c == '?') {
                start_comment();
                state_ = state::bogus_comment;
                return true;
            }
            drop_token();  // "<" was text
            state_ = state::data;
            return true;
        case state::end_tag_open:
            if (is_alpha(c)) {
                start_tag_token(html_token_kind::end_tag);
                state_ = state::tag_name;
                return true;
            }
            if (c == '>') {
                drop_token();  // "</>" is dropped by browsers; we copy it as text
                state_ = state::data;
                return false;
            }
            start_comment();
            state_ = state::bogus_comment;
            return true;
        case state::tag_name:
            if (is_space(c)) {
                state_ = state::before_attr_name;
            } else if (c == '/') {
                state_ = state::self_closing;
            } else if (c == '>') {
                emit_tag();
            } else {
                append_lowered(token_.name, c);
            }
            return false;
        case state::raw_lt:
            if (c == '/') {
                state_ = state::raw_end_tag_open;
                return false;
            }
            drop_token();
            state_ = end_return_;
            return true;
        case state::script_lt:
            if (c == '/') {
                end_return_ = state::script_data;
                state_ = state::raw_end_tag_open;
                return false;
            }
            drop_token();
            if (c == '!') {
                state_ = state::script_escape_start;
                return false;
            }
            state_ = state::script_data;
            return true;
        case state::raw_end_tag_open:
            if (is_alpha(c)) {
                start_tag_token(html_token_kind::end_tag);
                state_ = state::raw_end_tag_name;
                return true;
            }
            drop_token();
            state_ = end_return_;
            return true;
        case state::raw_end_tag_name:
            if ((is_space(c) || c == '/' || c == '>') && appropriate_end_tag()) {
                if (c == '>') {
                    emit_tag();
                } else {
                    state_ = c == '/' ? state::self_closing : state::before_attr_name;
                }
                return false;
            }
            if (is_alpha(c)) {
                append_lowered(token_.name, c);
                return false;
            }
            drop_token();  // "</" and the name were text
            state_ = end_return_;
            return true;
        case state::script_escape_start:
            if (c == '-') {
                state_ = state::script_escape_start_dash;
                return false;
            }
            state_ = state::script_data;
            return true;
        case state::script_escape_start_dash:
            if (c == '-') {
                state_ = state::script_escaped_dash_dash;
                return false;
            }
            state_ = state::script_data;
            return true;
        case state::script_escaped:
        case state::script_escaped_dash:
        case state::script_escaped_dash_dash:
            if (c == '<') {
                begin_candidate();
                state_ = state::script_escaped_lt;
            } else if (c == '-') {
                state_ = state_ == state::script_escaped ? state::script_escaped_dash
                                                         : state::script_escaped_dash_dash;
            } else if (c == '>' && state_ == state::script_escaped_dash_dash) {
                state_ = state::script_data;
            } else {
                state_ = state::script_escaped;
            }
            return false;
        case state::script_escaped_lt:
            if (c == '/') {
                end_return_ = state::script_escaped;
                state_ = state::raw_end_tag_open;
                return false;
            }
            drop_token();
            if (is_alpha(c)) {
                buffer_.clear();
                state_ = state::script_double_escape_start;
                return true;
            }
            state_ = state::script_escaped;
            return true;
        case state::script_double_escape_start:
        case state::script_double_escape_end:
            if (is_space(c) || c == '/' || c == '>') {
                const bool script = buffer_ == "script";
                if (state_ == state::script_double_escape_start) {
                    state_ = script ? state::script_double_escaped : state::script_escaped;
                } else {
                    state_ = script ? state::script_escaped : state::script_double_escaped;
                }
                return false;
            }
            if (is_alpha(c)) {
                if (buffer_.size() < 7) {  // only "script" matters; 7 letters already differ
                    buffer_ += to_lower(c);
                }
                return false;
            }
            state_ = state_ == state::script_double_escape_start ? state::script_escaped
                                                                 : state::script_double_escaped;
            return true;
        case state::script_double_escaped:
        case state::script_double_escaped_dash:
        case state::script_double_escaped_dash_dash:
            if (c == '<') {
                state_ = state::script_double_escaped_lt;
            } else if (c == '-') {
                state_ = state_ == state::script_double_escaped
                             ? state::script_double_escaped_dash
                             : state::script_double_escaped_dash_dash;
            } else if (c == '>' && state_ == state::script_double_escaped_dash_dash) {
                state_ = state::script_data;
            } else {
                state_ = state::script_double_escaped;
            }
            return false;
        case state::script_double_escaped_lt:
            if (c == '/') {
                buffer_.clear();
                state_ = state::script_double_escape_end;
                return false;
            }
            state_ = state::script_double_escaped;
            return true;
        case state::before_attr_name:
            if (is_space(c)) {
                return false;
            }
            if (c == '/' || c == '>') {
                state_ = state::after_attr_name;
                return true;
            }
            begin_attribute();
            if (c == '=') {
                append_lowered(attr_.name, c);
                state_ = state::attr_name;
                return false;
            }
            state_ = state::attr_name;
            return true;
        case state::attr_name:
            if (is_space(c) || c == '/' || c == '>') {
                state_ = state::after_attr_name;
                return true;
            }
            if (c == '=') {
                state_ = state::before_attr_value;
            } else {
                append_lowered(attr_.name, c);
            }
            return false;
        case state::after_attr_name:
            if (is_space(c)) {
                return false;
            }
            if (c == '/') {
                state_ = state::self_closing;
            } else if (c == '=') {
                state_ = state::before_attr_value;
            } else if (c == '>') {
                emit_tag();
            } else {
                begin_attribute();
                state_ = state::attr_name;
                return true;
            }
            return false;
        case state::before_attr_value:
            if (is_space(c)) {
                return false;
            }
            if (c == '"') {
                state_ = state::attr_value_dq;
            } else if (c == '\'') {
                state_ = state::attr_value_sq;
            } else if (c == '>') {
                emit_tag();
            } else {
                state_ = state::attr_value_unq;
                return true;
            }
            return false;
        case state::attr_value_dq:
        case state::attr_value_sq:
            if (c == (state_ == state::attr_value_dq ? '"' : '\'')) {
                state_ = state::after_attr_value_quoted;
            } else {
                append_attr_value(c);
            }
            return false;
        case state::attr_value_unq:
            if (is_space(c)) {
                state_ = state::before_attr_name;
            } else if (c == '>') {
                emit_tag();
            } else {
                append_attr_value(c);
            }
            return false;
        case state::after_attr_value_quoted:
            if (is_space(c)) {
                state_ = state::before_attr_name;
            } else if (c == '/') {
                state_ = state::self_closing;
            } else if (c == '>') {
                emit_tag();
            } else {
                state_ = state::before_attr_name;
                return true;
            }
            return false;
        case state::self_closing:
            if (c == '>') {
                token_.self_closing = true;
                emit_tag();
                return false;
            }
            state_ = state::before_attr_name;
            return true;
        case state::markup_decl_open: {
            buffer_ += static_cast<char>(c);
            if (buffer_ == "--") {
                start_comment();
                state_ = state::comment_start;
                return false;
            }
            constexpr std::string_view doctype_word = "doctype";
            constexpr std::string_view cdata_word = "[CDATA[";
            bool doctype_prefix = buffer_.size() <= doctype_word.size();
            for (std::size_t i = 0; doctype_prefix && i < buffer_.size(); ++i) {
                doctype_prefix =
                    to_lower(static_cast<unsigned char>(buffer_[i])) == doctype_word[i];
            }
            if (doctype_prefix && buffer_.size() == doctype_word.size()) {
                start_tag_token(html_token_kind::doctype);
                state_ = state::doctype;
                return false;
            }
            const bool cdata_prefix = cdata_word.starts_with(buffer_);
            if (cdata_prefix && buffer_.size() == cdata_word.size()) {
                // §13.2.5.42: outside foreign content CDATA becomes a bogus comment.
                start_comment();
                append_data(buffer_);
                state_ = state::bogus_comment;
                return false;
            }
            if (doctype_prefix || cdata_prefix || buffer_ == "-") {
                return false;
            }
            start_comment();
            append_data(std::string_view{buffer_}.substr(0, buffer_.size() - 1));
            state_ = state::bogus_comment;
            return true;
        }
        case state::comment_start:
            if (c == '-') {
                state_ = state::comment_start_dash;
            } else if (c == '>') {
                emit_comment(pos_ + 1);
            } else {
                state_ = state::comment;
                return true;
            }
            return false;
        case state::comment_start_dash:
            if (c == '-') {
                state_ = state::comment_end;
            } else if (c == '>') {
                emit_comment(pos_ + 1);
            } else {
                append_data("-");
                state_ = state::comment;
                return true;
            }
            return false;
        case state::comment:
            if (c == '-') {
                state_ = state::comment_end_dash;
            } else {
                const char ch = static_cast<char>(c);
                append_data(std::string_view{&ch, 1});
            }
            return false;
        case state::comment_end_dash:
            if (c == '-') {
                state_ = state::comment_end;
                return false;
            }
            append_data("-");
            state_ = state::comment;
            return true;
        case state::comment_end:
            if (c == '>') {
                emit_comment(pos_ + 1);
            } else if (c == '!') {
                state_ = state::comment_end_bang;
            } else if (c == '-') {
                append_data("-");
            } else {
                append_data("--");
                state_ = state::comment;
                return true;
            }
            return false;
        case state::comment_end_bang:
            if (c == '-') {
                append_data("--!");
                state_ = state::comment_end_dash;
            } else if (c == '>') {
                emit_comment(pos_ + 1);  // "--!>" closes a comment (§13.2.5.52)
            } else {
                append_data("--!");
                state_ = state::comment;
                return true;
            }
            return false;
        case state::bogus_comment:
            if (c == '>') {
                emit_comment(pos_ + 1);
            } else {
                const char ch = static_cast<char>(c);
                append_data(std::string_view{&ch, 1});
            }
            return false;
        case state::doctype:
            // A '>' ends a DOCTYPE in every DOCTYPE state, even inside a quoted identifier.
            if (c == '>') {
                emit_comment(pos_ + 1);
            }
            return false;
    }
    return false;
}

std::size_t html_tokenizer::skip_run(std::string_view rest) {
    // Runs of bytes a state only passes over are found in one go instead of one step() each:
    // text and script data up to the next '<', names, quoted attribute values up to their quote.
    const auto until = [&](char stop) {
        const void* hit = std::memchr(rest.data(), stop, rest.size());
        return hit == nullptr ? rest.size()
                              : static_cast<std::size_t>(static_cast<const char*>(hit) - rest.data());
    };
    switch (state_) {
        case state::data:
        case state::rcdata:
        case state::rawtext:
        case state::script_data:
            return until('<');
        case state::plaintext:
            return rest.size();
        case state::tag_name:
        case state::attr_name: {
            if (overflow_) {
                return 0;
            }
            // Lower-case letters, digits and the usual punctuation of names go in unchanged;
            // anything else (upper case, NUL, what ends the name) goes through step().
            std::size_t n = 0;
            while (n < rest.size()) {
                const auto c = static_cast<unsigned char>(rest[n]);
                if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
                      c == ':' || c == '.')) {
                    break;
                }
                ++n;
            }
            const std::uint64_t room = token_begin_ + options_.max_token_bytes - pos_;
            const std::size_t run = static_cast<std::size_t>(std::min<std::uint64_t>(n, room));
            (state_ == state::tag_name ? token_.name : attr_.name).append(rest.data(), run);
            return run;
        }
        case state::attr_value_dq:
        case state::attr_value_sq: {
            if (overflow_) {
                return 0;
            }
            const std::size_t n = until(state_ == state::attr_value_dq ? '"' : '\'');
            // Stay within the token bound: the byte that crosses it goes through step().
            const std::uint64_t room = token_begin_ + options_.max_token_bytes - pos_;
            const std::size_t run = static_cast<std::size_t>(std::min<std::uint64_t>(n, room));
            attr_.raw_value.append(rest.data(), run);
            return run;
        }
        default:
            return 0;
    }
}

namespace {

// What ends a run of bytes inside a tag, per state (skip_unreported_tag).
constexpr std::uint8_t tag_space = 1;
constexpr std::uint8_t tag_slash = 2;
constexpr std::uint8_t tag_gt = 4;
constexpr std::uint8_t tag_eq = 8;
constexpr std::array<std::uint8_t, 256> tag_bytes = [] {
    std::array<std::uint8_t, 256> t{};
    for (const char c : {'\t', '\n', '\f', '\r', ' '}) {
        t[static_cast<unsigned char>(c)] = tag_space;
    }
    t['/'] = tag_slash;
    t['>'] = tag_gt;
    t['='] = tag_eq;
    return t;
}();

// The first index from `i` on (at most n) whose byte is in `stop`.
std::size_t find_tag_byte(std::string_view s, std::size_t i, std::size_t n, std::uint8_t stop) {
    while (i < n && (tag_bytes[static_cast<unsigned char>(s[i])] & stop) == 0) {
        ++i;
    }
    return i;
}

// The first index from `i` on (at most n) that is no whitespace.
std::size_t skip_tag_spaces(std::string_view s, std::size_t i, std::size_t n) {
    while (i < n && tag_bytes[static_cast<unsigned char>(s[i])] == tag_space) {
        ++i;
    }
    return i;
}

}  // namespace

std::size_t html_tokenizer::read_whole_tag(std::string_view s, bool& report) {
    // The states from tag open to the end of the tag (§13.2.5.6 onwards) over bytes that are all
    // here. Anything unusual (a NUL, a very long name, many attributes, a tag longer than the
    // hold cap, whose name step() may cut; the end of the chunk) is left to step().
    const std::size_t n = std::min(s.size(), options_.max_token_bytes);
    std::size_t i = 1;
    html_token_kind kind = html_token_kind::start_tag;
    if (i < n && s[i] == '/') {
        kind = html_token_kind::end_tag;
        ++i;
    }
    if (i >= n || !is_alpha(static_cast<unsigned char>(s[i]))) {
        return 0;
    }
    std::array<char, 24> name{};
    std::size_t length = 0;
    for (; i < n; ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if ((tag_bytes[c] & (tag_space | tag_slash | tag_gt)) != 0) {
            break;
        }
        if (c == 0 || length == name.size()) {
            return 0;
        }
        name[length++] = to_lower(c);
    }
    if (i >= n) {
        return 0;
    }
    report = reported(kind, {name.data(), length}, true);
    // Where each attribute's name and value are (value_from == value_to: empty or none).
    struct span {
        std::uint32_t name_from, name_to, value_from, value_to;
    };
    std::array<span, 32> spans;  // NOLINT(cppcoreguidelines-pro-type-member-init): up to count
    std::size_t count = 0;
    enum class at : std::uint8_t {
        before_name,
        attr_name,
        after_name,
        before_value,
        unquoted,
        after_quoted,
        self_closing
    };
    at st = at::before_name;
    std::size_t end = 0;  // one past the '>'
    bool self_closing = false;
    if (s[i] == '>') {
        end = i + 1;
    } else if (s[i] == '/') {
        st = at::self_closing;
    }
    const auto here = [](std::size_t at_index) { return static_cast<std::uint32_t>(at_index); };
    // A new attribute whose name starts at `from`; false when there are too many for spans.
    const auto open_attribute = [&](std::size_t from) {
        if (count == spans.size()) {
            return false;
        }
        spans[count++] = {here(from), here(from), 0, 0};
        return true;
    };
    if (end == 0) {
        ++i;
    }
    while (end == 0 && i < n) {
        switch (st) {
            case at::before_name:
                i = skip_tag_spaces(s, i, n);
                if (i < n) {
                    if (s[i] == '/' || s[i] == '>') {
                        st = at::after_name;
                    } else {
                        if (!open_attribute(i)) {
                            return 0;
                        }
                        st = at::attr_name;
                        i += s[i] == '=' ? 1U : 0U;  // '=' here starts a name
                    }
                }
                break;
            case at::attr_name:
                i = find_tag_byte(s, i, n, tag_space | tag_slash | tag_gt | tag_eq);
                if (i < n) {
                    spans[count - 1].name_to = here(i);
                    if (s[i] == '=') {
                        st = at::before_value;
                        ++i;
                    } else {
                        st = at::after_name;
                    }
                }
                break;
            case at::after_name:
                i = skip_tag_spaces(s, i, n);
                if (i < n) {
                    const char c = s[i];
                    if (c == '>') {
                        end = i + 1;
                    } else if (c == '/' || c == '=') {
                        st = c == '/' ? at::self_closing : at::before_value;
                        ++i;
                    } else {
                        if (!open_attribute(i)) {
                            return 0;
                        }
                        st = at::attr_name;
                    }
                }
                break;
            case at::before_value:
                i = skip_tag_spaces(s, i, n);
                if (i < n) {
                    const char c = s[i];
                    if (c == '>') {
                        end = i + 1;
                    } else if (c == '"' || c == '\'') {
                        const void* close = std::memchr(s.data() + i + 1, c, n - i - 1);
                        if (close == nullptr) {
                            return 0;
                        }
                        const auto to =
                            static_cast<std::size_t>(static_cast<const char*>(close) - s.data());
                        spans[count - 1].value_from = here(i + 1);
                        spans[count - 1].value_to = here(to);
                        i = to + 1;
                        st = at::after_quoted;
                    } else {
                        spans[count - 1].value_from = here(i);
                        st = at::unquoted;
                    }
                }
                break;
            case at::unquoted:
                i = find_tag_byte(s, i, n, tag_space | tag_gt);
                if (i < n) {
                    spans[count - 1].value_to = here(i);
                    if (s[i] == '>') {
                        end = i + 1;
                    } else {
                        st = at::before_name;
                        ++i;
                    }
                }
                break;
            case at::after_quoted:
            case at::self_closing: {
                const char c = s[i];
                if (c == '>') {
                    self_closing = st == at::self_closing;
                    end = i + 1;
                } else if (st == at::after_quoted && (tag_bytes[static_cast<unsigned char>(c)] &
                                                      (tag_space | tag_slash)) != 0) {
                    st = c == '/' ? at::self_closing : at::before_name;
                    ++i;
                } else {
                    st = at::before_name;
                }
                break;
            }
        }
    }
    if (end == 0) {
        return 0;
    }
    if (!report) {
        return end;
    }
    if (std::memchr(s.data(), 0, end) != nullptr) {
        return 0;  // NUL becomes U+FFFD in names: step() knows how
    }
    start_tag_token(kind);
    token_.name.assign(name.data(), length);
    token_.self_closing = self_closing;
    for (std::size_t k = 0; k < count; ++k) {
        const span& a = spans[k];
        begin_attribute();
        for (std::uint32_t j = a.name_from; j < a.name_to; ++j) {
            attr_.name += to_lower(static_cast<unsigned char>(s[j]));
        }
        attr_.raw_value.assign(s.data() + a.value_from, a.value_to - a.value_from);
    }
    finish_attribute();
    return end;
}

void html_tokenizer::feed(std::string_view chunk, bool last, const token_handler& on_token,
                          const tag_filter* wanted) {
    handler_ = &on_token;
    wanted_ = wanted;
    for (std::size_t i = 0; i < chunk.size();) {
        const std::size_t run = skip_run(chunk.substr(i));
        i += run;
        pos_ += run;
        if (i == chunk.size()) {
            break;
        }
        if (wanted_ != nullptr && state_ == state::data) {
            // At a '<': a tag that is all here is read in one go, and passed over when nobody
            // wants it.
            bool report = false;
            if (const std::size_t tag = read_whole_tag(chunk.substr(i), report); tag != 0) {
                if (report) {
                    // token_ is filled: emit it as step() would at its '>'.
                    token_begin_ = pos_;
                    from_data_ = true;
                    overflow_ = false;
                    pos_ += tag - 1;
                    emit_reported_tag();
                    ++pos_;
                } else {
                    pos_ += tag;
                }
                i += tag;
                continue;
            }
        }
        const auto c = static_cast<unsigned char>(chunk[i]);
        while (step(c)) {
        }
        ++pos_;
        ++i;
        if (in_token_ && !overflow_ && pos_ - token_begin_ > options_.max_token_bytes &&
            holding()) {
            overflow_ = true;  // give up holding the tag; keep parsing it to stay in step
        }
    }
    if (last) {
        switch (state_) {
            case state::markup_decl_open:
                start_comment();
                append_data(buffer_);
                emit_comment(pos_);
                break;
            case state::comment_start:
            case state::comment_start_dash:
            case state::comment:
            case state::comment_end_dash:
            case state::comment_end:
            case state::comment_end_bang:
            case state::bogus_comment:
            case state::doctype:
                emit_comment(pos_);
                break;
            default:
                drop_token();  // an unfinished tag is dropped (eof-in-tag); we copy it as text
                break;
        }
        emit_text_until(pos_);
    } else {
        emit_text_until(in_token_ ? token_begin_ : pos_);
    }
    handler_ = nullptr;
    wanted_ = nullptr;
}

}  // namespace cg::banner
