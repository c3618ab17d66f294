#pragma once
#include <cstddef>
#include <functional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace cg::banner {

/// The consent categories a tracker can wait for. `necessary` is deliberately absent: what is
/// strictly necessary is not a tracker and is never held back. Same names as the consent
/// module's categories, without depending on it (DESIGN.md §4).
enum class tracker_category { preferences, analytics, marketing };

/// "preferences", "analytics" or "marketing".
std::string_view name_of(tracker_category c) noexcept;

/// One catalogued tracker host. A URL matches when its host is `host` or a subdomain of it
/// and, when `paths` is not empty, its path starts with one of the prefixes at a segment
/// boundary (`/tr` matches `/tr`, `/tr/` and `/tr?id=1`, not `/track`).
struct tracker {
    std::string host;                ///< lower case, no trailing dot: "googletagmanager.com"
    std::vector<std::string> paths;  ///< path prefixes, each starting with '/'; empty = any path
    tracker_category category = tracker_category::marketing;
    std::string vendor;   ///< who runs it: "Google Tag Manager"
    std::string kind;     ///< what it is: "tag-manager", "analytics", "advertising", "video"...
    std::string purpose;  ///< one short English sentence for the banner's lists
    /// A Google tag that understands Google Consent Mode: with holdback_options::consent_mode
    /// its script elements are held even when their category is granted, so the banner script
    /// can send the consent-mode default before they run.
    bool consent_mode = false;
};

/// Thrown by the tracker_catalogue constructors. Every problem is one line
/// `SOURCE: /json/pointer: reason` (or `SOURCE: reason` for the document as a whole); what()
/// joins them with newlines.
class tracker_catalogue_error : public std::invalid_argument {
  public:
    explicit tracker_catalogue_error(std::vector<std::string> problems);
    const std::vector<std::string>& problems() const noexcept { return problems_; }

  private:
    std::vector<std::string> problems_;
};

/// The tracker hosts whose elements (`<script src>`, inline scripts that load them, `<iframe>`,
/// `<img>` pixels, media and embeds; see holdback.hpp) the banner holds back until the visitor
/// consents to their category.
///
/// Documents look like `{"trackers": [{"host", "paths", "category", "vendor", "kind",
/// "purpose", "consent_mode"}...]}`; all fields but `paths` and `consent_mode` (true or false,
/// default false) are required. Immutable after construction;
/// match() is thread-safe, never throws and never allocates.
class tracker_catalogue {
  public:
    /// The `kind` values a document may use.
    static std::span<const std::string_view> kinds() noexcept;

    /// Reads one document. `source` names it in messages (a file name, "built-in tracker
    /// catalogue"). Throws tracker_catalogue_error listing every problem, in document order:
    /// invalid JSON, unknown or missing fields, a host that is not a lower-case DNS name of two
    /// or more labels (no scheme, port, path, `*` or trailing dot), a path prefix that does not
    /// start with '/' or holds `?`, `#`, `\`, spaces or control characters, an empty `paths`
    /// list, a category other than preferences, analytics or marketing, an unknown kind, empty
    /// vendor or purpose, and a host (or host and path prefix) catalogued twice. For startup.
    tracker_catalogue(std::string_view json_text, std::string_view source);

    /// Reads the built-in list and a site's own list; both are checked and the problems of both
    /// are reported together. The site's entries win over built-in ones for the same host and
    /// path prefix; a site may repeat a built-in host (to recategorise it) but not its own.
    tracker_catalogue(std::string_view builtin_json, std::string_view builtin_source,
                      std::string_view site_json, std::string_view site_source);

    /// The catalogue shipped in configs/tracker-catalogue.json, compiled in, parsed once.
    /// Throws tracker_catalogue_error on first use if that file is broken (a unit test makes
    /// sure it is not).
    static const tracker_catalogue& builtin();

    /// The tracker an element's URL points to, or nullptr. `url` is untrusted, exactly as found
    /// in an HTML attribute (entities already decoded): any bytes, any length.
    /// Only absolute `http:`/`https:` URLs and protocol-relative `//host/...` ones can match;
    /// relative URLs, `javascript:`, `data:` and other schemes never do. As browsers do, it
    /// ignores leading and trailing spaces and control characters and tabs or newlines anywhere,
    /// treats `\` as `/`, drops user-info, port, query and fragment, percent-decodes and
    /// lower-cases the host, maps full-width dots and letters to ASCII and ignores one trailing
    /// dot. The most specific entry wins: the longest matching host, then the longest path
    /// prefix, then a site entry. Paths are compared as written (no percent-decoding, no
    /// resolving of `..`). The pointer lives as long as the catalogue.
    const tracker* match(std::string_view url) const noexcept;

    /// Every entry: the site's first, then the built-in ones, each in document order.
    const std::vector<tracker>& trackers() const noexcept { return trackers_; }

  private:
    struct string_hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept {
            return std::hash<std::string_view>{}(s);
        }
    };
    // One path prefix of one entry; "" for an entry without paths (it matches any path).
    struct rule {
        std::string prefix;
        std::size_t index;  // into trackers_
    };
    using host_index =
        std::unordered_map<std::string, std::vector<rule>, string_hash, std::equal_to<>>;

    void build_index();
    const tracker* match_host(std::string_view host, std::string_view raw_path) const noexcept;

    std::vector<tracker> trackers_;
    host_index by_host_;  // rules for each host, longest prefix first, site before built-in
};

/// The text of configs/tracker-catalogue.json, compiled in.
std::string_view builtin_tracker_catalogue_json() noexcept;

}  // namespace cg::banner
