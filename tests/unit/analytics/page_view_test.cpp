#include "analytics/page_view.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using cg::analytics::channel;
using cg::analytics::classify;
using cg::analytics::dimensions_of;
using cg::analytics::exchange_facts;
using cg::analytics::not_counted;
using cg::analytics::path_rule;

// A browser's navigation to an HTML page.
exchange_facts navigation() {
    exchange_facts f;
    f.method = "GET";
    f.status = 200;
    f.content_type = "text/html; charset=utf-8";
    f.sec_fetch_dest = "document";
    f.accept = "text/html,application/xhtml+xml,*/*;q=0.8";
    f.accept_language = "nb-NO,nb;q=0.9";
    return f;
}

TEST(PageView, ABrowsersNavigationToHtmlCounts) {
    EXPECT_EQ(classify(navigation()), std::nullopt);
    auto xhtml = navigation();
    xhtml.content_type = "Application/XHTML+XML";
    EXPECT_EQ(classify(xhtml), std::nullopt);
    auto old_browser = navigation();  // no Sec-Fetch headers: Accept decides
    old_browser.sec_fetch_dest = "";
    EXPECT_EQ(classify(old_browser), std::nullopt);
}

// HTML is its media type, in any case, with or without parameters; anything that only starts
// like it is not.
TEST(PageView, HtmlIsTheMediaTypeHoweverItIsSpelled) {
    for (const char* type : {"text/html", "text/html;charset=utf-8", "text/html; charset=UTF-8",
                             "TEXT/HTML", "Text/Html ; charset=utf-8", " text/html ",
                             "text/html\t;q=1", "application/xhtml+xml; charset=utf-8"}) {
        auto f = navigation();
        f.content_type = type;
        EXPECT_EQ(classify(f), std::nullopt) << type;
    }
    for (const char* type : {"text/htmlx", "text/html5; charset=utf-8", "text/htm", "text/plain",
                             "", "text/html-sandboxed", "xtext/html", "text / html"}) {
        auto f = navigation();
        f.content_type = type;
        EXPECT_EQ(classify(f), not_counted::not_html) << type;
    }
}

TEST(PageView, SaysWhyARequestIsNotCounted) {
    auto f = navigation();
    f.method = "HEAD";
    EXPECT_EQ(classify(f), not_counted::method);
    f = navigation();
    f.status = 304;
    EXPECT_EQ(classify(f), not_counted::status);
    f.status = 404;
    EXPECT_EQ(classify(f), not_counted::status);
    f = navigation();
    f.content_type = "application/json";
    EXPECT_EQ(classify(f), not_counted::not_html);
    f = navigation();
    f.sec_fetch_dest = "iframe";
    EXPECT_EQ(classify(f), not_counted::not_a_page);
    f = navigation();
    f.sec_fetch_dest = "";
    f.accept = "*/*";  // fetch() or a script without Sec-Fetch
    EXPECT_EQ(classify(f), not_counted::not_a_page);
    f = navigation();
    f.sec_purpose = "prefetch;prerender";
    EXPECT_EQ(classify(f), not_counted::prefetch);
    f = navigation();
    f.bot = true;
    EXPECT_EQ(classify(f), not_counted::bot);
    f = navigation();
    f.accept_language = " ";
    EXPECT_EQ(classify(f), not_counted::no_language);
}

TEST(PageView, ThePathLosesItsQueryAndFollowsTheSitesRules) {
    const std::vector<path_rule> rules{{"/jobb/:id"}, {"/sok/*"}};
    EXPECT_EQ(dimensions_of("/om-oss?x=1#top", "", {}, rules).path, "/om-oss");
    EXPECT_EQ(dimensions_of("/jobb/1234", "", {}, rules).path, "/jobb/:id");
    EXPECT_EQ(dimensions_of("/jobb/1234?utm_source=x", "", {}, rules).path, "/jobb/:id");
    EXPECT_EQ(dimensions_of("/jobb/1234/soknad", "", {}, rules).path, "/jobb/1234/soknad");
    EXPECT_EQ(dimensions_of("/jobb/", "", {}, rules).path, "/jobb/");  // an empty segment
    EXPECT_EQ(dimensions_of("/sok/a/b/c", "", {}, rules).path, "/sok/*");
    EXPECT_EQ(dimensions_of("", "", {}, rules).path, "/");
    // Invalid UTF-8 and control characters never reach a report.
    EXPECT_EQ(dimensions_of("/a\xff\x01z", "", {}, {}).path, "/a\xEF\xBF\xBD z");
    EXPECT_LE(dimensions_of("/" + std::string(5000, 'a'), "", {}, {}).path.size(), 512U);
}

TEST(PageView, KeepsOnlyTheThreeUtmParametersDecoded) {
    const auto d = dimensions_of(
        "/?gclid=abc&utm_source=Nyhetsbrev&utm_medium=e%2Dmail&utm_campaign=V%C3%A5r+salg&"
        "fbclid=x&utm_content=y&email=a%40b.no",
        "", {}, {});
    EXPECT_EQ(d.utm_source, "nyhetsbrev");
    EXPECT_EQ(d.utm_medium, "e-mail");
    EXPECT_EQ(d.utm_campaign, "v\xC3\xA5r salg");
    EXPECT_EQ(d.source, channel::email);
    EXPECT_EQ(d.path, "/");
    EXPECT_LE(
        dimensions_of("/?utm_campaign=" + std::string(1000, 'x'), "", {}, {}).utm_campaign.size(),
        100U);
    EXPECT_EQ(dimensions_of("/?utm_source=%ff%fe", "", {}, {}).utm_source,
              "\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(PageView, TellsChannelsApartByReferrerAndCampaign) {
    const std::vector<std::string> own{"arbeidsro.no", "www.arbeidsro.no"};
    const auto from = [&](std::string_view referer, std::string_view target = "/") {
        return dimensions_of(target, referer, own, {});
    };
    EXPECT_EQ(from("").source, channel::direct);
    EXPECT_EQ(from("https://www.arbeidsro.no/jobb").source, channel::direct);  // own site
    EXPECT_EQ(from("https://www.arbeidsro.no/jobb").referrer_host, "");
    EXPECT_EQ(from("https://www.google.no/").source, channel::organic_search);
    EXPECT_EQ(from("https://www.google.no/").referrer_host, "google.no");
    EXPECT_EQ(from("https://www.google.co.uk/").source, channel::organic_search);
    EXPECT_EQ(from("https://duckduckgo.com/").source, channel::organic_search);
    EXPECT_EQ(from("https://kvasir.no/").source, channel::organic_search);
    EXPECT_EQ(from("https://l.facebook.com/l.php?u=x").source, channel::social);
    EXPECT_EQ(from("https://t.co/abc").source, channel::social);
    EXPECT_EQ(from("https://mail.google.com/").source, channel::email);
    EXPECT_EQ(from("https://www.finn.no/job").source, channel::referral);
    EXPECT_EQ(from("https://www.finn.no/job").referrer_host, "finn.no");
    EXPECT_EQ(from("https://notgoogle.example/").source, channel::referral);
    EXPECT_EQ(from("https://user:pw@Blog.Example:8443/x").referrer_host, "blog.example");
    EXPECT_EQ(from("android-app://com.google.android.gm/").referrer_host, "");
    EXPECT_EQ(from("https://bad host/").referrer_host, "");
    EXPECT_EQ(from("https://www.finn.no/", "/?utm_source=finn&utm_medium=cpc").source,
              channel::campaign);
    EXPECT_EQ(from("", "/?utm_source=partner").source, channel::campaign);
    EXPECT_EQ(from("", "/?utm_medium=social&utm_source=x").source, channel::social);
}

TEST(PageView, AReusedDimensionsObjectKeepsNothingOfThePreviousPageView) {
    const std::vector<std::string> own{"arbeidsro.no"};
    cg::analytics::page_dimensions d;
    read_dimensions(d, "/a?utm_source=x&utm_medium=email&utm_campaign=c", "https://www.finn.no/",
                    own, {});
    EXPECT_EQ(d.referrer_host, "finn.no");
    EXPECT_EQ(d.source, channel::email);
    read_dimensions(d, "/b", "https://www.arbeidsro.no/", own, {});
    EXPECT_EQ(d.path, "/b");
    EXPECT_EQ(d.referrer_host, "");
    EXPECT_EQ(d.utm_source, "");
    EXPECT_EQ(d.utm_medium, "");
    EXPECT_EQ(d.utm_campaign, "");
    EXPECT_EQ(d.source, channel::direct);
    // Printable ASCII goes in runs; the cap still never cuts a character.
    read_dimensions(d, "/" + std::string(510, 'a') + "\xC3\xA5", "", own, {});
    EXPECT_EQ(d.path, "/" + std::string(510, 'a'));
    read_dimensions(d, "/x\x7Fy", "", own, {});
    EXPECT_EQ(d.path, "/x y");
}

// What the tap queues of a Referer: up to its path, query or fragment; nothing without "://".
TEST(PageView, AReferrersOriginIsItsSchemeAndAuthority) {
    using cg::analytics::referrer_origin;
    EXPECT_EQ(referrer_origin("https://www.google.no/search?q=a#b"), "https://www.google.no");
    EXPECT_EQ(referrer_origin("https://user@host.example:8443?x"),
              "https://user@host.example:8443");
    EXPECT_EQ(referrer_origin("http://[2001:db8::1]:8080/a"), "http://[2001:db8::1]:8080");
    EXPECT_EQ(referrer_origin("https://t.co"), "https://t.co");
    EXPECT_EQ(referrer_origin("https:/x"), "");
    EXPECT_EQ(referrer_origin("no colon at all"), "");
    EXPECT_EQ(referrer_origin(""), "");
}

// Through a memo of Referer origins the dimensions are the same as without one: for every kind of
// Referer, seen once or again, with or without a campaign, and for another site's own hosts.
// The origin alone gives them too. After forget(), a list of own hosts that changed in place is
// read afresh.
TEST(PageView, AReferrerMemoGivesTheDimensionsReadingEachTimeGives) {
    const std::vector<std::string> own{"arbeidsro.no", "www.arbeidsro.no"};
    const std::vector<std::string> other{"finn.no"};
    const std::vector<std::string> referers{"",
                                            "https://www.arbeidsro.no/jobb",
                                            "https://www.arbeidsro.no/om-oss?x#y",
                                            "https://arbeidsro.no",
                                            "https://www.google.no/",
                                            "https://www.google.no/search?q=a",
                                            "HTTPS://WWW.GOOGLE.NO/",
                                            "https://l.facebook.com/l.php?u=x",
                                            "https://t.co/abc",
                                            "https://mail.google.com/",
                                            "https://www.finn.no/job",
                                            "https://www.finn.no?x",
                                            "https://user:pw@Blog.Example:8443/x",
                                            "android-app://com.google.android.gm/",
                                            "https://bad host/",
                                            "http://[2001:db8::1]:8080/a",
                                            "ftp://files.example/",
                                            "https:/x",
                                            "no colon at all",
                                            "https://finn.no#frag"};
    cg::analytics::referrer_memo memo;
    cg::analytics::page_dimensions with;
    for (int round = 0; round < 3; ++round) {
        for (const auto* hosts : {&own, &other}) {
            for (const auto& referer : referers) {
                for (const std::string target : {"/", "/a?utm_medium=email&utm_source=x"}) {
                    read_dimensions(with, target, referer, *hosts, {}, &memo);
                    const auto without = dimensions_of(target, referer, *hosts, {});
                    EXPECT_EQ(with.referrer_host, without.referrer_host) << referer;
                    EXPECT_EQ(with.source, without.source) << referer;
                    EXPECT_EQ(with.path, without.path) << referer;
                    // The tap queues only the origin: it must give the same dimensions.
                    const auto from_origin =
                        dimensions_of(target, cg::analytics::referrer_origin(referer), *hosts, {});
                    EXPECT_EQ(from_origin.referrer_host, without.referrer_host) << referer;
                    EXPECT_EQ(from_origin.source, without.source) << referer;
                }
            }
        }
    }
    std::vector<std::string> changing{"finn.no"};
    read_dimensions(with, "/", "https://www.finn.no/job", changing, {}, &memo);
    EXPECT_EQ(with.referrer_host, "");  // own
    memo.forget();
    changing = {"arbeidsro.no"};  // the same list, other hosts (a reload reusing the memory)
    read_dimensions(with, "/", "https://www.finn.no/job", changing, {}, &memo);
    EXPECT_EQ(with.referrer_host, "finn.no");
    EXPECT_EQ(with.source, channel::referral);
}

}  // namespace
