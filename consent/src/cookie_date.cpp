// RFC 6265 §5.1.1 cookie-date parsing. The algorithm is deliberately lenient (it accepts every
// date format seen in the wild), so it is implemented token by token exactly as written, with
// errata 4148 applied: the "( non-digit *OCTET )" tails of day-of-month, year and time are
// optional, otherwise "2007" at the end of a token could never be a year.
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "consent/cookie.hpp"

namespace cg::consent {
namespace {

// RFC 6265 §5.1.1: delimiter = %x09 / %x20-2F / %x3B-40 / %x5B-60 / %x7B-7E. Everything else
// (including ':', control characters and bytes >= 0x7F) belongs to a date-token.
constexpr bool is_delimiter(char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return c == 0x09 || (c >= 0x20 && c <= 0x2F) || (c >= 0x3B && c <= 0x40) ||
           (c >= 0x5B && c <= 0x60) || (c >= 0x7B && c <= 0x7E);
}

constexpr bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

constexpr char to_lower(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

struct digits_match {
    int value = 0;
    std::size_t length = 0;
};

// Reads up to max_digits leading DIGITs of `text` (none is a match of length 0).
digits_match take_digits(std::string_view text, std::size_t max_digits) {
    digits_match m;
    while (m.length < text.size() && m.length < max_digits && is_digit(text[m.length])) {
        m.value = m.value * 10 + (text[m.length] - '0');
        ++m.length;
    }
    return m;
}

// Matches "min_digits*max_digitsDIGIT [ non-digit *OCTET ]" against a whole token. A longer
// digit run does not match: the character after the digits must be a non-digit.
std::optional<int> match_number(std::string_view token, std::size_t min_digits,
                                std::size_t max_digits) {
    const digits_match m = take_digits(token, max_digits);
    if (m.length < min_digits || (m.length < token.size() && is_digit(token[m.length]))) {
        return std::nullopt;
    }
    return m.value;
}

struct hms {
    int hour = 0;
    int minute = 0;
    int second = 0;
};

// time = hms-time [ non-digit *OCTET ]; hms-time = time-field ":" time-field ":" time-field;
// time-field = 1*2DIGIT.
std::optional<hms> match_time(std::string_view token) {
    std::array<int, 3> fields{};
    for (std::size_t i = 0; i < fields.size(); ++i) {
        const digits_match f = take_digits(token, 2);
        if (f.length == 0) {
            return std::nullopt;
        }
        fields[i] = f.value;
        token.remove_prefix(f.length);
        if (i < 2) {
            if (token.empty() || token.front() != ':') {
                return std::nullopt;
            }
            token.remove_prefix(1);
        }
    }
    if (!token.empty() && is_digit(token.front())) {
        return std::nullopt;
    }
    return hms{fields[0], fields[1], fields[2]};
}

// month = ( "jan" / "feb" / ... / "dec" ) *OCTET, compared case-insensitively. Returns 1-12.
std::optional<int> match_month(std::string_view token) {
    static constexpr std::array<std::string_view, 12> months{
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"};
    if (token.size() < 3) {
        return std::nullopt;
    }
    const std::array<char, 3> prefix{to_lower(token[0]), to_lower(token[1]), to_lower(token[2])};
    for (std::size_t i = 0; i < months.size(); ++i) {
        if (std::string_view{prefix.data(), prefix.size()} == months[i]) {
            return static_cast<int>(i) + 1;
        }
    }
    return std::nullopt;
}

constexpr bool is_leap(std::int64_t year) {
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

constexpr int days_in_month(std::int64_t year, int month) {
    constexpr std::array<int, 12> days{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return month == 2 && is_leap(year) ? 29 : days[static_cast<std::size_t>(month - 1)];
}

// Days since 1970-01-01 of a proleptic Gregorian date. Counting from March makes the leap day
// the last day of the counted year, so one formula covers every month; 400-year eras keep the
// arithmetic exact. Only called with years 1601-9999, so nothing overflows.
constexpr std::int64_t days_from_civil(std::int64_t year, int month, int day) {
    const std::int64_t y = month <= 2 ? year - 1 : year;
    const std::int64_t era = y / 400;  // y >= 1600 here, so truncation is floor
    const std::int64_t year_of_era = y - era * 400;
    const std::int64_t shifted_month = month > 2 ? month - 3 : month + 9;  // March = 0
    const std::int64_t day_of_year = (153 * shifted_month + 2) / 5 + day - 1;
    const std::int64_t day_of_era =
        year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    return era * 146097 + day_of_era - 719468;  // 719468 = days from 0000-03-01 to 1970-01-01
}

static_assert(days_from_civil(1970, 1, 1) == 0);
static_assert(days_from_civil(2000, 3, 1) == 11017);
static_assert(days_from_civil(1601, 1, 1) == -134774);

}  // namespace

std::optional<std::int64_t> parse_cookie_date(std::string_view text) {
    std::optional<hms> time;
    std::optional<int> day_of_month;
    std::optional<int> month;
    std::optional<int> year;

    std::size_t pos = 0;
    while (pos < text.size()) {
        while (pos < text.size() && is_delimiter(text[pos])) {
            ++pos;
        }
        const std::size_t start = pos;
        while (pos < text.size() && !is_delimiter(text[pos])) {
            ++pos;
        }
        const std::string_view token = text.substr(start, pos - start);
        if (token.empty()) {
            break;
        }
        // RFC 6265 §5.1.1 step 2: each token is tried against time, day-of-month, month and
        // year in that order, and only fills a slot that is still empty.
        if (!time) {
            if (auto t = match_time(token)) {
                time = t;
                continue;
            }
        }
        if (!day_of_month) {
            if (auto d = match_number(token, 1, 2)) {
                day_of_month = d;
                continue;
            }
        }
        if (!month) {
            if (auto m = match_month(token)) {
                month = m;
                continue;
            }
        }
        if (!year) {
            if (auto y = match_number(token, 2, 4)) {
                year = y;
                continue;
            }
        }
    }

    // Step 5: every slot must be filled.
    if (!time || !day_of_month || !month || !year) {
        return std::nullopt;
    }
    // Steps 3 and 4: two-digit years.
    int full_year = *year;
    if (full_year >= 70 && full_year <= 99) {
        full_year += 1900;
    } else if (full_year >= 0 && full_year <= 69) {
        full_year += 2000;
    }
    // Step 5: range checks.
    if (*day_of_month < 1 || *day_of_month > 31 || full_year < 1601 || time->hour > 23 ||
        time->minute > 59 || time->second > 59) {
        return std::nullopt;
    }
    // Step 6: "If no such date exists, abort these steps and fail to parse" (e.g. 31 Apr).
    if (*day_of_month > days_in_month(full_year, *month)) {
        return std::nullopt;
    }
    const std::int64_t days = days_from_civil(full_year, *month, *day_of_month);
    return days * 86400 + time->hour * 3600 + time->minute * 60 + time->second;
}

}  // namespace cg::consent
