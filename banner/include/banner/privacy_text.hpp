#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "banner/site_banner.hpp"

/// The cookie and statistics section of a site's privacy statement, generated from what the
/// gateway enforces (issue 12): the banner's own documents (categories, cookies, third parties,
/// controller) plus the figures only the gateway knows. `consent-gateway --privacy-text` prints
/// it, so the text an organisation publishes cannot drift from its configuration.
namespace cg::banner {

/// What the gateway does with the site's data beyond the banner: lifetimes, retention and the
/// built-in analytics.
struct privacy_facts {
    unsigned consent_lifetime_days = 365;  ///< the consent cookie's lifetime: asked again after
    unsigned record_retention_days = 365;  ///< consent records kept after the last decision
    bool analytics = false;                ///< the built-in, cookieless analytics counts
    unsigned analytics_k = 5;              ///< smallest group published
    unsigned analytics_retention_days = 395;
    bool country = false;                     ///< a country database is configured
    std::vector<std::string> forwarded_to{};  ///< names of the aggregate forwarding targets
};

enum class text_format : std::uint8_t { markdown, html };

/// The section in `l` (nb or en; nn is written as nb) and `f`: a second-level heading, the
/// controller, the legal basis per category (consent for everything on the device but the
/// strictly necessary, the 2025 rule named), each category's cookies and third parties with
/// purpose and lifetime, how long consent lasts and its proof is kept, how to change or
/// withdraw it (a link with `data-consent-open`, which the banner script turns into the
/// re-open control), how to get or delete one's record, and what the built-in analytics keeps.
/// HTML is a fragment (no <html>), pure ASCII; Markdown is UTF-8 with that link as inline HTML.
std::string privacy_text(const site_banner& banner, language l, text_format f,
                         const privacy_facts& facts);

}  // namespace cg::banner
