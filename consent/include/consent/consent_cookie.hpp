#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/system/result.hpp>

#include "consent/category.hpp"
#include "consent/error.hpp"

namespace cg::consent {

/// How the decision carried by a consent cookie was given.
enum class decision_kind : std::uint8_t {
    accept_all,  ///< "accept all" on the banner
    reject_all,  ///< "reject all" on the banner
    custom,      ///< a chosen subset ("save")
    withdraw,    ///< an earlier consent taken back (fewer categories than before)
    gpc,         ///< a Global Privacy Control signal, recorded as a refusal of marketing (L9)
};

/// "accept-all", "reject-all", "custom", "withdraw", "gpc".
std::string_view name_of(decision_kind k) noexcept;
std::optional<decision_kind> decision_kind_named(std::string_view name) noexcept;

/// The visitor's decision as carried by the signed consent cookie.
struct consent_state {
    std::string id;  ///< random consent id (22 characters of base64url = 128 bits)
    category_set granted{category::necessary};
    std::string policy_version;
    std::int64_t issued = 0;  ///< unix seconds
    decision_kind kind = decision_kind::custom;
};

/// The HMAC-SHA256 keys: the first signs, every one verifies (key rotation). Keys are raw
/// secret bytes; each is known by a short id derived from it, carried in the cookie, so
/// verification tries one key. Immutable; thread-safe.
///
/// Retired keys never sign and never make a cookie count as consent (neither for enforcement
/// nor as the consent id a new decision continues); they only prove who a visitor is to the
/// record endpoints (GET/DELETE /_consent/record, key_use::identity), so that removing a key
/// does not lock visitors out of the records their old cookies point at.
///
/// Rotating keys (`consent.keys` or `key_file`, `consent.retired_keys` or `retired_key_file`):
///  1. Add the new key second in `keys` on every gateway; reload. Everyone verifies it.
///  2. Move it first; reload. New decisions are signed with it, old cookies still count.
///  3. When the old key must stop counting as consent (compromise, or after the consent
///     lifetime), move it from `keys` to `retired_keys`; reload. Its cookies are then "no
///     decision" and the banner asks again, but their holders still reach their records.
///  4. Drop it from `retired_keys` once the site's retention_days have passed since step 3:
///     by then no record its cookies name is left.
class key_ring {
  public:
    /// Throws std::invalid_argument when `keys` is empty or a key (retired ones included) is
    /// shorter than 32 bytes.
    explicit key_ring(std::vector<std::string> keys, std::vector<std::string> retired = {});
    /// One random 32-byte key (a gateway without configured keys).
    static key_ring random();

    std::size_t size() const noexcept { return keys_.size(); }
    std::size_t retired_size() const noexcept { return retired_.size(); }

    struct key {
        std::string id;  ///< 6 base64url characters of SHA-256(secret)
        std::string secret;
    };
    const key& signing_key() const noexcept { return keys_.front(); }
    /// The active key with this id, nullptr when none.
    const key* find(std::string_view id) const noexcept;
    /// The retired key with this id, nullptr when none.
    const key* find_retired(std::string_view id) const noexcept;

  private:
    std::vector<key> keys_;
    std::vector<key> retired_;
};

/// Which keys of a ring may verify a cookie.
enum class key_use : std::uint8_t {
    consent,   ///< active keys only: enforcement, the state, decisions
    identity,  ///< active and retired keys: only to reach one's own record
};

/// A fresh random consent id (128 bits from OpenSSL's RAND_bytes, base64url).
std::string new_consent_id();

/// The cookie value for `state` on `site`, signed with the ring's first key:
/// `1.<id>.<categories>.<kind>.<issued>.<policy>.<key id>.<base64url HMAC>`. The HMAC also
/// covers the site name, so a cookie from one site is worth nothing on another.
std::string encode_consent(const consent_state& state, std::string_view site, const key_ring& keys);

/// What decode_consent checks the cookie against.
struct cookie_check {
    std::string_view site;
    std::string_view policy_version;
    std::int64_t lifetime_seconds = 0;
    std::int64_t now = 0;  ///< unix seconds
    category_set offered = category_set::all();
};

/// Verifies and decodes a consent cookie value. Every failure (format, unknown key, bad
/// HMAC, expired, old policy version, a category the site does not offer) is an error, which
/// the caller treats as "no decision". Pure CPU, no I/O, no throw; input is untrusted (any
/// bytes, any length). The HMAC is compared in constant time. With key_use::identity a
/// retired key verifies too (record endpoints only; never for consent).
boost::system::result<consent_state> decode_consent(std::string_view value,
                                                    const cookie_check& check, const key_ring& keys,
                                                    key_use use = key_use::consent);

}  // namespace cg::consent
