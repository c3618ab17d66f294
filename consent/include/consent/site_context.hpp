#pragma once
#include <array>
#include <cstdint>
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
/// values. Bounded (a hostile upstream cannot grow it without limit). Thread-safe: every
/// worker writes to it; a mutex guards it, taken only when a response sets cookies.
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

  private:
    static void bump(std::map<std::string, std::uint64_t, std::less<>>& m, std::string_view name);

    const std::uint64_t id_ = unique_id();
    mutable std::mutex mutex_;
    std::map<std::string, std::uint64_t, std::less<>> dropped_;
    std::map<std::string, std::uint64_t, std::less<>> unknown_;
    std::map<std::string, std::vector<std::pair<std::string, std::string>>, std::less<>> variants_;
};

/// The visitor's decision as the filters see it for one request.
struct visitor_consent {
    std::optional<consent_state> state;         ///< a valid decision, if any
    category_set granted{category::necessary};  ///< necessary only before a decision
    bool gpc = false;  ///< Sec-GPC: 1 was sent (a refusal of marketing, DESIGN L9)
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

    /// Whether cookie `name` may be stored or sent when `granted` is granted. The consent
    /// cookie itself is necessary; unknown cookies follow the site's `unknown_cookies` rule.
    bool allowed(std::string_view name, category_set granted) const noexcept;

    /// Reads the visitor's decision from the request's Cookie header values (untrusted).
    /// A missing, tampered, expired or old-policy cookie is "no decision". Pure CPU.
    visitor_consent read_visitor(const std::vector<std::string_view>& cookie_headers, bool gpc,
                                 std::int64_t now) const;

    /// The request stage in one pass over the request's Cookie header values (parsed once,
    /// each cookie classified once): the visitor's decision (as read_visitor), and one Cookie
    /// header without the cookies it does not allow and without the consent cookie (the
    /// upstream gets Consent-Categories instead). Untrusted input; pure CPU.
    request_cookies filter_request_cookies(std::span<const std::string_view> cookie_headers,
                                           bool gpc, std::int64_t now) const;

    /// Whether a Set-Cookie value from the upstream may reach the visitor. Records what it
    /// learns in observations(). Unparsable values and attempts to set the consent cookie
    /// are refused. Untrusted input.
    bool keep_set_cookie(std::string_view header, category_set granted) const;

  private:
    /// decode_consent with this site's checks, remembering verified values per thread.
    std::optional<consent_state> verify(std::string_view value, std::int64_t now) const;
    /// classifier_.find(name), remembered per thread. Pure CPU; never throws.
    const cookie_rule* rule_for(std::string_view name) const noexcept;
    /// allowed() once the rule (nullptr: unknown) is known.
    bool allowed_by(const cookie_rule* rule, category_set granted) const noexcept;

    const std::uint64_t id_ = unique_id();
    std::string site_;
    site_policy policy_;
    std::string cookie_name_;
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
