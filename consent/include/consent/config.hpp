#pragma once
#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "consent/catalogue.hpp"
#include "consent/category.hpp"
#include "redis/config.hpp"

namespace cg::consent {

/// A category's name and description in one language, as the banner shows them.
struct category_text {
    std::string name;
    std::string description;
};

/// One category a site offers, with its texts in nb, nn and en (indexed by `language`).
struct category_info {
    category id = category::necessary;
    std::array<category_text, 3> texts;
};

/// What happens to cookies that neither the site nor the catalogue knows.
enum class unknown_cookies {
    after_accept_all,  ///< blocked until the visitor has granted every offered category
    never,             ///< always blocked
};

/// A site's consent policy (the `consent` object of a site in the gateway config).
struct site_policy {
    /// Offered categories, `necessary` first, in banner order. Defaults: all four, with the
    /// built-in texts (default_categories()).
    std::vector<category_info> categories;
    /// Bumped when the privacy text changes: consents given under another version no longer
    /// count (DESIGN L8). Letters, digits, '-', '_' and '.'; 1-32 characters.
    std::string policy_version = "1";
    std::chrono::seconds lifetime{std::chrono::days{365}};   ///< consent cookie Max-Age
    std::chrono::seconds retention{std::chrono::days{365}};  ///< Redis records expire after
    language default_language = language::nb;
    unknown_cookies unknown = unknown_cookies::after_accept_all;
    /// The site's own rules; they override the catalogue. `necessary` ones carry a
    /// justification (validated non-empty).
    std::vector<cookie_rule> cookies;

    /// The categories offered, as a set.
    category_set offered() const noexcept;
};

/// The four categories with the built-in nb/nn/en texts.
std::vector<category_info> default_categories();

/// Where consent records go (the top-level `redis` object, shared with other modules and read
/// by redis::read_redis_config). A batch slower than command_timeout is journaled.
using redis_config = redis::redis_config;

/// The local outage journal for consent events Redis has not confirmed.
struct journal_config {
    std::filesystem::path path = "consent-journal.jsonl";
    std::uint64_t max_bytes = 256ULL * 1024 * 1024;  ///< refused (503) beyond this
};

/// Limits on recording decisions and erasing records, per minute, kept in memory (no Redis
/// call). The defaults never bother a real visitor, nor an office of hundreds behind one NAT
/// address; 0 switches a limit off.
struct rate_limits {
    std::uint32_t per_consent_id = 20;  ///< decisions and erasures per consent id
    std::uint32_t per_address = 600;    ///< decisions and erasures per client address
};

/// Gateway-wide consent settings (the top-level `consent` object).
struct settings {
    /// HMAC keys for the consent cookie: the first signs, all verify (rotation). Raw secret
    /// bytes, at least 32 each. Empty = a random key per process (a warning is logged: consent
    /// then does not survive a restart and cannot be shared between gateways).
    std::vector<std::string> keys;
    /// Retired HMAC keys (`retired_keys` / `retired_key_file`): never sign, never make a
    /// cookie count as consent, but still prove who a visitor is when they read or erase
    /// their own record, for as long as records are kept (key rotation without locking
    /// visitors out of their data).
    std::vector<std::string> retired_keys;
    std::string cookie_name = "cg_consent";
    /// On HTTPS the consent cookie is `__Host-<cookie_name>` with Secure: browsers then refuse
    /// a copy planted by a sibling subdomain or under another Path (cookie tossing).
    bool host_prefix = true;
    /// In-memory limits on POST /_consent and DELETE /_consent/record (429 with Retry-After).
    rate_limits limits;
    /// The cookie catalogue (default: the built-in one, configs/cookie-catalogue.json).
    std::vector<cookie_rule> catalogue;
    journal_config journal;
    redis_config redis;
};

}  // namespace cg::consent
