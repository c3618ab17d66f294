#pragma once
// Where the analytics keep their numbers in Redis. Every key of one site and local day carries
// the hash tag {a:SITE:YYYY-MM-DD}, so a batch, a fold or a query touches one Cluster slot.
//
//   <p>a:{SITE:DAY}:t             hash  pv:HH, an:HH (page views, anonymous ones, per hour),
//                                       visits, visits_ended, bounces, visit_pages,
//                                       visit_seconds, consent:ACTION, opt_in:CATEGORY
//   <p>a:{SITE:DAY}:ph            hash  HH:PATH -> page views of a path in an hour (C10)
//   <p>a:{SITE:DAY}:d:DIM         hash  VALUE -> page views (visits for `entry`) of a row
//   <p>a:{SITE:DAY}:u             HLL   the day's visitors
//   <p>a:{SITE:DAY}:uh:HH         HLL   an hour's visitors
//   <p>a:{SITE:DAY}:u:DIM:VALUE   HLL   a row's visitors
//   <p>a:{SITE:DAY}:f             hash  after the fold: u, uh:HH, other:DIM -> visitors; k, folded
//   <p>a:{SITE:DAY}:r:DIM         string after the fold, instead of :d:DIM and the rows' HLLs:
//                                       "COUNT VISITORS LENGTH VALUE\n" per row
//   <p>a:{SITE:DAY}:b:ID          flag  a batch already applied (idempotent retries), 2 days
//   <p>a:{SITE:DAY}:key           the day key (32 random bytes), expires at the day's end
//   <p>a:{rt:SITE}:MINUTE         HLL   a minute's visitors, 10 minutes
//   <p>a:unfolded                 zset  "YYYY-MM-DD SITE" -> day number, days not yet folded
#include <cstdio>
#include <deque>
#include <vector>
#include <string>
#include <string_view>

#include "analytics/aggregator.hpp"
#include "analytics/calendar.hpp"
#include "redis/link.hpp"

namespace cg::analytics::detail {

/// One exchange's worth of commands, owning their argument strings.
struct command_list {
    std::deque<std::vector<std::string>> owned;
    std::vector<redis::redis_command> views;
    void add(std::vector<std::string> args) {
        owned.push_back(std::move(args));
        redis::redis_command c;
        for (const auto& a : owned.back()) {
            c.emplace_back(a);
        }
        views.push_back(std::move(c));
    }
};

inline std::string two_digits(unsigned n) {
    char b[4];
    std::snprintf(b, sizeof b, "%02u", n % 100);
    return b;
}

/// "<p>a:{SITE:DAY}" without a suffix.
inline std::string day_base(std::string_view prefix, std::string_view site, day_number day) {
    std::string k;
    k.reserve(prefix.size() + site.size() + 20);
    k.append(prefix).append("a:{").append(site).append(":").append(format_day(day)).append("}");
    return k;
}

inline std::string unfolded_key(std::string_view prefix) {
    return std::string{prefix} + "a:unfolded";
}

inline std::string realtime_key(std::string_view prefix, std::string_view site,
                                std::int64_t minute) {
    return std::string{prefix} + "a:{rt:" + std::string{site} + "}:" + std::to_string(minute);
}

/// The hash and field a counter goes to: {suffix after the base, field}.
inline std::pair<std::string, std::string> counter_place(const count_key& k) {
    const auto hh = [&] { return two_digits(static_cast<unsigned>(k.period % 24)); };
    switch (k.what) {
        case dimension::total:
            return {":t", "pv:" + hh()};
        case dimension::anonymous:
            return {":t", "an:" + hh()};
        case dimension::page_hour:
            return {":ph", hh() + ":" + k.value};
        case dimension::consent:
        case dimension::opt_in:
            return {":t", std::string{name_of(k.what)} + ":" + k.value};
        default:
            break;
    }
    if (is_breakdown(k.what)) {
        return {":d:" + std::string{name_of(k.what)}, k.value};
    }
    return {":t", std::string{name_of(k.what)}};
}

/// The HyperLogLog a visitor id goes to (suffix after the base).
inline std::string unique_place(const count_key& k) {
    if (k.what == dimension::visitors) {
        return ":u";
    }
    if (k.what == dimension::visitors_hour) {
        return ":uh:" + two_digits(static_cast<unsigned>(k.period % 24));
    }
    return ":u:" + std::string{name_of(k.what)} + ":" + k.value;
}

}  // namespace cg::analytics::detail
