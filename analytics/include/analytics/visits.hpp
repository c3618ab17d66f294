#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <unordered_map>

#include "analytics/aggregator.hpp"
#include "analytics/visitor.hpp"

namespace cg::analytics {

/// Open visits (DESIGN §6): per visitor id, when the visit started, its last page view and how
/// many it had, in gateway memory only. A visit ends after `idle_seconds` without a page view
/// (30 minutes, as Plausible and GA) and is then folded into counters (bounces, pages, seconds);
/// nothing about it survives. The id changes with the day key, so no visit outlives its day's
/// key. Bounded: a full table ends a visit early to make room and counts it in evicted().
/// Thread-safe (16 shards with a lock each); the aggregator passed in must be the caller's own.
class visit_table {
  public:
    explicit visit_table(std::size_t max_visits = 200'000, std::int64_t idle_seconds = 1800);

    /// A measured page view of `id` at `now` (Unix seconds) on local `day` of `site`. Returns
    /// true when it starts a visit (which is then counted in `out`: visits, and the entry row
    /// by the caller). A visit it ends (idle, or evicted for room) is folded into `out`.
    bool touch(std::uint32_t site, day_number day, const visitor_id& id, std::int64_t now,
               aggregator& out);
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
        std::uint32_t pages = 0;
    };
    struct id_hash {
        std::size_t operator()(const visitor_id& id) const noexcept {
            std::size_t h;
            std::memcpy(&h, id.data(), sizeof h);  // already a keyed hash
            return h;
        }
    };
    struct shard {
        mutable std::mutex mutex;
        std::unordered_map<visitor_id, state, id_hash> open;
    };
    static void fold(const state& s, aggregator& out);

    std::size_t per_shard_;
    std::int64_t idle_;
    std::array<shard, 16> shards_;
    std::atomic<std::uint64_t> evicted_{0};
};

}  // namespace cg::analytics
