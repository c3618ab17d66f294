#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/unordered/unordered_flat_map.hpp>

#include "analytics/calendar.hpp"
#include "analytics/page_view.hpp"
#include "analytics/user_agent.hpp"
#include "analytics/visitor.hpp"

namespace cg::analytics {

/// What a count is about. Hourly ones (DESIGN C10: page views per page per hour) have the
/// period day × 24 + local hour; the others the local day. Breakdowns are thresholded in every
/// answer (at least k unique visitors per row and day); site figures are exact.
enum class dimension : std::uint8_t {
    // hourly site figures and page views per page per hour
    total,      ///< page views
    anonymous,  ///< page views of visitors who asked not to be measured (C8): totals only
    page_hour,  ///< page views per path per hour
    // daily breakdowns (value: the row's name)
    page,
    entry,  ///< visits that started on this path
    referrer,
    channel,
    utm_source,
    utm_medium,
    utm_campaign,
    country,
    device,
    browser,
    os,
    // daily site figures
    visits,         ///< visits started
    visits_ended,   ///< visits ended (the next three are about these)
    bounces,        ///< visits that ended after one page view
    visit_pages,    ///< page views of ended visits
    visit_seconds,  ///< first to last page view of ended visits
    consent,        ///< value: shown, accept_all, reject_all, custom, gpc
    opt_in,         ///< value: a category granted in a decision
    // unique visitors only (HyperLogLogs)
    visitors,       ///< the site's visitors that day
    visitors_hour,  ///< ... that hour (period day × 24 + hour)
    visitors_minute,  ///< ... that minute (period: Unix minute), for "visitors right now"
};

/// The name a dimension has in keys and reports ("total", "page", "utm_source", ...).
std::string_view name_of(dimension d) noexcept;
/// The dimension called `name` (as name_of gives it); nullopt when there is none.
std::optional<dimension> dimension_named(std::string_view name) noexcept;
/// total, anonymous, page_hour, visitors_hour.
bool is_hourly(dimension d) noexcept;
/// page ... os: rows of a report, thresholded.
bool is_breakdown(dimension d) noexcept;

/// One counter: a site (its index in the configuration), its period (see dimension), the
/// dimension and its value ("" for site figures).
struct count_key {
    std::uint32_t site = 0;
    std::int64_t period = 0;
    dimension what = dimension::total;
    std::string value;
    friend bool operator==(const count_key&, const count_key&) = default;
    [[nodiscard]] day_number day() const noexcept {
        return static_cast<day_number>(what == dimension::visitors_minute ? period / 1440
                                       : is_hourly(what)                 ? period / 24
                                                                         : period);
    }
};

/// One page view as the tap saw it.
struct page_view {
    std::uint32_t site = 0;
    local_moment when;                       ///< in the site's time zone
    std::int64_t minute = 0;                 ///< Unix minute (Unix seconds / 60)
    bool anonymous = false;                  ///< GPC, DNT or analytics refused: totals only
    const page_dimensions* where = nullptr;  ///< required unless anonymous
    const user_agent* ua = nullptr;          ///< required unless anonymous
    std::string_view country;                ///< ISO code, "" when unknown
    const visitor_id* visitor = nullptr;     ///< null: counted, but in no unique-visitor figure
    bool entry = false;                      ///< this page view started a visit
    /// Which HyperLogLogs get the visitor's id (bit i: row i in unique_rows order; then the
    /// day's, hour's and minute's visitors). A HyperLogLog ignores an id it has, so leaving
    /// out one the visit already added (visit_table) changes nothing but the cost.
    std::uint32_t remember = ~0U;
};

/// The rows a page view can add its visitor to, in the order of page_view::remember's bits.
inline constexpr std::array<dimension, 11> unique_rows{
    dimension::page,       dimension::entry,      dimension::referrer,     dimension::channel,
    dimension::utm_source, dimension::utm_medium, dimension::utm_campaign, dimension::country,
    dimension::device,     dimension::browser,    dimension::os};
inline constexpr std::uint32_t remember_day = 1U << 11;
inline constexpr std::uint32_t remember_hour = 1U << 12;
inline constexpr std::uint32_t remember_minute = 1U << 13;

/// The hash of a row's value, as the aggregator's keys use it (XXH3: a third of the time of
/// std::hash's on the short values of a page view).
std::size_t value_hash(std::string_view value) noexcept;

/// The values of the rows one page view touches, in unique_rows order ("" = none), each with
/// its hash (value_hash; not computed for "": no row, never looked up): computed once per page
/// view, then used by the visit table and the aggregator.
struct page_rows {
    std::array<std::string_view, unique_rows.size()> values{};
    std::array<std::size_t, unique_rows.size()> hashes{};
    /// Sets row `i` to `value` and hashes it.
    void set(std::size_t i, std::string_view value) noexcept;
};

/// The rows of a measured page view (`where` and `ua` set): the entry row only when `entry`.
page_rows rows_of(const page_view& v) noexcept;

/// What a drain hands to the flusher: counters and, per HyperLogLog, the visitor ids to add.
struct flush_batch {
    std::vector<std::pair<count_key, std::uint64_t>> counts;
    /// Per HyperLogLog, the ids to add: each once, in the order they first came.
    std::vector<std::pair<count_key, std::vector<visitor_id>>> uniques;
    std::uint64_t dropped = 0;  ///< page views whose breakdowns a bound left out
    [[nodiscard]] bool empty() const noexcept {
        return counts.empty() && uniques.empty() && dropped == 0;
    }
};

/// Page-view counts of one worker between two flushes: counters keyed by count_key and, for
/// unique visitors, the ids to add to each HyperLogLog. Merging adds, so any split of the same
/// traffic over workers or gateways sums to the same counts. Bounded: once `max_keys` counters
/// or `max_ids` ids are held, a page view's breakdowns that would need more are dropped (and
/// counted, dropped()); site figures never are. Not thread-safe: one per worker.
class aggregator {
  public:
    explicit aggregator(std::size_t max_keys = 100'000, std::size_t max_ids = 1'000'000)
        : max_keys_(max_keys), max_ids_(max_ids) {}

    void add(const page_view& v);
    /// A measured page view (not anonymous) whose rows were read already (rows_of); `where`,
    /// `ua` and `country` are not looked at.
    void add(const page_view& v, const page_rows& rows);
    /// Adds `n` to one counter (visits, consent figures). Site figures are never dropped.
    void add_count(std::uint32_t site, std::int64_t period, dimension what,
                   std::string_view value, std::uint64_t n);

    /// Adds everything `other` holds (it is left empty).
    void merge(flush_batch&& other);

    /// Takes every counter and id out (the aggregator is empty afterwards, dropped() reset).
    flush_batch drain();

    [[nodiscard]] std::uint64_t count(const count_key& k) const;
    /// The distinct ids held for one HyperLogLog (tests).
    [[nodiscard]] std::size_t unique_ids(const count_key& k) const;
    [[nodiscard]] std::size_t keys() const noexcept { return cells_.size(); }
    [[nodiscard]] bool empty() const noexcept { return cells_.empty() && dropped_ == 0; }
    /// Page views whose breakdowns were left out because a bound was reached.
    [[nodiscard]] std::uint64_t dropped() const noexcept { return dropped_; }

  private:
    // A look-up without building a count_key: the value's hash is computed once per page view.
    struct probe {
        std::uint32_t site;
        std::int64_t period;
        dimension what;
        std::string_view value;
        std::size_t value_hash;
    };
    struct key_hash {
        using is_transparent = void;
        std::size_t operator()(const count_key& k) const noexcept;
        std::size_t operator()(const probe& p) const noexcept;
    };
    struct key_equal {
        using is_transparent = void;
        bool operator()(const count_key& a, const count_key& b) const noexcept { return a == b; }
        bool operator()(const probe& a, const count_key& b) const noexcept {
            return a.site == b.site && a.period == b.period && a.what == b.what &&
                   a.value == b.value;
        }
        bool operator()(const count_key& a, const probe& b) const noexcept {
            return (*this)(b, a);
        }
    };
    // A counter and, for HyperLogLogs, the ids to add: one look-up serves both.
    struct cell {
        std::uint64_t n = 0;
        std::vector<visitor_id> ids;
    };
    // The cell of `p`, made when there is room (always: site figures); null when the bound
    // leaves it out.
    cell* cell_for(const probe& p, bool always);
    // Adds `id` to `c` unless it was the last one added; false when the id bound is reached.
    bool remember(cell& c, const visitor_id& id);

    std::size_t max_keys_;
    std::size_t max_ids_;
    std::size_t id_count_ = 0;
    std::uint64_t dropped_ = 0;
    std::vector<std::uint32_t> slots_;  // drain's, to drop repeated ids: kept while small
    // Boost 1.81's open-addressing maps: a page view does a dozen look-ups here, and these
    // took half the time of std::unordered_map's in the tap benchmark.
    boost::unordered_flat_map<count_key, cell, key_hash, key_equal> cells_;
};

}  // namespace cg::analytics
