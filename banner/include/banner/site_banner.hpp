#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "banner/holdback.hpp"
#include "banner/tracker_catalogue.hpp"

/// A site's banner: its configuration (the `banner` object of a site), the texts in nb, nn and
/// en, the site document the banner script reads, the cookie declaration, and the per-response
/// page rewrite (snippet, hold-back, the no-JavaScript form). Built once at startup, shared
/// read-only by every worker.
namespace cg::banner {

/// The banner's languages. Texts exist in each.
enum class language : std::uint8_t { nb = 0, nn = 1, en = 2 };
inline constexpr std::array<language, 3> all_languages{language::nb, language::nn, language::en};

/// "nb", "nn", "en".
std::string_view name_of(language l) noexcept;

/// The language of a BCP 47 tag by its primary subtag, case-insensitively: nb, nn, en, and
/// "no" (Norwegian, written as bokmål by nearly every site) as nb. nullopt for anything else.
std::optional<language> language_of_tag(std::string_view tag) noexcept;

/// The first language of an Accept-Language value the banner has, in the order written (the
/// q-values of real browsers decrease in that order); nullopt when none.
std::optional<language> language_of_accept(std::string_view accept_language) noexcept;

/// Where the persistent re-open button sits, or none when the site links to the banner itself
/// (an element with `data-consent-open`).
enum class reopen_position : std::uint8_t { bottom_left, bottom_right, none };

/// Google Consent Mode v2 (issue 9): off; basic (no Google tag runs before consent, then the
/// `update`); advanced (Google tags run from the start in denied mode).
enum class consent_mode : std::uint8_t { off, basic, advanced };

/// Who is responsible for the data (GDPR art. 13(1)(a)); per site, since one gateway fronts a
/// group of companies.
struct controller {
    std::string name;
    std::string contact;      ///< an e-mail address, phone or postal address
    std::string privacy_url;  ///< the privacy statement
};

/// The `banner` object of a site, validated.
struct site_banner_config {
    /// Pages get the banner and hold-back; false (a site without a `banner` object, or with
    /// `"enabled": false`): they pass unchanged.
    bool enabled = false;
    controller who;
    /// Third parties the site uses, by their vendor name in the tracker catalogue: listed on the
    /// first layer and per category.
    std::vector<std::string> third_parties;
    reopen_position reopen = reopen_position::bottom_left;
    consent_mode google = consent_mode::off;
    /// Text overrides per language: key (one of text_keys()) and value.
    std::array<std::vector<std::pair<std::string, std::string>>, 3> texts;
    /// The site's own tracker hosts, as a tracker catalogue document's `trackers` array.
    std::string trackers_json;
    /// Rewritten pages may be kept for reuse (rewrite_cache.hpp); false for a site whose pages
    /// differ in every response anyway (per-request tokens), where keeping them only costs.
    bool cache = true;
};

/// The names of the banner's texts (`title`, `intro`, `accept_all`, ...), in document order.
const std::vector<std::string_view>& text_keys();

/// The built-in text `key` in `l` ("" for an unknown key).
std::string_view builtin_text(language l, std::string_view key) noexcept;

/// One category as the banner shows it (from the consent policy).
struct category_info {
    std::string id;  ///< necessary, preferences, analytics, marketing
    bool required = false;
    std::array<std::string, 3> names;
    std::array<std::string, 3> descriptions;
};

/// One cookie as the declaration lists it (from the site's rules and the catalogue).
struct cookie_info {
    std::string name;  ///< may be a pattern with `*`
    std::string category;
    std::string provider;
    std::string purpose;  ///< English (the catalogue's language)
    std::string lifetime;
    /// The purpose in nb, nn and en where the gateway knows it (its own consent cookie); an
    /// empty one falls back to `purpose`.
    std::array<std::string, 3> purposes{};
};

/// What the banner needs to know of the site's consent policy (the gateway converts it; banner
/// knows nothing of the consent module).
struct site_facts {
    std::string site;
    std::string policy_version;  ///< the configured one
    language default_language = language::nb;
    std::vector<category_info> categories;  ///< offered, necessary first, in banner order
    std::vector<cookie_info> cookies;       ///< the site's rules, the consent cookie included
    /// Every catalogued cookie of a non-necessary category: what withdrawal deletes from
    /// scripts' reach (document.cookie) when the site did not list it.
    std::vector<cookie_info> catalogue;
};

/// Per response: what the page rewrite needs to know.
struct page_context {
    bool decided = false;  ///< the visitor holds a valid decision
    granted_trackers granted;
    std::vector<std::string> granted_names;  ///< the granted categories' ids, necessary first
    bool gpc = false;
    std::string_view nonce;            ///< the page's CSP nonce for scripts ("" = none)
    std::string_view style_nonce;      ///< the page's CSP nonce for styles ("" = none)
    std::string_view return_to;        ///< the page's origin-form target, for the no-JS form
    language fallback = language::nb;  ///< when the page names no language of ours
};

class page_rewrite;

/// One site's banner, ready to serve.
class site_banner {
  public:
    /// Builds the site documents, the declaration and the catalogue (the built-in tracker
    /// catalogue plus the site's own hosts). Throws std::invalid_argument when a third party
    /// or the site's trackers do not check out (config validation reports those first).
    site_banner(site_banner_config config, site_facts facts);
    ~site_banner();
    site_banner(const site_banner&) = delete;
    site_banner& operator=(const site_banner&) = delete;

    const site_banner_config& config() const noexcept { return config_; }
    language default_language() const noexcept { return facts_.default_language; }

    /// 12 hex digits of SHA-256 over everything the visitor is shown and asked (texts in every
    /// language, categories, cookies, third parties, controller): appended to the policy
    /// version, so any change asks every visitor again (DESIGN L8).
    const std::string& policy_hash() const noexcept { return policy_hash_; }

    /// The site document for `l` (JSON, see README "The banner") and its path under
    /// /_consent/ (`site.<lang>.<hash>.json`).
    const std::string& document(language l) const noexcept;
    const std::string& document_path(language l) const noexcept;

    /// The cookie declaration (DESIGN §5) as HTML in `l`, and as JSON.
    std::string declaration_html(language l) const;
    std::string declaration_json() const;

    /// A transform for one HTML response body (already decoded): inserts the banner's tags
    /// before </head> (see html_rewriter), holds back trackers of categories not granted,
    /// and, for an undecided visitor, puts the no-JavaScript form right after `<body>`.
    std::unique_ptr<page_rewrite> page(const page_context& ctx) const;

    const tracker_catalogue& trackers() const noexcept { return *trackers_; }

    /// The site's third parties' names, comma-separated ("" when none).
    const std::string& third_party_names() const noexcept { return third_party_names_; }

    /// The tags the page rewrite inserts before </head> for `ctx` (pure ASCII): the style
    /// sheet, then the deferred script with the visitor's state in data attributes (see README
    /// "The banner"), both with the page's CSP nonces when it has them.
    std::string snippet(const page_context& ctx) const;

    /// The site's text `key` in `l` (the override, else the built-in text), `{controller}`
    /// replaced.
    std::string text(language l, std::string_view key) const;

    /// The no-JavaScript consent form the page rewrite puts after `<body>` for an undecided
    /// visitor (pure ASCII): a `<noscript><form>` in `l` that posts accept-all or reject-all to
    /// /_consent and comes back to `return_to`.
    std::string noscript_form(language l, std::string_view return_to) const;

  private:
    /// Builds what every page rewrite uses, once: the snippet's fixed parts, the no-JS forms
    /// and the hold-back options (page_filter.cpp).
    void prepare_pages();

    site_banner_config config_;
    site_facts facts_;
    std::unique_ptr<tracker_catalogue> trackers_;
    /// The site's category names and consent mode, by fallback language (nb, nn, en).
    std::array<std::shared_ptr<const holdback_options>, 3> holdback_options_;
    /// The snippet without the per-visitor values (see snippet()).
    std::array<std::string, 4> snippet_parts_;
    /// The no-JS form by language: before and after its return_to value.
    std::array<std::pair<std::string, std::string>, 3> noscript_forms_;
    std::string third_party_names_;  ///< "Google Analytics, Hotjar" for the no-JS form
    std::string policy_hash_;
    std::array<std::string, 3> documents_;
    std::array<std::string, 3> document_paths_;
};

/// The streaming rewrite of one page (not thread-safe; one per response).
class page_rewrite {
  public:
    virtual ~page_rewrite() = default;
    /// As html_rewriter::write.
    virtual void write(std::string_view in, bool last, std::string& out) = 0;
};

}  // namespace cg::banner
