#include "analytics/aggregator.hpp"

#include <algorithm>
#include <array>
#include <functional>

namespace cg::analytics {

namespace {

constexpr std::array<std::string_view, 24> dimension_names{
    "total",   "anonymous",  "page_hour",    "page",          "entry",    "referrer",
    "channel", "utm_source", "utm_medium",   "utm_campaign",  "country",  "device",
    "browser", "os",         "visits",       "visits_ended",  "bounces",  "visit_pages",
    "visit_seconds", "consent", "opt_in",    "visitors",      "visitors_hour",
    "visitors_minute"};

}  // namespace

std::string_view name_of(dimension d) noexcept {
    return dimension_names[static_cast<std::size_t>(d)];
}

std::optional<dimension> dimension_named(std::string_view name) noexcept {
    for (std::size_t i = 0; i < dimension_names.size(); ++i) {
        if (dimension_names[i] == name) {
            return static_cast<dimension>(i);
        }
    }
    return std::nullopt;
}

bool is_hourly(dimension d) noexcept {
    return d == dimension::total || d == dimension::anonymous || d == dimension::page_hour ||
           d == dimension::visitors_hour;
}

bool is_breakdown(dimension d) noexcept {
    return d >= dimension::page && d <= dimension::os;
}

std::size_t aggregator::key_hash::operator()(const count_key& k) const noexcept {
    std::size_t h = std::hash<std::string_view>{}(k.value);
    h ^= (static_cast<std::size_t>(k.period) * 0x9E3779B97F4A7C15ULL) + (h << 6) + (h >> 2);
    h ^= (static_cast<std::size_t>(k.site) << 8 | static_cast<std::size_t>(k.what)) +
         0x9E3779B97F4A7C15ULL + (h << 6) + (h >> 2);
    return h;
}

bool aggregator::bump(std::uint32_t site, std::int64_t period, dimension what,
                      std::string_view value, std::uint64_t n, bool always) {
    probe_.site = site;
    probe_.period = period;
    probe_.what = what;
    probe_.value.assign(value);  // keeps its buffer: no allocation once it is large enough
    if (const auto it = counts_.find(probe_); it != counts_.end()) {
        it->second += n;
        return true;
    }
    if (!always && counts_.size() >= max_keys_) {
        return false;
    }
    counts_.emplace(probe_, n);
    return true;
}

bool aggregator::remember(std::uint32_t site, std::int64_t period, dimension what,
                          std::string_view value, const visitor_id& id, bool always) {
    if (id_count_ >= max_ids_) {
        return false;  // ids are bounded even for site figures: 16 bytes each, per page view
    }
    probe_.site = site;
    probe_.period = period;
    probe_.what = what;
    probe_.value.assign(value);
    auto it = ids_.find(probe_);
    if (it == ids_.end()) {
        if (!always && counts_.size() + ids_.size() >= max_keys_ * 2) {
            return false;
        }
        it = ids_.emplace(probe_, std::vector<visitor_id>{}).first;
    }
    // A visitor's page views come in a row: the last id is the one most often repeated.
    if (it->second.empty() || it->second.back() != id) {
        it->second.push_back(id);
        ++id_count_;
    }
    return true;
}

void aggregator::add_count(std::uint32_t site, std::int64_t period, dimension what,
                           std::string_view value, std::uint64_t n) {
    if (!bump(site, period, what, value, n, !is_breakdown(what))) {
        dropped_ += n;
    }
}

void aggregator::add(const page_view& v) {
    const std::int64_t day = v.when.day;
    const std::int64_t hour = day * 24 + v.when.hour;
    bump(v.site, hour, dimension::total, {}, 1, true);
    if (v.anonymous || v.where == nullptr || v.ua == nullptr) {
        bump(v.site, hour, dimension::anonymous, {}, 1, true);
        return;
    }
    const page_dimensions& d = *v.where;
    const std::string_view device = name_of(v.ua->kind);
    const std::string_view source = name_of(d.source);
    struct row {
        dimension what;
        std::string_view value;
    };
    const std::array<row, unique_rows.size()> rows{{{dimension::page, d.path},
                                    {dimension::entry, v.entry ? d.path : std::string_view{}},
                                    {dimension::referrer, d.referrer_host},
                                    {dimension::channel, source},
                                    {dimension::utm_source, d.utm_source},
                                    {dimension::utm_medium, d.utm_medium},
                                    {dimension::utm_campaign, d.utm_campaign},
                                    {dimension::country, v.country},
                                    {dimension::device, device},
                                    {dimension::browser, v.ua->browser},
                                    {dimension::os, v.ua->os}}};
    bool complete = bump(v.site, hour, dimension::page_hour, d.path, 1, false);
    for (std::size_t i = 0; i < rows.size(); ++i) {
        const row& r = rows[i];
        if (r.value.empty()) {
            continue;  // no referrer, campaign or country: no row
        }
        // An entry row counts visits (added when the visit opened), not page views.
        if (r.what != dimension::entry) {
            complete = bump(v.site, day, r.what, r.value, 1, false) && complete;
        }
        if (v.visitor != nullptr && (v.remember & (1U << i)) != 0) {
            complete = remember(v.site, day, r.what, r.value, *v.visitor, false) && complete;
        }
    }
    if (v.visitor != nullptr) {
        if ((v.remember & remember_day) != 0) {
            remember(v.site, day, dimension::visitors, {}, *v.visitor, true);
        }
        if ((v.remember & remember_hour) != 0) {
            remember(v.site, hour, dimension::visitors_hour, {}, *v.visitor, true);
        }
        if ((v.remember & remember_minute) != 0) {
            remember(v.site, v.minute, dimension::visitors_minute, {}, *v.visitor, true);
        }
    }
    if (!complete) {
        ++dropped_;
    }
}

void aggregator::merge(flush_batch&& other) {
    for (auto& [key, n] : other.counts) {
        if (!bump(key.site, key.period, key.what, key.value, n, !is_breakdown(key.what))) {
            dropped_ += n;
        }
    }
    for (auto& [key, ids] : other.uniques) {
        const bool always = !is_breakdown(key.what);
        for (const auto& id : ids) {
            if (!remember(key.site, key.period, key.what, key.value, id, always)) {
                break;
            }
        }
    }
    dropped_ += other.dropped;
    other = flush_batch{};
}

flush_batch aggregator::drain() {
    flush_batch out;
    out.counts.reserve(counts_.size());
    for (auto& [key, n] : counts_) {
        out.counts.emplace_back(key, n);
    }
    out.uniques.reserve(ids_.size());
    for (auto& [key, ids] : ids_) {
        std::sort(ids.begin(), ids.end());
        ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
        out.uniques.emplace_back(key, std::move(ids));
    }
    out.dropped = dropped_;
    counts_.clear();
    ids_.clear();
    id_count_ = 0;
    dropped_ = 0;
    return out;
}

std::uint64_t aggregator::count(const count_key& k) const {
    const auto it = counts_.find(k);
    return it == counts_.end() ? 0 : it->second;
}

std::size_t aggregator::unique_ids(const count_key& k) const {
    const auto it = ids_.find(k);
    if (it == ids_.end()) {
        return 0;
    }
    auto ids = it->second;
    std::sort(ids.begin(), ids.end());
    return static_cast<std::size_t>(std::unique(ids.begin(), ids.end()) - ids.begin());
}

}  // namespace cg::analytics
