// Fuzz target for parse_set_cookie (every Set-Cookie an upstream sends) and parse_cookie_date.
// Besides memory safety it checks the parse against a second, deliberately plain reading of
// RFC 6265 §5.2 written here: whether the header is ignored, the name and value, and which
// Max-Age and Expires win. It also checks that results are views into the input, that a Max-Age
// appended at the end always wins and an invalid one never does, and that every date parsed
// lies in 1601-9999 and survives printing and parsing again, and that is_deletion never passes
// what the RFC reading would store. Violations are __builtin_trap.
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include "consent/cookie.hpp"

namespace {

using cg::consent::is_deletion;
using cg::consent::parse_cookie_date;
using cg::consent::parse_set_cookie;
using cg::consent::set_cookie;

void check(bool ok) {
    if (!ok) {
        __builtin_trap();
    }
}

std::string_view trim(std::string_view s) {
    const auto first = s.find_first_not_of(" \t");
    if (first == std::string_view::npos) {
        return {};
    }
    return s.substr(first, s.find_last_not_of(" \t") - first + 1);
}

std::string lower(std::string_view s) {
    std::string out;
    for (const char c : s) {
        out += (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : c;
    }
    return out;
}

bool inside(std::string_view part, std::string_view whole) {
    return part.data() != nullptr && part.data() >= whole.data() &&
           part.data() + part.size() <= whole.data() + whole.size();
}

// §5.2.2 read independently: optional '-', then at least one digit, nothing else; values
// beyond int64 saturate.
std::optional<std::int64_t> plain_max_age(std::string_view v) {
    const bool negative = !v.empty() && v.front() == '-';
    const std::string_view digits = negative ? v.substr(1) : v;
    if (digits.empty() || digits.find_first_not_of("0123456789") != std::string_view::npos) {
        return std::nullopt;
    }
    std::int64_t n = 0;
    const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
    if (ec == std::errc::result_out_of_range) {
        n = std::numeric_limits<std::int64_t>::max();
    } else {
        check(ec == std::errc{} && ptr == digits.data() + digits.size());
    }
    return negative ? -n : n;
}

struct plain_reading {
    bool ignored = true;
    std::string_view name;
    std::string_view value;
    std::optional<std::int64_t> max_age;
    std::optional<std::int64_t> expires;
};

plain_reading read_plainly(std::string_view in) {
    plain_reading r;
    const std::size_t semicolon = in.find(';');
    const std::string_view pair = in.substr(0, semicolon);
    const std::size_t eq = pair.find('=');
    if (eq == std::string_view::npos || trim(pair.substr(0, eq)).empty()) {
        return r;
    }
    r.ignored = false;
    r.name = trim(pair.substr(0, eq));
    r.value = trim(pair.substr(eq + 1));
    std::size_t pos = semicolon;
    while (pos != std::string_view::npos) {
        const std::size_t next = in.find(';', pos + 1);
        const std::string_view av = in.substr(
            pos + 1, next == std::string_view::npos ? std::string_view::npos : next - pos - 1);
        pos = next;
        const std::size_t av_eq = av.find('=');
        const std::string name = lower(trim(av.substr(0, av_eq)));
        const std::string_view value =
            av_eq == std::string_view::npos ? std::string_view{} : trim(av.substr(av_eq + 1));
        if (name == "max-age") {
            if (auto n = plain_max_age(value)) {
                r.max_age = n;
            }
        } else if (name == "expires") {
            if (auto t = parse_cookie_date(value)) {
                r.expires = t;
            }
        }
    }
    return r;
}

// Prints unix seconds as an IMF-fixdate (the inverse of days-from-civil, by whole years and
// months so that it shares no arithmetic with the parser).
std::string format_date(std::int64_t t) {
    std::int64_t days = t / 86400;
    std::int64_t secs = t % 86400;
    if (secs < 0) {
        secs += 86400;
        days -= 1;
    }
    auto leap = [](std::int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; };
    std::int64_t year = 1970;
    while (days < 0) {
        --year;
        days += leap(year) ? 366 : 365;
    }
    while (days >= (leap(year) ? 366 : 365)) {
        days -= leap(year) ? 366 : 365;
        ++year;
    }
    static constexpr int month_days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    static constexpr const char* names[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    int month = 0;
    for (;;) {
        const int length = month_days[month] + (month == 1 && leap(year) ? 1 : 0);
        if (days < length) {
            break;
        }
        days -= length;
        ++month;
    }
    char out[64];
    std::snprintf(out, sizeof out, "Xxx, %02d %s %04d %02d:%02d:%02d GMT",
                  static_cast<int>(days + 1), names[month], static_cast<int>(year),
                  static_cast<int>(secs / 3600), static_cast<int>(secs / 60 % 60),
                  static_cast<int>(secs % 60));
    return out;
}

void check_date(std::int64_t t) {
    check(t >= -11644473600 && t <= 253402300799);  // 1601-01-01 .. 9999-12-31T23:59:59
    check(parse_cookie_date(format_date(t)) == t);
}

bool same_attributes(const set_cookie& a, const set_cookie& b) {
    return a.name == b.name && a.value == b.value && a.domain == b.domain && a.path == b.path &&
           a.expires == b.expires && a.secure == b.secure && a.http_only == b.http_only &&
           a.same_site == b.same_site;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view in{reinterpret_cast<const char*>(data), size};

    if (const auto t = parse_cookie_date(in)) {
        check_date(*t);
    }

    const auto cookie = parse_set_cookie(in);
    const plain_reading plain = read_plainly(in);
    check(cookie.has_value() == !plain.ignored);
    if (!cookie) {
        check(!is_deletion(in));
        return 0;
    }
    const set_cookie& c = *cookie;
    check(c.name == plain.name && c.value == plain.value);
    check(c.max_age == plain.max_age);
    check(c.expires == plain.expires);

    check(inside(c.name, in) && inside(c.value, in));
    check(!c.name.empty() && c.name.find_first_of(";=") == std::string_view::npos);
    check(c.value.find(';') == std::string_view::npos);
    const std::string_view attributes =
        in.substr(in.find(';') == std::string_view::npos ? in.size() : in.find(';'));
    for (const auto& attr : {c.domain, c.path, c.same_site}) {
        if (attr) {
            check(inside(*attr, attributes) && attr->find(';') == std::string_view::npos);
            check(attr->empty() || (attr->back() != ' ' && attr->back() != '\t'));
        }
    }
    // Only the Domain value may start with WSP: "Domain=. x" loses just its dot (§5.2.3).
    check(!c.path || trim(*c.path).size() == c.path->size());
    check(!c.same_site || trim(*c.same_site).size() == c.same_site->size());
    check(!c.path || c.path->starts_with('/'));
    check(!c.domain || c.domain->size() < attributes.size());
    if (c.expires) {
        check_date(*c.expires);
    }

    // is_deletion is stricter than RFC 6265: what it passes, the §5.3 reading expires too, and
    // a later Max-Age that stores (or one browsers read apart) undoes it.
    if (is_deletion(in)) {
        constexpr std::int64_t year_2000 = 946'684'800;
        check(c.max_age ? *c.max_age <= 0 : c.expires && *c.expires < year_2000);
        check(!is_deletion(std::string{in} + "; Max-Age=5"));
        check(!is_deletion(std::string{in} + "; Max-Age=+0"));
    }

    // A valid Max-Age appended at the end wins and changes nothing else; an invalid one is
    // ignored entirely.
    const std::string with_valid = std::string{in} + "; mAx-AgE=\t-0042 ";
    const auto valid = parse_set_cookie(with_valid);
    check(valid && valid->max_age == -42 && same_attributes(*valid, c));
    const std::string with_invalid = std::string{in} + "; Max-Age=42s";
    const auto invalid = parse_set_cookie(with_invalid);
    check(invalid && invalid->max_age == c.max_age && same_attributes(*invalid, c));
    return 0;
}
