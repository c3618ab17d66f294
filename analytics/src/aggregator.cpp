#include "analytics/aggregator.hpp"

#include <functional>

namespace cg::analytics {

std::string_view name_of(dimension d) noexcept {
    switch (d) {
        case dimension::total:
            return "total";
        case dimension::anonymous:
            return "anonymous";
        case dimension::page:
            return "page";
        case dimension::referrer:
            return "referrer";
        case dimension::channel:
            return "channel";
        case dimension::utm_source:
            return "utm_source";
        case dimension::utm_medium:
            return "utm_medium";
        case dimension::utm_campaign:
            return "utm_campaign";
        case dimension::country:
            return "country";
        case dimension::device:
            return "device";
        case dimension::browser:
            return "browser";
        case dimension::os:
            break;
    }
    return "os";
}

std::size_t aggregator::key_hash::operator()(const count_key& k) const noexcept {
    std::size_t h = std::hash<std::string_view>{}(k.value);
    h ^= (static_cast<std::size_t>(k.period) * 0x9E3779B97F4A7C15ULL) + (h << 6) + (h >> 2);
    h ^= (static_cast<std::size_t>(k.site) << 8 | static_cast<std::size_t>(k.what)) +
         0x9E3779B97F4A7C15ULL + (h << 6) + (h >> 2);
    return h;
}

void aggregator::bump(std::uint32_t site, std::int64_t period, dimension what,
                      std::string_view value, std::uint64_t n, bool always) {
    probe_.site = site;
    probe_.period = period;
    probe_.what = what;
    probe_.value.assign(value);  // keeps its buffer: no allocation once it is large enough
    if (const auto it = counts_.find(probe_); it != counts_.end()) {
        it->second += n;
        return;
    }
    if (!always && counts_.size() >= max_keys_) {
        dropped_ += n;
        return;
    }
    counts_.emplace(probe_, n);
}

void aggregator::add(const page_view& v) {
    bump(v.site, v.hour, dimension::total, {}, 1, true);
    if (v.anonymous || v.where == nullptr || v.ua == nullptr) {
        bump(v.site, v.hour, dimension::anonymous, {}, 1, true);
        return;
    }
    const page_dimensions& d = *v.where;
    bump(v.site, v.hour, dimension::page, d.path, 1, false);
    bump(v.site, v.day, dimension::channel, name_of(d.source), 1, false);
    if (!d.referrer_host.empty()) {
        bump(v.site, v.day, dimension::referrer, d.referrer_host, 1, false);
    }
    if (!d.utm_source.empty()) {
        bump(v.site, v.day, dimension::utm_source, d.utm_source, 1, false);
    }
    if (!d.utm_medium.empty()) {
        bump(v.site, v.day, dimension::utm_medium, d.utm_medium, 1, false);
    }
    if (!d.utm_campaign.empty()) {
        bump(v.site, v.day, dimension::utm_campaign, d.utm_campaign, 1, false);
    }
    if (!v.country.empty()) {
        bump(v.site, v.day, dimension::country, v.country, 1, false);
    }
    bump(v.site, v.day, dimension::device, name_of(v.ua->kind), 1, false);
    bump(v.site, v.day, dimension::browser, v.ua->browser, 1, false);
    bump(v.site, v.day, dimension::os, v.ua->os, 1, false);
}

void aggregator::merge(aggregator& other) {
    for (auto& [key, n] : other.counts_) {
        const bool always = key.what == dimension::total || key.what == dimension::anonymous;
        bump(key.site, key.period, key.what, key.value, n, always);
    }
    dropped_ += other.dropped_;
    other.counts_.clear();
    other.dropped_ = 0;
}

std::vector<std::pair<count_key, std::uint64_t>> aggregator::drain() {
    std::vector<std::pair<count_key, std::uint64_t>> out;
    out.reserve(counts_.size());
    for (auto& [key, n] : counts_) {
        out.emplace_back(key, n);
    }
    counts_.clear();
    dropped_ = 0;
    return out;
}

std::uint64_t aggregator::count(const count_key& k) const {
    const auto it = counts_.find(k);
    return it == counts_.end() ? 0 : it->second;
}

}  // namespace cg::analytics
