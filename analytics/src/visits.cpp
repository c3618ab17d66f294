#include "analytics/visits.hpp"

#include <algorithm>
#include <cstring>
#include <random>

#include "xxh3.hpp"

namespace cg::analytics {

visit_table::visit_table(std::size_t max_visits, std::int64_t idle_seconds)
    : per_shard_(std::max<std::size_t>(1, max_visits / 16)), idle_(idle_seconds) {
    std::random_device random;
    seed_ = (std::uint64_t{random()} << 32) | random();
}

visit_table::visit_key visit_table::key_of(std::uint32_t site, day_number day,
                                           const visitor_source& who) const noexcept {
    // site ‖ day ‖ key generation ‖ family ‖ address ‖ User-Agent digest, fixed lengths.
    static_assert(sizeof site == 4 && sizeof day == 4 && sizeof who.key_generation == 8);
    unsigned char in[4 + 4 + 8 + 1 + 16 + 16] = {};
    std::size_t at = 0;
    const auto put = [&](const void* p, std::size_t n) {
        std::memcpy(in + at, p, n);
        at += n;
    };
    put(&site, 4);
    put(&day, 4);
    put(&who.key_generation, 8);
    if (who.address.is_v4()) {
        in[at++] = 4;
        put(who.address.to_v4().to_bytes().data(), 4);
        at += 12;
    } else {
        in[at++] = 6;
        put(who.address.to_v6().to_bytes().data(), 16);
    }
    put(who.user_agent.data(), who.user_agent.size());
    const XXH128_hash_t h = XXH3_128bits_withSeed(in, sizeof in, seed_);
    return {h.low64, h.high64 == 0 && h.low64 == 0 ? 1 : h.high64};  // all zero marks a free slot
}

visit_table::slot* visit_table::find(shard& sh, const visit_key& k) noexcept {
    if (sh.slots.empty()) {
        return nullptr;
    }
    const std::size_t mask = sh.slots.size() - 1;
    for (std::size_t i = k.low & mask;; i = (i + 1) & mask) {
        slot& at = sh.slots[i];
        if (at.key == k) {
            return &at;
        }
        if (at.free()) {
            return nullptr;  // never full: at most three quarters are used
        }
    }
}

visit_table::slot& visit_table::insert(shard& sh, const visit_key& k, const state& s) {
    if ((sh.used + 1) * 4 > sh.slots.size() * 3) {
        std::vector<slot> old(std::max<std::size_t>(16, sh.slots.size() * 2));
        old.swap(sh.slots);
        sh.used = 0;
        for (const slot& o : old) {
            if (!o.free()) {
                insert(sh, o.key, o.s);
            }
        }
        sh.base.store(sh.slots.data(), std::memory_order_relaxed);
        sh.mask.store(sh.slots.size() - 1, std::memory_order_relaxed);
    }
    const std::size_t mask = sh.slots.size() - 1;
    std::size_t i = k.low & mask;
    while (!sh.slots[i].free()) {
        i = (i + 1) & mask;
    }
    sh.slots[i].key = k;
    sh.slots[i].s = s;
    ++sh.used;
    return sh.slots[i];
}

void visit_table::erase(shard& sh, std::size_t at) noexcept {
    // Linear probing without tombstones: each later slot of the same run moves into the hole
    // unless its own home lies (cyclically) between the hole and it.
    const std::size_t mask = sh.slots.size() - 1;
    for (std::size_t j = (at + 1) & mask; !sh.slots[j].free(); j = (j + 1) & mask) {
        const std::size_t home = sh.slots[j].key.low & mask;
        const bool stays = at <= j ? (at < home && home <= j) : (at < home || home <= j);
        if (!stays) {
            sh.slots[at] = sh.slots[j];
            at = j;
        }
    }
    sh.slots[at].key = {};
    --sh.used;
}

void visit_table::prefetch(const visit_key& k) const noexcept {
    const shard& sh = shards_[shard_of(k)];
    const slot* base = sh.base.load(std::memory_order_relaxed);
    if (base != nullptr) {
        const slot* at = base + (k.low & sh.mask.load(std::memory_order_relaxed));
        __builtin_prefetch(at);
        __builtin_prefetch(reinterpret_cast<const char*>(at) + 64);
    }
}

void visit_table::fold(const state& s, aggregator& out) {
    out.add_count(s.site, s.day, dimension::visits_ended, {}, 1);
    if (s.pages == 1) {
        out.add_count(s.site, s.day, dimension::bounces, {}, 1);
    }
    out.add_count(s.site, s.day, dimension::visit_pages, {}, s.pages);
    out.add_count(s.site, s.day, dimension::visit_seconds, {},
                  static_cast<std::uint64_t>(std::max<std::int64_t>(0, s.last - s.start)));
}

void visit_table::end_idle(shard& sh, std::int64_t now, aggregator& out, bool all) const {
    // erase() may move a later visit into slot i: look at i again until it stays. A visit it
    // brings round from the array's start was looked at already and stays.
    for (std::size_t i = 0; i < sh.slots.size(); ++i) {
        while (!sh.slots[i].free() && (all || now - sh.slots[i].s.last >= idle_)) {
            fold(sh.slots[i].s, out);
            erase(sh, i);
        }
    }
}

namespace {

std::uint32_t row_hash(std::size_t row, std::size_t value_hash) noexcept {
    const std::size_t h = value_hash ^ (row * 0x9E3779B97F4A7C15ULL);
    return static_cast<std::uint32_t>(h ^ (h >> 32)) | 1U;  // never 0: 0 marks a free slot
}

}  // namespace

visit_step visit_table::touch(const visit_key& key, std::uint32_t site, local_moment when,
                              std::int64_t minute, const visitor_source& who, std::int64_t now,
                              page_rows& rows, const country_database* countries, aggregator& out) {
    shard& sh = shards_[shard_of(key)];
    const std::lock_guard lock{sh.mutex};
    visit_step step;
    state* s = nullptr;
    if (slot* found = find(sh, key)) {
        if (now - found->s.last < idle_) {
            s = &found->s;
            s->last = std::max(s->last, now);
            ++s->pages;
        } else {
            fold(found->s, out);
            erase(sh, static_cast<std::size_t>(found - sh.slots.data()));
        }
    }
    if (s == nullptr) {
        if (sh.used >= per_shard_) {
            end_idle(sh, now, out, false);
            if (sh.used >= per_shard_) {
                // Make room next to where the new visit goes: the first visit from its home on.
                const std::size_t mask = sh.slots.size() - 1;
                std::size_t i = key.low & mask;
                while (sh.slots[i].free()) {
                    i = (i + 1) & mask;
                }
                fold(sh.slots[i].s, out);
                erase(sh, i);
                evicted_.fetch_add(1, std::memory_order_relaxed);
            }
        }
        state fresh;
        fresh.site = site;
        fresh.day = when.day;
        fresh.start = fresh.last = now;
        fresh.pages = 1;
        if (countries != nullptr) {
            fresh.country = countries->lookup(who.address);  // C9: once per visit, country only
        }
        fresh.id = (*who.hasher)(who.site_name, who.address, who.user_agent);
        s = &insert(sh, key, fresh).s;
        out.add_count(site, when.day, dimension::visits, {}, 1);
        step.started = true;
        step.remember = remember_day | remember_hour | remember_minute;
    } else {
        if (s->hour != when.hour) {
            step.remember |= remember_hour;
        }
        if (s->minute != minute) {
            step.remember |= remember_minute;
        }
    }
    s->hour = when.hour;
    s->minute = minute;
    step.country = s->country;
    step.id = s->id;
    rows.set(7, step.country.view());  // unique_rows[7] is the country
    for (std::size_t i = 0; i < unique_rows.size(); ++i) {
        if (rows.values[i].empty()) {
            continue;
        }
        const std::uint32_t h = row_hash(i, rows.hashes[i]);
        const auto end = s->seen.begin() + s->seen_count;
        if (std::find(s->seen.begin(), end, h) != end) {
            continue;  // this visit already added the visitor to this row
        }
        step.remember |= 1U << i;
        if (s->seen_count < s->seen.size()) {
            s->seen[s->seen_count++] = h;
        }
    }
    return step;
}

void visit_table::sweep(std::int64_t now, aggregator& out, bool all) {
    for (auto& sh : shards_) {
        const std::lock_guard lock{sh.mutex};
        end_idle(sh, now, out, all);
    }
}

std::size_t visit_table::size() const {
    std::size_t n = 0;
    for (const auto& sh : shards_) {
        const std::lock_guard lock{sh.mutex};
        n += sh.used;
    }
    return n;
}

}  // namespace cg::analytics
