#include <cstdint>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "banner/tracker_catalogue.hpp"

namespace {

using cg::banner::builtin_tracker_catalogue_json;
using cg::banner::tracker;
using cg::banner::tracker_catalogue;
using cg::banner::tracker_catalogue_error;
using cg::banner::tracker_category;

// The problems reported for `json`, or an empty list when it is accepted.
std::vector<std::string> problems_of(std::string_view json) {
    try {
        tracker_catalogue catalogue(json, "test.json");
    } catch (const tracker_catalogue_error& e) {
        return e.problems();
    }
    return {};
}

// The single problem reported for a catalogue holding just `entry`.
std::string problem_with(const std::string& entry) {
    const auto problems = problems_of(R"({"trackers": [)" + entry + "]}");
    if (problems.size() != 1) {
        std::string all;
        for (const auto& p : problems) {
            all += "\n" + p;
        }
        return "expected one problem, got " + std::to_string(problems.size()) + all;
    }
    return problems.front();
}

// The vendor of the builtin entry `url` matches, or "" for none.
std::string vendor_of(std::string_view url) {
    const tracker* t = tracker_catalogue::builtin().match(url);
    return t == nullptr ? "" : t->vendor;
}

bool matches(std::string_view url) {
    return tracker_catalogue::builtin().match(url) != nullptr;
}

const tracker_catalogue& small_catalogue() {
    static const tracker_catalogue catalogue(R"({"trackers": [
        {"host": "example.com", "category": "analytics", "vendor": "Whole host",
         "kind": "analytics", "purpose": "Any path."},
        {"host": "example.com", "paths": ["/tr", "/ads/"], "category": "marketing",
         "vendor": "Paths", "kind": "advertising", "purpose": "Some paths."},
        {"host": "cdn.example.com", "category": "preferences", "vendor": "Subdomain",
         "kind": "video", "purpose": "A more specific host."},
        {"host": "only.example.org", "paths": ["/pixel"], "category": "marketing",
         "vendor": "Only paths", "kind": "advertising", "purpose": "No fallback."}
    ]})",
                                             "small.json");
    return catalogue;
}

std::string small_vendor(std::string_view url) {
    const tracker* t = small_catalogue().match(url);
    return t == nullptr ? "" : t->vendor;
}

// ---------------------------------------------------------------------------------------------
// The built-in catalogue

TEST(TrackerCatalogue, BuiltinParses) {
    EXPECT_NO_THROW(tracker_catalogue::builtin());
    EXPECT_GE(tracker_catalogue::builtin().trackers().size(), 40U);
}

TEST(TrackerCatalogue, BuiltinIsTheShippedFile) {
    std::ifstream file(std::string(CG_SOURCE_DIR) + "/configs/tracker-catalogue.json",
                       std::ios::binary);
    ASSERT_TRUE(file);
    std::ostringstream text;
    text << file.rdbuf();
    EXPECT_EQ(text.str(), builtin_tracker_catalogue_json());
}

TEST(TrackerCatalogue, EveryBuiltinEntryIsDescribed) {
    for (const tracker& t : tracker_catalogue::builtin().trackers()) {
        SCOPED_TRACE(t.host);
        EXPECT_FALSE(t.vendor.empty());
        EXPECT_FALSE(t.kind.empty());
        EXPECT_GE(t.purpose.size(), 20U);
        EXPECT_EQ(t.purpose.back(), '.');
        EXPECT_LE(t.purpose.size(), 120U);
        EXPECT_TRUE(t.category == tracker_category::preferences ||
                    t.category == tracker_category::analytics ||
                    t.category == tracker_category::marketing);
    }
}

TEST(TrackerCatalogue, BuiltinEntriesMatchTheirOwnHostAndPaths) {
    const auto& catalogue = tracker_catalogue::builtin();
    for (const tracker& t : catalogue.trackers()) {
        SCOPED_TRACE(t.host);
        const std::vector<std::string> paths =
            t.paths.empty() ? std::vector<std::string>{"/x.js"} : t.paths;
        for (const auto& p : paths) {
            EXPECT_EQ(catalogue.match("https://" + t.host + p), &t);
        }
    }
}

TEST(TrackerCatalogue, BuiltinCoversTheCommonTrackers) {
    EXPECT_EQ(vendor_of("https://www.googletagmanager.com/gtm.js?id=GTM-ABC123"),
              "Google Tag Manager");
    EXPECT_EQ(vendor_of("https://www.google-analytics.com/analytics.js"), "Google Analytics");
    EXPECT_EQ(vendor_of("https://region1.google-analytics.com/g/collect?v=2"), "Google Analytics");
    EXPECT_EQ(vendor_of("https://region1.analytics.google.com/g/collect"), "Google Analytics");
    EXPECT_EQ(vendor_of("https://stats.g.doubleclick.net/j/collect"), "Google Ads / DoubleClick");
    EXPECT_EQ(vendor_of("https://www.google.com/pagead/1p-conversion/123/"), "Google Ads");
    EXPECT_EQ(vendor_of("https://www.google.com/maps/embed?pb=!1m18"), "Google Maps");
    EXPECT_EQ(vendor_of("https://www.google.com/search?q=x"), "");
    EXPECT_EQ(vendor_of("https://connect.facebook.net/en_US/fbevents.js"), "Meta");
    EXPECT_EQ(vendor_of("https://www.facebook.com/tr?id=1&ev=PageView&noscript=1"), "Meta Pixel");
    EXPECT_EQ(vendor_of("https://www.facebook.com/groups/x"), "");
    EXPECT_EQ(vendor_of("https://snap.licdn.com/li.lms-analytics/insight.min.js"),
              "LinkedIn Insight Tag");
    EXPECT_EQ(vendor_of("https://www.clarity.ms/tag/abc"), "Microsoft Clarity");
    EXPECT_EQ(vendor_of("https://bat.bing.com/bat.js"), "Microsoft Advertising (UET)");
    EXPECT_EQ(vendor_of("https://static.hotjar.com/c/hotjar-1.js?sv=6"), "Hotjar");
    EXPECT_EQ(vendor_of("https://ws.hotjar.io/api"), "Hotjar");
    EXPECT_EQ(vendor_of("https://www.youtube.com/embed/dQw4w9WgXcQ"), "YouTube");
    EXPECT_EQ(vendor_of("https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ"),
              "YouTube (privacy-enhanced mode)");
    EXPECT_EQ(vendor_of("https://player.vimeo.com/video/76979871"), "Vimeo");
    EXPECT_EQ(vendor_of("https://s.pinimg.com/ct/core.js"), "Pinterest Tag");
    EXPECT_EQ(vendor_of("https://s.pinimg.com/images/logo.png"), "");
    EXPECT_EQ(vendor_of("https://i.ytimg.com/vi/dQw4w9WgXcQ/hqdefault.jpg"), "");
}

TEST(TrackerCatalogue, CategoriesOfTheBuiltinEntries) {
    const auto& c = tracker_catalogue::builtin();
    EXPECT_EQ(c.match("https://www.google-analytics.com/g/collect")->category,
              tracker_category::analytics);
    EXPECT_EQ(c.match("https://connect.facebook.net/nb_NO/sdk.js")->category,
              tracker_category::marketing);
    EXPECT_EQ(c.match("https://maps.googleapis.com/maps/api/js?key=k")->category,
              tracker_category::preferences);
}

// ---------------------------------------------------------------------------------------------
// Matching URLs

TEST(TrackerCatalogueMatch, MatchesHostAndSubdomains) {
    EXPECT_TRUE(matches("https://googletagmanager.com/gtm.js"));
    EXPECT_TRUE(matches("https://www.googletagmanager.com/gtm.js"));
    EXPECT_TRUE(matches("https://a.b.c.googletagmanager.com/gtm.js"));
}

TEST(TrackerCatalogueMatch, IgnoresLookAlikes) {
    EXPECT_FALSE(matches("https://evilgoogletagmanager.com/gtm.js"));
    EXPECT_FALSE(matches("https://googletagmanager.com.evil.example/gtm.js"));
    EXPECT_FALSE(matches("https://googletagmanager.co/gtm.js"));
    EXPECT_FALSE(matches("https://example.com/googletagmanager.com/gtm.js"));
    EXPECT_FALSE(matches("https://example.com/?u=https://googletagmanager.com/"));
    EXPECT_FALSE(matches("https://example.com/#//googletagmanager.com/"));
    EXPECT_FALSE(matches("https://googletagmanager.com@example.com/gtm.js"));
    EXPECT_FALSE(matches("https://com/"));
}

TEST(TrackerCatalogueMatch, IgnoresPortUserInfoQueryAndFragment) {
    EXPECT_TRUE(matches("https://www.googletagmanager.com:443/gtm.js"));
    EXPECT_TRUE(matches("https://www.googletagmanager.com:8443"));
    EXPECT_TRUE(matches("https://user:pw@www.googletagmanager.com/gtm.js"));
    EXPECT_TRUE(matches("https://example.com@www.googletagmanager.com/gtm.js"));
    EXPECT_TRUE(matches("https://www.googletagmanager.com?id=1"));
    EXPECT_TRUE(matches("https://www.googletagmanager.com#x"));
    EXPECT_EQ(vendor_of("https://www.facebook.com:443/tr?id=1"), "Meta Pixel");
    EXPECT_EQ(vendor_of("https://www.facebook.com/tr#x"), "Meta Pixel");
}

TEST(TrackerCatalogueMatch, HostIsCaseInsensitiveAndMayEndWithADot) {
    EXPECT_TRUE(matches("HTTPS://WWW.GoogleTagManager.COM/gtm.js"));
    EXPECT_TRUE(matches("https://www.googletagmanager.com./gtm.js"));
    EXPECT_FALSE(matches("https://www.googletagmanager.com../gtm.js"));
    EXPECT_EQ(vendor_of("https://www.facebook.com/TR"), "");  // paths are case-sensitive
}

TEST(TrackerCatalogueMatch, SchemesAndProtocolRelativeUrls) {
    EXPECT_TRUE(matches("http://www.googletagmanager.com/gtm.js"));
    EXPECT_TRUE(matches("//www.googletagmanager.com/gtm.js"));
    EXPECT_TRUE(matches("\\\\www.googletagmanager.com/gtm.js"));
    EXPECT_TRUE(matches("https:///www.googletagmanager.com/gtm.js"));
    EXPECT_TRUE(matches("https:\\\\www.googletagmanager.com\\gtm.js"));
    // Without slashes a browser reads a host unless the page has the same scheme; reading one
    // always can only hold back more.
    EXPECT_TRUE(matches("https:www.googletagmanager.com/gtm.js"));
    EXPECT_EQ(vendor_of("https://www.facebook.com\\tr?id=1"), "Meta Pixel");
    EXPECT_FALSE(matches("ftp://www.googletagmanager.com/gtm.js"));
    EXPECT_FALSE(matches("ws://www.googletagmanager.com/gtm.js"));
    EXPECT_FALSE(matches("httpss://www.googletagmanager.com/gtm.js"));
}

TEST(TrackerCatalogueMatch, RelativeUrlsNeverMatch) {
    EXPECT_FALSE(matches("www.googletagmanager.com/gtm.js"));
    EXPECT_FALSE(matches("googletagmanager.com"));
    EXPECT_FALSE(matches("/www.googletagmanager.com/gtm.js"));
    EXPECT_FALSE(matches("./googletagmanager.com/gtm.js"));
    EXPECT_FALSE(matches("../js/gtm.js"));
    EXPECT_FALSE(matches("?u=//googletagmanager.com"));
    EXPECT_FALSE(matches("#//googletagmanager.com"));
    EXPECT_FALSE(matches("1https://www.googletagmanager.com/"));
}

TEST(TrackerCatalogueMatch, OtherSchemesNeverMatch) {
    EXPECT_FALSE(matches("javascript:fetch('https://www.googletagmanager.com/gtm.js')"));
    EXPECT_FALSE(matches("JavaScript://www.googletagmanager.com/%0aalert(1)"));
    EXPECT_FALSE(matches("data:text/html,<script src=https://www.googletagmanager.com/>"));
    EXPECT_FALSE(matches("blob:https://www.googletagmanager.com/1234"));
    EXPECT_FALSE(matches("mailto:x@googletagmanager.com"));
}

TEST(TrackerCatalogueMatch, IgnoresWhitespaceAsBrowsersDo) {
    EXPECT_TRUE(matches("  https://www.googletagmanager.com/gtm.js\n"));
    EXPECT_TRUE(matches("\x01\x1f https://www.googletagmanager.com/gtm.js"));
    EXPECT_TRUE(matches("ht\ttps://www.google\ntagmanager.com/gtm.js"));
    EXPECT_TRUE(matches("/\n/www.googletagmanager.com/gtm.js"));
    EXPECT_EQ(vendor_of("https://www.facebook.com/t\r\nr?id=1"), "Meta Pixel");
}

TEST(TrackerCatalogueMatch, DecodesHostsAsBrowsersDo) {
    EXPECT_TRUE(matches("https://www.googletagmanager%2ecom/gtm.js"));
    EXPECT_TRUE(matches("https://%77ww.googletagmanager.com/gtm.js"));
    // U+3002 IDEOGRAPHIC FULL STOP, U+FF0E FULLWIDTH FULL STOP, U+FF47 FULLWIDTH LATIN SMALL G.
    EXPECT_TRUE(
        matches("https://www\xe3\x80\x82googletagmanager\xef\xbc\x8e"
                "com/gtm.js"));
    EXPECT_TRUE(matches("https://\xef\xbd\x87oogletagmanager.com/gtm.js"));
    EXPECT_FALSE(matches("https://googletagmanager%2ecom%2eevil.example/gtm.js"));
}

TEST(TrackerCatalogueMatch, GarbageNeverMatchesAndNeverCrashes) {
    EXPECT_FALSE(matches(""));
    EXPECT_FALSE(matches("   "));
    EXPECT_FALSE(matches("//"));
    EXPECT_FALSE(matches("https://"));
    EXPECT_FALSE(matches("https:"));
    EXPECT_FALSE(matches("https://@"));
    EXPECT_FALSE(matches("https://:443"));
    EXPECT_FALSE(matches("https://."));
    EXPECT_FALSE(matches("https://[::1]/gtm.js"));
    EXPECT_FALSE(matches("https://%"));
    EXPECT_FALSE(matches("https://%zz.googletagmanager"));
    EXPECT_FALSE(matches(std::string_view("https://\0.com/", 14)));
    EXPECT_FALSE(matches("\xff\xfe\xfd"));
    EXPECT_FALSE(matches("https://\xc3\x28.example/"));  // invalid UTF-8
    EXPECT_FALSE(matches("https://\xef\xbc.example/"));  // cut-off UTF-8
    EXPECT_FALSE(matches("https://\xef\xbc"));           // cut off at the end
    EXPECT_TRUE(matches("https://\xc3\x28.googletagmanager.com/"));
    std::string all_bytes = "https://";
    for (int b = 0; b < 256; ++b) {
        all_bytes += static_cast<char>(b);
    }
    EXPECT_FALSE(matches(all_bytes));
}

TEST(TrackerCatalogueMatch, VeryLongInput) {
    const std::string labels(100'000, 'a');
    EXPECT_FALSE(matches("https://" + labels + ".googletagmanager.com/"));
    std::string dots;
    for (int i = 0; i < 50'000; ++i) {
        dots += "a.";
    }
    EXPECT_FALSE(matches("https://" + dots + "example/"));
    EXPECT_TRUE(matches("https://" + std::string(100'000, 'u') + "@www.googletagmanager.com/"));
    EXPECT_TRUE(matches("https://www.googletagmanager.com/" + std::string(1'000'000, 'p')));
    EXPECT_FALSE(matches(std::string(1'000'000, '/')));
    EXPECT_FALSE(matches(std::string(1'000'000, '\t')));
    // The longest host a browser accepts still matches: 63-byte labels up to 253 bytes.
    const std::string label(63, 'x');
    const std::string host = label + "." + label + "." + label + "." + "googletagmanager.com";
    ASSERT_LE(host.size(), 253U);
    EXPECT_TRUE(matches("https://" + host + "/"));
}

TEST(TrackerCatalogueMatch, RandomInputNeverCrashes) {
    // Fragments of URLs glued at random: a cheap fuzz run for the sanitizer builds.
    // clang-format off
    const std::vector<std::string_view> parts{
        "https:", "//", "/", "\\", "@", ":", ":443", ".", "%", "%2e", "%4", "?", "#", "\t",
        "\n", " ", "\xe3\x80\x82", "\xef\xbc", "\xef\xbd\x87", "\xff", "[", "]", "www.",
        "googletagmanager.com", "com", "facebook.com", "/tr", "javascript:", "a"};
    // clang-format on
    std::uint32_t state = 12345;
    auto next = [&state] {
        state = state * 1664525U + 1013904223U;  // Numerical Recipes LCG: deterministic
        return state >> 8U;
    };
    std::size_t found = 0;
    for (int i = 0; i < 20'000; ++i) {
        std::string url = (i % 2 == 0) ? "https://" : "";
        const auto count = next() % 12;
        for (std::uint32_t j = 0; j < count; ++j) {
            url += parts[next() % parts.size()];
        }
        found += matches(url) ? 1U : 0U;
    }
    EXPECT_GT(found, 0U);
}

TEST(TrackerCatalogueMatch, MostSpecificEntryWins) {
    EXPECT_EQ(small_vendor("https://example.com/"), "Whole host");
    EXPECT_EQ(small_vendor("https://example.com"), "Whole host");
    EXPECT_EQ(small_vendor("https://example.com/tr"), "Paths");
    EXPECT_EQ(small_vendor("https://example.com/tr/"), "Paths");
    EXPECT_EQ(small_vendor("https://example.com/tr?x=1"), "Paths");
    EXPECT_EQ(small_vendor("https://example.com/track"), "Whole host");
    EXPECT_EQ(small_vendor("https://example.com/ads/1"), "Paths");
    EXPECT_EQ(small_vendor("https://example.com/ads"), "Whole host");
    EXPECT_EQ(small_vendor("https://cdn.example.com/tr"), "Subdomain");
    EXPECT_EQ(small_vendor("https://x.cdn.example.com/"), "Subdomain");
    EXPECT_EQ(small_vendor("https://other.example.com/tr"), "Paths");
}

TEST(TrackerCatalogueMatch, PathOnlyEntriesNeedTheirPath) {
    EXPECT_EQ(small_vendor("https://only.example.org/pixel?id=1"), "Only paths");
    EXPECT_EQ(small_vendor("https://only.example.org/pixel/a.gif"), "Only paths");
    EXPECT_EQ(small_vendor("https://only.example.org/pixels"), "");
    EXPECT_EQ(small_vendor("https://only.example.org/"), "");
    EXPECT_EQ(small_vendor("https://only.example.org"), "");
    EXPECT_EQ(small_vendor("https://example.org/pixel"), "");
}

// ---------------------------------------------------------------------------------------------
// A site's own list

TEST(TrackerCatalogueSite, SiteEntriesAreAddedAndWinOverBuiltinOnes) {
    const tracker_catalogue catalogue(builtin_tracker_catalogue_json(), "builtin.json",
                                      R"json({"trackers": [
            {"host": "widgets.example.no", "category": "preferences", "vendor": "Example",
             "kind": "chat", "purpose": "A chat widget."},
            {"host": "player.vimeo.com", "category": "preferences", "vendor": "Vimeo (site)",
             "kind": "video", "purpose": "Embedded with dnt=1."}
        ]})json",
                                      "site.json");
    EXPECT_EQ(catalogue.trackers().size(), tracker_catalogue::builtin().trackers().size() + 2);
    EXPECT_EQ(catalogue.trackers().front().host, "widgets.example.no");
    EXPECT_EQ(catalogue.match("https://widgets.example.no/w.js")->vendor, "Example");
    const tracker* vimeo = catalogue.match("https://player.vimeo.com/video/1?dnt=1");
    ASSERT_NE(vimeo, nullptr);
    EXPECT_EQ(vimeo->vendor, "Vimeo (site)");
    EXPECT_EQ(vimeo->category, tracker_category::preferences);
    EXPECT_EQ(catalogue.match("https://www.googletagmanager.com/gtm.js")->vendor,
              "Google Tag Manager");
}

TEST(TrackerCatalogueSite, ProblemsOfBothListsAreReportedTogether) {
    try {
        tracker_catalogue catalogue(R"({"trackers": 1})", "builtin.json", R"({"trackers": [1]})",
                                    "site.json");
        FAIL() << "expected tracker_catalogue_error";
    } catch (const tracker_catalogue_error& e) {
        EXPECT_EQ(std::string(e.what()),
                  "builtin.json: /trackers: must be an array of trackers (got 1)\n"
                  "site.json: /trackers/0: must be an object (got 1)");
    }
}

// ---------------------------------------------------------------------------------------------
// Config errors

TEST(TrackerCatalogueConfig, AcceptsAMinimalDocument) {
    EXPECT_TRUE(problems_of(R"({"trackers": []})").empty());
}

TEST(TrackerCatalogueConfig, IsAnInvalidArgument) {
    EXPECT_THROW(tracker_catalogue("{", "x.json"), std::invalid_argument);
}

TEST(TrackerCatalogueConfig, ReportsTheDocumentShape) {
    EXPECT_EQ(problems_of("[]"),
              std::vector<std::string>{"test.json: the document must be a JSON object (got [])"});
    EXPECT_EQ(problems_of("{}"),
              std::vector<std::string>{"test.json: /trackers: required field is missing"});
    EXPECT_EQ(problems_of(R"({"trackers": [], "cookies": []})"),
              std::vector<std::string>{"test.json: /cookies: unknown field (allowed: trackers)"});
    ASSERT_EQ(problems_of("{").size(), 1U);
    EXPECT_TRUE(problems_of("{").front().starts_with("test.json: invalid JSON at line 1"));
}

TEST(TrackerCatalogueConfig, ReportsMissingAndUnknownFields) {
    EXPECT_EQ(problems_of(R"({"trackers": [{"host": "a.example"}]})"),
              (std::vector<std::string>{
                  "test.json: /trackers/0/category: required field is missing",
                  "test.json: /trackers/0/vendor: required field is missing",
                  "test.json: /trackers/0/kind: required field is missing",
                  "test.json: /trackers/0/purpose: required field is missing",
              }));
    EXPECT_EQ(problem_with(R"({"host": "a.example", "category": "analytics", "vendor": "V",
                               "kind": "analytics", "purpose": "P.", "lifetime": "1y"})"),
              "test.json: /trackers/0/lifetime: unknown field (allowed: host, paths, category, "
              "vendor, kind, purpose, consent_mode)");
}

// An entry with every field valid except the one given.
std::string entry(const std::string& field_json) {
    std::string base = R"("category": "analytics", "vendor": "V", "kind": "analytics",
                          "purpose": "P.")";
    return "{" + field_json + ", " + base + "}";
}

TEST(TrackerCatalogueConfig, ReportsBadHosts) {
    EXPECT_EQ(problem_with(entry(R"("host": 3)")),
              "test.json: /trackers/0/host: must be a string (got 3)");
    EXPECT_EQ(problem_with(entry(R"("host": "")")),
              "test.json: /trackers/0/host: must not be empty (got \"\")");
    EXPECT_EQ(problem_with(entry(R"("host": "*.hotjar.io")")),
              "test.json: /trackers/0/host: must not contain *: a host also matches its "
              "subdomains, so write \"*.example.com\" as \"example.com\" (got \"*.hotjar.io\")");
    EXPECT_EQ(problem_with(entry(R"("host": "https://a.example")")),
              "test.json: /trackers/0/host: must be a host name alone, without scheme, port or "
              "path (got \"https://a.example\")");
    EXPECT_EQ(problem_with(entry(R"("host": "a.example.")")),
              "test.json: /trackers/0/host: must not end with a dot (got \"a.example.\")");
    EXPECT_EQ(problem_with(entry(R"("host": "a..example")")),
              "test.json: /trackers/0/host: must be a host name: labels of letters, digits, - "
              "and _ separated by single dots (got \"a..example\")");
    EXPECT_EQ(problem_with(entry(R"("host": "A.example")")),
              "test.json: /trackers/0/host: must be lower case (got \"A.example\")");
    EXPECT_EQ(problem_with(entry(R"("host": "com")")),
              "test.json: /trackers/0/host: must have at least two labels (a top-level domain "
              "alone would match too much) (got \"com\")");
}

TEST(TrackerCatalogueConfig, ReportsBadPaths) {
    EXPECT_EQ(problem_with(entry(R"("host": "a.example", "paths": "/tr")")),
              "test.json: /trackers/0/paths: must be an array of path prefixes (got \"/tr\")");
    EXPECT_EQ(problem_with(entry(R"("host": "a.example", "paths": [])")),
              "test.json: /trackers/0/paths: must not be empty: leave paths out to match every "
              "path on the host");
    EXPECT_EQ(problem_with(entry(R"("host": "a.example", "paths": ["/a", 1])")),
              "test.json: /trackers/0/paths/1: must be a string (got 1)");
    EXPECT_EQ(problem_with(entry(R"("host": "a.example", "paths": ["tr"])")),
              "test.json: /trackers/0/paths/0: must start with / (got \"tr\")");
    EXPECT_EQ(problem_with(entry(R"("host": "a.example", "paths": ["/tr?id=1"])")),
              "test.json: /trackers/0/paths/0: must not contain ?, #, \\, spaces or control "
              "characters (got \"/tr?id=1\")");
}

TEST(TrackerCatalogueConfig, ReportsBadCategoryKindAndTexts) {
    EXPECT_EQ(problem_with(R"({"host": "a.example", "category": "necessary", "vendor": "V",
                               "kind": "analytics", "purpose": "P."})"),
              "test.json: /trackers/0/category: must be one of preferences, analytics, "
              "marketing (got \"necessary\")");
    EXPECT_EQ(problem_with(R"({"host": "a.example", "category": "analytics", "vendor": "V",
                               "kind": "pixel", "purpose": "P."})"),
              "test.json: /trackers/0/kind: must be one of tag-manager, analytics, "
              "session-replay, advertising, social, video, map, chat, reviews, forms "
              "(got \"pixel\")");
    EXPECT_EQ(problem_with(R"({"host": "a.example", "category": "analytics", "vendor": "",
                               "kind": "analytics", "purpose": "P."})"),
              "test.json: /trackers/0/vendor: must not be empty");
    EXPECT_EQ(problem_with(R"({"host": "a.example", "category": "analytics", "vendor": "V",
                               "kind": "analytics", "purpose": null})"),
              "test.json: /trackers/0/purpose: must be a string (got null)");
}

TEST(TrackerCatalogueConfig, ReportsDuplicates) {
    EXPECT_EQ(problem_with(entry(R"("host": "a.example")") + "," + entry(R"("host": "a.example")")),
              "test.json: /trackers/1/host: duplicate of /trackers/0/host (got \"a.example\")");
    EXPECT_EQ(problem_with(entry(R"("host": "a.example", "paths": ["/x", "/tr"])") + "," +
                           entry(R"("host": "a.example", "paths": ["/tr"])")),
              "test.json: /trackers/1/paths/0: duplicate of /trackers/0/paths/1 for host "
              "\"a.example\" (got \"/tr\")");
    // One host with and without paths, or with different paths, is fine.
    EXPECT_TRUE(problems_of(R"({"trackers": [)" + entry(R"("host": "a.example")") + "," +
                            entry(R"("host": "a.example", "paths": ["/tr"])") + "," +
                            entry(R"("host": "b.a.example")") + "]}")
                    .empty());
}

TEST(TrackerCatalogueConfig, ReportsEveryProblemInDocumentOrder) {
    const auto problems = problems_of(R"({"trackers": [
        {"host": "A", "category": "x", "vendor": "V", "kind": "analytics", "purpose": "P."},
        {"host": "ok.example", "category": "analytics", "vendor": "V", "kind": "analytics",
         "purpose": "P."},
        {"host": "b.example", "paths": ["x"], "category": "analytics", "vendor": "V",
         "kind": "analytics", "purpose": ""}
    ]})");
    EXPECT_EQ(problems, (std::vector<std::string>{
                            "test.json: /trackers/0/host: must be lower case (got \"A\")",
                            "test.json: /trackers/0/category: must be one of preferences, "
                            "analytics, marketing (got \"x\")",
                            "test.json: /trackers/2/paths/0: must start with / (got \"x\")",
                            "test.json: /trackers/2/purpose: must not be empty",
                        }));
}

}  // namespace

namespace {

TEST(TrackerCatalogueConfig, ReadsTheOptionalConsentModeFlag) {
    EXPECT_EQ(problem_with(entry(R"("host": "a.example", "consent_mode": "yes")")),
              "test.json: /trackers/0/consent_mode: must be true or false (got \"yes\")");
    const cg::banner::tracker_catalogue flagged{
        R"({"trackers": [)" + entry(R"("host": "a.example", "consent_mode": true)") + ", " +
            entry(R"("host": "b.example")") + "]}",
        "test.json"};
    ASSERT_NE(flagged.match("https://a.example/"), nullptr);
    EXPECT_TRUE(flagged.match("https://a.example/")->consent_mode);
    EXPECT_FALSE(flagged.match("https://b.example/")->consent_mode);
}

TEST(TrackerCatalogue, MarksTheBuiltInGoogleTagsForConsentMode) {
    const auto& builtin = cg::banner::tracker_catalogue::builtin();
    for (const std::string_view url :
         {"https://www.googletagmanager.com/gtm.js", "https://www.google-analytics.com/g/collect",
          "https://region1.analytics.google.com/g/collect", "https://ad.doubleclick.net/x",
          "https://www.googleadservices.com/pagead/conversion.js",
          "https://pagead2.googlesyndication.com/pagead/js/adsbygoogle.js",
          "https://www.google.com/pagead/1p-conversion/1/"}) {
        const auto* t = builtin.match(url);
        ASSERT_NE(t, nullptr) << url;
        EXPECT_TRUE(t->consent_mode) << url;
    }
    for (const std::string_view url :
         {"https://www.google.com/maps/embed?pb=1", "https://www.youtube.com/embed/x",
          "https://connect.facebook.net/en_US/fbevents.js"}) {
        const auto* t = builtin.match(url);
        ASSERT_NE(t, nullptr) << url;
        EXPECT_FALSE(t->consent_mode) << url;
    }
}

}  // namespace
