#include "analytics/aggregator.hpp"

#include <array>
#include <cstring>

#include "xxh3.hpp"

namespace cg::analytics {

namespace {

constexpr std::array<std::string_view, 24> dimension_names{
    "total",      "anonymous",    "page_hour",     "page",
    "entry",      "referrer",     "channel",       "utm_source",
    "utm_medium", "utm_campaign", "country",       "device",
    "browser",    "os",           "visits",        "visits_ended",
    "bounces",    "visit_pages",  "visit_seconds", "consent",
    "opt_in",     "visitors",     "visitors_hour", "visitors_minute"};

// An id as two words: compared with two instructions (std::array's operator== calls memcmp).
std::pair<std::uint64_t, std::uint64_t> words(const visitor_id& id) noexcept {
    std::pair<std::uint64_t, std::uint64_t> w;
    std::memcpy(&w.first, id.data(), 8);
    std::memcpy(&w.second, id.data() + 8, 8);
    return w;
}

// Drops the repeats of `ids`, keeping the first of each in its place, through an open-addressing
// set of positions (`slots`, reused): linear in the ids, where sorting them to find the repeats
// cost a quarter of a percent of the gateway's CPU in bench/analytics_tap.sh.
void drop_repeats(std::vector<visitor_id>& ids, std::vector<std::uint32_t>& slots) {
    if (ids.size() < 2) {
        return;
    }
    std::size_t size = 16;
    while (size < ids.size() * 2) {
        size *= 2;
    }
    slots.assign(size, 0);  // 0: free; else 1 + the position of a kept id
    const std::size_t mask = size - 1;
    std::size_t kept = 0;
    for (const visitor_id& id : ids) {
        const auto w = words(id);
        for (std::size_t at = ((w.first ^ w.second) * 0x9E3779B97F4A7C15ULL >> 32) & mask;;
             at = (at + 1) & mask) {
            if (slots[at] == 0) {
                ids[kept] = id;  // kept <= the current position: nothing unread is overwritten
                slots[at] = static_cast<std::uint32_t>(++kept);
                break;
            }
            if (words(ids[slots[at] - 1]) == w) {
                break;  // a repeat
            }
        }
    }
    ids.resize(kept);
}

}  // namespace

std::size_t value_hash(std::string_view value) noexcept {
    return static_cast<std::size_t>(XXH3_64bits(value.data(), value.size()));
}

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

namespace {

std::size_t mix(std::size_t h, std::uint32_t site, std::int64_t period, dimension what) noexcept {
    h ^= (static_cast<std::size_t>(period) * 0x9E3779B97F4A7C15ULL) + (h << 6) + (h >> 2);
    h ^= (static_cast<std::size_t>(site) << 8 | static_cast<std::size_t>(what)) +
         0x9E3779B97F4A7C15ULL + (h << 6) + (h >> 2);
    return h;
}

const std::size_t empty_hash = value_hash({});

}  // namespace

std::size_t aggregator::key_hash::operator()(const count_key& k) const noexcept {
    return mix(value_hash(k.value), k.site, k.period, k.what);
}

std::size_t aggregator::key_hash::operator()(const probe& p) const noexcept {
    return mix(p.value_hash, p.site, p.period, p.what);
}

namespace {

// The hashes of the names of an enumeration's first `n` values, computed once, and the hash of
// any value's name (a value past them, added later, is hashed when it comes).
template <class Enum, std::size_t n>
class name_hashes {
  public:
    name_hashes() {
        for (std::size_t i = 0; i < n; ++i) {
            known_[i] = value_hash(name_of(static_cast<Enum>(i)));
        }
    }
    std::size_t operator()(Enum e) const noexcept {
        const auto i = static_cast<std::size_t>(e);
        return i < n ? known_[i] : value_hash(name_of(e));
    }

  private:
    std::array<std::size_t, n> known_{};
};

const name_hashes<channel, 6> channel_hash;
const name_hashes<device_class, 4> device_hash;

}  // namespace

void page_rows::set(std::size_t i, std::string_view value) noexcept {
    values[i] = value;
    hashes[i] = value.empty() ? 0 : value_hash(value);
}

page_rows rows_of(const page_view& v) noexcept {
    page_rows r;
    const page_dimensions& d = *v.where;
    r.set(0, d.path);
    if (v.entry) {
        r.values[1] = d.path;
        r.hashes[1] = r.hashes[0];
    }
    r.set(2, d.referrer_host);
    r.values[3] = name_of(d.source);
    r.hashes[3] = channel_hash(d.source);
    r.set(4, d.utm_source);
    r.set(5, d.utm_medium);
    r.set(6, d.utm_campaign);
    r.set(7, v.country);
    r.values[8] = name_of(v.ua->kind);
    r.hashes[8] = device_hash(v.ua->kind);
    r.set(9, v.ua->browser);
    r.set(10, v.ua->os);
    return r;
}

aggregator::cell* aggregator::cell_for(const probe& p, bool always) {
    if (const auto it = cells_.find(p); it != cells_.end()) {
        return &it->second;
    }
    if (!always && cells_.size() >= max_keys_) {
        return nullptr;
    }
    return &cells_.emplace(count_key{p.site, p.period, p.what, std::string{p.value}}, cell{})
                .first->second;
}

bool aggregator::remember(cell& c, const visitor_id& id) {
    // A visitor's page views come in a row: the last id is the one most often repeated.
    if (!c.ids.empty() && words(c.ids.back()) == words(id)) {
        return true;
    }
    if (id_count_ >= max_ids_) {
        return false;  // ids are bounded even for site figures: 16 bytes each, per page view
    }
    c.ids.push_back(id);
    ++id_count_;
    return true;
}

void aggregator::add_count(std::uint32_t site, std::int64_t period, dimension what,
                           std::string_view value, std::uint64_t n) {
    cell* c = cell_for({site, period, what, value, value_hash(value)}, !is_breakdown(what));
    if (c == nullptr) {
        dropped_ += n;
    } else {
        c->n += n;
    }
}

void aggregator::add(const page_view& v) {
    if (v.anonymous || v.where == nullptr || v.ua == nullptr) {
        const std::int64_t hour = std::int64_t{v.when.day} * 24 + v.when.hour;
        cell_for({v.site, hour, dimension::total, {}, empty_hash}, true)->n += 1;
        cell_for({v.site, hour, dimension::anonymous, {}, empty_hash}, true)->n += 1;
        return;
    }
    add(v, rows_of(v));
}

void aggregator::add(const page_view& v, const page_rows& rows) {
    const std::int64_t day = v.when.day;
    const std::int64_t hour = day * 24 + v.when.hour;
    cell_for({v.site, hour, dimension::total, {}, empty_hash}, true)->n += 1;
    bool complete = true;
    if (cell* c =
            cell_for({v.site, hour, dimension::page_hour, rows.values[0], rows.hashes[0]}, false)) {
        c->n += 1;
    } else {
        complete = false;
    }
    for (std::size_t i = 0; i < unique_rows.size(); ++i) {
        // An entry row counts visits (added when the visit opened), not page views.
        const bool count_it = unique_rows[i] != dimension::entry;
        const bool remember_it = v.visitor != nullptr && (v.remember & (1U << i)) != 0;
        if (rows.values[i].empty() || (!count_it && !remember_it)) {
            continue;  // no referrer, campaign or country: no row
        }
        cell* c = cell_for({v.site, day, unique_rows[i], rows.values[i], rows.hashes[i]}, false);
        if (c == nullptr) {
            complete = false;
            continue;
        }
        c->n += count_it ? 1 : 0;
        if (remember_it && !remember(*c, *v.visitor)) {
            complete = false;
        }
    }
    if (v.visitor != nullptr) {
        const std::pair<dimension, std::int64_t> figures[] = {
            {dimension::visitors, day},
            {dimension::visitors_hour, hour},
            {dimension::visitors_minute, v.minute}};
        for (std::size_t i = 0; i < 3; ++i) {
            if ((v.remember & (remember_day << i)) != 0) {
                remember(
                    *cell_for({v.site, figures[i].second, figures[i].first, {}, empty_hash}, true),
                    *v.visitor);
            }
        }
    }
    if (!complete) {
        ++dropped_;
    }
}

void aggregator::merge(flush_batch&& other) {
    for (auto& [key, n] : other.counts) {
        add_count(key.site, key.period, key.what, key.value, n);
    }
    for (auto& [key, ids] : other.uniques) {
        cell* c = cell_for({key.site, key.period, key.what, key.value, value_hash(key.value)},
                           !is_breakdown(key.what));
        if (c == nullptr) {
            continue;
        }
        for (const auto& id : ids) {
            if (!remember(*c, id)) {
                break;
            }
        }
    }
    dropped_ += other.dropped;
    other = flush_batch{};
}

flush_batch aggregator::drain() {
    flush_batch out;
    out.counts.reserve(cells_.size());
    for (auto& [key, c] : cells_) {
        if (c.n != 0) {
            out.counts.emplace_back(key, c.n);
        }
        if (!c.ids.empty()) {
            drop_repeats(c.ids, slots_);
            out.uniques.emplace_back(key, std::move(c.ids));
        }
    }
    if (slots_.capacity() > 64 * 1024) {
        std::vector<std::uint32_t>{}.swap(slots_);  // a busy row's set is not kept for the next
    }
    out.dropped = dropped_;
    cells_.clear();
    id_count_ = 0;
    dropped_ = 0;
    return out;
}

std::uint64_t aggregator::count(const count_key& k) const {
    const auto it = cells_.find(k);
    return it == cells_.end() ? 0 : it->second.n;
}

std::size_t aggregator::unique_ids(const count_key& k) const {
    const auto it = cells_.find(k);
    if (it == cells_.end()) {
        return 0;
    }
    auto ids = it->second.ids;
    std::vector<std::uint32_t> slots;
    drop_repeats(ids, slots);
    return ids.size();
}

}  // namespace cg::analytics
