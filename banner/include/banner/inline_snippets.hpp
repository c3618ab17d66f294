#pragma once

#include <functional>
#include <optional>
#include <string_view>

#include "banner/tracker_catalogue.hpp"

namespace cg::banner {

/// A catalogued tracker that an inline script loads or drives.
struct inline_match {
    const tracker* entry = nullptr;  ///< never null; lives as long as the catalogue
    /// "url" when a URL or host literal in the text matched, else the name of the signature
    /// that did ("gtag", "gtm", "fbq", "hotjar", "linkedin", "clarity", "ttq").
    std::string_view reason;
};

/// Which catalogue entries a caller is looking for (for instance: not granted); empty = any.
using inline_tracker_filter = std::function<bool(const tracker&)>;

/// Finds the tracker an inline `<script>`'s text loads, or nullopt.
///
/// Two rules, in this order, and the first candidate `accept` takes wins:
/// 1. URL and host literals: every `//` (also JSON-escaped `\/\/`) starts a candidate
///    `https://<what follows>`, and every quote (`'`, `"`, backtick) followed by a host-like
///    run with a dot before the first `/` starts a candidate `https://<string content>`;
///    each candidate ends at a quote, whitespace, `<`, `>`, `(`, `)`, `+` or `,` and is
///    looked up with tracker_catalogue::match. The scan does not parse JavaScript, so a
///    tracker host in a comment counts too: hold-back prefers holding a harmless script to
///    letting a tracker run.
/// 2. Signatures of the standard snippets that build their URL at run time. Each names a URL
///    that is looked up in the catalogue, so category and vendor come from data; a signature
///    whose URL the catalogue does not list finds nothing:
///    `gtag('config'|'js', …)` → www.google-analytics.com (GA4/gtag);
///    `'gtm.start'` → www.googletagmanager.com/gtm.js (Tag Manager);
///    `fbq('init'|'track', …)` → connect.facebook.net (Meta Pixel);
///    `_hjSettings` or `hjid` → static.hotjar.com (Hotjar);
///    `_linkedin_partner_id` → snap.licdn.com (LinkedIn Insight);
///    `"clarity"` or `clarity(` → www.clarity.ms/tag (Microsoft Clarity);
///    `ttq.load(` or `ttq.page(` → analytics.tiktok.com (TikTok Pixel).
///    Function names must not follow an identifier character or `.`; whitespace is allowed
///    around `(` and the quoted first argument.
///
/// `script_text` is untrusted (bytes between `<script>` and `</script>`, any length; callers
/// bound it). Never throws on input (only std::bad_alloc, from the filter or when memory runs
/// out). Thread-safe.
std::optional<inline_match> find_inline_tracker(std::string_view script_text,
                                                const tracker_catalogue& catalogue,
                                                const inline_tracker_filter& accept = {});

}  // namespace cg::banner
