#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "analytics/page_view.hpp"
#include "analytics/user_agent.hpp"

namespace cg::analytics {

/// What a count is about. `total` is the site's page views (value ""); `anonymous` the page
/// views of visitors who asked not to be measured (Sec-GPC, DNT, analytics refused), which
/// count in the site's totals only (DESIGN C8); the others are breakdowns.
enum class dimension : std::uint8_t {
    total,
    anonymous,
    page,
    referrer,
    channel,
    utm_source,
    utm_medium,
    utm_campaign,
    country,
    device,
    browser,
    os,
};

/// The name a dimension has in keys and reports ("total", "page", "utm_source", ...).
std::string_view name_of(dimension d) noexcept;

/// One counter: a site (its index in the configuration), the start of its period (Unix
/// seconds: an hour for `total`, `anonymous` and `page`, a day for the others, in the site's
/// time zone as the caller computed it), the dimension and its value.
struct count_key {
    std::uint32_t site = 0;
    std::int64_t period = 0;
    dimension what = dimension::total;
    std::string value;
    friend bool operator==(const count_key&, const count_key&) = default;
};

/// One page view as the tap saw it.
struct page_view {
    std::uint32_t site = 0;
    std::int64_t hour = 0;                   ///< start of the hour, Unix seconds
    std::int64_t day = 0;                    ///< start of the day
    bool anonymous = false;                  ///< GPC, DNT or analytics refused: totals only
    const page_dimensions* where = nullptr;  ///< required unless anonymous
    const user_agent* ua = nullptr;          ///< required unless anonymous
    std::string_view country;                ///< ISO code, "" when unknown
};

/// Page-view counts of one worker between two flushes: plain counters keyed by count_key, no
/// visitor data at all. Merging adds, so any split of the same traffic over workers or gateways
/// sums to the same counts. Bounded: once `max_keys` counters exist, a page view's breakdowns
/// that would need a new one are dropped (and counted, dropped()); totals never are. Not
/// thread-safe: one per worker.
class aggregator {
  public:
    explicit aggregator(std::size_t max_keys = 100'000) : max_keys_(max_keys) {}

    void add(const page_view& v);

    /// Adds everything `other` holds (it is left empty).
    void merge(aggregator& other);

    /// Takes every counter out (the aggregator is empty afterwards, dropped() reset too).
    std::vector<std::pair<count_key, std::uint64_t>> drain();

    [[nodiscard]] std::uint64_t count(const count_key& k) const;
    [[nodiscard]] std::size_t keys() const noexcept { return counts_.size(); }
    /// Breakdown counts left out because the bound was reached, since the last drain().
    [[nodiscard]] std::uint64_t dropped() const noexcept { return dropped_; }

  private:
    struct key_hash {
        std::size_t operator()(const count_key& k) const noexcept;
    };
    void bump(std::uint32_t site, std::int64_t period, dimension what, std::string_view value,
              std::uint64_t n, bool always);

    std::size_t max_keys_;
    std::uint64_t dropped_ = 0;
    std::unordered_map<count_key, std::uint64_t, key_hash> counts_;
    count_key probe_;  // reused for look-ups: no allocation when the counter exists
};

}  // namespace cg::analytics
