#include "analytics/visits.hpp"

#include <algorithm>

namespace cg::analytics {

visit_table::visit_table(std::size_t max_visits, std::int64_t idle_seconds)
    : per_shard_(std::max<std::size_t>(1, max_visits / 16)), idle_(idle_seconds) {}

void visit_table::fold(const state& s, aggregator& out) {
    out.add_count(s.site, s.day, dimension::visits_ended, {}, 1);
    if (s.pages == 1) {
        out.add_count(s.site, s.day, dimension::bounces, {}, 1);
    }
    out.add_count(s.site, s.day, dimension::visit_pages, {}, s.pages);
    out.add_count(s.site, s.day, dimension::visit_seconds, {},
                  static_cast<std::uint64_t>(std::max<std::int64_t>(0, s.last - s.start)));
}

bool visit_table::touch(std::uint32_t site, day_number day, const visitor_id& id,
                        std::int64_t now, aggregator& out) {
    shard& sh = shards_[id[15] & 15U];
    const std::lock_guard lock{sh.mutex};
    if (auto it = sh.open.find(id); it != sh.open.end()) {
        state& s = it->second;
        if (now - s.last < idle_) {
            s.last = std::max(s.last, now);
            ++s.pages;
            return false;
        }
        fold(s, out);
        sh.open.erase(it);
    }
    if (sh.open.size() >= per_shard_) {
        for (auto it = sh.open.begin(); it != sh.open.end();) {
            if (now - it->second.last >= idle_) {
                fold(it->second, out);
                it = sh.open.erase(it);
            } else {
                ++it;
            }
        }
        if (sh.open.size() >= per_shard_) {
            fold(sh.open.begin()->second, out);
            sh.open.erase(sh.open.begin());
            evicted_.fetch_add(1, std::memory_order_relaxed);
        }
    }
    sh.open.emplace(id, state{site, day, now, now, 1});
    out.add_count(site, day, dimension::visits, {}, 1);
    return true;
}

void visit_table::sweep(std::int64_t now, aggregator& out, bool all) {
    for (auto& sh : shards_) {
        const std::lock_guard lock{sh.mutex};
        for (auto it = sh.open.begin(); it != sh.open.end();) {
            if (all || now - it->second.last >= idle_) {
                fold(it->second, out);
                it = sh.open.erase(it);
            } else {
                ++it;
            }
        }
    }
}

std::size_t visit_table::size() const {
    std::size_t n = 0;
    for (const auto& sh : shards_) {
        const std::lock_guard lock{sh.mutex};
        n += sh.open.size();
    }
    return n;
}

}  // namespace cg::analytics
