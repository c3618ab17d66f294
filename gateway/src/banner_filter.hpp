#pragma once
#include <memory>
#include <string_view>
#include <vector>

#include "banner/privacy_text.hpp"
#include "banner/site_banner.hpp"
#include "consent/config.hpp"
#include "gateway/body_filter.hpp"
#include "gateway/config.hpp"
#include "metrics.hpp"

namespace cg::gateway {

/// The banner of `site`, from its `banner` object and its consent policy (categories, texts,
/// cookie rules, the consent cookie itself) and the catalogue's cookies; null when the site's
/// banner is disabled.
std::unique_ptr<const banner::site_banner> make_site_banner(const site_config& site,
                                                            const consent::settings& settings);

/// The cookie and statistics section of the privacy statement of the site named `site`
/// (banner::privacy_text), with the lifetimes, retention and analytics settings of `cfg`.
/// Throws std::invalid_argument for an unknown site or one without a banner.
std::string site_privacy_text(const config& cfg, std::string_view site, banner::language l,
                              banner::text_format f);

/// The body filter that puts the banner into pages (issue 9): a GET answered 200 or with an
/// error page, `text/html` or `application/xhtml+xml`, not an attachment, in no content coding
/// or one of gzip, deflate, br, on a site with a banner. The transform decodes, rewrites for
/// the visitor's consent (tx.visitor) and re-encodes; the output depends on the Cookie and
/// Accept-Language fields (Vary). `banners` is indexed like config::sites and must outlive
/// the filter, and so must `stats` (cg_banner_pages_total, cg_banner_broken_encoding_total).
body_filter make_banner_filter(
    const std::vector<std::unique_ptr<const banner::site_banner>>& banners, metrics& stats);

/// The page's CSP nonce for `directive` ("script-src" or "style-src", falling back to
/// default-src) from its Content-Security-Policy fields (report-only ones count too, so the
/// banner causes no reports), or "".
std::string_view csp_nonce(const response_head& h, std::string_view directive);

}  // namespace cg::gateway
