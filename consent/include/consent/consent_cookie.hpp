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
class key_ring {
  public:
    /// Throws std::invalid_argument when empty or a key is shorter than 32 bytes.
    explicit key_ring(std::vector<std::string> keys);
    /// One random 32-byte key (a gateway without configured keys).
    static key_ring random();

    std::size_t size() const noexcept { return keys_.size(); }

    struct key {
        std::string id;  ///< 6 base64url characters of SHA-256(secret)
        std::string secret;
    };
    const key& signing_key() const noexcept { return keys_.front(); }
    const key* find(std::string_view id) const noexcept;

  private:
    std::vector<key> keys_;
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
/// bytes, any length). The HMAC is compared in constant time.
boost::system::result<consent_state> decode_consent(std::string_view value,
                                                    const cookie_check& check,
                                                    const key_ring& keys);

}  // namespace cg::consent
