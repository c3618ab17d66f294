#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "analytics/calendar.hpp"
#include "analytics/recorder.hpp"
#include "redis/config.hpp"

namespace cg::analytics {

class stats_reader;

/// Where closed days go: one entry of the top-level `analytics.forward` array.
struct forward_target {
    std::string name;  ///< 1-64 of [a-z0-9._-], unique; in Redis keys and the idempotency key
    std::string url;   ///< http:// or https://, checked with parse_forward_url
    /// Sent with every batch (e.g. Authorization). Secrets: never logged or shown.
    std::vector<std::pair<std::string, std::string>> headers;
    std::chrono::milliseconds timeout{10000};  ///< the whole exchange: connect to answer
};

/// A target's URL taken apart.
struct forward_url {
    bool tls = false;  ///< https
    std::string host;  ///< a name, an IPv4 literal or an IPv6 literal (without brackets)
    std::uint16_t port = 80;
    std::string target = "/";  ///< path and query, as given
    std::string host_header;   ///< host[:port] as the Host header needs it
};

/// Parses "http[s]://host[:port][/path][?query]" (no user info, no fragment). Returns the
/// URL, or nullopt and `why` says what is wrong without repeating the URL (its query may hold
/// a key). Untrusted input; never throws except std::bad_alloc.
std::optional<forward_url> parse_forward_url(std::string_view url, std::string& why);

/// The Idempotency-Key of a day's batch to a target: the lower-case hex SHA-256 of
/// "<target>\n<site>\n<YYYY-MM-DD>". The same on every retry and from every gateway, so the
/// receiver can drop duplicates.
std::string idempotency_key(std::string_view target, std::string_view site, day_number day);

/// Tuning; the defaults are the gateway's.
struct forwarder_options {
    /// A day is closed this long after its end in the site's time zone (late flushes land).
    std::chrono::seconds grace{3600};
    std::chrono::milliseconds first_backoff{1000};   ///< after a failed delivery, doubling ...
    std::chrono::milliseconds max_backoff{600'000};  ///< ... up to this
    /// Most built batches held in memory for retries (one per target and site at most);
    /// beyond, a batch is built again for its retry.
    std::size_t max_queue = 1000;
    /// A clock for tests (Unix seconds); null: the system clock.
    std::int64_t (*now)() = nullptr;
    /// How far back a target catches up (days); older undelivered days are skipped.
    unsigned max_days_back = 30;
    /// On a target's first run for a site (no progress in Redis): how many days before today
    /// to start at (1: yesterday).
    unsigned first_run_days_back = 1;
    /// How often closed days are looked for.
    std::chrono::milliseconds check_interval{60'000};
    /// A gateway sending a day holds a Redis lock this long, so usually only one sends it.
    std::chrono::seconds lock_time{300};
};

/// A snapshot for /metrics.
struct forwarder_status {
    bool redis_up = false;
    std::uint64_t delivered = 0;     ///< batches a target accepted (2xx)
    std::uint64_t failures = 0;      ///< deliveries that failed (retried with backoff)
    std::uint64_t rejected = 0;      ///< ... of which a target refused with 4xx (not 408/429)
    std::uint64_t pending_days = 0;  ///< closed days not yet delivered, all targets and sites
    /// The last problem in words: target, site, day and what happened ("HTTP 503",
    /// "connect: Connection refused"); never a header value or the URL. "" when none.
    std::string last_error;
};

/// Sends each closed day of each site with analytics on to each target, as the JSON batch
/// stats_reader::day_batch builds (thresholded aggregates only, DESIGN C4), by HTTP(S) POST
/// with `Content-Type: application/json`, `Idempotency-Key` (idempotency_key()) and
/// `User-Agent: consent-gateway`. At least once: a day counts as delivered only after a 2xx,
/// recorded in Redis (hash `<prefix>a:fwd`, field "<target> <site>" = last delivered day), so
/// a restart or another gateway goes on from there. Failures (no answer within the target's
/// timeout, 5xx, 4xx too) are retried with a backoff from first_backoff doubling to
/// max_backoff, one day at a time per target and site, in order. Before sending, a gateway
/// takes `SET <prefix>a:fwd:lock:<target>:<site>:<day> NX EX lock_time`, so of several
/// gateways on one Redis usually one sends; a duplicate is still possible, which the
/// idempotency key lets the receiver drop.
///
/// On its own thread (a redis::worker); HTTPS verifies the peer against the system's CA store
/// and the host name. Logs nothing: status() says what is wrong. `reader` must outlive it.
/// Thread-safe.
class forwarder {
  public:
    /// Throws std::invalid_argument when a target's URL does not parse (config checks first).
    forwarder(redis::redis_config redis, std::vector<site_plan> sites,
              std::vector<forward_target> targets, stats_reader& reader,
              forwarder_options options = {});
    ~forwarder();
    forwarder(const forwarder&) = delete;
    forwarder& operator=(const forwarder&) = delete;

    void start();
    /// Abandons a delivery in flight (it is retried by whoever runs next) and stops the thread.
    void stop();
    /// Looks for closed days now (tests); returns at once. Backoffs still apply.
    void nudge();

    [[nodiscard]] forwarder_status status() const;

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace cg::analytics
