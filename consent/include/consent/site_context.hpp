#pragma once
#include <array>
#include <atomic>
#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "consent/catalogue.hpp"
#include "consent/category.hpp"
#include "consent/config.hpp"
#include "consent/consent_cookie.hpp"
#include "consent/revocations.hpp"

namespace cg::consent {

/// A number no other object of this process gets (per-thread caches key on it, not on
/// addresses, which are reused). Thread-safe.
std::uint64_t unique_id() noexcept;

/// What the gateway learns about a site's cookies from its upstream: names only, never
/// values. Bounded (a hostile upstream cannot grow it without limit) but never stops learning:
/// when an inventory is full, the name seen least recently makes room for the new one, and
/// the evictions are counted. Thread-safe: every worker writes to it; a mutex guards it, taken
/// only when a response sets cookies.
class cookie_observations {
  public:
    static constexpr std::size_t max_names = 1000;
    static constexpr std::size_t max_variants = 8;
    static constexpr std::size_t max_name_bytes = 128;

    /// A Set-Cookie for `name` was dropped for lack of consent.
    void dropped(std::string_view name);
    /// The upstream set a cookie neither the site nor the catalogue knows.
    void unknown(std::string_view name);
    /// The upstream set `name` with this Path and Domain ("" = attribute absent).
    void variant(std::string_view name, std::string_view path, std::string_view domain);

    using counts = std::vector<std::pair<std::string, std::uint64_t>>;
    counts dropped_counts() const;  ///< sorted by name
    counts unknown_counts() const;  ///< sorted by name
    /// The (path, domain) pairs seen for `name`.
    std::vector<std::pair<std::string, std::string>> variants(std::string_view name) const;

    /// One remembered name: how often it was seen and when last (unix seconds).
    struct sighting {
        std::string name;  ///< as sent (untrusted bytes, at most max_name_bytes)
        std::uint64_t count = 0;
        std::int64_t last_seen = 0;
    };
    /// The remembered names, the most recently seen first.
    std::vector<sighting> recent_unknown() const;
    std::vector<sighting> recent_dropped() const;  ///< as recent_unknown()
    /// Names forgotten so far to make room for newer ones.
    std::uint64_t unknown_evicted() const;
    std::uint64_t dropped_evicted() const;   ///< as unknown_evicted()
    std::uint64_t variants_evicted() const;  ///< names whose variants were forgotten

  private:
    // name -> what is known about it, in order of last sighting; the oldest goes when full.
    template <class Value>
    struct recent_names {
        struct entry {
            std::string name;
            Value value{};
            std::int64_t last_seen = 0;
        };
        std::list<entry> order;  // most recent first; nodes never move, so views stay valid
        std::map<std::string_view, typename std::list<entry>::iterator, std::less<>> index;
        std::uint64_t evicted = 0;

        /// The entry for `name`, now the most recent, made (evicting the oldest) if new.
        Value& touch(std::string_view name, std::int64_t now);
        const Value* find(std::string_view name) const;
    };
    static std::vector<sighting> sightings(const recent_names<std::uint64_t>& names);
    static counts sorted_counts(const recent_names<std::uint64_t>& names);

    const std::uint64_t id_ = unique_id();
    mutable std::mutex mutex_;
    recent_names<std::uint64_t> dropped_;
    recent_names<std::uint64_t> unknown_;
    recent_names<std::vector<std::pair<std::string, std::string>>> variants_;
    std::atomic<std::uint64_t> variant_evictions_{0};  ///< variants_.evicted, read without lock
};

/// The visitor's decision as the filters see it for one request.
struct visitor_consent {
    std::optional<consent_state> state;         ///< a valid decision, if any
    category_set granted{category::necessary};  ///< necessary only before a decision
    bool gpc = false;  ///< Sec-GPC: 1 was sent (a refusal of marketing, DESIGN L9)
    /// Several consent cookies: show the banner; the next decision issues a fresh id and
    /// expires every variant. `state` is then empty: one of them may have been planted by a
    /// sibling subdomain or under a longer Path (cookie tossing), so none decides.
    bool conflicting = false;
};

/// The request side of enforcement, for the Cookie header(s) of one request.
struct request_cookies {
    visitor_consent visitor;
    bool changed = false;  ///< some cookie was removed (or the consent cookie)
    std::string cookie;    ///< when changed: the one Cookie header to send on ("" = none)
};

/// One site's consent machinery, built once at startup and shared read-only by all workers
/// (except observations(), which is thread-safe). No I/O.
class site_context {
  public:
    /// Throws std::invalid_argument when the policy is inconsistent (validated config never is).
    /// `host_prefix`: on HTTPS the consent cookie is `__Host-<cookie_name>` (settings).
    /// `revoked`: erased consent ids, whose cookies count as no decision (nullptr: none).
    site_context(std::string site, site_policy policy, std::string cookie_name,
                 const std::vector<cookie_rule>& catalogue, std::shared_ptr<const key_ring> keys,
                 bool host_prefix = false, std::shared_ptr<const revocations> revoked = nullptr);

    const std::string& site() const noexcept { return site_; }
    const site_policy& policy() const noexcept { return policy_; }
    const classifier& cookies() const noexcept { return classifier_; }
    const key_ring& keys() const noexcept { return *keys_; }
    std::string_view cookie_name() const noexcept { return cookie_name_; }
    category_set offered() const noexcept { return offered_; }
    /// Hex SHA-256 of the category list and texts shown in `l` and the policy version: what
    /// a decision event proves the visitor saw.
    const std::string& banner_hash(language l) const noexcept {
        return banner_hashes_[static_cast<std::size_t>(l)];
    }
    cookie_observations& observations() const noexcept { return *observations_; }

    /// The consent cookie's name for a request over HTTPS (`https`) or plain HTTP:
    /// `__Host-<cookie_name>` on HTTPS when the site uses the host prefix (browsers keep such
    /// a cookie host-only, Path=/ and Secure, so no sibling subdomain can plant one), else
    /// `<cookie_name>`. The endpoints set and expire the consent cookie under this name.
    std::string consent_cookie_name(bool https) const;

    /// Whether cookie `name` may be stored or sent for a visitor whose decision (a valid
    /// consent cookie) granted `granted`. The consent cookie itself (either name) is necessary;
    /// unknown cookies follow the site's `unknown_cookies` rule and need every offered
    /// category, on a site that offers more than `necessary` (else they never pass).
    bool allowed(std::string_view name, category_set granted) const noexcept;
    /// allowed() for the visitor of one request: without a decision (visitor.state empty)
    /// only what `visitor.granted` allows by rule passes, never an unknown cookie.
    bool allowed(std::string_view name, const visitor_consent& visitor) const noexcept;

    /// Reads the visitor's decision from the request's Cookie header values (untrusted).
    /// A missing, tampered, expired, revoked or old-policy cookie is "no decision"; so are
    /// several consent cookies (then `conflicting` is set). `https`: the request came over
    /// HTTPS (directly or per a trusted proxy), which selects consent_cookie_name(). Pure CPU.
    visitor_consent read_visitor(const std::vector<std::string_view>& cookie_headers, bool gpc,
                                 bool https, std::int64_t now) const;

    /// The request stage in one pass over the request's Cookie header values (parsed once,
    /// each cookie classified once): the visitor's decision (as read_visitor), and one Cookie
    /// header without the cookies it does not allow and without the consent cookie under
    /// either name (the upstream gets Consent-Categories instead). Untrusted input; pure CPU.
    request_cookies filter_request_cookies(std::span<const std::string_view> cookie_headers,
                                           bool gpc, bool https, std::int64_t now) const;

    /// Whether a Set-Cookie value from the upstream may reach `visitor`. Records what it
    /// learns in observations(). Unparsable values and attempts to set the consent cookie
    /// (either name) are refused; a deletion passes only when every browser will read it as
    /// one (is_deletion()). Untrusted input.
    bool keep_set_cookie(std::string_view header, const visitor_consent& visitor) const;

  private:
    /// decode_consent with this site's checks, remembering verified values per thread; a
    /// revoked id is no decision, also when remembered.
    std::optional<consent_state> verify(std::string_view value, std::int64_t now) const;
    /// classifier_.find(name), remembered per thread. Pure CPU; never throws.
    const cookie_rule* rule_for(std::string_view name) const noexcept;
    /// allowed() once the rule (nullptr: unknown) is known; `decided`: a valid consent cookie.
    bool allowed_by(const cookie_rule* rule, category_set granted, bool decided) const noexcept;
    /// `name` is the consent cookie under the plain or the `__Host-` name.
    bool is_consent_cookie(std::string_view name) const noexcept {
        return name == cookie_name_ || name == host_cookie_name_;
    }

    const std::uint64_t id_ = unique_id();
    std::string site_;
    site_policy policy_;
    std::string cookie_name_;
    std::string host_cookie_name_;  ///< "__Host-" + cookie_name_
    classifier classifier_;
    std::shared_ptr<const key_ring> keys_;
    bool host_prefix_ = false;
    std::shared_ptr<const revocations> revoked_;
    category_set offered_;
    std::array<std::string, 3> banner_hashes_;
    std::unique_ptr<cookie_observations> observations_;
};

/// The `Consent-Categories` value for the upstream: granted categories, comma-separated.
const std::string& categories_header(category_set granted);

}  // namespace cg::consent
