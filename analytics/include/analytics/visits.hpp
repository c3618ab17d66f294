#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string_view>
#include <vector>

#include <boost/asio/ip/address.hpp>

#include "analytics/aggregator.hpp"
#include "analytics/geoip.hpp"
#include "analytics/visitor.hpp"

namespace cg::analytics {

/// What touch() says about one page view of a visit.
struct visit_step {
    bool started = false;        ///< the first page view of a visit
    std::uint32_t remember = 0;  ///< page_view::remember: ids the visit has not added yet
    country_code country;        ///< looked up once, when the visit started
    visitor_id id{};             ///< derived once, when the visit started
};

/// Who a page view is from, as the visit table needs it; read only during touch().
struct visitor_source {
    const visitor_hasher* hasher = nullptr;  ///< under the day's key (required)
    std::uint64_t key_generation = 0;        ///< which key that is: a new key starts new visits
    std::string_view site_name;
    boost::asio::ip::address address;  ///< for the visit's key, the id and the country only
    ua_digest user_agent{};
};

/// Open visits (DESIGN §6): per visitor, its id, when the visit started, its last page view and
/// how many it had, in gateway memory only. A visit ends after `idle_seconds` without a page
/// view (30 minutes, as Plausible and GA) and is then folded into counters (bounces, pages,
/// seconds); nothing about it survives. Visits are found by a key that hashes the site, the
/// local day, the day key's generation, the address and the User-Agent digest with XXH3 under a
/// seed drawn when the table is made: about 20 ns, where the visitor id's HMAC costs two SHA-256
/// blocks, so the id is derived once per visit, when it starts. A new day or day key gives a
/// new key, so no visit outlives its day's key. Bounded: a full table ends a visit early to make
/// room and counts it in evicted(). Thread-safe (16 shards with a lock each); the aggregator
/// passed in must be the caller's own.
class visit_table {
  public:
    explicit visit_table(std::size_t max_visits = 200'000, std::int64_t idle_seconds = 1800);

    /// What a visit is found by: a keyed XXH3-128 of the site, the local day, the day key's
    /// generation, the address and the User-Agent digest (key_of); all zero marks a free slot
    /// (a key that comes out all zero is changed).
    struct visit_key {
        std::uint64_t low = 0;
        std::uint64_t high = 0;
        friend bool operator==(const visit_key&, const visit_key&) = default;
    };
    /// The key of the visit of `who` on `day` of `site`: the tap computes it once per page view,
    /// for prefetch() and then touch().
    [[nodiscard]] visit_key key_of(std::uint32_t site, day_number day,
                                   const visitor_source& who) const noexcept;

    /// A measured page view from `who` at `now` (Unix seconds) on local `when.day` of `site`
    /// (`key`: key_of(site, when.day, who)). A
    /// page view that starts a visit is counted in `out` (visits; the entry row by the caller),
    /// derives the visitor id and looks the country of the address up in `countries` (if any),
    /// both kept for the visit. `rows`
    /// are the page view's (rows_of, without the entry row; the country's is set here, valid
    /// only during the call: the caller sets it again from the answer's copy); the
    /// answer's `remember` leaves out the ids the visit already added (the same
    /// row, hour or minute: HyperLogLogs would ignore them). A visit it ends (idle, or evicted
    /// for room) is folded into `out`.
    visit_step touch(const visit_key& key, std::uint32_t site, local_moment when,
                     std::int64_t minute, const visitor_source& who, std::int64_t now,
                     page_rows& rows, const country_database* countries, aggregator& out);
    /// Asks for the memory where touch() will look for the visit with `key`, without waiting
    /// for it: the tap calls this a few page views ahead, so a visit is found in the cache and
    /// not in main memory. Only a hint: it changes nothing.
    void prefetch(const visit_key& key) const noexcept;
    /// Ends the visits idle for idle_seconds at `now` (every visit when `all`), folding them
    /// into `out`.
    void sweep(std::int64_t now, aggregator& out, bool all = false);

    [[nodiscard]] std::size_t size() const;
    /// Visits ended early because the table was full.
    [[nodiscard]] std::uint64_t evicted() const noexcept {
        return evicted_.load(std::memory_order_relaxed);
    }

  private:
    struct state {
        std::uint32_t site = 0;
        day_number day = 0;
        std::int64_t start = 0;
        std::int64_t last = 0;
        std::int64_t minute = 0;  ///< of the last page view
        std::uint32_t pages = 0;
        std::uint8_t hour = 0;  ///< of the last page view
        std::uint8_t seen_count = 0;
        country_code country;
        visitor_id id{};
        std::array<std::uint32_t, 8> seen{};  ///< hashes of the rows the visit added its id to
    };
    struct alignas(64) slot {
        visit_key key;
        state s;
        [[nodiscard]] bool free() const noexcept { return key == visit_key{}; }
    };
    // One shard's visits: open addressing with linear probing in a power-of-two array at most
    // three quarters full, so the slot a visit is in follows from its key and can be asked
    // for ahead (prefetch). `base` and `mask` repeat the array's place for prefetch(), which
    // reads them without the lock: a stale value costs only a useless prefetch.
    struct shard {
        mutable std::mutex mutex;
        std::vector<slot> slots;
        std::size_t used = 0;
        std::atomic<const slot*> base{nullptr};
        std::atomic<std::size_t> mask{0};
    };
    static std::size_t shard_of(const visit_key& k) noexcept { return k.high >> 60; }
    static slot* find(shard& sh, const visit_key& k) noexcept;
    static slot& insert(shard& sh, const visit_key& k, const state& s);
    static void erase(shard& sh, std::size_t at) noexcept;
    static void fold(const state& s, aggregator& out);
    // Folds and removes the shard's visits idle at `now` (all when `all`); its lock is held.
    void end_idle(shard& sh, std::int64_t now, aggregator& out, bool all) const;

    std::size_t per_shard_;
    std::int64_t idle_;
    std::uint64_t seed_;  // XXH3's for visit keys: random, never leaves the process
    std::array<shard, 16> shards_;
    std::atomic<std::uint64_t> evicted_{0};
};

}  // namespace cg::analytics
