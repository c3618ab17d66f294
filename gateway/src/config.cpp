#include "gateway/config.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <exception>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <system_error>
#include <utility>

#include <boost/asio/ip/address_v4.hpp>
#include <boost/asio/ip/address_v6.hpp>
#include <boost/system/error_code.hpp>
#include <nlohmann/json.hpp>

namespace cg::gateway {

namespace {

namespace ip = boost::asio::ip;
using json = nlohmann::json;

// Real configurations nest four levels deep; the limit only keeps hostile documents from
// building millions of nodes.
constexpr std::size_t max_depth = 64;
// How much of an offending value a message quotes (STYLE.md §6: say what was found, briefly).
constexpr std::size_t preview_chars = 40;
// How much of nlohmann's parse-error text a message keeps ("last read" can be a whole string).
constexpr std::size_t reason_chars = 200;
// A configuration file is a few KiB; the cap also stops load_config on /dev/zero and the like.
constexpr std::size_t max_file_bytes = 16 * 1024 * 1024;

constexpr std::uint64_t max_timeout_ms = 86'400'000;  // one day

constexpr std::array<std::string_view, 8> top_keys{
    "listen",          "admin",  "workers", "shutdown_timeout_ms",
    "trusted_proxies", "limits", "log",     "sites"};
constexpr std::array<std::string_view, 2> listen_keys{"address", "port"};
constexpr std::array<std::string_view, 3> admin_keys{"address", "port", "token"};
constexpr std::array<std::string_view, 8> limits_keys{
    "header_bytes",           "header_count",    "body_bytes",
    "header_timeout_ms",      "idle_timeout_ms", "body_timeout_ms",
    "tunnel_idle_timeout_ms", "max_connections"};
constexpr std::array<std::string_view, 2> log_keys{"level", "access"};
constexpr std::array<std::string_view, 5> site_keys{"name", "hosts", "upstream", "upstream_options",
                                                    "preserve_host"};
constexpr std::array<std::string_view, 4> upstream_option_keys{
    "connect_timeout_ms", "read_timeout_ms", "idle_timeout_ms", "max_idle"};

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

std::string child(const std::string& pointer, std::string_view key) {
    return pointer + "/" + pointer_token(key);
}

std::string child(const std::string& pointer, std::size_t index) {
    return pointer + "/" + std::to_string(index);
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

char ascii_lower(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), ascii_lower);
    return out;
}

bool starts_with_icase(std::string_view s, std::string_view prefix) {
    return s.size() >= prefix.size() && lower(s.substr(0, prefix.size())) == prefix;
}

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

// Decimal 1-65535 without sign or spaces.
std::optional<std::uint16_t> parse_port(std::string_view s) {
    if (s.empty() || s.size() > 5 || !std::all_of(s.begin(), s.end(), is_digit)) {
        return std::nullopt;
    }
    unsigned value = 0;
    for (const char c : s) {
        value = value * 10 + static_cast<unsigned>(c - '0');
    }
    if (value < 1 || value > 65535) {
        return std::nullopt;
    }
    return static_cast<std::uint16_t>(value);
}

// A DNS-style name: letters, digits, '-', '_' and '.', no empty label except a final dot.
bool is_host_name(std::string_view s) {
    if (s.empty() || s.front() == '.' || s.find("..") != std::string_view::npos) {
        return false;
    }
    return std::all_of(s.begin(), s.end(), [](char c) {
        const char l = ascii_lower(c);
        return (l >= 'a' && l <= 'z') || is_digit(l) || l == '-' || l == '_' || l == '.';
    });
}

// A name or IPv4 literal. Something that looks like a dotted quad must be a valid one.
bool is_name_or_ipv4(std::string_view s) {
    if (!is_host_name(s)) {
        return false;
    }
    if (std::all_of(s.begin(), s.end(), [](char c) { return is_digit(c) || c == '.'; })) {
        boost::system::error_code ec;
        ip::make_address_v4(std::string(s), ec);
        return !ec;
    }
    return true;
}

bool is_ipv6_literal(std::string_view s) {
    boost::system::error_code ec;
    ip::make_address_v6(std::string(s), ec);
    return !ec;
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

// Offset of the first '[' or '{' nested deeper than `depth`. Only called after the SAX parser
// stopped there, so the text before it is valid JSON and string tracking is exact.
std::size_t offset_beyond_depth(std::string_view text, std::size_t depth) {
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
    const std::vector<std::string>& duplicates() const { return duplicates_; }

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

// ---------------------------------------------------------------------------------------------
// Validation

struct uint_range {
    std::uint64_t min;
    std::uint64_t max;
};

std::string range_text(uint_range r) {
    return std::to_string(r.min) + "-" + std::to_string(r.max);
}

const json* member(const json& object, std::string_view key) {
    const auto it = object.find(key);
    return it == object.end() ? nullptr : &*it;
}

std::optional<ip::address> parse_ip(std::string_view s) {
    boost::system::error_code ec;
    auto a = ip::make_address(std::string(s), ec);
    if (ec) {
        return std::nullopt;
    }
    return a;
}

bool is_loopback(const ip::address& a) {
    if (a.is_v6() && a.to_v6().is_v4_mapped()) {
        return ip::make_address_v4(ip::v4_mapped, a.to_v6()).is_loopback();
    }
    return a.is_loopback();
}

template <std::size_t N>
std::array<unsigned char, N> masked(std::array<unsigned char, N> bytes, unsigned prefix) {
    for (std::size_t i = 0; i < N; ++i) {
        const std::size_t first_bit = i * 8;
        if (prefix <= first_bit) {
            bytes[i] = 0;
        } else if (prefix < first_bit + 8) {
            const unsigned keep = prefix - static_cast<unsigned>(first_bit);
            bytes[i] = static_cast<unsigned char>(bytes[i] & (0xFFU << (8 - keep)));
        }
    }
    return bytes;
}

// The network address with the bits past the prefix cleared, so "10.1.2.3/8" means 10.0.0.0/8.
ip::address network_of(const ip::address& a, unsigned prefix) {
    if (a.is_v4()) {
        return ip::address_v4(masked(a.to_v4().to_bytes(), prefix));
    }
    return ip::address_v6(masked(a.to_v6().to_bytes(), prefix));
}

class validator {
  public:
    explicit validator(std::string_view source) : source_(source) {}

    void fail(const std::string& pointer, std::string_view reason) {
        problems_.push_back(source_ + ": " + pointer + ": " + std::string(reason));
    }

    std::vector<std::string>& problems() { return problems_; }

    config read(const json& doc) {
        config c;
        if (!doc.is_object()) {
            problems_.push_back(source_ + ": the document must be a JSON object" + got(doc));
            return c;
        }
        check_object(doc, "", top_keys);
        if (const json* v = member(doc, "listen")) {
            read_listen(*v, "/listen", c.listen);
        }
        std::optional<ip::address> admin_address = ip::address(ip::address_v4::loopback());
        if (const json* v = member(doc, "admin")) {
            admin_address = read_admin(*v, "/admin", c.admin);
        }
        if (admin_address && !is_loopback(*admin_address) && c.admin.token.empty()) {
            fail("/admin/token", "required when the admin listener is not on loopback");
        }
        read_uint(doc, "", "workers", c.workers, {0, 1024});
        read_millis(doc, "", "shutdown_timeout_ms", c.shutdown_timeout);
        if (const json* v = member(doc, "trusted_proxies")) {
            read_trusted_proxies(*v, "/trusted_proxies", c.trusted_proxies);
        }
        if (const json* v = member(doc, "limits")) {
            read_limits(*v, "/limits", c.limits);
        }
        if (const json* v = member(doc, "log")) {
            read_log(*v, "/log", c.log);
        }
        read_sites(doc, c.sites);
        return c;
    }

  private:
    bool check_object(const json& v, const std::string& pointer,
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
    template <typename T>
    void read_uint(const json& object, const std::string& pointer, std::string_view key, T& out,
                   uint_range range) {
        const json* v = member(object, key);
        if (v == nullptr) {
            return;
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
                return;
            }
            value = static_cast<std::uint64_t>(i);
        } else if (v->is_number_float()) {
            const double d = v->get<double>();
            if (std::floor(d) != d) {
                fail(here, "must be a whole number" + got(*v));
                return;
            }
            // 2^64 is exactly representable; anything at or above it does not fit.
            if (d < 0 || d >= 18446744073709551616.0) {
                fail(here, out_of_range);
                return;
            }
            value = static_cast<std::uint64_t>(d);
        } else {
            fail(here, out_of_range);
            return;
        }
        if (value < range.min || value > range.max) {
            fail(here, out_of_range);
            return;
        }
        out = static_cast<T>(value);
    }

    void read_millis(const json& object, const std::string& pointer, std::string_view key,
                     millis& out) {
        std::uint64_t ms = static_cast<std::uint64_t>(out.count());
        read_uint(object, pointer, key, ms, {1, max_timeout_ms});
        out = millis{static_cast<millis::rep>(ms)};
    }

    void read_bool(const json& object, const std::string& pointer, std::string_view key,
                   bool& out) {
        const json* v = member(object, key);
        if (v == nullptr) {
            return;
        }
        if (!v->is_boolean()) {
            fail(child(pointer, key), "must be true or false" + got(*v));
            return;
        }
        out = v->get<bool>();
    }

    // Returns the string if present and a string; reports a wrong type.
    const std::string* read_string(const json& object, const std::string& pointer,
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

    // Returns the parsed address: the one read, the default if absent, nullopt if invalid.
    std::optional<ip::address> read_ip(const json& object, const std::string& pointer,
                                       std::string& out) {
        const json* v = member(object, "address");
        if (v == nullptr) {
            return parse_ip(out);
        }
        const std::string here = child(pointer, "address");
        if (!v->is_string()) {
            fail(here, "must be a string" + got(*v));
            return std::nullopt;
        }
        const auto& s = v->get_ref<const std::string&>();
        auto a = parse_ip(s);
        if (!a) {
            fail(here, "must be an IPv4 or IPv6 address such as 127.0.0.1 or ::1" + got(*v));
            return std::nullopt;
        }
        out = s;
        return a;
    }

    void read_listen(const json& v, const std::string& pointer, listen_config& out) {
        if (!check_object(v, pointer, listen_keys)) {
            return;
        }
        read_ip(v, pointer, out.address);
        // 0 lets the kernel choose; the chosen port is logged in the "listening" line.
        read_uint(v, pointer, "port", out.port, {0, 65535});
    }

    std::optional<ip::address> read_admin(const json& v, const std::string& pointer,
                                          admin_config& out) {
        if (!check_object(v, pointer, admin_keys)) {
            return std::nullopt;  // the token rule cannot be judged without an address
        }
        auto address = read_ip(v, pointer, out.address);
        read_uint(v, pointer, "port", out.port, {0, 65535});
        if (const std::string* token = read_string(v, pointer, "token")) {
            out.token = *token;
        } else if (member(v, "token") != nullptr) {
            return std::nullopt;  // already reported as the wrong type
        }
        return address;
    }

    void read_trusted_proxies(const json& v, const std::string& pointer, std::vector<cidr>& out) {
        if (!v.is_array()) {
            fail(pointer, "must be a list of addresses or CIDR ranges" + got(v));
            return;
        }
        for (std::size_t i = 0; i < v.size(); ++i) {
            const json& e = v[i];
            const std::string here = child(pointer, i);
            if (!e.is_string()) {
                fail(here, "must be a string" + got(e));
                continue;
            }
            if (auto range = parse_cidr(e.get_ref<const std::string&>(), here)) {
                out.push_back(*range);
            }
        }
    }

    std::optional<cidr> parse_cidr(std::string_view s, const std::string& here) {
        const auto slash = s.find('/');
        const auto address = parse_ip(s.substr(0, slash));
        if (!address) {
            fail(here, literal(s) + " is not an IP address or CIDR range (like 10.0.0.0/8)");
            return std::nullopt;
        }
        const unsigned width = address->is_v4() ? 32 : 128;
        unsigned prefix = width;
        if (slash != std::string_view::npos) {
            const auto digits = s.substr(slash + 1);
            bool ok = !digits.empty() && digits.size() <= 3 &&
                      std::all_of(digits.begin(), digits.end(), is_digit);
            if (ok) {
                prefix = 0;
                for (const char c : digits) {
                    prefix = prefix * 10 + static_cast<unsigned>(c - '0');
                }
                ok = prefix <= width;
            }
            if (!ok) {
                fail(here, "prefix must be 0-" + std::to_string(width) + " for an " +
                               (address->is_v4() ? "IPv4" : "IPv6") + " range (got " + literal(s) +
                               ")");
                return std::nullopt;
            }
        }
        return cidr{network_of(*address, prefix), prefix};
    }

    void read_limits(const json& v, const std::string& pointer, limits_config& out) {
        if (!check_object(v, pointer, limits_keys)) {
            return;
        }
        read_uint(v, pointer, "header_bytes", out.header_bytes, {1024, 1024 * 1024});
        read_uint(v, pointer, "header_count", out.header_count, {1, 10000});
        read_uint(v, pointer, "body_bytes", out.body_bytes,
                  {0, std::numeric_limits<std::uint64_t>::max()});
        read_millis(v, pointer, "header_timeout_ms", out.header_timeout);
        read_millis(v, pointer, "idle_timeout_ms", out.idle_timeout);
        read_millis(v, pointer, "body_timeout_ms", out.body_timeout);
        read_millis(v, pointer, "tunnel_idle_timeout_ms", out.tunnel_idle_timeout);
        read_uint(v, pointer, "max_connections", out.max_connections, {1, 1'000'000});
    }

    void read_log(const json& v, const std::string& pointer, log_config& out) {
        if (!check_object(v, pointer, log_keys)) {
            return;
        }
        if (const json* level = member(v, "level")) {
            static constexpr std::array<std::pair<std::string_view, log_level>, 4> levels{{
                {"debug", log_level::debug},
                {"info", log_level::info},
                {"warn", log_level::warn},
                {"error", log_level::error},
            }};
            const auto it = std::find_if(levels.begin(), levels.end(), [&](const auto& l) {
                return level->is_string() && level->get_ref<const std::string&>() == l.first;
            });
            if (it == levels.end()) {
                fail(child(pointer, "level"),
                     "must be one of debug, info, warn, error" + got(*level));
            } else {
                out.level = it->second;
            }
        }
        read_bool(v, pointer, "access", out.access);
    }

    void read_sites(const json& doc, std::vector<site_config>& out) {
        const std::string pointer = "/sites";
        const json* v = member(doc, "sites");
        if (v != nullptr && !v->is_array()) {
            fail(pointer, "must be a list of sites" + got(*v));
            return;
        }
        if (v == nullptr || v->empty()) {
            fail(pointer, "must list at least one site");
            return;
        }
        std::map<std::string, std::string> name_owner;  // name → pointer of the first site
        std::map<std::string, std::pair<std::size_t, std::string>> host_owner;  // → site, label
        for (std::size_t i = 0; i < v->size(); ++i) {
            const json& s = (*v)[i];
            const std::string here = child(pointer, i);
            site_config site;
            if (!check_object(s, here, site_keys)) {
                continue;
            }
            const bool name_ok = read_site_name(s, here, site.name);
            if (name_ok) {
                if (const auto [it, fresh] = name_owner.emplace(site.name, here); !fresh) {
                    fail(child(here, "name"),
                         literal(site.name) + " is already the name of " + it->second);
                }
            }
            const std::string label =
                name_ok ? "site " + literal(site.name) : "the site at " + here;
            read_hosts(s, here, site.hosts);
            for (std::size_t h = 0; h < site.hosts.size(); ++h) {
                const auto [it, fresh] = host_owner.emplace(site.hosts[h], std::pair{i, label});
                if (fresh) {
                    continue;
                }
                const std::string at = child(child(here, "hosts"), h);
                if (it->second.first == i) {
                    fail(at, literal(site.hosts[h]) + " is listed twice in " + label);
                } else {
                    fail(at, literal(site.hosts[h]) + " is listed by both " + it->second.second +
                                 " and " + label);
                }
            }
            read_upstream(s, here, site.upstream);
            if (const json* options = member(s, "upstream_options")) {
                read_upstream_options(*options, child(here, "upstream_options"), site.upstream);
            }
            read_bool(s, here, "preserve_host", site.preserve_host);
            out.push_back(std::move(site));
        }
    }

    bool read_site_name(const json& s, const std::string& pointer, std::string& out) {
        const std::string here = child(pointer, "name");
        if (member(s, "name") == nullptr) {
            fail(here, "required field is missing");
            return false;
        }
        const std::string* name = read_string(s, pointer, "name");
        if (name == nullptr) {
            return false;
        }
        if (name->empty()) {
            fail(here, "must not be empty");
            return false;
        }
        // Names become metric labels and log fields, so keep them to a safe alphabet.
        const bool ok = std::all_of(name->begin(), name->end(), [](char c) {
            const char l = ascii_lower(c);
            return (l >= 'a' && l <= 'z') || is_digit(l) || l == '_' || l == '.' || l == '-';
        });
        if (!ok) {
            fail(here,
                 "must use only letters, digits, '_', '.' and '-' (got " + literal(*name) + ")");
            return false;
        }
        out = *name;
        return true;
    }

    static constexpr std::string_view bad_host =
        "must be a host name or IP address, optionally with a leading \"*.\" or a :port";

    void read_hosts(const json& s, const std::string& pointer, std::vector<std::string>& out) {
        const std::string here = child(pointer, "hosts");
        const json* v = member(s, "hosts");
        if (v == nullptr) {
            fail(here, "required field is missing");
            return;
        }
        if (!v->is_array()) {
            fail(here, "must be a list of host names" + got(*v));
            return;
        }
        if (v->empty()) {
            fail(here, "must list at least one host");
            return;
        }
        for (std::size_t i = 0; i < v->size(); ++i) {
            const json& e = (*v)[i];
            const std::string at = child(here, i);
            if (!e.is_string()) {
                fail(at, "must be a string" + got(e));
                continue;
            }
            std::string host = lower(e.get_ref<const std::string&>());
            if (host.empty()) {
                fail(at, "must not be empty");
                continue;
            }
            if (!is_site_host(host)) {
                fail(at, std::string(bad_host) + got(e));
                continue;
            }
            out.push_back(std::move(host));
        }
    }

    // What a Host header can carry: name, IPv4 or [IPv6], optional :port; plus "*." wildcards.
    static bool is_site_host(std::string_view h) {
        const bool wildcard = h.starts_with("*.");
        if (wildcard) {
            h.remove_prefix(2);
        }
        std::string_view port;
        if (h.starts_with("[")) {
            const auto close = h.find(']');
            if (wildcard || close == std::string_view::npos ||
                !is_ipv6_literal(h.substr(1, close - 1))) {
                return false;
            }
            const auto rest = h.substr(close + 1);
            if (!rest.empty()) {
                if (rest.front() != ':') {
                    return false;
                }
                port = rest.substr(1);
                if (!parse_port(port)) {
                    return false;
                }
            }
            return true;
        }
        if (const auto colon = h.find(':'); colon != std::string_view::npos) {
            if (!parse_port(h.substr(colon + 1))) {
                return false;
            }
            h = h.substr(0, colon);
        }
        return wildcard ? is_host_name(h) : is_name_or_ipv4(h);
    }

    void read_upstream(const json& s, const std::string& pointer, upstream_config& out) {
        const std::string here = child(pointer, "upstream");
        if (member(s, "upstream") == nullptr) {
            fail(here, "required field is missing");
            return;
        }
        const std::string* url = read_string(s, pointer, "upstream");
        if (url == nullptr) {
            return;
        }
        if (auto reason = parse_upstream(*url, out)) {
            fail(here, *reason);
        }
    }

    static constexpr std::string_view https_unsupported =
        "https upstreams are not supported yet; terminate TLS in front or use http://";

    // Fills url, host and port from "http://host[:port][/]"; returns the problem if any.
    static std::optional<std::string> parse_upstream(std::string_view url, upstream_config& out) {
        const std::string q = literal(url);
        if (starts_with_icase(url, "https://")) {
            return std::string(https_unsupported) + " (got " + q + ")";
        }
        if (!starts_with_icase(url, "http://")) {
            return q + " is not an http:// URL";
        }
        auto rest = url.substr(7);
        const auto end = rest.find_first_of("/?#");
        auto authority = rest.substr(0, end);
        if (end != std::string_view::npos && rest.substr(end) != "/") {
            return q + " has a path, query or fragment; only http://host[:port] is allowed";
        }
        if (authority.find('@') != std::string_view::npos) {
            return q + " must not contain user info";
        }
        std::string_view host;
        std::optional<std::string_view> port;
        if (authority.starts_with("[")) {
            const auto close = authority.find(']');
            if (close == std::string_view::npos ||
                !is_ipv6_literal(authority.substr(1, close - 1))) {
                return q + " has an invalid host";
            }
            host = authority.substr(1, close - 1);
            const auto after = authority.substr(close + 1);
            if (!after.empty()) {
                if (after.front() != ':') {
                    return q + " has an invalid host";
                }
                port = after.substr(1);
            }
        } else {
            const auto colon = authority.find(':');
            if (colon != authority.rfind(':')) {
                return q + " needs brackets around an IPv6 host, like http://[::1]:8081";
            }
            host = authority.substr(0, colon);
            if (colon != std::string_view::npos) {
                port = authority.substr(colon + 1);
            }
            if (host.empty()) {
                return q + " has no host";
            }
            if (!is_name_or_ipv4(host)) {
                return q + " has an invalid host";
            }
        }
        std::uint16_t number = 80;
        if (port) {
            const auto parsed = parse_port(*port);
            if (!parsed) {
                return q + " has an invalid port (must be 1-65535)";
            }
            number = *parsed;
        }
        out.url = std::string(url);
        out.host = std::string(host);
        out.port = number;
        return std::nullopt;
    }

    void read_upstream_options(const json& v, const std::string& pointer, upstream_config& out) {
        if (!check_object(v, pointer, upstream_option_keys)) {
            return;
        }
        read_millis(v, pointer, "connect_timeout_ms", out.connect_timeout);
        read_millis(v, pointer, "read_timeout_ms", out.read_timeout);
        read_millis(v, pointer, "idle_timeout_ms", out.idle_timeout);
        read_uint(v, pointer, "max_idle", out.max_idle, {0, 100'000});
    }

    std::string source_;
    std::vector<std::string> problems_;
};

config parse_checked(std::string_view text, std::string_view source) {
    const std::string src(source);
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
        throw config_error({src + ": invalid JSON at line " + std::to_string(p.line) + ", column " +
                            std::to_string(p.column) + ": " + reason});
    }
    validator v(src);
    for (const auto& pointer : builder.duplicates()) {
        v.fail(pointer, "duplicate field");
    }
    config c = v.read(builder.root());
    if (!v.problems().empty()) {
        throw config_error(std::move(v.problems()));
    }
    return c;
}

std::string joined(const std::vector<std::string>& lines) {
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

bool cidr::contains(const ip::address& a) const noexcept {
    const auto matches = [](const ip::address& net, unsigned bits, const ip::address& x) {
        if (net.is_v4() != x.is_v4()) {
            return false;
        }
        if (net.is_v4()) {
            bits = std::min(bits, 32U);
            return masked(net.to_v4().to_bytes(), bits) == masked(x.to_v4().to_bytes(), bits);
        }
        bits = std::min(bits, 128U);
        return masked(net.to_v6().to_bytes(), bits) == masked(x.to_v6().to_bytes(), bits);
    };
    // A dual-stack socket reports an IPv4 client as ::ffff:a.b.c.d; compare such addresses, and
    // ranges written that way (::ffff:10.0.0.0/104), as IPv4.
    const auto as_v4 = [](const ip::address& x) {
        return x.is_v6() && x.to_v6().is_v4_mapped()
                   ? ip::address(ip::make_address_v4(ip::v4_mapped, x.to_v6()))
                   : x;
    };
    if (matches(network, prefix, a)) {
        return true;
    }
    ip::address net = network;
    unsigned bits = prefix;
    if (net.is_v6() && net.to_v6().is_v4_mapped()) {
        if (bits < 96) {
            return false;
        }
        net = as_v4(net);
        bits -= 96;
    }
    return matches(net, bits, as_v4(a));
}

config_error::config_error(std::vector<std::string> problems)
    : std::runtime_error(joined(problems)), problems_(std::move(problems)) {}

config parse_config(std::string_view json_text, std::string_view source) {
    try {
        return parse_checked(json_text, source);
    } catch (const config_error&) {
        throw;
    } catch (const std::exception& e) {
        // Only allocation failures are expected here; the contract is config_error or nothing.
        throw config_error({std::string(source) + ": cannot load configuration: " + e.what()});
    }
}

config load_config(const std::filesystem::path& file) {
    const std::string name = file.string();
    const auto cannot_read = [&](int error) {
        return config_error({name + ": cannot read: " + std::generic_category().message(error)});
    };
    const std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(name.c_str(), "rb"),
                                                            &std::fclose);
    if (!f) {
        throw cannot_read(errno);
    }
    std::string text;
    std::array<char, 64 * 1024> chunk{};
    for (;;) {
        const std::size_t n = std::fread(chunk.data(), 1, chunk.size(), f.get());
        text.append(chunk.data(), n);
        if (text.size() > max_file_bytes) {
            throw config_error({name + ": cannot read: larger than " +
                                std::to_string(max_file_bytes / (1024 * 1024)) + " MiB"});
        }
        if (n < chunk.size()) {
            if (std::ferror(f.get()) != 0) {
                throw cannot_read(errno);  // e.g. EISDIR: fopen succeeds on a directory
            }
            break;
        }
    }
    return parse_config(text, name);
}

}  // namespace cg::gateway
