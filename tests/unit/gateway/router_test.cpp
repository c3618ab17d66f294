#include "gateway/router.hpp"

#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

namespace cg::gateway {
namespace {

site_config site(std::string name, std::vector<std::string> hosts) {
    site_config s;
    s.name = std::move(name);
    s.hosts = std::move(hosts);
    s.upstream.servers = {{"http://127.0.0.1:8081", "127.0.0.1", 8081}};
    return s;
}

// The name of the site `host` routes to, or "(none)".
std::string routed(const router& r, std::string_view host) {
    const site_config* s = r.find(host);
    return s == nullptr ? "(none)" : s->name;
}

// --- router::find ---------------------------------------------------------------------------

TEST(Router, FindsSiteByExactHost) {
    const std::vector<site_config> sites{site("shop", {"shop.example.no"}),
                                         site("blog", {"blog.example.no"})};
    const router r{sites};

    EXPECT_EQ(routed(r, "shop.example.no"), "shop");
    EXPECT_EQ(routed(r, "blog.example.no"), "blog");
}

TEST(Router, FindsSiteByAnyOfItsHosts) {
    const std::vector<site_config> sites{site("shop", {"example.no", "www.example.no"})};
    const router r{sites};

    EXPECT_EQ(routed(r, "example.no"), "shop");
    EXPECT_EQ(routed(r, "www.example.no"), "shop");
}

TEST(Router, ReturnsSiteIndexThroughOutParameter) {
    const std::vector<site_config> sites{site("a", {"a.test"}), site("b", {"b.test"}),
                                         site("c", {"*.c.test"})};
    const router r{sites};
    std::size_t index = 99;

    ASSERT_EQ(r.find("b.test", &index), &sites[1]);
    EXPECT_EQ(index, 1U);
    ASSERT_EQ(r.find("x.c.test", &index), &sites[2]);
    EXPECT_EQ(index, 2U);
    ASSERT_EQ(r.find("a.test", &index), &sites[0]);
    EXPECT_EQ(index, 0U);
}

TEST(Router, AcceptsNullIndexPointer) {
    const std::vector<site_config> sites{site("a", {"*.a.test"})};
    const router r{sites};

    EXPECT_EQ(r.find("x.a.test", nullptr), &sites[0]);
}

TEST(Router, ReturnsNullForUnknownHost) {
    const std::vector<site_config> sites{site("shop", {"shop.example.no", "*.example.no"})};
    const router r{sites};

    EXPECT_EQ(r.find("evil.example"), nullptr);
    EXPECT_EQ(r.find("example.no"), nullptr);
    EXPECT_EQ(r.find("shop.example.no.evil"), nullptr);
}

TEST(Router, ReturnsNullForEmptyHost) {
    const std::vector<site_config> sites{site("shop", {"shop.example.no"})};
    const router r{sites};

    EXPECT_EQ(r.find(""), nullptr);
    EXPECT_EQ(r.find(":8080"), nullptr);
    EXPECT_EQ(r.find("[]"), nullptr);
}

TEST(Router, ReturnsNullWithNoSitesAndLeavesIndexAlone) {
    const std::vector<site_config> sites;
    const router r{sites};
    std::size_t index = 7;

    EXPECT_EQ(r.find("anything.test", &index), nullptr);
    EXPECT_EQ(index, 7U);
}

TEST(Router, MatchesHostCaseInsensitively) {
    const std::vector<site_config> sites{site("shop", {"shop.example.no"})};
    const router r{sites};

    EXPECT_EQ(routed(r, "SHOP.Example.NO"), "shop");
    EXPECT_EQ(routed(r, "Shop.example.no:8080"), "shop");
}

TEST(Router, HostWithoutPortInConfigMatchesAnyPort) {
    const std::vector<site_config> sites{site("shop", {"shop.example.no"})};
    const router r{sites};

    EXPECT_EQ(routed(r, "shop.example.no:80"), "shop");
    EXPECT_EQ(routed(r, "shop.example.no:8080"), "shop");
    EXPECT_EQ(routed(r, "shop.example.no"), "shop");
}

TEST(Router, HostWithPortInConfigMatchesOnlyThatPort) {
    const std::vector<site_config> sites{site("dev", {"localhost:8080"})};
    const router r{sites};

    EXPECT_EQ(routed(r, "localhost:8080"), "dev");
    EXPECT_EQ(routed(r, "LocalHost:8080"), "dev");
    EXPECT_EQ(routed(r, "localhost:8081"), "(none)");
    EXPECT_EQ(routed(r, "localhost"), "(none)");
}

TEST(Router, SameNameOnTwoPortsRoutesToTwoSites) {
    const std::vector<site_config> sites{site("http", {"localhost:8080"}),
                                         site("alt", {"localhost:9000"})};
    const router r{sites};

    EXPECT_EQ(routed(r, "localhost:8080"), "http");
    EXPECT_EQ(routed(r, "localhost:9000"), "alt");
    EXPECT_EQ(routed(r, "localhost:7000"), "(none)");
}

TEST(Router, TrailingDotInRequestNamesSameHost) {
    const std::vector<site_config> sites{site("shop", {"shop.example.no"})};
    const router r{sites};

    EXPECT_EQ(routed(r, "shop.example.no."), "shop");
    EXPECT_EQ(routed(r, "shop.example.no.:8080"), "shop");
}

TEST(Router, TrailingDotInRequestMatchesWildcard) {
    const std::vector<site_config> sites{site("all", {"*.example.no"})};
    const router r{sites};

    EXPECT_EQ(routed(r, "www.example.no."), "all");
    EXPECT_EQ(routed(r, "example.no."), "(none)");
}

// parse_config accepts a host written with its final dot, so the router must treat it as the
// same name as without the dot (RFC 3986 §3.2.2), as it does for the request's Host.
TEST(Router, ConfiguredHostWithTrailingDotMatchesBothSpellings) {
    const config cfg = parse_config(
        R"({"sites": [{"name": "shop", "hosts": ["shop.example.no."],
                       "upstream": "http://127.0.0.1:8081"}]})",
        "test.json");
    const router r{cfg.sites};

    EXPECT_EQ(routed(r, "shop.example.no"), "shop");
    EXPECT_EQ(routed(r, "shop.example.no."), "shop");
}

TEST(Router, WildcardMatchesSubdomainsButNotApex) {
    const std::vector<site_config> sites{site("all", {"*.example.no"})};
    const router r{sites};

    EXPECT_EQ(routed(r, "www.example.no"), "all");
    EXPECT_EQ(routed(r, "a.b.example.no"), "all");
    EXPECT_EQ(routed(r, "WWW.EXAMPLE.NO:8443"), "all");
    EXPECT_EQ(routed(r, "example.no"), "(none)");
    EXPECT_EQ(routed(r, ".example.no"), "(none)");
}

TEST(Router, WildcardDoesNotMatchNameThatMerelyEndsTheSame) {
    const std::vector<site_config> sites{site("all", {"*.example.no"})};
    const router r{sites};

    EXPECT_EQ(routed(r, "badexample.no"), "(none)");
    EXPECT_EQ(routed(r, "www.example.no.evil.test"), "(none)");
    EXPECT_EQ(routed(r, "example.no.www"), "(none)");
}

TEST(Router, WildcardWithPortMatchesOnlyThatPort) {
    const std::vector<site_config> sites{site("tls", {"*.example.no:8443"})};
    const router r{sites};

    EXPECT_EQ(routed(r, "www.example.no:8443"), "tls");
    EXPECT_EQ(routed(r, "www.example.no:80"), "(none)");
    EXPECT_EQ(routed(r, "www.example.no"), "(none)");
}

TEST(Router, ExactHostBeatsEarlierWildcard) {
    const std::vector<site_config> sites{site("all", {"*.example.no"}),
                                         site("shop", {"shop.example.no"})};
    const router r{sites};
    std::size_t index = 99;

    EXPECT_EQ(r.find("shop.example.no", &index), &sites[1]);
    EXPECT_EQ(index, 1U);
    EXPECT_EQ(r.find("blog.example.no", &index), &sites[0]);
    EXPECT_EQ(index, 0U);
}

TEST(Router, ExactHostBeatsLaterWildcard) {
    const std::vector<site_config> sites{site("shop", {"shop.example.no"}),
                                         site("all", {"*.example.no"})};
    const router r{sites};

    EXPECT_EQ(routed(r, "shop.example.no"), "shop");
    EXPECT_EQ(routed(r, "blog.example.no"), "all");
}

TEST(Router, MatchesIpv6LiteralWithPort) {
    const std::vector<site_config> sites{site("v6", {"[::1]:8080"})};
    const router r{sites};

    EXPECT_EQ(routed(r, "[::1]:8080"), "v6");
    EXPECT_EQ(routed(r, "[::1]:8081"), "(none)");
    EXPECT_EQ(routed(r, "[::1]"), "(none)");
    EXPECT_EQ(routed(r, "::1"), "(none)");
}

TEST(Router, MatchesIpv6LiteralWithoutPortOnAnyPort) {
    const std::vector<site_config> sites{site("v6", {"[fd00::1]"})};
    const router r{sites};

    EXPECT_EQ(routed(r, "[fd00::1]"), "v6");
    EXPECT_EQ(routed(r, "[fd00::1]:8080"), "v6");
    EXPECT_EQ(routed(r, "[FD00::1]:8080"), "v6");
    EXPECT_EQ(routed(r, "[fd00::2]:8080"), "(none)");
}

TEST(Router, MatchesIpv4Literal) {
    const std::vector<site_config> sites{site("v4", {"127.0.0.1"})};
    const router r{sites};

    EXPECT_EQ(routed(r, "127.0.0.1:8080"), "v4");
    EXPECT_EQ(routed(r, "127.0.0.1"), "v4");
    EXPECT_EQ(routed(r, "127.0.0.2"), "(none)");
}

// --- split_host_port ------------------------------------------------------------------------

TEST(SplitHostPort, SplitsNameAndPort) {
    const auto hp = split_host_port("example.no:8080");

    EXPECT_EQ(hp.host, "example.no");
    EXPECT_EQ(hp.port, "8080");
}

TEST(SplitHostPort, LeavesPortEmptyWhenAbsent) {
    const auto hp = split_host_port("example.no");

    EXPECT_EQ(hp.host, "example.no");
    EXPECT_EQ(hp.port, "");
}

TEST(SplitHostPort, RemovesBracketsFromIpv6) {
    const auto with_port = split_host_port("[2001:db8::1]:443");
    const auto without_port = split_host_port("[2001:db8::1]");

    EXPECT_EQ(with_port.host, "2001:db8::1");
    EXPECT_EQ(with_port.port, "443");
    EXPECT_EQ(without_port.host, "2001:db8::1");
    EXPECT_EQ(without_port.port, "");
}

TEST(SplitHostPort, KeepsUnclosedBracketAsHost) {
    const auto hp = split_host_port("[::1");

    EXPECT_EQ(hp.host, "[::1");
    EXPECT_EQ(hp.port, "");
}

TEST(SplitHostPort, HandlesEmptyInput) {
    const auto hp = split_host_port("");

    EXPECT_EQ(hp.host, "");
    EXPECT_EQ(hp.port, "");
}

}  // namespace
}  // namespace cg::gateway

namespace cg::gateway {
namespace {

TEST(MatchPrefix, PicksTheLongestPrefixThatEndsAtASegment) {
    constexpr std::array<std::string_view, 2> prefixes{"/_consent", "/_consent/banner"};
    EXPECT_EQ(match_prefix(prefixes, "/_consent"), 0U);
    EXPECT_EQ(match_prefix(prefixes, "/_consent/state"), 0U);
    EXPECT_EQ(match_prefix(prefixes, "/_consent/banner/v1.js"), 1U);
    EXPECT_EQ(match_prefix(prefixes, "/_consentx"), 2U);
    EXPECT_EQ(match_prefix(prefixes, "/"), 2U);
    EXPECT_EQ(match_prefix(prefixes, ""), 2U);
}

}  // namespace
}  // namespace cg::gateway
