#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

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

/// Display names of the categories in one language; an empty one means the built-in name.
struct category_display_names {
    std::string preferences;
    std::string analytics;
    std::string marketing;
};

/// How hold-back behaves beyond the visitor's grants. Validated by nobody: any values work.
struct holdback_options {
    /// Language of the placeholder texts when the page's `<html lang>` is missing or not one of
    /// nb, nn, en (see placeholder_language). Itself mapped the same way; anything else is "en".
    std::string fallback_language = "nb";
    /// Category display names by language ("nb", "nn", "en"), overriding the built-in ones
    /// (nb: Preferanser, Statistikk, Markedsføring; nn: Preferansar, Statistikk,
    /// Marknadsføring; en: Preferences, Statistics, Marketing). UTF-8.
    std::map<std::string, category_display_names, std::less<>> category_names;
    /// Google Consent Mode: the script elements of catalogue entries with `consent_mode`
    /// (`<script src>` and inline gtag/GTM snippets) are held even when their category is
    /// granted, and every such held element gets `data-consent-google=""`, so the banner script
    /// can send the consent-mode default/update before activating them.
    bool consent_mode = false;
    /// Put a click-to-load placeholder before each held `<iframe>` (make_holdback with options,
    /// install_holdback; never inside `<noscript>` with install_holdback).
    bool placeholders = true;
};

/// The hold-back rewrite of one start tag (issue 9), or nullopt to keep its bytes.
///
/// A tag is held when a URL it loads matches a `catalogue` entry whose category is not in
/// `granted` (or, with options.consent_mode, a `<script src>` of an entry with consent_mode,
/// granted or not):
/// - `<script src>` with no, an empty, a JavaScript MIME or `module` type: becomes
///   `type="text/plain"`, `src` becomes `data-consent-src`, the original type goes to
///   `data-consent-type` (only when it had one);
/// - `<iframe src>`, `<embed src>`, `<audio src>`, `<track src>`: `src` becomes
///   `data-consent-src`;
/// - `<img src|srcset>`, `<source src|srcset>`: `src`/`srcset` become
///   `data-consent-src`/`data-consent-srcset`;
/// - `<video src|poster>`: `data-consent-src`/`data-consent-poster`;
/// - `<object data>`: `data-consent-data`;
/// - `<link rel=preconnect|dns-prefetch|preload|prefetch|modulepreload href>`: `href` becomes
///   `data-consent-href`.
/// Every URL attribute of a held element is renamed, the matching one and the others. Each held
/// tag also gets `data-consent-category` and `data-consent-vendor` (the catalogue entry's), and
/// with options.consent_mode a Google script (entry with consent_mode) `data-consent-google=""`.
/// Every other attribute is kept in order, re-serialised from its raw bytes in double quotes
/// (`"` written as `&quot;`), so the result re-tokenizes to the same attribute values plus the
/// new ones; attributes already named like the added ones are dropped so ours are the ones that
/// count. Scripts whose type is not JavaScript (`text/plain` with a site's own
/// data-consent-category, JSON-LD, templates) are never touched. No placeholder is produced
/// here (see make_holdback with options).
///
/// `tag` is untrusted. Never throws (nullopt when memory runs out). Thread-safe.
std::optional<std::string> hold_back_tag(const html_token& tag, const tracker_catalogue& catalogue,
                                         granted_trackers granted) noexcept;
std::optional<std::string> hold_back_tag(const html_token& tag, const tracker_catalogue& catalogue,
                                         granted_trackers granted,
                                         const holdback_options& options) noexcept;

/// The hold-back rewrite of an inline script's start tag (a `<script>` without `src` and with a
/// JavaScript type, see hold_back_tag), given the script's text: when find_inline_tracker finds
/// an entry whose category is not granted (or, with options.consent_mode, an entry with
/// consent_mode), the tag becomes `type="text/plain"` with `data-consent-type` (only when it had
/// a type), `data-consent-category`, `data-consent-vendor` and, for consent-mode entries with
/// options.consent_mode, `data-consent-google=""`. The text itself is not changed.
/// Both inputs are untrusted. Never throws (nullopt when memory runs out). Thread-safe.
std::optional<std::string> hold_back_inline_script(const html_token& start_tag,
                                                   std::string_view script_text,
                                                   const tracker_catalogue& catalogue,
                                                   granted_trackers granted,
                                                   const holdback_options& options = {}) noexcept;

/// A start tag written back as hold_back_tag writes kept attributes: `<name`, each attribute
/// in order from its raw bytes in double quotes, then `>` or ` />`. Re-tokenizes to the same
/// name and attribute values. `tag` is untrusted; only std::bad_alloc can escape.
std::string serialize_start_tag(const html_token& tag);

/// Appends UTF-8 `text` as pure-ASCII HTML text or attribute value (for pages in any charset):
/// `&`, `<`, `>`, `"` and `'` become `&amp;` `&lt;` `&gt;` `&quot;` `&#39;`; other ASCII except
/// control characters (tab, LF and CR are kept) is copied; every other code point becomes a
/// decimal reference (`ø` → `&#248;`); invalid UTF-8 (each bad byte), surrogates, C0/C1
/// controls and NUL become `&#65533;`. Only std::bad_alloc can escape.
void append_ascii_html(std::string& out, std::string_view text);

/// append_ascii_html into a new string.
std::string ascii_html(std::string_view text);

/// The placeholder language for an `<html lang>` value: its primary subtag, ASCII
/// case-insensitively, "nb" or "no" → "nb", "nn" → "nn", "en" → "en"; anything else (or an empty
/// value) gives `fallback` mapped the same way, and "en" when that is not one of them either.
std::string_view placeholder_language(std::string_view lang, std::string_view fallback) noexcept;

/// The click-to-load placeholder hold-back puts right before a held `<iframe>`:
/// `<div class="cg-placeholder" data-consent-placeholder="CATEGORY" lang="LANG"><p>TEXT</p>
/// <button type="button" class="cg-btn" data-consent-allow="CATEGORY">BUTTON</button></div>`
/// (one line). TEXT names what it is (from the entry's kind: video, map, post, chat, form or
/// generic content), who provides it (vendor) and the category's display name; BUTTON allows
/// the category. Pure ASCII (append_ascii_html), no style attributes. `language` is "nb", "nn"
/// or "en" (anything else is read as "en"). Only std::bad_alloc can escape.
std::string iframe_placeholder(const tracker& entry, std::string_view language,
                               const holdback_options& options = {});

/// A start_tag_replacer for one response that applies hold_back_tag with `granted`. With every
/// category granted it returns nullopt for every tag. `catalogue` must outlive the replacer.
start_tag_replacer make_holdback(const tracker_catalogue& catalogue, granted_trackers granted);

/// The same with `options`; when options.placeholders, a held `<iframe>` is replaced by
/// iframe_placeholder followed by the held tag, in the language of the first `<html lang>` the
/// replacer saw (else options.fallback_language). Used alone it cannot tell the tags inside
/// `<noscript>` apart and puts placeholders there too: prefer install_holdback.
start_tag_replacer make_holdback(const tracker_catalogue& catalogue, granted_trackers granted,
                                 const holdback_options& options);
/// The same with options shared (no copy per response).
start_tag_replacer make_holdback(const tracker_catalogue& catalogue, granted_trackers granted,
                                 std::shared_ptr<const holdback_options> options);

/// Whether hold-back may change a start tag of this name (lowercase): `<script>`, the elements
/// that load something by themselves (see hold_back_tag) and `<html>` (its lang). A
/// html_rewriter::tag_names for set_replaced_tags.
bool holdback_replaces(std::string_view name) noexcept;

/// Sets all of hold-back on `rewriter` (before its first write): make_holdback with `options`
/// as its start_tag_replacer, the same without placeholders for `<noscript>` content, and
/// hold_back_inline_script as its inline_script_replacer (bound: the rewriter's default) and
/// holdback_replaces as its replaced tags, so
/// that inline tracker snippets are held, GTM's `<noscript><iframe>` is held without a
/// placeholder, and the `<html lang>` seen by the document replacer picks the placeholder
/// language. With every category granted and consent_mode off the replacers change nothing and
/// no inline_script_replacer is set (no lookahead): the page stays byte-for-byte identical.
/// Replaces replacers set earlier. `catalogue` must outlive the rewriter.
void install_holdback(html_rewriter& rewriter, const tracker_catalogue& catalogue,
                      granted_trackers granted, const holdback_options& options = {});
/// The same with options shared (no copy per response).
void install_holdback(html_rewriter& rewriter, const tracker_catalogue& catalogue,
                      granted_trackers granted, std::shared_ptr<const holdback_options> options);

}  // namespace cg::banner
