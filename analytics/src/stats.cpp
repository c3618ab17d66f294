#include "analytics/stats.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <map>
#include <span>
#include <unordered_map>

#include <hiredis/hiredis.h>
#include <nlohmann/json.hpp>

#include "json_config/dump.hpp"
#include "redis/worker.hpp"
#include "store_keys.hpp"

namespace cg::analytics {

namespace {

using json = nlohmann::json;

constexpr day_number max_range_days = 400;

bool row_order(const day_row& a, const day_row& b) {
    return std::tie(b.visitors, b.count, a.name) < std::tie(a.visitors, a.count, b.name);
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

// The decoded value of `name` in a query string ("" when absent). Untrusted.
std::string param(std::string_view query, std::string_view name) {
    while (!query.empty()) {
        const auto amp = query.find('&');
        const auto pair = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        const auto eq = pair.find('=');
        if (pair.substr(0, eq) != name || eq == std::string_view::npos) {
            continue;
        }
        std::string out;
        const auto v = pair.substr(eq + 1);
        for (std::size_t i = 0; i < v.size() && out.size() < 256; ++i) {
            if (v[i] == '+') {
                out += ' ';
            } else if (v[i] == '%' && i + 2 < v.size() + 0 && hex_value(v[i + 1]) >= 0 &&
                       hex_value(v[i + 2]) >= 0) {
                out += static_cast<char>(hex_value(v[i + 1]) * 16 + hex_value(v[i + 2]));
                i += 2;
            } else {
                out += v[i];
            }
        }
        return out;
    }
    return {};
}

std::string csv_field(std::string_view s) {
    // RFC 4180 quoting, and a leading quote against spreadsheet formulas (=, +, -, @).
    std::string out = "\"";
    if (!s.empty() && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@')) {
        out += '\'';
    }
    for (const char c : s) {
        out += c;
        if (c == '"') {
            out += '"';
        }
    }
    return out + "\"";
}

stats_answer error(unsigned status, const std::string& message) {
    stats_answer a;
    a.status = status;
    a.body = json_config::dump(json{{"error", message}}) + "\n";
    return a;
}

std::uint64_t to_u64(std::string_view s) {
    std::uint64_t n = 0;
    for (const char c : s) {
        if (c < '0' || c > '9') {
            return 0;
        }
        n = n * 10 + static_cast<std::uint64_t>(c - '0');
    }
    return n;
}

using field_map = std::map<std::string, std::uint64_t, std::less<>>;

field_map fields_of(const redisReply* r) {
    field_map m;
    if (r == nullptr || r->type != REDIS_REPLY_ARRAY) {
        return m;
    }
    for (std::size_t i = 0; i + 1 < r->elements; i += 2) {
        const redisReply* k = r->element[i];
        const redisReply* v = r->element[i + 1];
        if (k->type == REDIS_REPLY_STRING && v->type == REDIS_REPLY_STRING) {
            m[std::string(k->str, k->len)] = to_u64({v->str, v->len});
        }
    }
    return m;
}

// A hash's fields as a list (rows, in Redis' order) and for look-ups: a 30-day page report
// reads 120,000 of them, where a sorted map's inserts were the largest cost.
std::vector<std::pair<std::string, std::uint64_t>> field_list(const redisReply* r) {
    std::vector<std::pair<std::string, std::uint64_t>> out;
    if (r == nullptr || r->type != REDIS_REPLY_ARRAY) {
        return out;
    }
    out.reserve(r->elements / 2);
    for (std::size_t i = 0; i + 1 < r->elements; i += 2) {
        const redisReply* k = r->element[i];
        const redisReply* v = r->element[i + 1];
        if (k->type == REDIS_REPLY_STRING && v->type == REDIS_REPLY_STRING) {
            out.emplace_back(std::string(k->str, k->len), to_u64({v->str, v->len}));
        }
    }
    return out;
}

// The rows of a folded breakdown (recorder's `:r:DIM`: "COUNT VISITORS LENGTH VALUE\n" per
// row). A malformed rest is ignored: the string is ours, but Redis is still input.
std::vector<day_row> folded_rows(const redisReply* r) {
    std::vector<day_row> rows;
    if (r == nullptr || r->type != REDIS_REPLY_STRING) {
        return rows;
    }
    std::string_view rest{r->str, r->len};
    const auto number = [&rest](std::uint64_t& out) {
        const auto space = rest.find(' ');
        if (space == std::string_view::npos || space == 0) {
            return false;
        }
        out = to_u64(rest.substr(0, space));
        rest.remove_prefix(space + 1);
        return true;
    };
    while (!rest.empty()) {
        day_row row;
        std::uint64_t length = 0;
        if (!number(row.count) || !number(row.visitors) || !number(length) ||
            length + 1 > rest.size() || rest[length] != '\n') {
            break;
        }
        row.name.assign(rest.substr(0, length));
        rest.remove_prefix(length + 1);
        rows.push_back(std::move(row));
    }
    return rows;
}

std::uint64_t get(const field_map& m, std::string_view k) {
    const auto it = m.find(k);
    return it == m.end() ? 0 : it->second;
}

struct table_report {
    std::string_view name;
    dimension what;
};
constexpr std::array<table_report, 9> tables{{{"pages", dimension::page},
                                              {"entry-pages", dimension::entry},
                                              {"referrers", dimension::referrer},
                                              {"channels", dimension::channel},
                                              {"campaigns", dimension::utm_campaign},
                                              {"countries", dimension::country},
                                              {"devices", dimension::device},
                                              {"browsers", dimension::browser},
                                              {"os", dimension::os}}};

// A forwarded day batch's breakdowns: its key and dimension.
constexpr std::array<std::pair<std::string_view, dimension>, 11> batch_tables{
    {{"pages", dimension::page},
     {"entry_pages", dimension::entry},
     {"referrers", dimension::referrer},
     {"channels", dimension::channel},
     {"utm_sources", dimension::utm_source},
     {"utm_mediums", dimension::utm_medium},
     {"utm_campaigns", dimension::utm_campaign},
     {"countries", dimension::country},
     {"devices", dimension::device},
     {"browsers", dimension::browser},
     {"os", dimension::os}}};

}  // namespace

thresholded threshold(const std::vector<day_breakdown>& days, unsigned k) {
    std::unordered_map<std::string_view, day_row> sums;
    std::optional<day_row> other;
    for (const auto& day : days) {
        std::uint64_t under_visitors_max = 0;
        std::uint64_t under_count = 0;
        bool any_under = false;
        for (const auto& r : day.rows) {
            if (r.visitors >= k) {
                auto& s = sums[r.name];
                if (s.name.empty()) {
                    s.name = r.name;
                }
                s.visitors += r.visitors;
                s.count += r.count;
            } else {
                any_under = true;
                under_visitors_max = std::max(under_visitors_max, r.visitors);
                under_count += r.count;
            }
        }
        if (!any_under) {
            continue;
        }
        const std::uint64_t under = day.under_k_visitors.value_or(under_visitors_max);
        if (under >= k) {
            if (!other) {
                other = day_row{"(other)", 0, 0};
            }
            other->visitors += under;
            other->count += under_count;
        }
    }
    thresholded out;
    for (auto& [name, row] : sums) {
        out.rows.push_back(std::move(row));
    }
    std::sort(out.rows.begin(), out.rows.end(), row_order);
    out.other = std::move(other);
    return out;
}

struct stats_reader::impl final : redis::worker<std::function<void(redis::session&)>>::handler {
    using job = std::function<void(redis::session&)>;

    impl(redis::redis_config redis, std::vector<site_plan> s, const recorder* w)
        : prefix(redis.key_prefix), sites(std::move(s)), writer(w),
          worker(std::move(redis), options(), *this) {}

    static redis::worker_options options() {
        redis::worker_options o;
        o.queue_limit = 64;
        return o;
    }

    void process(std::span<job> run, redis::session& s) override {
        for (auto& j : run) {
            j(s);
        }
    }

    // --- one request ---

    struct request {
        const site_plan* site = nullptr;
        std::uint32_t index = 0;
        day_number from = 0;
        day_number to = 0;
        std::size_t limit = 100;
    };

    std::vector<std::string> bases(const request& q, day_number from, day_number to) const {
        std::vector<std::string> out;
        for (day_number d = from; d <= to; ++d) {
            out.push_back(detail::day_base(prefix, q.site->name, d));
        }
        return out;
    }

    // The :t and :f hashes of every day in [from, to]; false when Redis failed.
    bool day_hashes(redis::session& s, const request& q, day_number from, day_number to,
                    std::vector<field_map>& totals, std::vector<field_map>& folded) const {
        detail::command_list b;
        for (const auto& base : bases(q, from, to)) {
            b.add({"HGETALL", base + ":t"});
            b.add({"HGETALL", base + ":f"});
        }
        std::string err;
        const auto replies = s.pipeline(b.views, s.deadline(), err);
        if (replies.size() < b.views.size()) {
            return false;
        }
        for (std::size_t i = 0; i < replies.size(); i += 2) {
            totals.push_back(fields_of(replies[i].get()));
            folded.push_back(fields_of(replies[i + 1].get()));
        }
        return true;
    }

    // PFCOUNT of each key, in one pipeline; nullopt when Redis failed.
    static std::optional<std::vector<std::uint64_t>> counts(redis::session& s,
                                                            std::vector<std::vector<std::string>> cmds) {
        std::vector<std::uint64_t> out;
        for (std::size_t from = 0; from < cmds.size(); from += 2000) {
            detail::command_list b;
            for (std::size_t i = from; i < std::min(cmds.size(), from + 2000); ++i) {
                b.add(std::move(cmds[i]));
            }
            std::string err;
            const auto replies = s.pipeline(b.views, s.deadline(), err);
            if (replies.size() < b.views.size()) {
                return std::nullopt;
            }
            for (const auto& r : replies) {
                out.push_back(r->type == REDIS_REPLY_INTEGER && r->integer > 0
                                  ? static_cast<std::uint64_t>(r->integer)
                                  : 0);
            }
        }
        return out;
    }

    // Unique visitors per day (or per hour of one day when `hourly`).
    std::optional<std::vector<std::uint64_t>> visitors(redis::session& s, const request& q,
                                                       day_number from, day_number to,
                                                       const std::vector<field_map>& folded,
                                                       bool hourly) const {
        std::vector<std::vector<std::string>> cmds;
        std::vector<std::optional<std::uint64_t>> known;
        const auto all = bases(q, from, to);
        for (std::size_t i = 0; i < all.size(); ++i) {
            const bool is_folded = get(folded[i], "folded") == 1;
            for (unsigned h = 0; h < (hourly ? 24U : 1U); ++h) {
                const std::string hh = detail::two_digits(h);
                if (is_folded) {
                    known.emplace_back(get(folded[i], hourly ? "uh:" + hh : "u"));
                } else {
                    known.emplace_back(std::nullopt);
                    cmds.push_back({"PFCOUNT", all[i] + (hourly ? ":uh:" + hh : ":u")});
                }
            }
        }
        auto got = counts(s, std::move(cmds));
        if (!got) {
            return std::nullopt;
        }
        std::vector<std::uint64_t> out;
        std::size_t next = 0;
        for (const auto& k : known) {
            out.push_back(k ? *k : (*got)[next++]);
        }
        return out;
    }

    struct period_summary {
        std::uint64_t visitors = 0, page_views = 0, anonymous = 0, visits = 0, ended = 0,
                      bounces = 0, visit_pages = 0, visit_seconds = 0;
    };

    std::optional<period_summary> summarise(redis::session& s, const request& q,
                                            day_number from, day_number to) const {
        std::vector<field_map> totals, folded;
        if (!day_hashes(s, q, from, to, totals, folded)) {
            return std::nullopt;
        }
        const auto v = visitors(s, q, from, to, folded, false);
        if (!v) {
            return std::nullopt;
        }
        period_summary p;
        for (std::size_t i = 0; i < totals.size(); ++i) {
            p.visitors += (*v)[i];
            for (const auto& [field, n] : totals[i]) {
                if (field.starts_with("pv:")) {
                    p.page_views += n;
                } else if (field.starts_with("an:")) {
                    p.anonymous += n;
                }
            }
            p.visits += get(totals[i], "visits");
            p.ended += get(totals[i], "visits_ended");
            p.bounces += get(totals[i], "bounces");
            p.visit_pages += get(totals[i], "visit_pages");
            p.visit_seconds += get(totals[i], "visit_seconds");
        }
        return p;
    }

    static json summary_json(const period_summary& p) {
        json j{{"visitors", p.visitors},
               {"page_views", p.page_views},
               {"anonymous_page_views", p.anonymous},
               {"visits", p.visits}};
        if (p.ended == 0) {
            j["bounce_rate"] = nullptr;
            j["pages_per_visit"] = nullptr;
            j["visit_duration_s"] = nullptr;
        } else {
            const auto e = static_cast<double>(p.ended);
            j["bounce_rate"] = std::round(static_cast<double>(p.bounces) / e * 1000) / 1000;
            j["pages_per_visit"] = std::round(static_cast<double>(p.visit_pages) / e * 100) / 100;
            j["visit_duration_s"] = std::llround(static_cast<double>(p.visit_seconds) / e);
        }
        return j;
    }

    // The summary report's fields for [q.from, q.to] except `dropped` and `previous`: shared
    // by the API and the forwarder's day batches.
    json summary_fields(const request& q, const period_summary& p) const {
        json j = summary_json(p);
        j["site"] = q.site->name;
        j["from"] = format_day(q.from);
        j["to"] = format_day(q.to);
        j["time_zone"] = q.site->calendar.zone();
        j["k"] = q.site->k;
        j["visitors_kind"] = q.from == q.to ? "daily" : "sum_of_daily";
        j["visitors_error"] = 0.0081;  // Redis HyperLogLog: 1.04 / sqrt(16384)
        return j;
    }

    stats_answer summary(redis::session& s, const request& q) const {
        const auto now_p = summarise(s, q, q.from, q.to);
        const day_number len = q.to - q.from + 1;
        const auto prev = summarise(s, q, q.from - len, q.from - 1);
        if (!now_p || !prev) {
            return error(503, "statistics store unreachable");
        }
        json j = summary_fields(q, *now_p);
        j["dropped"] = writer != nullptr ? writer->status().dropped : 0;
        json pj = summary_json(*prev);
        pj["from"] = format_day(q.from - len);
        pj["to"] = format_day(q.from - 1);
        j["previous"] = std::move(pj);
        stats_answer a;
        a.body = json_config::dump(j) + "\n";
        return a;
    }

    // The time series' points: hours when q.from == q.to, days otherwise. nullopt when Redis
    // failed.
    std::optional<json> points(redis::session& s, const request& q) const {
        std::vector<field_map> totals, folded;
        if (!day_hashes(s, q, q.from, q.to, totals, folded)) {
            return std::nullopt;
        }
        const bool hourly = q.from == q.to;
        const auto v = visitors(s, q, q.from, q.to, folded, hourly);
        if (!v) {
            return std::nullopt;
        }
        json out = json::array();
        for (std::size_t i = 0; i < totals.size(); ++i) {
            const std::string day = format_day(q.from + static_cast<day_number>(i));
            if (hourly) {
                for (unsigned h = 0; h < 24; ++h) {
                    const std::string hh = detail::two_digits(h);
                    out.push_back({{"t", day + "T" + hh},
                                   {"visitors", (*v)[h]},
                                   {"page_views", get(totals[i], "pv:" + hh)}});
                }
            } else {
                std::uint64_t pv = 0;
                for (const auto& [field, n] : totals[i]) {
                    pv += field.starts_with("pv:") ? n : 0;
                }
                out.push_back({{"t", day}, {"visitors", (*v)[i]}, {"page_views", pv}});
            }
        }
        return out;
    }

    stats_answer timeseries(redis::session& s, const request& q) const {
        auto p = points(s, q);
        if (!p) {
            return error(503, "statistics store unreachable");
        }
        stats_answer a;
        a.body = json_config::dump(json{{"site", q.site->name},
                                        {"interval", q.from == q.to ? "hour" : "day"},
                                        {"points", std::move(*p)}}) +
                 "\n";
        return a;
    }

    // One breakdown over [q.from, q.to], thresholded (every row the API or a forwarded batch
    // shows comes from here: C4, C13). nullopt when Redis failed.
    std::optional<thresholded> breakdown(redis::session& s, const request& q,
                                         dimension what) const {
        std::vector<field_map> totals, folded;
        if (!day_hashes(s, q, q.from, q.to, totals, folded)) {
            return std::nullopt;
        }
        const auto all = bases(q, q.from, q.to);
        const std::string dim{name_of(what)};
        detail::command_list lists;
        for (std::size_t i = 0; i < all.size(); ++i) {
            if (get(folded[i], "folded") == 1) {
                lists.add({"GET", all[i] + ":r:" + dim});  // the fold's rows, visitors included
            } else {
                lists.add({"HGETALL", all[i] + ":d:" + dim});
            }
        }
        std::string err;
        const auto replies = s.pipeline(lists.views, s.deadline(), err);
        if (replies.size() < lists.views.size()) {
            return std::nullopt;
        }
        std::vector<day_breakdown> days(all.size());
        std::vector<std::vector<std::string>> pf;
        std::vector<std::pair<std::size_t, std::size_t>> pf_rows;  // day, row
        for (std::size_t i = 0; i < all.size(); ++i) {
            const bool is_folded = get(folded[i], "folded") == 1;
            if (is_folded) {
                days[i].rows = folded_rows(replies[i].get());
            }
            for (auto& [value, n] : field_list(replies[i].get())) {
                pf_rows.emplace_back(i, days[i].rows.size());
                pf.push_back({"PFCOUNT", all[i] + ":u:" + dim + ":" + value});
                days[i].rows.push_back(day_row{std::move(value), 0, n});
            }
            if (is_folded && get(folded[i], "k") == q.site->k) {
                days[i].under_k_visitors = get(folded[i], "other:" + dim);
            }
        }
        const auto got = counts(s, std::move(pf));
        if (!got) {
            return std::nullopt;
        }
        for (std::size_t j = 0; j < pf_rows.size(); ++j) {
            days[pf_rows[j].first].rows[pf_rows[j].second].visitors = (*got)[j];
        }
        // The union of each unfolded day's rows under k: "(other)"'s visitors.
        std::vector<std::vector<std::string>> unions;
        std::vector<std::size_t> union_days;
        for (std::size_t i = 0; i < all.size(); ++i) {
            if (get(folded[i], "folded") == 1) {
                continue;
            }
            std::vector<std::string> cmd{"PFCOUNT"};
            for (const auto& r : days[i].rows) {
                if (r.visitors < q.site->k) {
                    cmd.push_back(all[i] + ":u:" + dim + ":" + r.name);
                }
            }
            if (cmd.size() > 1) {
                unions.push_back(std::move(cmd));
                union_days.push_back(i);
            }
        }
        const auto u = counts(s, std::move(unions));
        if (!u) {
            return std::nullopt;
        }
        for (std::size_t j = 0; j < union_days.size(); ++j) {
            days[union_days[j]].under_k_visitors = (*u)[j];
        }
        return threshold(days, q.site->k);
    }

    static std::string count_name_of(dimension what) {
        return what == dimension::entry ? "visits" : "page_views";
    }

    // A thresholded breakdown's "rows" and "other" as JSON.
    static std::pair<json, json> rows_json(const thresholded& t, dimension what) {
        const std::string count_name = count_name_of(what);
        json rows = json::array();
        for (const auto& r : t.rows) {
            rows.push_back({{"name", r.name}, {"visitors", r.visitors}, {count_name, r.count}});
        }
        json other = nullptr;
        if (t.other) {
            other = {{"visitors", t.other->visitors}, {count_name, t.other->count}};
        }
        return {std::move(rows), std::move(other)};
    }

    stats_answer table(redis::session& s, const request& q, std::string_view report,
                       dimension what, bool csv) const {
        auto found = breakdown(s, q, what);
        if (!found) {
            return error(503, "statistics store unreachable");
        }
        auto& t = *found;
        if (t.rows.size() > q.limit) {
            t.rows.resize(q.limit);
        }
        const std::string count_name = count_name_of(what);
        stats_answer a;
        if (csv) {
            a.content_type = "text/csv; charset=utf-8";
            a.filename = q.site->name + "-" + std::string{report} + "-" + format_day(q.from) +
                         "-" + format_day(q.to) + ".csv";
            a.body = "name,visitors," + count_name + "\r\n";
            for (const auto& r : t.rows) {
                a.body += csv_field(r.name) + "," + std::to_string(r.visitors) + "," +
                          std::to_string(r.count) + "\r\n";
            }
            if (t.other) {
                a.body += "(other)," + std::to_string(t.other->visitors) + "," +
                          std::to_string(t.other->count) + "\r\n";
            }
            return a;
        }
        auto [rows, other] = rows_json(t, what);
        a.body = json_config::dump(json{{"report", report},
                                        {"site", q.site->name},
                                        {"from", format_day(q.from)},
                                        {"to", format_day(q.to)},
                                        {"k", q.site->k},
                                        {"visitors_kind", q.from == q.to ? "daily" : "sum_of_daily"},
                                        {"rows", std::move(rows)},
                                        {"other", std::move(other)}}) +
                 "\n";
        return a;
    }

    // The consent report's document; nullopt when Redis failed.
    std::optional<json> consent_report(redis::session& s, const request& q) const {
        std::vector<field_map> totals, folded;
        if (!day_hashes(s, q, q.from, q.to, totals, folded)) {
            return std::nullopt;
        }
        static constexpr std::array<std::string_view, 5> actions{"shown", "accept_all",
                                                                  "reject_all", "custom", "gpc"};
        const auto rate = [](const json& o) -> json {
            const auto decided = o.value("accept_all", 0ULL) + o.value("reject_all", 0ULL) +
                                 o.value("custom", 0ULL);
            if (decided == 0) {
                return nullptr;
            }
            // Custom decisions count as consent when they granted something (opt-ins > 0).
            const auto consented = o.value("accept_all", 0ULL) + o.value("custom_granting", 0ULL);
            return std::round(static_cast<double>(consented) / static_cast<double>(decided) *
                              1000) /
                   1000;
        };
        json days = json::array();
        json sum = json::object();
        std::map<std::string, std::uint64_t> opt_ins;
        for (std::size_t i = 0; i < totals.size(); ++i) {
            json d{{"date", format_day(q.from + static_cast<day_number>(i))}};
            for (const auto a : actions) {
                const auto n = get(totals[i], "consent:" + std::string{a});
                d[std::string{a}] = n;
                sum[std::string{a}] = sum.value(std::string{a}, 0ULL) + n;
            }
            d["custom_granting"] = get(totals[i], "consent:custom_granting");
            sum["custom_granting"] = sum.value("custom_granting", 0ULL) +
                                     d["custom_granting"].get<std::uint64_t>();
            for (const auto& [field, n] : totals[i]) {
                if (field.starts_with("opt_in:")) {
                    opt_ins[field.substr(7)] += n;
                }
            }
            d["consent_rate"] = rate(d);
            d.erase("custom_granting");
            days.push_back(std::move(d));
        }
        sum["consent_rate"] = rate(sum);
        sum.erase("custom_granting");
        json categories = json::array();
        for (const auto& [name, n] : opt_ins) {
            categories.push_back({{"name", name}, {"opt_in", n}});
        }
        return json{{"site", q.site->name},
                    {"from", format_day(q.from)},
                    {"to", format_day(q.to)},
                    {"days", std::move(days)},
                    {"totals", std::move(sum)},
                    {"categories", std::move(categories)}};
    }

    stats_answer consent(redis::session& s, const request& q) const {
        const auto c = consent_report(s, q);
        if (!c) {
            return error(503, "statistics store unreachable");
        }
        stats_answer a;
        a.body = json_config::dump(*c) + "\n";
        return a;
    }

    // The forwarder's batch for one closed day of `site` (stats.hpp, stats_reader::day_batch):
    // only what the API publishes for that day, every breakdown thresholded (C4). nullopt when
    // Redis failed or the site has no analytics.
    std::optional<std::string> day_document(redis::session& s, std::uint32_t site,
                                            day_number day) const {
        if (site >= sites.size() || !sites[site].enabled || !s.connected()) {
            return std::nullopt;
        }
        request q;
        q.site = &sites[site];
        q.index = site;
        q.from = day;
        q.to = day;
        q.limit = std::numeric_limits<std::size_t>::max();
        const auto p = summarise(s, q, day, day);
        if (!p) {
            return std::nullopt;
        }
        auto series = points(s, q);
        if (!series) {
            return std::nullopt;
        }
        // `dropped` is this process's count since it started, not the day's: left out, so
        // every gateway builds the same batch for a day.
        json doc{{"schema", "consent-gateway.analytics.day/1"},
                 {"site", q.site->name},
                 {"date", format_day(day)},
                 {"time_zone", q.site->calendar.zone()},
                 {"k", q.site->k},
                 {"summary", summary_fields(q, *p)},
                 {"timeseries", std::move(*series)}};
        for (const auto& [key, what] : batch_tables) {
            const auto t = breakdown(s, q, what);
            if (!t) {
                return std::nullopt;
            }
            auto [rows, other] = rows_json(*t, what);
            doc[std::string{key}] = json{{"rows", std::move(rows)}, {"other", std::move(other)}};
        }
        auto c = consent_report(s, q);
        if (!c || (*c)["days"].size() != 1) {
            return std::nullopt;
        }
        json day_consent = std::move((*c)["days"][0]);
        day_consent["categories"] = std::move((*c)["categories"]);
        doc["consent"] = std::move(day_consent);
        return json_config::dump(doc) + "\n";
    }

    stats_answer realtime(redis::session& s, const request& q, std::int64_t now) const {
        std::vector<std::string> cmd{"PFCOUNT"};
        for (std::int64_t m = now / 60 - 4; m <= now / 60; ++m) {
            cmd.push_back(detail::realtime_key(prefix, q.site->name, m));
        }
        const auto got = counts(s, {cmd});
        if (!got) {
            return error(503, "statistics store unreachable");
        }
        stats_answer a;
        a.body = json_config::dump(json{{"site", q.site->name},
                                        {"visitors_last_5_min", got->front()}}) +
                 "\n";
        return a;
    }

    stats_answer sites_answer(std::int64_t now) const {
        json list = json::array();
        for (const auto& p : sites) {
            if (p.enabled) {
                list.push_back({{"name", p.name},
                                {"time_zone", p.calendar.zone()},
                                {"k", p.k},
                                {"today", format_day(p.calendar.at(now).day)}});
            }
        }
        stats_answer a;
        a.body = json_config::dump(json{{"sites", std::move(list)}}) + "\n";
        return a;
    }

    // Everything that needs no Redis: parse and check the request. nullopt = go on.
    std::optional<stats_answer> check(std::string_view query,
                                      std::int64_t now, request& q) const {
        const std::string name = param(query, "site");
        for (std::uint32_t i = 0; i < sites.size(); ++i) {
            if (sites[i].enabled && sites[i].name == name) {
                q.site = &sites[i];
                q.index = i;
            }
        }
        if (q.site == nullptr) {
            return error(name.empty() ? 400 : 404,
                         name.empty() ? "site: required" : "no such site: \"" + name + "\"");
        }
        const day_number today = q.site->calendar.at(now).day;
        const std::string from = param(query, "from");
        const std::string to = param(query, "to");
        const auto f = from.empty() ? std::optional<day_number>{today} : parse_day(from);
        const auto t = to.empty() ? std::optional<day_number>{today} : parse_day(to);
        if (!f) {
            return error(400, "from: not a date (YYYY-MM-DD): \"" + from + "\"");
        }
        if (!t) {
            return error(400, "to: not a date (YYYY-MM-DD): \"" + to + "\"");
        }
        if (*f > *t) {
            return error(400, "from must not be after to");
        }
        if (*t - *f + 1 > max_range_days) {
            return error(400, "at most 400 days at once");
        }
        q.from = *f;
        q.to = *t;
        if (const auto l = param(query, "limit"); !l.empty()) {
            const auto n = to_u64(l);
            if (n < 1 || n > 1000) {
                return error(400, "limit: 1-1000");
            }
            q.limit = n;
        }
        return std::nullopt;
    }

    stats_answer run(redis::session& s, const std::string& report, const std::string& query,
                     std::int64_t now) const {
        if (report == "sites") {
            return sites_answer(now);
        }
        request q;
        if (auto bad = check(query, now, q)) {
            return *bad;
        }
        if (!s.connected()) {
            return error(503, "statistics store unreachable");
        }
        const bool csv = param(query, "format") == "csv";
        if (report == "summary") {
            return summary(s, q);
        }
        if (report == "timeseries") {
            return timeseries(s, q);
        }
        if (report == "consent") {
            return consent(s, q);
        }
        if (report == "realtime") {
            return realtime(s, q, now);
        }
        for (const auto& t : tables) {
            if (report == t.name) {
                dimension what = t.what;
                if (report == "campaigns") {
                    const auto by = param(query, "by");
                    if (by == "source") {
                        what = dimension::utm_source;
                    } else if (by == "medium") {
                        what = dimension::utm_medium;
                    } else if (!by.empty() && by != "campaign") {
                        return error(400, "by: source, medium or campaign");
                    }
                }
                return table(s, q, report, what, csv);
            }
        }
        return error(404, "no such report: \"" + report + "\"");
    }

    const std::string prefix;
    const std::vector<site_plan> sites;
    const recorder* writer;
    redis::worker<job> worker;  // last
};

stats_reader::stats_reader(redis::redis_config redis, std::vector<site_plan> sites,
                           const recorder* writer)
    : impl_(std::make_unique<impl>(std::move(redis), std::move(sites), writer)) {}

stats_reader::~stats_reader() {
    stop();
}

void stats_reader::start() {
    impl_->worker.start();
}

void stats_reader::stop() {
    impl_->worker.stop();
}

void stats_reader::answer(std::string report, std::string query, std::int64_t now,
                          std::function<void(stats_answer)> done) {
    auto shared_done = std::make_shared<std::function<void(stats_answer)>>(std::move(done));
    impl::job j = [this, report = std::move(report), query = std::move(query), now,
                   shared_done](redis::session& s) {
        stats_answer a;
        try {
            a = impl_->run(s, report, query, now);
        } catch (const std::exception&) {
            a = error(500, "internal error");
        }
        (*shared_done)(std::move(a));
    };
    if (impl_->worker.submit(j) != redis::submit_result::queued) {
        (*shared_done)(error(503, "statistics are busy; try again"));
    }
}

void stats_reader::day_batch(std::uint32_t site, day_number day,
                             std::function<void(std::optional<std::string>)> done) {
    auto shared_done =
        std::make_shared<std::function<void(std::optional<std::string>)>>(std::move(done));
    impl::job j = [this, site, day, shared_done](redis::session& s) {
        std::optional<std::string> doc;
        try {
            doc = impl_->day_document(s, site, day);
        } catch (const std::exception&) {
            doc.reset();
        }
        (*shared_done)(std::move(doc));
    };
    if (impl_->worker.submit(j) != redis::submit_result::queued) {
        (*shared_done)(std::nullopt);
    }
}

}  // namespace cg::analytics
