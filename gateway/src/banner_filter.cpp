#include "banner_filter.hpp"

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/field.hpp>

#include <algorithm>
#include <atomic>
#include <stdexcept>
#include <string>

#include "banner/content_coding.hpp"
#include "banner/rewrite_cache.hpp"
#include "consent/category.hpp"

namespace cg::gateway {

namespace http = boost::beast::http;
using boost::beast::iequals;

namespace {

std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
        s.remove_prefix(1);
    }
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
        s.remove_suffix(1);
    }
    return s;
}

bool is_html(std::string_view content_type) noexcept {
    const auto type = trim(content_type.substr(0, content_type.find(';')));
    return iequals(type, "text/html") || iequals(type, "application/xhtml+xml");
}

bool is_attachment(const response_head& h) noexcept {
    const auto d = trim(h[http::field::content_disposition]);
    return d.size() >= 10 && iequals(d.substr(0, 10), "attachment");
}

std::string lifetime_text(std::chrono::seconds s) {
    const auto days = std::chrono::duration_cast<std::chrono::days>(s).count();
    return days == 1 ? "1 day" : std::to_string(days) + " days";
}

// Each worker thread's rewritten pages (rewrite_cache.hpp): a page usually reaches the gateway
// whole in one read (relay), and most visitors of a page are in one of a few states.
constexpr std::size_t rewrite_cache_bytes = 8 * 1024 * 1024;

banner::rewrite_cache& local_rewrite_cache() {
    thread_local banner::rewrite_cache cache{rewrite_cache_bytes};
    return cache;
}

// Told apart in cache keys: two gateways in one process (tests) never share an entry.
std::atomic<std::uint64_t> filter_generation{0};

// decode -> the page rewrite -> encode, for one response. A body that comes whole in the first
// write goes through the worker's rewrite cache when `cache_key` is not empty.
class banner_transform final : public body_transform {
  public:
    banner_transform(std::unique_ptr<banner::page_rewrite> page, banner::content_coding coding,
                     metrics& stats, std::size_t site, std::string cache_key)
        : stats_(stats),
          site_(site),
          cache_key_(std::move(cache_key)),
          page_(std::move(page)),
          recode_(coding, [this](std::string_view in, bool last, std::string& out) {
              page_->write(in, last, out);
          }) {}

    void write(std::string_view in, bool last, std::string& out) override {
        const bool whole = first_ && last && !cache_key_.empty();
        first_ = false;
        if (whole) {
            if (const std::string* hit = local_rewrite_cache().find(cache_key_, in)) {
                out += *hit;
                stats_.page_from_cache(site_);
                return;
            }
        }
        const std::size_t from = out.size();
        recode_.write(in, last, out);
        if (!counted_ && recode_.broken()) {
            counted_ = true;
            stats_.coding_broken(site_);
        }
        if (whole && !recode_.broken()) {
            try {
                local_rewrite_cache().store(cache_key_, in, std::string_view{out}.substr(from));
            } catch (const std::bad_alloc&) {  // NOLINT(bugprone-empty-catch): just not kept
            }
        }
    }

    std::string_view vary() const noexcept override { return "Cookie, Accept-Language"; }

  private:
    metrics& stats_;
    std::size_t site_;
    std::string cache_key_;
    bool first_ = true;
    bool counted_ = false;
    std::unique_ptr<banner::page_rewrite> page_;
    banner::recoding_transform recode_;
};

// Everything a page's output depends on besides its body: the filter, site and coding, and the
// page_context. Pages with a CSP nonce (new in every response) are not cached: "" then.
std::string cache_key(std::uint64_t generation, std::size_t site, banner::content_coding coding,
                      const banner::page_context& ctx) {
    if (!ctx.nonce.empty() || !ctx.style_nonce.empty()) {
        return {};
    }
    std::string key = std::to_string(generation) + '/' + std::to_string(site) + '/';
    key += static_cast<char>('0' + static_cast<int>(coding));
    key += ctx.decided ? 'd' : 'u';
    key += ctx.gpc ? 'g' : '-';
    key += static_cast<char>('0' + static_cast<int>(ctx.fallback));
    for (const auto& g : ctx.granted_names) {
        key += g;
        key += ',';
    }
    key += ' ';
    key += ctx.return_to;
    return key;
}

}  // namespace

std::string_view csp_nonce(const response_head& h, std::string_view directive) {
    std::string_view fallback;
    for (const auto& f : h) {
        const auto name = f.name_string();
        if (!iequals(name, "Content-Security-Policy") &&
            !iequals(name, "Content-Security-Policy-Report-Only")) {
            continue;
        }
        // Several policies may share a field, separated by commas; directives by semicolons.
        std::string_view rest = f.value();
        while (!rest.empty()) {
            const auto end = rest.find_first_of(";,");
            const auto d = trim(rest.substr(0, end));
            rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end + 1);
            const auto space = d.find_first_of(" \t");
            const auto dname = d.substr(0, space);
            const bool wanted = iequals(dname, directive);
            if (!wanted && !iequals(dname, "default-src")) {
                continue;
            }
            std::string_view sources = space == std::string_view::npos ? "" : d.substr(space);
            while (!sources.empty()) {
                sources = trim(sources);
                const auto stop = sources.find_first_of(" \t");
                const auto token = sources.substr(0, stop);
                sources = stop == std::string_view::npos ? "" : sources.substr(stop);
                if (token.size() > 8 && iequals(token.substr(0, 7), "'nonce-") &&
                    token.back() == '\'') {
                    const auto nonce = token.substr(7, token.size() - 8);
                    if (wanted) {
                        return nonce;
                    }
                    if (fallback.empty()) {
                        fallback = nonce;
                    }
                }
            }
        }
    }
    return fallback;
}

std::unique_ptr<const banner::site_banner> make_site_banner(const site_config& site,
                                                            const consent::settings& settings) {
    if (!site.banner.enabled) {
        return nullptr;
    }
    banner::site_facts facts;
    facts.site = site.name;
    facts.policy_version = site.consent.policy_version;
    facts.default_language = static_cast<banner::language>(site.consent.default_language);
    for (const auto& c : site.consent.categories) {
        banner::category_info info;
        info.id = std::string{consent::name_of(c.id)};
        info.required = c.id == consent::category::necessary;
        for (std::size_t l = 0; l < c.texts.size(); ++l) {
            info.names[l] = c.texts[l].name;
            info.descriptions[l] = c.texts[l].description;
        }
        facts.categories.push_back(std::move(info));
    }
    const std::string owner =
        site.banner.who.name.empty() ? std::string{"the site itself"} : site.banner.who.name;
    // The consent cookie is the gateway's own: its purpose is written in every language.
    const std::string purpose =
        "Remembers the visitor's cookie choice and proves it (consent id, categories, policy "
        "version, time).";
    facts.cookies.push_back({settings.host_prefix
                                 ? "__Host-" + settings.cookie_name + ", " + settings.cookie_name
                                 : settings.cookie_name,
                             "necessary",
                             owner,
                             purpose,
                             lifetime_text(site.consent.lifetime),
                             {"Husker valget ditt om informasjonskapsler og dokumenterer det "
                              "(samtykke-ID, kategorier, versjon av teksten, tidspunkt).",
                              "Hugsar valet ditt om informasjonskapslar og dokumenterer det "
                              "(samtykke-ID, kategoriar, versjon av teksten, tidspunkt).",
                              purpose}});
    for (const auto& rule : site.consent.cookies) {
        facts.cookies.push_back({rule.name, std::string{consent::name_of(rule.cat)},
                                 rule.provider.empty() ? owner : rule.provider, rule.purpose,
                                 rule.lifetime});
    }
    for (const auto& rule : settings.catalogue) {
        if (rule.cat != consent::category::necessary) {
            facts.catalogue.push_back({rule.name, std::string{consent::name_of(rule.cat)},
                                       rule.provider, rule.purpose, rule.lifetime});
        }
    }
    return std::make_unique<const banner::site_banner>(site.banner, std::move(facts));
}

std::string site_privacy_text(const config& cfg, std::string_view site, banner::language l,
                              banner::text_format f) {
    const auto at = std::find_if(cfg.sites.begin(), cfg.sites.end(),
                                 [site](const site_config& s) { return s.name == site; });
    if (at == cfg.sites.end()) {
        std::string names;
        for (const auto& s : cfg.sites) {
            names += (names.empty() ? "" : ", ") + s.name;
        }
        throw std::invalid_argument("no site named \"" + std::string{site} +
                                    "\" (the sites: " + names + ")");
    }
    const auto banner = make_site_banner(*at, cfg.consent);
    if (!banner) {
        throw std::invalid_argument("site \"" + at->name +
                                    "\" has no banner (its \"banner\" object is missing or "
                                    "disabled), so it has nothing to declare");
    }
    banner::privacy_facts facts;
    facts.consent_lifetime_days = static_cast<unsigned>(
        std::chrono::duration_cast<std::chrono::days>(at->consent.lifetime).count());
    facts.record_retention_days = static_cast<unsigned>(
        std::chrono::duration_cast<std::chrono::days>(at->consent.retention).count());
    facts.analytics = at->analytics.enabled;
    facts.analytics_k = at->analytics.k;
    facts.analytics_retention_days = at->analytics.retention_days;
    facts.country = !cfg.analytics.geoip_db.empty();
    for (const auto& t : cfg.analytics.forward) {
        facts.forwarded_to.push_back(t.name);
    }
    return banner::privacy_text(*banner, l, f, facts);
}

body_filter make_banner_filter(
    const std::vector<std::unique_ptr<const banner::site_banner>>& banners, metrics& stats) {
    const std::uint64_t generation = filter_generation.fetch_add(1, std::memory_order_relaxed);
    return [&banners, &stats, generation](
               const transaction& tx, const response_head& h) -> std::unique_ptr<body_transform> {
        if (tx.site >= banners.size() || !banners[tx.site] || tx.method != http::verb::get) {
            return nullptr;
        }
        const unsigned status = h.result_int();
        if ((status != 200 && status < 400) || !is_html(h[http::field::content_type]) ||
            is_attachment(h)) {
            return nullptr;
        }
        const auto coding = banner::parse_content_encoding(h[http::field::content_encoding]);
        if (!coding) {
            return nullptr;  // an unknown or stacked coding: the page cannot be read
        }
        const auto& site = *banners[tx.site];
        banner::page_context ctx;
        const auto& v = tx.visitor;
        ctx.decided = v.state.has_value() && v.state->kind != consent::decision_kind::gpc;
        for (const auto c : consent::all_categories) {
            if (!v.granted.contains(c)) {
                continue;
            }
            ctx.granted_names.emplace_back(consent::name_of(c));
            switch (c) {
                case consent::category::preferences:
                    ctx.granted.grant(banner::tracker_category::preferences);
                    break;
                case consent::category::analytics:
                    ctx.granted.grant(banner::tracker_category::analytics);
                    break;
                case consent::category::marketing:
                    ctx.granted.grant(banner::tracker_category::marketing);
                    break;
                case consent::category::necessary:
                    break;
            }
        }
        ctx.gpc = v.gpc;
        ctx.nonce = csp_nonce(h, "script-src");
        ctx.style_nonce = csp_nonce(h, "style-src");
        ctx.return_to = tx.origin;
        ctx.fallback =
            banner::language_of_accept(tx.facts.accept_language).value_or(site.default_language());
        stats.page_rewritten(tx.site);
        return std::make_unique<banner_transform>(
            site.page(ctx), *coding, stats, tx.site,
            site.config().cache ? cache_key(generation, tx.site, *coding, ctx) : std::string{});
    };
}

}  // namespace cg::gateway
