#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "banner/html_rewriter.hpp"
#include "banner/html_tokenizer.hpp"
#include "banner/tracker_catalogue.hpp"

namespace cg::banner {

/// The tracker categories a visitor has granted, as a small bit set. Default: none granted.
struct granted_trackers {
    /// Nothing granted (the visitor has not chosen, or refused everything).
    static constexpr granted_trackers none() noexcept { return {}; }

    /// Every category granted: hold-back changes nothing.
    static constexpr granted_trackers all() noexcept {
        return granted_trackers{}
            .grant(tracker_category::preferences)
            .grant(tracker_category::analytics)
            .grant(tracker_category::marketing);
    }

    /// Adds `category`; returns *this so grants can be chained.
    constexpr granted_trackers& grant(tracker_category category) noexcept {
        bits_ = static_cast<std::uint8_t>(bits_ | bit(category));
        return *this;
    }

    /// True when `category` is granted.
    [[nodiscard]] constexpr bool has(tracker_category category) const noexcept {
        return (bits_ & bit(category)) != 0;
    }

    /// True when every category is granted.
    [[nodiscard]] constexpr bool everything() const noexcept { return bits_ == all_bits; }

    friend constexpr bool operator==(granted_trackers, granted_trackers) noexcept = default;

  private:
    static constexpr std::uint8_t all_bits = 0b111;
    static constexpr std::uint8_t bit(tracker_category category) noexcept {
        return static_cast<std::uint8_t>(1U << static_cast<unsigned>(category));
    }

    std::uint8_t bits_ = 0;
};

/// The hold-back rewrite of one start tag (issue 9), or nullopt to keep its bytes.
///
/// A tag is held when a URL it loads matches a `catalogue` entry whose category is not in
/// `granted`:
/// - `<script src>` with no, an empty, a JavaScript MIME or `module` type: becomes
///   `type="text/plain"`, `src` becomes `data-consent-src`, the original type goes to
///   `data-consent-type`;
/// - `<iframe src>`: `src` becomes `data-consent-src`;
/// - `<img src|srcset>`: `src`/`srcset` become `data-consent-src`/`data-consent-srcset`;
/// - `<link rel=preconnect|dns-prefetch|preload|prefetch|modulepreload href>`: `href` becomes
///   `data-consent-href`.
/// Each held tag also gets `data-consent-category` and `data-consent-vendor`. Every other
/// attribute is kept in order, re-serialised from its raw bytes in double quotes (`"` written
/// as `&quot;`), so the result re-tokenizes to the same attribute values plus the new ones;
/// attributes already named like the added ones are dropped so ours are the ones that count.
///
/// `tag` is untrusted. Never throws (nullopt when memory runs out). Thread-safe.
std::optional<std::string> hold_back_tag(const html_token& tag, const tracker_catalogue& catalogue,
                                         granted_trackers granted) noexcept;

/// A start_tag_replacer for one response that applies hold_back_tag with `granted`. With every
/// category granted it returns nullopt for every tag. `catalogue` must outlive the replacer.
start_tag_replacer make_holdback(const tracker_catalogue& catalogue, granted_trackers granted);

}  // namespace cg::banner
