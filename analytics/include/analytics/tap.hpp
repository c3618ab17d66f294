#pragma once

#include <array>
#include <climits>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/ip/address.hpp>

#include "analytics/aggregator.hpp"
#include "analytics/config.hpp"
#include "analytics/geoip.hpp"
#include "analytics/page_view.hpp"
#include "analytics/recorder.hpp"
#include "analytics/user_agent.hpp"
#include "analytics/visitor.hpp"
#include "analytics/visits.hpp"

namespace cg::analytics {

/// What every worker's tap shares: the sites' plans (as the configuration's sites), the
/// User-Agent database, the country database (optional), the day keys and the open visits.
struct shared_analytics {
    std::vector<site_plan> sites;
    std::unique_ptr<lazy_ua_database> user_agents;
    std::unique_ptr<const country_database> countries;  ///< null without analytics.geoip_db
    std::shared_ptr<day_keys> keys = std::make_shared<day_keys>();
    visit_table visits;
};

/// One response as the tap sees it; every view is untrusted and only read during the call.
struct exchange {
    exchange_facts facts;            ///< method, status, types, Sec-Fetch, Accept-Language
    std::string_view user_agent;
    std::string_view target;         ///< the request target (origin-form)
    std::string_view referer;
    bool do_not_track = false;       ///< DNT: 1
    bool gpc = false;                ///< Sec-GPC: 1
    bool analytics_refused = false;  ///< the visitor decided, without analytics
    bool banner_shown = false;       ///< the banner was put in this page for an undecided visitor
    boost::asio::ip::address visitor;  ///< used for the country and the id, then forgotten
    std::int64_t now = 0;              ///< Unix seconds
};

/// How a decision at POST /_consent counts in the consent statistics.
enum class decision_kind { accept_all, reject_all, custom };

/// One worker's analytics tap (DESIGN §4: "count page view in memory; no I/O"): classifies an
/// answer, parses the User-Agent (cached), finds the country, derives the visitor id under the
/// day key and adds the page view, its visit and its unique-visitor ids to the worker's
/// aggregator. Not thread-safe: one per worker.
class tap {
  public:
    explicit tap(shared_analytics& shared) : shared_(shared), per_site_(shared.sites.size()) {}

    /// Counts one answer for site `site` (its index); nullopt when it was a page view, else why
    /// not. A visitor who objected (GPC, DNT, analytics refused: C8) counts as one anonymous page
    /// view and nothing else.
    std::optional<not_counted> count(std::uint32_t site, const site_settings& settings,
                                     const std::vector<std::string>& own_hosts,
                                     const exchange& e);
    /// Counts a decision recorded at POST /_consent (`granted`: the categories besides
    /// necessary).
    void count_decision(std::uint32_t site, std::int64_t now, decision_kind kind,
                        std::span<const std::string> granted, bool gpc);

    /// Ends idle visits (all when `all`) into this worker's counts.
    void sweep(std::int64_t now, bool all = false) { shared_.visits.sweep(now, counts_, all); }
    /// This worker's counts since the last drain.
    flush_batch drain() {
        add_waiting();
        return counts_.drain();
    }

    /// Page views that wait to be added to the aggregator together (see waiting_).
    static constexpr std::size_t group_size = 512;

  private:
    // Per site: the prepared hasher of the day's key, and the local time of the last minute.
    struct per_site {
        day_number day = 0;
        std::uint64_t generation = 0;
        std::unique_ptr<visitor_hasher> hasher;  // null: no key for that day yet
        std::int64_t minute = INT64_MIN;
        local_moment minute_at;
    };
    // A measured page view waiting for the aggregator: its rows' values are copied into
    // waiting_text_ (from `text` on, `sizes` bytes each).
    struct waiting_view {
        std::uint32_t site = 0;
        local_moment when;
        std::int64_t minute = 0;
        std::uint32_t remember = 0;
        bool identified = false;
        visitor_id id{};
        std::uint32_t text = 0;
        std::array<std::uint32_t, unique_rows.size()> sizes{};
        std::array<std::size_t, unique_rows.size()> hashes{};
    };
    const visitor_hasher* hasher_for(std::uint32_t site, day_number day);
    local_moment local_time(std::uint32_t site, std::int64_t now);
    void wait(const page_view& v, const page_rows& rows);
    void add_waiting();

    shared_analytics& shared_;
    std::optional<ua_cache> user_agents_;
    aggregator counts_;
    std::vector<per_site> per_site_;
    page_dimensions where_;  // reused: its strings keep their buffers
    // Measured page views are added to the aggregator group_size at a time, not one by one:
    // between two page views the gateway moves a whole proxied page through the caches, so a
    // page view added alone finds the aggregator's dozen cells out of them (a quarter of the
    // tap's time in the gateway, by perf); a group finds them where the last one left them.
    std::vector<waiting_view> waiting_;
    std::string waiting_text_;
};

}  // namespace cg::analytics
