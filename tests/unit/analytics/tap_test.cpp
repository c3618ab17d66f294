#include "analytics/tap.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <thread>

namespace {

using cg::analytics::count_key;
using cg::analytics::dimension;
using cg::analytics::exchange;
using cg::analytics::flush_batch;
using cg::analytics::shared_analytics;
using cg::analytics::tap;

// One ua-parser rule is enough: Firefox on Linux, a desktop.
constexpr std::string_view yaml = R"(
user_agent_parsers:
  - regex: '(Firefox)/(\d+)'
  - regex: '(Googlebot)/(\d+)'
os_parsers:
  - regex: '(Linux)'
device_parsers:
  - regex: '(Nothing)'
)";

class TapTest : public ::testing::Test {
  protected:
    void SetUp() override {
        file_ = std::filesystem::temp_directory_path() /
                ("cg-tap-test-" + std::to_string(::getpid()) + ".yaml");
        std::ofstream{file_} << yaml;
        shared_.sites.push_back({"site", true, cg::analytics::site_calendar{"UTC"}, 30, 5});
        shared_.user_agents = std::make_unique<cg::analytics::lazy_ua_database>(file_);
        for (int i = 0; i < 500 && shared_.user_agents->get() == nullptr; ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        ASSERT_NE(shared_.user_agents->get(), nullptr);
        shared_.keys->set(0, day, cg::analytics::day_key{1});
    }
    void TearDown() override { std::filesystem::remove(file_); }

    // A navigation to `path` by visitor `who` (an address of its own) at `now`.
    std::optional<cg::analytics::not_counted> view(tap& t, std::uint32_t who,
                                                   const std::string& path) {
        return t.count(owner_, 0, settings_, own_hosts_, navigation(who, path));
    }
    static exchange navigation(std::uint32_t who, const std::string& path) {
        exchange e;
        e.facts.method = "GET";
        e.facts.status = 200;
        e.facts.content_type = "text/html";
        e.facts.sec_fetch_dest = "document";
        e.facts.accept_language = "nb";
        e.user_agent = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133";
        e.target = path;
        e.referer = "https://www.google.no/";
        e.visitor = boost::asio::ip::address_v4{0x0A000000U + who};
        e.now = now;
        return e;
    }

    static constexpr std::int64_t now = 1'796'000'000;  // 2026-11-30 00:53 UTC
    static constexpr cg::analytics::day_number day = now / 86'400;
    std::filesystem::path file_;
    shared_analytics shared_;
    cg::analytics::site_settings settings_;
    std::vector<std::string> own_hosts_{"site.example"};
    std::shared_ptr<const int> owner_ = std::make_shared<const int>(0);  // the test owns both
};

std::uint64_t sum(const flush_batch& b, dimension d) {
    std::uint64_t n = 0;
    for (const auto& [key, count] : b.counts) {
        n += key.what == d ? count : 0;
    }
    return n;
}

// The count of one row (`what`, `value`), on any site and day.
std::uint64_t count_of(const flush_batch& b, dimension what, std::string_view value) {
    std::uint64_t n = 0;
    for (const auto& [key, count] : b.counts) {
        n += key.what == what && key.value == value ? count : 0;
    }
    return n;
}

std::size_t ids(const flush_batch& b, const count_key& k) {
    for (const auto& [key, list] : b.uniques) {
        if (key == k) {
            return list.size();
        }
    }
    return 0;
}

// Page views wait in groups before the aggregator: a drain holds every one of them, those of
// full groups and those still waiting, and their visitors and visits exactly.
TEST_F(TapTest, ADrainHoldsEveryPageViewWhetherItsGroupWasFullOrNot) {
    tap t{shared_};
    const std::size_t views = 2 * tap::group_size + 7;
    for (std::size_t i = 0; i < views; ++i) {
        ASSERT_FALSE(view(t, static_cast<std::uint32_t>(i % 300), "/p/" + std::to_string(i % 40)));
    }
    const flush_batch b = t.drain();
    EXPECT_EQ(sum(b, dimension::total), views);
    EXPECT_EQ(sum(b, dimension::page_hour), views);
    EXPECT_EQ(sum(b, dimension::page), views);
    EXPECT_EQ(sum(b, dimension::browser), views);
    EXPECT_EQ(sum(b, dimension::visits), 300U);
    EXPECT_EQ(sum(b, dimension::entry), 300U);
    EXPECT_EQ(ids(b, {0, day, dimension::visitors, ""}), 300U);
    EXPECT_EQ(ids(b, {0, day, dimension::browser, "Firefox"}), 300U);
    EXPECT_EQ(b.dropped, 0U);
    EXPECT_TRUE(t.drain().counts.empty());  // nothing left waiting
}

// What a configuration gives the tap for one site, owned like the gateway's configuration.
struct site_part {
    cg::analytics::site_settings settings;
    std::vector<std::string> own_hosts;
};

// A page view is measured after count() returns (in a group, or by the drain): the settings it
// was counted under stay alive and in use until then, even when a reload has let go of them,
// and are let go of afterwards.
TEST_F(TapTest, APageViewIsMeasuredWithTheSettingsItWasCountedUnderEvenAfterAReload) {
    tap t{shared_};
    auto before = std::make_shared<site_part>();
    before->settings.path_rules = {{"/jobb/:id"}};
    before->own_hosts = {"site.example"};
    std::string path = "/jobb/17";  // the request's buffer, gone before the drain
    ASSERT_FALSE(t.count(before, 0, before->settings, before->own_hosts, navigation(1, path)));
    path = "/overwritten";
    const std::weak_ptr<site_part> gone = before;
    before.reset();  // a reload: the old configuration is the tap's alone now
    ASSERT_FALSE(gone.expired());
    auto after = std::make_shared<site_part>();  // no rule
    ASSERT_FALSE(t.count(after, 0, after->settings, after->own_hosts, navigation(2, "/jobb/18")));
    const flush_batch b = t.drain();
    EXPECT_TRUE(gone.expired());  // measured: let go of
    EXPECT_EQ(count_of(b, dimension::page, "/jobb/:id"), 1U);  // under the rule it was counted with
    EXPECT_EQ(count_of(b, dimension::page, "/jobb/18"),
              1U);  // the later one, under the new settings
    EXPECT_EQ(sum(b, dimension::page), 2U);
    EXPECT_EQ(ids(b, {0, day, dimension::referrer, "google.no"}), 2U);
}

// Right after a reload, answers under the old configuration and the new one come in turn (old
// connections finishing): each page view is measured with the settings it was counted under,
// however the two alternate within a group.
TEST_F(TapTest, PageViewsUnderTwoConfigurationsInTurnAreEachMeasuredWithTheirOwn) {
    tap t{shared_};
    auto old_part = std::make_shared<site_part>();
    old_part->settings.path_rules = {{"/jobb/:id"}};
    old_part->own_hosts = {"site.example"};
    auto new_part = std::make_shared<site_part>();
    new_part->own_hosts = {"site.example", "google.no"};  // a Referer from it is no referrer
    for (std::uint32_t i = 0; i < 100; ++i) {
        const auto& part = i % 3 == 0 ? new_part : old_part;  // the last, 99, is new_part's
        ASSERT_FALSE(t.count(part, 0, part->settings, part->own_hosts,
                             navigation(i, "/jobb/" + std::to_string(i))));
    }
    // The reload is over: the new configuration's last page views are still queued, and the
    // tap alone keeps it alive until they are measured.
    const std::weak_ptr<site_part> gone = new_part;
    new_part.reset();
    ASSERT_FALSE(gone.expired());
    const flush_batch b = t.drain();
    EXPECT_TRUE(gone.expired());
    EXPECT_EQ(count_of(b, dimension::page, "/jobb/:id"), 66U);
    EXPECT_EQ(count_of(b, dimension::referrer, "google.no"), 66U);
    EXPECT_EQ(sum(b, dimension::page), 100U);
    EXPECT_EQ(sum(b, dimension::referrer), 66U);
}

// A visitor's address goes through the queue compacted: IPv4, IPv6 and IPv4-mapped IPv6 come out
// as they went in, so each gets the id its address and User-Agent give under the day's key.
TEST_F(TapTest, AVisitorsAddressComesOutOfTheQueueAsItWentIn) {
    tap t{shared_};
    const boost::asio::ip::address addresses[] = {
        boost::asio::ip::make_address("192.0.2.7"), boost::asio::ip::make_address("2001:db8::7"),
        boost::asio::ip::make_address("::ffff:192.0.2.7")};
    for (const auto& address : addresses) {
        exchange e = navigation(0, "/");
        e.visitor = address;
        ASSERT_FALSE(t.count(owner_, 0, settings_, own_hosts_, e));
    }
    const flush_batch b = t.drain();
    std::vector<cg::analytics::visitor_id> got;
    for (const auto& [key, list] : b.uniques) {
        if (key == count_key{0, day, dimension::visitors, ""}) {
            got = list;
        }
    }
    const cg::analytics::visitor_hasher hasher{cg::analytics::day_key{1}};
    const std::string ua{navigation(0, "/").user_agent};
    std::vector<cg::analytics::visitor_id> want;
    for (const auto& address : addresses) {
        want.push_back(hasher("site", address, ua));
    }
    EXPECT_EQ(got, want);
}

// What the tap reads of a request when it comes (look) decides as reading it at its answer
// would: the same reason for every kind of exchange, the same counts. Between the look and the
// answer the request's buffers are overwritten, so a count that read them again would see
// other values; only when the User-Agent cache changed in between does the answer read the
// request again, and then it must still be there.
TEST_F(TapTest, ARequestLookedAtWhenItCameIsCountedAsAtItsAnswer) {
    using cg::analytics::not_counted;
    using cg::analytics::request_look;
    struct variant {
        const char* name;
        std::function<void(exchange&)> change;
        std::optional<not_counted> reason;
    };
    const std::vector<variant> variants{
        {"page view", [](exchange&) {}, std::nullopt},
        {"POST", [](exchange& e) { e.facts.method = "POST"; }, not_counted::method},
        {"404", [](exchange& e) { e.facts.status = 404; }, not_counted::status},
        {"404 image",
         [](exchange& e) {
             e.facts.status = 404;
             e.facts.sec_fetch_dest = "image";
         },
         not_counted::status},
        {"JSON", [](exchange& e) { e.facts.content_type = "application/json"; },
         not_counted::not_html},
        {"fetch", [](exchange& e) { e.facts.sec_fetch_dest = "empty"; }, not_counted::not_a_page},
        {"prefetch", [](exchange& e) { e.facts.sec_purpose = "prefetch"; }, not_counted::prefetch},
        {"bot", [](exchange& e) { e.user_agent = "Googlebot/2.1"; }, not_counted::bot},
        {"no language", [](exchange& e) { e.facts.accept_language = ""; },
         not_counted::no_language},
    };
    tap looked{shared_};
    tap unlooked{shared_};
    for (const auto& v : variants) {
        exchange e = navigation(1, "/a");
        v.change(e);
        request_look look;
        looked.look(e, look);
        EXPECT_TRUE(look.looked) << v.name;
        exchange answer = e;  // what the answer stage sees: the request's half overwritten
        answer.facts.method = "-";
        answer.facts.sec_fetch_dest = "image";
        answer.facts.sec_purpose = "prefetch";
        answer.facts.accept_language = "";
        answer.user_agent = "Googlebot/2.1";
        answer.look = &look;
        EXPECT_EQ(looked.count(owner_, 0, settings_, own_hosts_, answer), v.reason) << v.name;
        EXPECT_EQ(unlooked.count(owner_, 0, settings_, own_hosts_, e), v.reason) << v.name;
    }
    // A User-Agent new to the cache between the look and the answer: the look's summary may
    // have moved, so the answer reads the request again.
    exchange first = navigation(2, "/b");
    request_look look;
    looked.look(first, look);
    exchange other = navigation(3, "/c");
    other.user_agent = "Mozilla/5.0 (X11; Linux x86_64; rv:134.0) Gecko/20100101 Firefox/134";
    EXPECT_FALSE(looked.count(owner_, 0, settings_, own_hosts_, other));
    first.look = &look;
    EXPECT_FALSE(looked.count(owner_, 0, settings_, own_hosts_, first));
    EXPECT_FALSE(unlooked.count(owner_, 0, settings_, own_hosts_, navigation(2, "/b")));
    EXPECT_FALSE(unlooked.count(owner_, 0, settings_, own_hosts_, other));
    const flush_batch a = looked.drain();
    const flush_batch b = unlooked.drain();
    for (const dimension d : {dimension::total, dimension::page, dimension::browser, dimension::os,
                              dimension::referrer}) {
        EXPECT_EQ(sum(a, d), sum(b, d)) << cg::analytics::name_of(d);
    }
    EXPECT_EQ(sum(a, dimension::total), 3U);
    // The taps share one visit table, as a gateway's workers do: three visitors, three visits.
    EXPECT_EQ(sum(a, dimension::visits) + sum(b, dimension::visits), 3U);
    EXPECT_EQ(ids(a, {0, day, dimension::browser, "Firefox"}), 3U);
}

// A look copies the target and Referer of a request that could be a page view while they are in
// the caches, and its answer counts that copy: the request's buffers may hold anything by then.
// When a group was measured between the look and the answer, the copy is gone with it and the
// answer copies the request's (still valid) values instead.
TEST_F(TapTest, ALookKeepsWhatItsPageViewNeedsUntilTheAnswerEvenAcrossAMeasuredGroup) {
    tap t{shared_};
    std::string target = "/a";
    std::string referer = "https://www.google.no/";
    exchange e = navigation(1, "");
    e.target = target;
    e.referer = referer;
    cg::analytics::request_look look;
    t.look(e, look);
    ASSERT_FALSE(look.reason);
    target = "/overwritten-by-the-next-request";  // the buffers e's views point into change
    referer = "https://elsewhere.example/some/long/path/to/move/the/buffer";
    exchange answer = navigation(1, "");
    answer.target = "/wrong";  // what the answer stage would read after the page: not used
    answer.referer = "";
    answer.look = &look;
    EXPECT_FALSE(t.count(owner_, 0, settings_, own_hosts_, answer));

    // A look, then a measured group (a drain), then its answer: counted from the answer's values.
    exchange second = navigation(2, "/b");
    cg::analytics::request_look look2;
    t.look(second, look2);
    const flush_batch first = t.drain();
    second.look = &look2;
    EXPECT_FALSE(t.count(owner_, 0, settings_, own_hosts_, second));
    // A look at a request whose answer is no page view leaves nothing counted.
    exchange missing = navigation(3, "/c");
    cg::analytics::request_look look3;
    t.look(missing, look3);
    missing.look = &look3;
    missing.facts.status = 404;
    EXPECT_EQ(t.count(owner_, 0, settings_, own_hosts_, missing),
              cg::analytics::not_counted::status);
    const flush_batch later = t.drain();

    EXPECT_EQ(count_of(first, dimension::page, "/a"), 1U);
    EXPECT_EQ(count_of(first, dimension::referrer, "google.no"), 1U);
    EXPECT_EQ(sum(first, dimension::page), 1U);
    EXPECT_EQ(count_of(later, dimension::page, "/b"), 1U);
    EXPECT_EQ(count_of(later, dimension::referrer, "google.no"), 1U);
    EXPECT_EQ(sum(later, dimension::page), 1U);
    EXPECT_EQ(sum(later, dimension::total), 1U);
}

}  // namespace
