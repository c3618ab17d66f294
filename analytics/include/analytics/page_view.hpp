#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cg::analytics {

/// Why a response is not counted as a page view (each counted in /metrics by its name).
enum class not_counted {
    method,       ///< not GET
    status,       ///< not 2xx
    not_html,     ///< not text/html or application/xhtml+xml
    not_a_page,   ///< a subresource or fetch, not a navigation (Sec-Fetch-Dest, Accept)
    prefetch,     ///< Sec-Purpose / Purpose / X-Moz: prefetch (the visitor has not come yet)
    bot,          ///< the User-Agent is a crawler, headless browser or HTTP library
    no_language,  ///< no Accept-Language: browsers always send one, scripts rarely do
    ua_loading,   ///< would be one, but the User-Agent database is still loading (or broken)
};

/// The name /metrics uses for a reason ("method", "status", "not_html", ...).
std::string_view name_of(not_counted r) noexcept;

/// What classify() looks at: the request's and the response's header values (absent = ""),
/// untrusted, and whether the User-Agent parsed as a bot.
struct exchange_facts {
    std::string_view method;
    unsigned status = 0;
    std::string_view content_type;
    std::string_view sec_fetch_dest;
    std::string_view accept;
    std::string_view sec_purpose;  ///< Sec-Purpose, else Purpose, else X-Moz
    std::string_view accept_language;
    bool bot = false;
};

/// Whether a response is a page view (nullopt) or why not: a GET answered 2xx with HTML, for a
/// navigation (`Sec-Fetch-Dest: document`, or, from a browser that sends no Sec-Fetch headers,
/// an Accept that names text/html), not a prefetch, not a bot, with an Accept-Language.
std::optional<not_counted> classify(const exchange_facts& f) noexcept;
/// The request's half of classify(), before there is an answer: method, not_a_page, prefetch,
/// bot, no_language (`status` and `content_type` are not looked at).
std::optional<not_counted> classify_request(const exchange_facts& f) noexcept;
/// classify() from the request's half (classify_request's answer) and the answer's status and
/// Content-Type: the same reason classify() gives for the whole exchange.
std::optional<not_counted> classify_answer(std::optional<not_counted> request, unsigned status,
                                           std::string_view content_type) noexcept;

/// Where a visit came from, as Plausible and GA4's default channel groups tell them apart.
enum class channel { direct, organic_search, social, email, referral, campaign };

/// The dashboard's name of a channel ("direct", "organic search", ...).
std::string_view name_of(channel c) noexcept;

/// A site's rule that reports many paths as one: `pattern` is a path whose segments are
/// literal or `:name` (any one segment) or, last, `*` (any rest); a path it matches is
/// reported as the pattern itself ("/jobb/:id").
struct path_rule {
    std::string pattern;
};

/// The dimensions of one page view, all pure ASCII or valid UTF-8, bounded in length.
struct page_dimensions {
    std::string path;           ///< without query or fragment; a matching rule's pattern
    std::string referrer_host;  ///< the Referer's host without "www.", "" when own or none
    channel source = channel::direct;
    std::string utm_source, utm_medium, utm_campaign;  ///< decoded, lower-cased, ≤ 100 bytes
};

/// What read_dimensions reads of a Referer (untrusted): its origin, the scheme and authority
/// ("https://www.google.no" of "https://www.google.no/search?q=x"), or "" when it has no
/// "scheme://". The dimensions read with the origin are those read with the whole Referer.
std::string_view referrer_origin(std::string_view referer) noexcept;

/// Recent Referer origins ("https://www.google.no": a referrer's host and channel follow from its
/// origin and the site's own hosts alone) with the host and channel they gave, so that
/// read_dimensions parses and classifies each origin once while it is here: direct-mapped, 64
/// origins. Own hosts are told apart by their address: call forget() before any list given to
/// it may be freed. Not thread-safe (the tap keeps one per worker).
class referrer_memo {
  public:
    /// The referrer host and the channel its host implies (read_dimensions' referrer_host, and
    /// its source before utm_medium is looked at) of `referer` for `own_hosts`, into `host`.
    void read(std::string_view referer, const std::vector<std::string>& own_hosts,
              std::string& host, channel& source);
    /// Forgets every origin.
    void forget() noexcept;

  private:
    struct entry {
        std::string origin;
        const std::vector<std::string>* own_hosts = nullptr;  ///< null: free
        std::string host;
        channel source = channel::direct;
    };
    std::array<entry, 64> entries_;
};

/// Reads the dimensions from the request target (origin-form, untrusted), the Referer
/// (untrusted) and the site's own hosts (lower case; a Referer from one of them is no
/// referrer). Only utm_source, utm_medium and utm_campaign are kept of the query; click ids and
/// every other parameter are dropped. Never throws except std::bad_alloc.
page_dimensions dimensions_of(std::string_view target, std::string_view referer,
                              const std::vector<std::string>& own_hosts,
                              const std::vector<path_rule>& rules);
/// The same into `d`, whose strings keep their buffers (the tap reuses one per worker), through
/// `memo` when given.
void read_dimensions(page_dimensions& d, std::string_view target, std::string_view referer,
                     const std::vector<std::string>& own_hosts, const std::vector<path_rule>& rules,
                     referrer_memo* memo = nullptr);

}  // namespace cg::analytics
