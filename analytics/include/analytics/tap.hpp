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

/// What the tap read of a request while its head was still in the caches (tap::look), kept
/// with the request until its answer is counted (exchange::look): after a proxied page has
/// passed through, the header values are in main memory and each read of one waits for it.
struct request_look {
    bool looked = false;
    std::optional<not_counted> reason;  ///< classify_request's, with the User-Agent's bot check
    const ua_summary* ua = nullptr;     ///< in the tap's cache, when it was parsed
    std::uint64_t ua_generation = 0;    ///< `ua` is valid while the cache has this generation
    /// When the request could be a page view (no `reason`), the look copied its target, the
    /// Referer's origin, browser and OS family into the tap's queue text: from `text` on, `sizes`
    /// bytes each, valid while the tap has measured no group since (its round is still `round`; 0:
    /// no copy).
    std::uint64_t round = 0;
    std::uint32_t text = 0;
    std::array<std::uint16_t, 4> sizes{};
};

/// One response as the tap sees it; every view is untrusted and only read during the call.
struct exchange {
    exchange_facts facts;  ///< method, status, types, Sec-Fetch, Accept-Language
    std::string_view user_agent;
    std::string_view target;  ///< the request target (origin-form)
    std::string_view referer;
    bool do_not_track = false;         ///< DNT: 1
    bool gpc = false;                  ///< Sec-GPC: 1
    bool analytics_refused = false;    ///< the visitor decided, without analytics
    bool banner_shown = false;         ///< the banner was put in this page for an undecided visitor
    boost::asio::ip::address visitor;  ///< used for the country and the id, then forgotten
    std::int64_t now = 0;              ///< Unix seconds
    /// tap::look's reading of the request, when it had one (else the request's facts are read
    /// now).
    const request_look* look = nullptr;
};

/// How a decision at POST /_consent counts in the consent statistics.
enum class decision_kind { accept_all, reject_all, custom };

/// One worker's analytics tap (DESIGN §4: "count page view in memory; no I/O"): classifies an
/// answer, parses the User-Agent (cached), and queues a page view; the queue is measured
/// group_size at a time (the dimensions read, the country looked up, the visitor id derived
/// under the day key, the visit found) into the worker's aggregator. Not thread-safe: one per
/// worker.
class tap {
  public:
    explicit tap(shared_analytics& shared) : shared_(shared), per_site_(shared.sites.size()) {}

    /// Counts one answer for site `site` (its index); nullopt when it was a page view, else why
    /// not. A visitor who objected (GPC, DNT, analytics refused: C8) counts as one anonymous page
    /// view and nothing else. A page view is measured later (by the next full group, sweep()
    /// or drain()): `settings` and `own_hosts` are read then, and `owner` (what holds them: the
    /// configuration) is kept until then, so a reload cannot free them first. An answer under
    /// other settings or own hosts than the site's queued page views (a reload) has those
    /// measured first.
    template <class Owner>
    std::optional<not_counted> count(const std::shared_ptr<Owner>& owner, std::uint32_t site,
                                     const site_settings& settings,
                                     const std::vector<std::string>& own_hosts, const exchange& e) {
        use_inputs(site, settings, own_hosts);  // before hold(): measuring lets go of owners
        if (static_cast<const void*>(owner.get()) != owner_) {
            hold(owner);  // a copy only when the owner changes: no shared count per answer
        }
        return take(site, e);
    }
    /// Reads the request's half of `e` (its facts, User-Agent, target and Referer; the answer's
    /// are not looked at) into `out`, for count() at its answer: call it while the request head
    /// is fresh.
    void look(const exchange& e, request_look& out);
    /// Counts a decision recorded at POST /_consent (`granted`: the categories besides
    /// necessary).
    void count_decision(std::uint32_t site, std::int64_t now, decision_kind kind,
                        std::span<const std::string> granted, bool gpc);

    /// Ends idle visits (all when `all`) into this worker's counts, after measuring the queue.
    void sweep(std::int64_t now, bool all = false) {
        measure();
        shared_.visits.sweep(now, counts_, all);
    }
    /// This worker's counts since the last drain, the queue measured first.
    flush_batch drain() {
        measure();
        return counts_.drain();
    }

    /// Page views queued before they are measured together (see queue_).
    static constexpr std::size_t group_size = 2048;

  private:
    // Per site: the prepared hasher of the day's key, the local time of the last minute, and
    // the settings and own hosts its queued page views are measured with.
    struct per_site {
        day_number day = 0;
        std::uint64_t generation = 0;
        std::unique_ptr<visitor_hasher> hasher;  // null: no key for that day yet
        std::int64_t minute = INT64_MIN;
        local_moment minute_at;
        const site_settings* settings = nullptr;
        const std::vector<std::string>* own_hosts = nullptr;
    };
    // A page view not measured yet, in one cache line: a group's queue passes through the
    // caches with the rest of the gateway's memory. Its request target, Referer's origin,
    // browser and OS family are copied into queue_text_ (from `text` on, `sizes` bytes each; by
    // look() when it had a look this round, else at its answer): the request's buffers are gone
    // by the time it is measured. Its site's settings and own hosts are its per_site's. The
    // address stays in memory only, as before (C9).
    struct queued_view {
        std::uint32_t site = 0;
        std::uint32_t text = 0;
        std::int64_t now = 0;
        ua_digest digest{};
        std::array<std::uint8_t, 16> address{};  // IPv6, or IPv4 in the first 4 bytes
        std::array<std::uint16_t, 4> sizes{};    // target, Referer's origin, browser, OS
        bool v6 = false;
        device_class kind = device_class::desktop;
        [[nodiscard]] boost::asio::ip::address visitor() const noexcept;
    };
    static_assert(sizeof(queued_view) <= 64);
    // Beyond this much queued text (long targets), the group is measured early.
    static constexpr std::size_t max_queue_text = 1024 * 1024;

    // The request's half of classify() and, when that could still be a page view, the
    // User-Agent's summary (in `ua`).
    std::optional<not_counted> judge_request(const exchange_facts& f, std::string_view user_agent,
                                             const ua_summary*& ua);
    // Counts an answer of site `site`, whose inputs use_inputs() set.
    std::optional<not_counted> take(std::uint32_t site, const exchange& e);
    void hold(std::shared_ptr<const void> owner);
    // Makes `settings` and `own_hosts` those site `site`'s queued page views are measured with;
    // when they change (a reload), the queue is measured first, with those it came with.
    void use_inputs(std::uint32_t site, const site_settings& settings,
                    const std::vector<std::string>& own_hosts) {
        per_site& inputs = per_site_[site];
        if (inputs.settings != &settings || inputs.own_hosts != &own_hosts) {
            if (!queue_.empty()) {
                measure();
            }
            inputs.settings = &settings;
            inputs.own_hosts = &own_hosts;
        }
    }
    // Copies what measuring a page view reads of its request into queue_text_ (each part cut
    // at 65,535 bytes); its offset.
    std::uint32_t copy_text(std::string_view target, std::string_view referer, const ua_summary& ua,
                            std::array<std::uint16_t, 4>& sizes);
    // A queued view's visit key, computed when its visit was asked for (prefetch), under the
    // day key's generation of then.
    struct visit_key_for {
        visit_table::visit_key key;
        std::uint64_t generation = 0;
    };
    void measure();
    void measure(const queued_view& q, std::string_view target, std::string_view origin,
                 const visit_key_for& asked);
    const visitor_hasher* hasher_for(std::uint32_t site, day_number day);
    local_moment local_time(std::uint32_t site, std::int64_t now);

    shared_analytics& shared_;
    std::optional<ua_cache> user_agents_;
    aggregator counts_;
    std::vector<per_site> per_site_;
    page_dimensions where_;  // reused: its strings keep their buffers
    referrer_memo referrers_;  // forgotten with the owners of the own hosts it was given
    user_agent agent_;       // the queued view's family names, for rows_of; reused likewise
    // Page views are measured group_size at a time, not one by one: between two answers the
    // gateway moves a whole proxied page through the caches, so a page view measured alone
    // found the path rules, the visit table and the aggregator's cells out of them; a group
    // finds them where the last page view left them (by perf in the gateway: 3.0-3.2 % of its
    // CPU with groups of 512, 2.4-2.9 % with 2,048).
    std::vector<queued_view> queue_;
    std::string queue_text_;
    std::uint64_t round_ = 1;  // how many times the queue was measured, plus one
    // What keeps the queued views' settings alive (usually one configuration; a reload while
    // older connections finish adds another), and the last one's address.
    std::vector<std::shared_ptr<const void>> owners_;
    const void* owner_ = nullptr;
};

}  // namespace cg::analytics
