#include "gateway/config.hpp"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include <unistd.h>

#include <gtest/gtest.h>
#include <boost/asio/ip/address.hpp>

namespace cg::gateway {
namespace {

using lines = std::vector<std::string>;
using namespace std::chrono_literals;

constexpr std::string_view minimal_site =
    R"({"name": "demo", "hosts": ["localhost"], "upstream": "http://127.0.0.1:8081"})";

// A valid document with `fields` added at the top level next to one minimal site.
std::string with_site(std::string_view fields) {
    std::string doc = "{";
    doc += fields;
    if (!fields.empty()) {
        doc += ", ";
    }
    doc += R"("sites": [)";
    doc += minimal_site;
    doc += "]}";
    return doc;
}

// A valid document whose only site has `fields` added to the minimal one.
std::string with_site_fields(std::string_view fields) {
    std::string site(minimal_site);
    site.insert(site.size() - 1, std::string(", ") + std::string(fields));
    return R"({"sites": [)" + site + "]}";
}

// The problems parse_config reports for `text`, checked to arrive as a config_error whose what()
// is the same lines joined by newlines.
lines problems(std::string_view text) {
    lines found;
    EXPECT_THROW(
        {
            try {
                parse_config(text, "test.json");
            } catch (const config_error& e) {
                found = e.problems();
                std::string joined;
                for (const auto& l : found) {
                    joined += (joined.empty() ? "" : "\n") + l;
                }
                EXPECT_EQ(e.what(), joined);
                throw;
            }
        },
        config_error);
    return found;
}

// The single problem reported for `text`.
std::string problem(std::string_view text) {
    const auto found = problems(text);
    EXPECT_EQ(found.size(), 1U) << ::testing::PrintToString(found);
    return found.empty() ? std::string() : found.front();
}

boost::asio::ip::address ip(const char* text) {
    return boost::asio::ip::make_address(text);
}

cidr range(const char* network, unsigned prefix) {
    return cidr{ip(network), prefix};
}

// --- valid documents -----------------------------------------------------------------------

TEST(ParseConfig, ReadsEveryFieldOfTheFullExample) {
    const auto c = parse_config(R"({
      "listen": {"address": "0.0.0.0", "port": 8443},
      "admin": {"address": "10.1.2.3", "port": 9191, "token": "s3cret"},
      "workers": 4,
      "shutdown_timeout_ms": 5000,
      "trusted_proxies": ["127.0.0.1", "10.0.0.0/8", "::1", "fd00::/8"],
      "limits": {"header_bytes": 8192, "header_count": 50, "body_bytes": 0,
                 "header_timeout_ms": 1000, "idle_timeout_ms": 2000, "body_timeout_ms": 3000,
                 "tunnel_idle_timeout_ms": 4000, "max_connections": 500},
      "log": {"level": "debug", "access": false},
      "sites": [
        {"name": "demo", "hosts": ["LocalHost", "127.0.0.1", "*.Example.no", "shop:8080"],
         "upstream": "http://127.0.0.1:8081",
         "upstream_options": {"connect_timeout_ms": 100, "read_timeout_ms": 200,
                              "idle_timeout_ms": 300, "max_idle": 0},
         "preserve_host": false},
        {"name": "other.site_2", "hosts": ["other.example"], "upstream": "http://backend/"}
      ]
    })",
                                "full.json");

    EXPECT_EQ(c.listen.address, "0.0.0.0");
    EXPECT_EQ(c.listen.port, 8443);
    EXPECT_EQ(c.admin.address, "10.1.2.3");
    EXPECT_EQ(c.admin.port, 9191);
    EXPECT_EQ(c.admin.token, "s3cret");
    EXPECT_EQ(c.workers, 4U);
    EXPECT_EQ(c.shutdown_timeout, 5000ms);
    ASSERT_EQ(c.trusted_proxies.size(), 4U);
    EXPECT_EQ(c.trusted_proxies[0].network, ip("127.0.0.1"));
    EXPECT_EQ(c.trusted_proxies[0].prefix, 32U);
    EXPECT_EQ(c.trusted_proxies[1].network, ip("10.0.0.0"));
    EXPECT_EQ(c.trusted_proxies[1].prefix, 8U);
    EXPECT_EQ(c.trusted_proxies[2].network, ip("::1"));
    EXPECT_EQ(c.trusted_proxies[2].prefix, 128U);
    EXPECT_EQ(c.trusted_proxies[3].network, ip("fd00::"));
    EXPECT_EQ(c.trusted_proxies[3].prefix, 8U);
    EXPECT_EQ(c.limits.header_bytes, 8192U);
    EXPECT_EQ(c.limits.header_count, 50U);
    EXPECT_EQ(c.limits.body_bytes, 0U);
    EXPECT_EQ(c.limits.header_timeout, 1000ms);
    EXPECT_EQ(c.limits.idle_timeout, 2000ms);
    EXPECT_EQ(c.limits.body_timeout, 3000ms);
    EXPECT_EQ(c.limits.tunnel_idle_timeout, 4000ms);
    EXPECT_EQ(c.limits.max_connections, 500U);
    EXPECT_EQ(c.log.level, log_level::debug);
    EXPECT_FALSE(c.log.access);

    ASSERT_EQ(c.sites.size(), 2U);
    const auto& demo = c.sites[0];
    EXPECT_EQ(demo.name, "demo");
    EXPECT_EQ(demo.hosts, (lines{"localhost", "127.0.0.1", "*.example.no", "shop:8080"}));
    EXPECT_EQ(demo.upstream.servers.at(0).url, "http://127.0.0.1:8081");
    EXPECT_EQ(demo.upstream.servers.at(0).host, "127.0.0.1");
    EXPECT_EQ(demo.upstream.servers.at(0).port, 8081);
    EXPECT_EQ(demo.upstream.connect_timeout, 100ms);
    EXPECT_EQ(demo.upstream.read_timeout, 200ms);
    EXPECT_EQ(demo.upstream.idle_timeout, 300ms);
    EXPECT_EQ(demo.upstream.max_idle, 0U);
    EXPECT_FALSE(demo.preserve_host);

    const auto& other = c.sites[1];
    EXPECT_EQ(other.name, "other.site_2");
    EXPECT_EQ(other.upstream.servers.at(0).url, "http://backend/");
    EXPECT_EQ(other.upstream.servers.at(0).host, "backend");
    EXPECT_EQ(other.upstream.servers.at(0).port, 80);
    EXPECT_TRUE(other.preserve_host);
}

TEST(ParseConfig, UsesDefaultsForOmittedKeys) {
    const auto c = parse_config(with_site(""), "test.json");

    EXPECT_EQ(c.listen.address, "127.0.0.1");
    EXPECT_EQ(c.listen.port, 8080);
    EXPECT_EQ(c.admin.address, "127.0.0.1");
    EXPECT_EQ(c.admin.port, 9090);
    EXPECT_EQ(c.admin.token, "");
    EXPECT_EQ(c.workers, 0U);
    EXPECT_EQ(c.shutdown_timeout, 10000ms);
    EXPECT_TRUE(c.trusted_proxies.empty());
    EXPECT_EQ(c.limits.header_bytes, 16384U);
    EXPECT_EQ(c.limits.header_count, 100U);
    EXPECT_EQ(c.limits.body_bytes, 104857600U);
    EXPECT_EQ(c.limits.header_timeout, 10000ms);
    EXPECT_EQ(c.limits.idle_timeout, 60000ms);
    EXPECT_EQ(c.limits.body_timeout, 60000ms);
    EXPECT_EQ(c.limits.tunnel_idle_timeout, 600000ms);
    EXPECT_EQ(c.limits.max_connections, 10000U);
    EXPECT_EQ(c.log.level, log_level::info);
    EXPECT_TRUE(c.log.access);
    ASSERT_EQ(c.sites.size(), 1U);
    EXPECT_TRUE(c.sites[0].preserve_host);
    EXPECT_EQ(c.sites[0].upstream.connect_timeout, 3000ms);
    EXPECT_EQ(c.sites[0].upstream.read_timeout, 60000ms);
    EXPECT_EQ(c.sites[0].upstream.idle_timeout, 30000ms);
    EXPECT_EQ(c.sites[0].upstream.max_idle, 64U);
}

TEST(ParseConfig, KeepsDefaultsForKeysOmittedInsidePresentObjects) {
    const auto c = parse_config(with_site(R"("listen": {"port": 80}, "limits": {})"), "test.json");

    EXPECT_EQ(c.listen.address, "127.0.0.1");
    EXPECT_EQ(c.listen.port, 80);
    EXPECT_EQ(c.limits.header_bytes, 16384U);
}

TEST(ParseConfig, AcceptsIpv6Upstream) {
    const auto c = parse_config(
        R"({"sites": [{"name": "a", "hosts": ["a"], "upstream": "http://[::1]:9000/"}]})",
        "test.json");

    EXPECT_EQ(c.sites[0].upstream.servers.at(0).url, "http://[::1]:9000/");
    EXPECT_EQ(c.sites[0].upstream.servers.at(0).host, "::1");
    EXPECT_EQ(c.sites[0].upstream.servers.at(0).port, 9000);
}

TEST(ParseConfig, AcceptsIpv6UpstreamWithDefaultPort) {
    const auto c = parse_config(
        R"({"sites": [{"name": "a", "hosts": ["a"], "upstream": "http://[2001:db8::7]"}]})",
        "test.json");

    EXPECT_EQ(c.sites[0].upstream.servers.at(0).host, "2001:db8::7");
    EXPECT_EQ(c.sites[0].upstream.servers.at(0).port, 80);
}

TEST(ParseConfig, AcceptsUpperCaseSchemeAndNamedHost) {
    const auto c = parse_config(
        R"({"sites": [{"name": "a", "hosts": ["a"], "upstream": "HTTP://App-1.internal:3000"}]})",
        "test.json");

    EXPECT_EQ(c.sites[0].upstream.servers.at(0).url, "HTTP://App-1.internal:3000");
    EXPECT_EQ(c.sites[0].upstream.servers.at(0).host, "App-1.internal");
    EXPECT_EQ(c.sites[0].upstream.servers.at(0).port, 3000);
}

TEST(ParseConfig, AcceptsWholeNumbersWrittenAsFloats) {
    const auto c = parse_config(with_site(R"("workers": 2.0, "shutdown_timeout_ms": 1e3)"), "t");

    EXPECT_EQ(c.workers, 2U);
    EXPECT_EQ(c.shutdown_timeout, 1000ms);
}

TEST(ParseConfig, AcceptsBoundaryValues) {
    const auto c = parse_config(with_site(R"("workers": 1024, "listen": {"port": 65535},
        "limits": {"header_bytes": 1048576, "header_count": 10000,
                   "body_bytes": 18446744073709551615, "max_connections": 1000000,
                   "header_timeout_ms": 86400000})"),
                                "test.json");

    EXPECT_EQ(c.workers, 1024U);
    EXPECT_EQ(c.listen.port, 65535);
    EXPECT_EQ(c.limits.body_bytes, 18446744073709551615ULL);
    EXPECT_EQ(c.limits.header_timeout, 86400000ms);
}

TEST(ParseConfig, MasksHostBitsOfTrustedRanges) {
    const auto c = parse_config(with_site(R"("trusted_proxies": ["10.1.2.3/8"])"), "test.json");

    EXPECT_EQ(c.trusted_proxies[0].network, ip("10.0.0.0"));
    EXPECT_EQ(c.trusted_proxies[0].prefix, 8U);
}

TEST(ParseConfig, AllowsAnOpenAdminListenerWithAToken) {
    const auto c = parse_config(with_site(R"("admin": {"address": "::", "token": "t"})"), "t");

    EXPECT_EQ(c.admin.address, "::");
}

TEST(ParseConfig, TreatsIpv6LoopbackAdminAsLoopback) {
    EXPECT_NO_THROW(parse_config(with_site(R"("admin": {"address": "::1"})"), "t"));
    EXPECT_NO_THROW(parse_config(with_site(R"("admin": {"address": "127.0.0.2"})"), "t"));
}

// The demo config reads the key scripts/demo makes in .demo/; the copy here gets its own.
TEST(LoadConfig, ParsesTheShippedDemoConfig) {
    const auto root =
        std::filesystem::temp_directory_path() / ("cg-demo-config-" + std::to_string(::getpid()));
    std::filesystem::create_directories(root / "configs");
    std::filesystem::create_directories(root / ".demo");
    // ... and the country database `npm ci` puts in node_modules/.
    std::filesystem::remove(root / "node_modules");
    std::filesystem::create_directory_symlink(
        std::filesystem::path(CG_SOURCE_DIR) / "node_modules", root / "node_modules");
    std::filesystem::copy_file(std::filesystem::path(CG_SOURCE_DIR) / "configs" / "demo.json",
                               root / "configs" / "demo.json",
                               std::filesystem::copy_options::overwrite_existing);
    std::ofstream(root / ".demo" / "consent.key") << std::string(64, 'k') << "\n";
    std::filesystem::permissions(root / ".demo" / "consent.key",
                                 std::filesystem::perms::owner_read |
                                     std::filesystem::perms::owner_write);

    const auto c = load_config(root / "configs" / "demo.json");
    std::filesystem::remove_all(root);

    EXPECT_EQ(c.listen.address, "127.0.0.1");
    EXPECT_EQ(c.listen.port, 8080);
    EXPECT_EQ(c.admin.address, "127.0.0.1");
    EXPECT_EQ(c.admin.port, 9090);
    EXPECT_TRUE(c.log.access);
    ASSERT_EQ(c.sites.size(), 1U);
    EXPECT_EQ(c.sites[0].name, "demo");
    EXPECT_EQ(c.sites[0].hosts, (lines{"localhost", "127.0.0.1"}));
    EXPECT_EQ(c.sites[0].upstream.servers.at(0).host, "127.0.0.1");
    EXPECT_EQ(c.sites[0].upstream.servers.at(0).port, 8081);
    EXPECT_EQ(c.consent.keys, lines{std::string(64, 'k')});
    EXPECT_EQ(c.consent.redis.socket, (root / "configs" / ".." / ".demo" / "redis.sock").string());
    EXPECT_EQ(c.sites[0].consent.policy_version, "2026-11");
    EXPECT_FALSE(c.consent.catalogue.empty());
}

TEST(LoadConfig, ReportsAnUnreadableFile) {
    const std::string path = "/nonexistent/consent-gateway.json";
    try {
        load_config(path);
        FAIL() << "no config_error";
    } catch (const config_error& e) {
        EXPECT_EQ(e.problems(), lines{path + ": cannot read: No such file or directory"});
    }
}

TEST(LoadConfig, ReportsADirectory) {
    const auto dir = std::filesystem::temp_directory_path();
    try {
        load_config(dir);
        FAIL() << "no config_error";
    } catch (const config_error& e) {
        EXPECT_EQ(e.problems(), lines{dir.string() + ": cannot read: Is a directory"});
    }
}

TEST(LoadConfig, NamesTheFileInProblems) {
    // The process id keeps parallel runs from several build trees apart.
    const auto file = std::filesystem::temp_directory_path() /
                      ("cg_config_test_" + std::to_string(::getpid()) + ".json");
    {
        std::ofstream out(file);
        out << with_site(R"("listen": {"port": -1})");
    }
    try {
        load_config(file);
        FAIL() << "no config_error";
    } catch (const config_error& e) {
        EXPECT_EQ(e.problems(), lines{file.string() + ": /listen/port: must be 0-65535 (got -1)"});
    }
    std::filesystem::remove(file);
}

// --- invalid JSON --------------------------------------------------------------------------

TEST(ParseConfig, ReportsLineAndColumnOfASyntaxError) {
    EXPECT_EQ(problem("{\n  \"workers\": 1,\n  \"sites\": [}\n"),
              "test.json: invalid JSON at line 3, column 13: syntax error while parsing value - "
              "unexpected '}'; expected '[', '{', or a literal");
}

TEST(ParseConfig, ReportsTrailingGarbage) {
    EXPECT_EQ(
        problem(with_site("") + " x"),
        "test.json: invalid JSON at line 1, column 92: syntax error while parsing value - "
        "invalid literal; last read: '\"http://127.0.0.1:8081\"}]} x'; expected end of input");
}

TEST(ParseConfig, ShortensTheLastReadTextOfASyntaxError) {
    EXPECT_EQ(problem(R"({"sites": ")" + std::string(100, 'x') + R"(" x})"),
              "test.json: invalid JSON at line 1, column 114: syntax error while parsing object - "
              "invalid literal; last read: '..." +
                  std::string(34, 'x') + "\" x'; expected '}'");
}

TEST(ParseConfig, ReportsEmptyInput) {
    EXPECT_EQ(problem(""),
              "test.json: invalid JSON at line 1, column 1: syntax error while parsing value - "
              "unexpected end of input; expected '[', '{', or a literal");
}

TEST(ParseConfig, ReportsComments) {
    EXPECT_EQ(problem("{\"sites\": [] // no\n}"),
              "test.json: invalid JSON at line 1, column 14: syntax error while parsing object - "
              "invalid literal; last read: '\"sites\": [] /'; expected '}'");
}

TEST(ParseConfig, ReportsNumberOverflow) {
    EXPECT_EQ(problem(with_site(R"("workers": 1e400)")),
              "test.json: invalid JSON at line 1, column 17: number overflow parsing '1e400'");
}

TEST(ParseConfig, ReportsControlCharactersInStringsEscaped) {
    EXPECT_EQ(problem("{\"a\tb\": 1}"),
              "test.json: invalid JSON at line 1, column 4: syntax error while parsing object key "
              "- invalid string: control character U+0009 (HT) must be escaped to \\u0009 or \\t; "
              "last read: '\"a<U+0009>'; expected string literal");
}

TEST(ParseConfig, RejectsDeepNestingWithoutCrashing) {
    const std::string deep =
        R"({"workers": )" + std::string(100000, '[') + std::string(100000, ']') + "}";

    EXPECT_EQ(problem(deep),
              "test.json: invalid JSON at line 1, column 76: nested deeper than 64 levels");
}

TEST(ParseConfig, QuotesOnlyTheStartOfLongValues) {
    const std::string nested = std::string(60, '[') + std::string(60, ']');
    const std::string long_string(1000, 'x');

    EXPECT_EQ(problems(with_site(R"("workers": )" + nested + R"(, "shutdown_timeout_ms": ")" +
                                 long_string + "\"")),
              (lines{"test.json: /workers: must be 0-1024 (got "
                     "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[...)",
                     "test.json: /shutdown_timeout_ms: must be 1-86400000 (got "
                     "\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...)"}));
}

// --- document shape --------------------------------------------------------------------------

TEST(ParseConfig, RejectsANonObjectDocument) {
    EXPECT_EQ(problem(R"([1, 2])"), "test.json: the document must be a JSON object (got [1,2])");
}

TEST(ParseConfig, RejectsUnknownTopLevelField) {
    EXPECT_EQ(problem(with_site(R"("listn": {})")),
              "test.json: /listn: unknown field (allowed: listen, admin, workers, "
              "shutdown_timeout_ms, trusted_proxies, limits, log, sites, consent, redis, analytics)");
}

TEST(ParseConfig, RejectsUnknownNestedFields) {
    EXPECT_EQ(problems(with_site(R"("limits": {"colour": 1}, "log": {"lvl": "x"})")),
              (lines{"test.json: /limits/colour: unknown field (allowed: header_bytes, "
                     "header_count, body_bytes, request_buffer_bytes, header_timeout_ms, "
                     "idle_timeout_ms, "
                     "body_timeout_ms, tunnel_idle_timeout_ms, max_connections)",
                     "test.json: /log/lvl: unknown field (allowed: level, access)"}));
}

TEST(ParseConfig, RejectsUnknownFieldsInSites) {
    EXPECT_EQ(problems(with_site_fields(R"("upstream_options": {"retries": 3}, "tls": true)")),
              (lines{"test.json: /sites/0/tls: unknown field (allowed: name, hosts, upstream, "
                     "upstream_options, preserve_host, consent, banner, analytics)",
                     "test.json: /sites/0/upstream_options/retries: unknown field (allowed: "
                     "connect_timeout_ms, read_timeout_ms, idle_timeout_ms, max_idle, balance, "
                     "max_fails, fail_timeout_ms, resolve_interval_ms, health_check)"}));
}

TEST(ParseConfig, EscapesUnknownKeysInPointers) {
    EXPECT_EQ(problem(with_site(R"("a/b~c\n": 1)")),
              "test.json: /a~1b~0c\\u000a: unknown field (allowed: listen, admin, workers, "
              "shutdown_timeout_ms, trusted_proxies, limits, log, sites, consent, redis, analytics)");
}

TEST(ParseConfig, ReadsAnalyticsAndNamesBadPathRules) {
    const auto c = parse_config(with_site_fields(R"("analytics": {"enabled": false,
        "path_rules": ["/jobb/:id", "/sok/*"]})"), "test.json");
    EXPECT_FALSE(c.sites[0].analytics.enabled);
    ASSERT_EQ(c.sites[0].analytics.path_rules.size(), 2U);
    EXPECT_EQ(c.sites[0].analytics.path_rules[1].pattern, "/sok/*");
    EXPECT_EQ(c.analytics.ua_regexes, "/usr/share/uap-core/regexes.yaml");
    EXPECT_EQ(problems(with_site_fields(
                  R"("analytics": {"path_rules": ["jobb", "/a//b", "/a/*/b", "/x?y", 3]})")),
              (lines{"test.json: /sites/0/analytics/path_rules/0: must start with / (got \"jobb\")",
                     "test.json: /sites/0/analytics/path_rules/1: must not have an empty segment "
                     "(got \"/a//b\")",
                     "test.json: /sites/0/analytics/path_rules/2: may have * only as its whole "
                     "last segment (got \"/a/*/b\")",
                     "test.json: /sites/0/analytics/path_rules/3: must be a path without ? or # "
                     "(got \"/x?y\")",
                     "test.json: /sites/0/analytics/path_rules/4: must be a string (got 3)"}));
}

TEST(ParseConfig, RejectsDuplicateFields) {
    EXPECT_EQ(problem(with_site(R"("listen": {"port": 1, "port": 2})")),
              "test.json: /listen/port: duplicate field");
    EXPECT_EQ(problem(R"({"sites": [)" + std::string(minimal_site) + ", " +
                      R"({"name": "b", "name": "c", "hosts": ["b"], "upstream": "http://b"}]})"),
              "test.json: /sites/1/name: duplicate field");
}

TEST(ParseConfig, RejectsObjectsOfTheWrongType) {
    EXPECT_EQ(problems(with_site(R"("listen": 8080, "limits": [], "log": "debug")")),
              (lines{"test.json: /listen: must be an object (got 8080)",
                     "test.json: /limits: must be an object (got [])",
                     "test.json: /log: must be an object (got \"debug\")"}));
}

// --- sites -----------------------------------------------------------------------------------

TEST(ParseConfig, RequiresAtLeastOneSite) {
    EXPECT_EQ(problem("{}"), "test.json: /sites: must list at least one site");
    EXPECT_EQ(problem(R"({"sites": []})"), "test.json: /sites: must list at least one site");
    EXPECT_EQ(problem(R"({"sites": {}})"), "test.json: /sites: must be a list of sites (got {})");
}

TEST(ParseConfig, RejectsASiteThatIsNotAnObject) {
    EXPECT_EQ(problem(R"({"sites": ["demo"]})"),
              "test.json: /sites/0: must be an object (got \"demo\")");
}

TEST(ParseConfig, ReportsMissingSiteFields) {
    EXPECT_EQ(problems(R"({"sites": [{}]})"),
              (lines{"test.json: /sites/0/name: required field is missing",
                     "test.json: /sites/0/hosts: required field is missing",
                     "test.json: /sites/0/upstream: required field is missing"}));
}

TEST(ParseConfig, ValidatesSiteNames) {
    const auto site = [](std::string_view name) {
        return R"({"sites": [{"name": )" + std::string(name) +
               R"(, "hosts": ["a"], "upstream": "http://a"}]})";
    };
    EXPECT_EQ(problem(site(R"("")")), "test.json: /sites/0/name: must not be empty");
    EXPECT_EQ(problem(site(R"("my site")")),
              "test.json: /sites/0/name: must use only letters, digits, '_', '.' and '-' "
              "(got \"my site\")");
    EXPECT_EQ(problem(site("7")), "test.json: /sites/0/name: must be a string (got 7)");
}

TEST(ParseConfig, RejectsDuplicateSiteNames) {
    EXPECT_EQ(problem(R"({"sites": [
        {"name": "demo", "hosts": ["a"], "upstream": "http://a"},
        {"name": "demo", "hosts": ["b"], "upstream": "http://b"}]})"),
              "test.json: /sites/1/name: \"demo\" is already the name of /sites/0");
}

TEST(ParseConfig, RejectsAHostClaimedByTwoSites) {
    EXPECT_EQ(problem(R"({"sites": [
        {"name": "demo", "hosts": ["localhost"], "upstream": "http://a"},
        {"name": "other", "hosts": ["b", "LOCALHOST"], "upstream": "http://b"}]})"),
              "test.json: /sites/1/hosts/1: \"localhost\" is listed by both site \"demo\" and "
              "site \"other\"");
}

TEST(ParseConfig, RejectsAHostListedTwiceInOneSite) {
    EXPECT_EQ(problem(R"({"sites": [
        {"name": "demo", "hosts": ["localhost", "Localhost"], "upstream": "http://a"}]})"),
              "test.json: /sites/0/hosts/1: \"localhost\" is listed twice in site \"demo\"");
}

TEST(ParseConfig, ValidatesHosts) {
    const auto site = [](std::string_view hosts) {
        return R"({"sites": [{"name": "a", "hosts": )" + std::string(hosts) +
               R"(, "upstream": "http://a"}]})";
    };
    EXPECT_EQ(problem(site("[]")), "test.json: /sites/0/hosts: must list at least one host");
    EXPECT_EQ(problem(site(R"("a")")),
              "test.json: /sites/0/hosts: must be a list of host names (got \"a\")");
    EXPECT_EQ(problems(site(R"(["", 1, "http://a", "a:0", "x.*.no", "[::1]:8080", "b:8080"])")),
              (lines{"test.json: /sites/0/hosts/0: must not be empty",
                     "test.json: /sites/0/hosts/1: must be a string (got 1)",
                     "test.json: /sites/0/hosts/2: must be a host name or IP address, optionally "
                     "with a leading \"*.\" or a :port (got \"http://a\")",
                     "test.json: /sites/0/hosts/3: must be a host name or IP address, optionally "
                     "with a leading \"*.\" or a :port (got \"a:0\")",
                     "test.json: /sites/0/hosts/4: must be a host name or IP address, optionally "
                     "with a leading \"*.\" or a :port (got \"x.*.no\")"}));
}

TEST(ParseConfig, ValidatesPreserveHost) {
    EXPECT_EQ(problem(with_site_fields(R"("preserve_host": "yes")")),
              "test.json: /sites/0/preserve_host: must be true or false (got \"yes\")");
}

// --- upstream URLs ---------------------------------------------------------------------------

std::string upstream_problem(std::string_view url) {
    return problem(R"({"sites": [{"name": "a", "hosts": ["a"], "upstream": ")" + std::string(url) +
                   "\"}]}");
}

TEST(ParseConfig, RejectsNonHttpUpstreams) {
    EXPECT_EQ(upstream_problem("htp://x"),
              "test.json: /sites/0/upstream: \"htp://x\" is not an http:// URL");
    EXPECT_EQ(upstream_problem("127.0.0.1:8081"),
              "test.json: /sites/0/upstream: \"127.0.0.1:8081\" is not an http:// URL");
}

TEST(ParseConfig, ExplainsThatHttpsUpstreamsAreNotSupported) {
    EXPECT_EQ(upstream_problem("https://app.internal"),
              "test.json: /sites/0/upstream: https upstreams are not supported yet; terminate "
              "TLS in front or use http:// (got \"https://app.internal\")");
}

TEST(ParseConfig, RejectsUpstreamPaths) {
    EXPECT_EQ(upstream_problem("http://a/api"),
              "test.json: /sites/0/upstream: \"http://a/api\" has a path, query or fragment; "
              "only http://host[:port] is allowed");
    EXPECT_EQ(upstream_problem("http://a?x=1"),
              "test.json: /sites/0/upstream: \"http://a?x=1\" has a path, query or fragment; "
              "only http://host[:port] is allowed");
}

TEST(ParseConfig, RejectsBadUpstreamHostsAndPorts) {
    EXPECT_EQ(upstream_problem("http://"), "test.json: /sites/0/upstream: \"http://\" has no host");
    EXPECT_EQ(upstream_problem("http://:80"),
              "test.json: /sites/0/upstream: \"http://:80\" has no host");
    EXPECT_EQ(upstream_problem("http://a b"),
              "test.json: /sites/0/upstream: \"http://a b\" has an invalid host");
    EXPECT_EQ(upstream_problem("http://999.1.1.1"),
              "test.json: /sites/0/upstream: \"http://999.1.1.1\" has an invalid host");
    EXPECT_EQ(upstream_problem("http://[::g]"),
              "test.json: /sites/0/upstream: \"http://[::g]\" has an invalid host");
    EXPECT_EQ(upstream_problem("http://::1:80"),
              "test.json: /sites/0/upstream: \"http://::1:80\" needs brackets around an IPv6 "
              "host, like http://[::1]:8081");
    EXPECT_EQ(upstream_problem("http://a:0"),
              "test.json: /sites/0/upstream: \"http://a:0\" has an invalid port (must be 1-65535)");
    EXPECT_EQ(upstream_problem("http://a:65536"),
              "test.json: /sites/0/upstream: \"http://a:65536\" has an invalid port (must be "
              "1-65535)");
    EXPECT_EQ(upstream_problem("http://a:"),
              "test.json: /sites/0/upstream: \"http://a:\" has an invalid port (must be 1-65535)");
    EXPECT_EQ(upstream_problem("http://u:p@a"),
              "test.json: /sites/0/upstream: \"http://u:p@a\" must not contain user info");
}

TEST(ParseConfig, RejectsANonStringUpstream) {
    EXPECT_EQ(problem(R"({"sites": [{"name": "a", "hosts": ["a"], "upstream": 8081}]})"),
              "test.json: /sites/0/upstream: must be an http:// URL or a list of 1-64 servers "
              "(URLs or {\"url\": ..., \"weight\": n})");
}

TEST(ParseConfig, ReadsSeveralUpstreamServers) {
    const auto c = parse_config(R"({"sites": [{"name": "a", "hosts": ["a"],
        "upstream": ["http://10.0.0.1:8081", {"url": "http://app-2.internal", "weight": 3},
                     "http://[::1]:9000"],
        "upstream_options": {"balance": "least_connections", "max_fails": 5,
            "fail_timeout_ms": 2000, "resolve_interval_ms": 0,
            "health_check": {"path": "/healthz?full=1", "interval_ms": 1000, "timeout_ms": 500,
                             "fails": 3, "passes": 2}}}]})",
                                "test.json");
    const auto& up = c.sites.at(0).upstream;
    ASSERT_EQ(up.servers.size(), 3U);
    EXPECT_EQ(up.servers[0].host, "10.0.0.1");
    EXPECT_EQ(up.servers[0].port, 8081);
    EXPECT_EQ(up.servers[0].weight, 1U);
    EXPECT_EQ(up.servers[1].host, "app-2.internal");
    EXPECT_EQ(up.servers[1].port, 80);
    EXPECT_EQ(up.servers[1].weight, 3U);
    EXPECT_EQ(up.servers[2].authority(), "[::1]:9000");
    EXPECT_EQ(up.balance, balance_method::least_connections);
    EXPECT_EQ(up.max_fails, 5U);
    EXPECT_EQ(up.fail_timeout, 2000ms);
    EXPECT_EQ(up.resolve_interval, 0ms);
    EXPECT_EQ(up.health_check.path, "/healthz?full=1");
    EXPECT_EQ(up.health_check.interval, 1000ms);
    EXPECT_EQ(up.health_check.timeout, 500ms);
    EXPECT_EQ(up.health_check.fails, 3U);
    EXPECT_EQ(up.health_check.passes, 2U);
}

TEST(ParseConfig, DefaultsForOneUpstreamServer) {
    const auto c = parse_config(with_site(""), "test.json");
    const auto& up = c.sites.at(0).upstream;
    ASSERT_EQ(up.servers.size(), 1U);
    EXPECT_EQ(up.balance, balance_method::round_robin);
    EXPECT_EQ(up.max_fails, 3U);
    EXPECT_EQ(up.fail_timeout, 10000ms);
    EXPECT_EQ(up.resolve_interval, 30000ms);
    EXPECT_FALSE(up.health_check.enabled());
}

TEST(ParseConfig, ExplainsWhatIsWrongWithAServerList) {
    const auto site = [](std::string_view upstream, std::string_view options = "") {
        return R"({"sites": [{"name": "a", "hosts": ["a"], "upstream": )" + std::string(upstream) +
               (options.empty() ? "" : R"(, "upstream_options": )" + std::string(options)) +
               "}]}";
    };
    EXPECT_EQ(problem(site("[]")),
              "test.json: /sites/0/upstream: must be an http:// URL or a list of 1-64 servers "
              "(URLs or {\"url\": ..., \"weight\": n})");
    EXPECT_EQ(problems(site(R"(["http://a:1", "ftp://b", {"url": "http://a:1"}, {"weight": 2},
                                {"url": "http://c", "weight": 0}, {"url": 7}, {"url": "http://d", "w": 1}])")),
              (lines{"test.json: /sites/0/upstream/1: \"ftp://b\" is not an http:// URL",
                     "test.json: /sites/0/upstream/2/url: \"http://a:1\" is listed twice",
                     "test.json: /sites/0/upstream/3/url: required field is missing",
                     "test.json: /sites/0/upstream/4/weight: must be 1-1000 (got 0)",
                     "test.json: /sites/0/upstream/5/url: must be an http:// URL",
                     "test.json: /sites/0/upstream/6/w: unknown field (allowed: url, weight)"}));
    EXPECT_EQ(problem(site(R"("http://a")", R"({"balance": "random"})")),
              "test.json: /sites/0/upstream_options/balance: must be one of round_robin, "
              "least_connections (got \"random\")");
    EXPECT_EQ(problems(site(R"("http://a")", R"({"health_check": {"interval_ms": 10}})")),
              (lines{"test.json: /sites/0/upstream_options/health_check/path: required field is "
                     "missing"}));
    EXPECT_EQ(problem(site(R"("http://a")", R"({"health_check": {"path": "health z"}})")),
              "test.json: /sites/0/upstream_options/health_check/path: \"health z\" must start "
              "with / and hold no spaces or control bytes");
    EXPECT_EQ(problem(site(R"("http://a")",
                           R"({"health_check": {"path": "/h", "interval_ms": 100, "timeout_ms": 200}})")),
              "test.json: /sites/0/upstream_options/health_check/timeout_ms: must not be longer "
              "than interval_ms");
}

TEST(ParseConfig, ValidatesUpstreamOptions) {
    EXPECT_EQ(problems(with_site_fields(R"("upstream_options": {"connect_timeout_ms": 0,
        "read_timeout_ms": 86400001, "idle_timeout_ms": "1s", "max_idle": 100001})")),
              (lines{"test.json: /sites/0/upstream_options/connect_timeout_ms: must be "
                     "1-86400000 (got 0)",
                     "test.json: /sites/0/upstream_options/read_timeout_ms: must be 1-86400000 "
                     "(got 86400001)",
                     "test.json: /sites/0/upstream_options/idle_timeout_ms: must be 1-86400000 "
                     "(got \"1s\")",
                     "test.json: /sites/0/upstream_options/max_idle: must be 0-100000 (got "
                     "100001)"}));
}

// --- numbers ---------------------------------------------------------------------------------

TEST(ParseConfig, ReportsAPortThatIsNotANumber) {
    EXPECT_EQ(problem(with_site(R"("listen": {"port": "80a"})")),
              "test.json: /listen/port: must be 0-65535 (got \"80a\")");
}

TEST(ParseConfig, RejectsNegativeHugeAndFractionalNumbers) {
    EXPECT_EQ(problems(with_site(R"("workers": -1, "shutdown_timeout_ms": 1.5,
        "limits": {"body_bytes": -5, "header_bytes": 1e30, "max_connections": 18446744073709551616,
                   "header_count": null}, "listen": {"port": 65536})")),
              (lines{"test.json: /listen/port: must be 0-65535 (got 65536)",
                     "test.json: /workers: must be 0-1024 (got -1)",
                     "test.json: /shutdown_timeout_ms: must be a whole number (got 1.5)",
                     "test.json: /limits/header_bytes: must be 1024-1048576 (got 1e+30)",
                     "test.json: /limits/header_count: must be 1-10000 (got null)",
                     "test.json: /limits/body_bytes: must be 0-18446744073709551615 (got -5)",
                     "test.json: /limits/max_connections: must be 1-1000000 (got "
                     "1.8446744073709552e+19)"}));
}

TEST(ParseConfig, ChecksEveryLimitRange) {
    EXPECT_EQ(problems(with_site(R"("limits": {"header_bytes": 1023, "header_count": 0,
        "header_timeout_ms": 0, "idle_timeout_ms": 0, "body_timeout_ms": 0,
        "tunnel_idle_timeout_ms": 0, "max_connections": 0}, "workers": 1025)")),
              (lines{"test.json: /workers: must be 0-1024 (got 1025)",
                     "test.json: /limits/header_bytes: must be 1024-1048576 (got 1023)",
                     "test.json: /limits/header_count: must be 1-10000 (got 0)",
                     "test.json: /limits/header_timeout_ms: must be 1-86400000 (got 0)",
                     "test.json: /limits/idle_timeout_ms: must be 1-86400000 (got 0)",
                     "test.json: /limits/body_timeout_ms: must be 1-86400000 (got 0)",
                     "test.json: /limits/tunnel_idle_timeout_ms: must be 1-86400000 (got 0)",
                     "test.json: /limits/max_connections: must be 1-1000000 (got 0)"}));
}

// --- addresses -------------------------------------------------------------------------------

TEST(ParseConfig, RequiresIpLiteralsForListeners) {
    EXPECT_EQ(problems(with_site(R"("listen": {"address": "localhost"},
                                    "admin": {"address": 127001})")),
              (lines{"test.json: /listen/address: must be an IPv4 or IPv6 address such as "
                     "127.0.0.1 or ::1 (got \"localhost\")",
                     "test.json: /admin/address: must be a string (got 127001)"}));
}

TEST(ParseConfig, RequiresAnAdminTokenOffLoopback) {
    EXPECT_EQ(problem(with_site(R"("admin": {"address": "0.0.0.0"})")),
              "test.json: /admin/token: required when the admin listener is not on loopback");
    EXPECT_EQ(problem(with_site(R"("admin": {"address": "::", "token": ""})")),
              "test.json: /admin/token: required when the admin listener is not on loopback");
    EXPECT_EQ(problem(with_site(R"("admin": {"address": "::", "token": 5})")),
              "test.json: /admin/token: must be a string (got 5)");
}

// --- admin users -------------------------------------------------------------------------------

// Well-formed (what --hash-password prints); no password produces it, which is fine here.
constexpr std::string_view some_hash =
    "pbkdf2-sha256$600000$c2FsdHNhbHRzYWx0c2FsdA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

// A document whose admin section has `fields`, next to one minimal site.
std::string with_admin(std::string_view fields) {
    return with_site(R"("admin": {)" + std::string(fields) + "}");
}

// A document with one admin user written as `user` (a JSON object's members).
std::string with_user(std::string_view user) {
    return with_admin(R"("users": [{)" + std::string(user) + "}]");
}

std::string user_fields(std::string_view name, std::string_view role, std::string_view hash) {
    return R"("name": ")" + std::string(name) + R"(", "role": ")" + std::string(role) +
           R"(", "password_hash": ")" + std::string(hash) + R"(")";
}

TEST(ParseConfig, ReadsAdminUsersAndTheCookieFlag) {
    const auto c = parse_config(with_admin(R"("secure_cookie": true, "users": [)"
                                           "{" +
                                           user_fields("anna", "marketing", some_hash) + "}, {" +
                                           user_fields("Ola.N_2@x-y", "admin", some_hash) + "}]"),
                                "test.json");

    EXPECT_TRUE(c.admin.secure_cookie);
    ASSERT_EQ(c.admin.users.size(), 2U);
    EXPECT_EQ(c.admin.users[0].name, "anna");
    EXPECT_EQ(c.admin.users[0].role, admin_user_role::marketing);
    EXPECT_EQ(c.admin.users[0].password_hash, some_hash);
    EXPECT_EQ(c.admin.users[1].name, "Ola.N_2@x-y");
    EXPECT_EQ(c.admin.users[1].role, admin_user_role::admin);
}

TEST(ParseConfig, HasNoAdminUsersAndAPlainCookieByDefault) {
    const auto c = parse_config(with_site(""), "test.json");

    EXPECT_TRUE(c.admin.users.empty());
    EXPECT_FALSE(c.admin.secure_cookie);
    EXPECT_EQ(c.admin.session_idle_timeout, 30min);
    EXPECT_EQ(c.admin.session_lifetime, 8h);
}

TEST(ParseConfig, NamesTheAdminFields) {
    EXPECT_EQ(problem(with_admin(R"("user": [])")),
              "test.json: /admin/user: unknown field (allowed: address, port, token, "
              "max_connections, users, secure_cookie)");
    EXPECT_EQ(problem(with_user(user_fields("anna", "admin", some_hash) + R"(, "email": "a@b")")),
              "test.json: /admin/users/0/email: unknown field (allowed: name, role, "
              "password_hash)");
}

TEST(ParseConfig, ValidatesAdminUserNames) {
    const std::string too_long(65, 'a');
    EXPECT_EQ(problems(with_admin(R"("users": [)"
                                  "{" +
                                  user_fields("", "admin", some_hash) + "}, {" +
                                  user_fields("anna berg", "admin", some_hash) + "}, {" +
                                  user_fields(too_long, "admin", some_hash) + "}, {" +
                                  user_fields("åse", "admin", some_hash) + "}]")),
              (lines{"test.json: /admin/users/0/name: must be 1-64 characters of letters, "
                     "digits, '.', '_', '@' and '-' (got \"\")",
                     "test.json: /admin/users/1/name: must be 1-64 characters of letters, "
                     "digits, '.', '_', '@' and '-' (got \"anna berg\")",
                     "test.json: /admin/users/2/name: must be 1-64 characters of letters, "
                     "digits, '.', '_', '@' and '-' (got \"" +
                         std::string(36, 'a') + "...)",
                     "test.json: /admin/users/3/name: must be 1-64 characters of letters, "
                     "digits, '.', '_', '@' and '-' (got \"åse\")"}));
}

TEST(ParseConfig, RejectsDuplicateAdminUserNames) {
    EXPECT_EQ(problem(with_admin(R"("users": [)"
                                 "{" +
                                 user_fields("anna", "admin", some_hash) + "}, {" +
                                 user_fields("anna", "marketing", some_hash) + "}]")),
              "test.json: /admin/users/1/name: \"anna\" is already the name of /admin/users/0");
    // Names are case-sensitive: these are two users.
    EXPECT_NO_THROW(parse_config(with_admin(R"("users": [)"
                                            "{" +
                                            user_fields("anna", "admin", some_hash) + "}, {" +
                                            user_fields("Anna", "admin", some_hash) + "}]"),
                                 "test.json"));
}

TEST(ParseConfig, ValidatesAdminUserRoles) {
    EXPECT_EQ(problem(with_user(user_fields("anna", "owner", some_hash))),
              "test.json: /admin/users/0/role: must be one of marketing, admin (got \"owner\")");
    EXPECT_EQ(problem(with_user(R"("name": "anna", "role": 1, "password_hash": ")" +
                                std::string(some_hash) + "\"")),
              "test.json: /admin/users/0/role: must be one of marketing, admin (got 1)");
}

TEST(ParseConfig, ValidatesAdminPasswordHashesWithoutQuotingThem) {
    const std::string salt = "c2FsdHNhbHRzYWx0c2FsdA";
    const std::string hash(43, 'A');
    EXPECT_EQ(problems(with_admin(
                  R"("users": [)"
                  "{" +
                  user_fields("a", "admin", "hunter2") + "}, {" +
                  user_fields("b", "admin", "pbkdf2-sha256$1000$" + salt + "$" + hash) + "}, {" +
                  user_fields("c", "admin", "pbkdf2-sha256$100000$c2FsdA$" + hash) + "}, {" +
                  user_fields("d", "admin", "pbkdf2-sha256$100000$" + salt + "$AAAA") + "}, {" +
                  user_fields("e", "admin", "pbkdf2-sha256$100000$" + salt) + R"(}, {
                  "name": "f", "role": "admin", "password_hash": 42}])")),
              (lines{"test.json: /admin/users/0/password_hash: must start with "
                     "\"pbkdf2-sha256$\" (make one with consent-gateway --hash-password)",
                     "test.json: /admin/users/1/password_hash: the iteration count must be a "
                     "whole number 100000-10000000 (make one with consent-gateway "
                     "--hash-password)",
                     "test.json: /admin/users/2/password_hash: the salt must be 16-64 bytes of "
                     "base64 without padding (make one with consent-gateway --hash-password)",
                     "test.json: /admin/users/3/password_hash: the hash must be 32 bytes of "
                     "base64 without padding (make one with consent-gateway --hash-password)",
                     "test.json: /admin/users/4/password_hash: must have the form "
                     "pbkdf2-sha256$ITERATIONS$SALT$HASH (make one with consent-gateway "
                     "--hash-password)",
                     "test.json: /admin/users/5/password_hash: must be a string"}));
}

TEST(ParseConfig, ReportsMissingAdminUserFields) {
    EXPECT_EQ(problems(with_admin(R"("users": [{}, 7])")),
              (lines{"test.json: /admin/users/0/name: required field is missing",
                     "test.json: /admin/users/0/role: required field is missing",
                     "test.json: /admin/users/0/password_hash: required field is missing",
                     "test.json: /admin/users/1: must be an object (got 7)"}));
    EXPECT_EQ(problem(with_admin(R"("users": {"anna": "admin"})")),
              "test.json: /admin/users: must be a list of users (got {\"anna\":\"admin\"})");
    EXPECT_EQ(problem(with_admin(R"("secure_cookie": "yes")")),
              "test.json: /admin/secure_cookie: must be true or false (got \"yes\")");
}

TEST(ParseConfig, StillRequiresATokenOffLoopbackWhenThereAreUsers) {
    const std::string users = R"("users": [{)" + user_fields("anna", "admin", some_hash) + "}]";
    EXPECT_EQ(problem(with_admin(R"("address": "0.0.0.0", )" + users)),
              "test.json: /admin/token: required when the admin listener is not on loopback");
    EXPECT_NO_THROW(
        parse_config(with_admin(R"("address": "0.0.0.0", "token": "t", )" + users), "test.json"));
    EXPECT_NO_THROW(parse_config(with_admin(R"("address": "::1", )" + users), "test.json"));
}

TEST(ParseConfig, ValidatesTrustedProxies) {
    EXPECT_EQ(problems(with_site(R"("trusted_proxies": ["10.0.0.0/33", "::/129", "nginx", 7,
                                    "10.0.0.0/", "10.0.0.0/-1", "1.2.3.4/8/8"])")),
              (lines{"test.json: /trusted_proxies/0: prefix must be 0-32 for an IPv4 range (got "
                     "\"10.0.0.0/33\")",
                     "test.json: /trusted_proxies/1: prefix must be 0-128 for an IPv6 range (got "
                     "\"::/129\")",
                     "test.json: /trusted_proxies/2: \"nginx\" is not an IP address or CIDR range "
                     "(like 10.0.0.0/8)",
                     "test.json: /trusted_proxies/3: must be a string (got 7)",
                     "test.json: /trusted_proxies/4: prefix must be 0-32 for an IPv4 range (got "
                     "\"10.0.0.0/\")",
                     "test.json: /trusted_proxies/5: prefix must be 0-32 for an IPv4 range (got "
                     "\"10.0.0.0/-1\")",
                     "test.json: /trusted_proxies/6: prefix must be 0-32 for an IPv4 range (got "
                     "\"1.2.3.4/8/8\")"}));
    EXPECT_EQ(problem(with_site(R"("trusted_proxies": "10.0.0.0/8")")),
              "test.json: /trusted_proxies: must be a list of addresses or CIDR ranges (got "
              "\"10.0.0.0/8\")");
}

// --- log -------------------------------------------------------------------------------------

TEST(ParseConfig, ValidatesLogSettings) {
    EXPECT_EQ(problems(with_site(R"("log": {"level": "verbose", "access": 1})")),
              (lines{"test.json: /log/level: must be one of debug, info, warn, error (got "
                     "\"verbose\")",
                     "test.json: /log/access: must be true or false (got 1)"}));
    EXPECT_EQ(parse_config(with_site(R"("log": {"level": "warn"})"), "t").log.level,
              log_level::warn);
    EXPECT_EQ(parse_config(with_site(R"("log": {"level": "error"})"), "t").log.level,
              log_level::error);
}

// --- reporting -------------------------------------------------------------------------------

TEST(ParseConfig, ReportsEveryProblemTogether) {
    EXPECT_EQ(problems(R"({
      "listen": {"port": "80a"},
      "workers": 2.5,
      "extra": true,
      "sites": [
        {"name": "demo", "hosts": ["localhost"], "upstream": "http://127.0.0.1:8081"},
        {"name": "demo", "hosts": ["localhost"], "upstream": "htp://x"}
      ]
    })"),
              (lines{"test.json: /extra: unknown field (allowed: listen, admin, workers, "
                     "shutdown_timeout_ms, trusted_proxies, limits, log, sites, consent, redis, analytics)",
                     "test.json: /listen/port: must be 0-65535 (got \"80a\")",
                     "test.json: /workers: must be a whole number (got 2.5)",
                     "test.json: /sites/1/name: \"demo\" is already the name of /sites/0",
                     "test.json: /sites/1/hosts/0: \"localhost\" is listed by both site \"demo\" "
                     "and site \"demo\"",
                     "test.json: /sites/1/upstream: \"htp://x\" is not an http:// URL"}));
}

TEST(ParseConfig, NamesTheSourceInEveryLine) {
    try {
        parse_config(R"({"workers": -1})", "configs/demo.json");
        FAIL() << "no config_error";
    } catch (const config_error& e) {
        EXPECT_STREQ(e.what(),
                     "configs/demo.json: /workers: must be 0-1024 (got -1)\n"
                     "configs/demo.json: /sites: must list at least one site");
    }
}

TEST(ParseConfig, NeverThrowsAnythingButConfigErrorOnHostileInput) {
    const std::vector<std::string> inputs{
        std::string("\xff\xfe{}", 4),
        "{\"sites\": [\"\xc3\x28\"]}",
        std::string("{\"sites\"\0: []}", 14),
        "{\"sites\": [{\"name\": \"\\ud800\"}]}",
        std::string(200000, '{'),
        "-",
        "{\"workers\": 123456789012345678901234567890}",
        "{\"workers\": -123456789012345678901234567890}",
        "{\"sites\": [{\"name\": \"a\", \"hosts\": [\"[\"], \"upstream\": \"http://[\"}]}",
        "{\"sites\": [{\"name\": \"a\", \"hosts\": [\"*.\"], \"upstream\": \"http://[]:\"}]}",
    };
    for (const auto& input : inputs) {
        EXPECT_THROW(parse_config(input, "fuzz.json"), config_error) << input.substr(0, 60);
    }
}

// --- cidr::contains --------------------------------------------------------------------------

TEST(CidrContains, MatchesIpv4Ranges) {
    const auto r = range("10.0.0.0", 8);
    EXPECT_TRUE(r.contains(ip("10.0.0.0")));
    EXPECT_TRUE(r.contains(ip("10.255.255.255")));
    EXPECT_FALSE(r.contains(ip("11.0.0.0")));
    EXPECT_FALSE(r.contains(ip("9.255.255.255")));

    const auto odd = range("192.168.4.0", 22);
    EXPECT_TRUE(odd.contains(ip("192.168.7.200")));
    EXPECT_FALSE(odd.contains(ip("192.168.8.1")));
}

TEST(CidrContains, MatchesSingleAddressesAndEverything) {
    EXPECT_TRUE(range("127.0.0.1", 32).contains(ip("127.0.0.1")));
    EXPECT_FALSE(range("127.0.0.1", 32).contains(ip("127.0.0.2")));
    EXPECT_TRUE(range("0.0.0.0", 0).contains(ip("203.0.113.9")));
    EXPECT_FALSE(range("0.0.0.0", 0).contains(ip("::1")));
}

TEST(CidrContains, MatchesIpv6Ranges) {
    const auto r = range("fd00::", 8);
    EXPECT_TRUE(r.contains(ip("fd12:3456::1")));
    EXPECT_FALSE(r.contains(ip("fe80::1")));
    EXPECT_TRUE(range("::1", 128).contains(ip("::1")));
    EXPECT_FALSE(range("::1", 128).contains(ip("::2")));
    EXPECT_TRUE(range("2001:db8::", 33).contains(ip("2001:db8:7fff::1")));
    EXPECT_FALSE(range("2001:db8::", 33).contains(ip("2001:db8:8000::1")));
}

TEST(CidrContains, NeverMixesFamiliesOtherwise) {
    EXPECT_FALSE(range("::", 0).contains(ip("10.0.0.1")));
    EXPECT_FALSE(range("10.0.0.0", 8).contains(ip("::a00:1")));  // IPv4-compatible, not mapped
}

TEST(CidrContains, MatchesIpv4MappedClientsAgainstIpv4Ranges) {
    EXPECT_TRUE(range("10.0.0.0", 8).contains(ip("::ffff:10.1.2.3")));
    EXPECT_FALSE(range("10.0.0.0", 8).contains(ip("::ffff:11.1.2.3")));
    EXPECT_TRUE(range("127.0.0.1", 32).contains(ip("::ffff:127.0.0.1")));
}

TEST(CidrContains, MatchesIpv4ClientsAgainstMappedRanges) {
    EXPECT_TRUE(range("::ffff:10.0.0.0", 104).contains(ip("10.9.9.9")));
    EXPECT_FALSE(range("::ffff:10.0.0.0", 104).contains(ip("11.9.9.9")));
    EXPECT_TRUE(range("::ffff:10.0.0.0", 104).contains(ip("::ffff:10.9.9.9")));
}

TEST(CidrContains, MatchesRangesParsedFromConfig) {
    const auto c = parse_config(
        with_site(R"("trusted_proxies": ["127.0.0.1", "10.0.0.0/8", "::1", "fd00::/8"])"), "t");
    const auto trusted = [&](const char* a) {
        for (const auto& r : c.trusted_proxies) {
            if (r.contains(ip(a))) {
                return true;
            }
        }
        return false;
    };
    EXPECT_TRUE(trusted("127.0.0.1"));
    EXPECT_TRUE(trusted("::ffff:127.0.0.1"));
    EXPECT_TRUE(trusted("10.20.30.40"));
    EXPECT_TRUE(trusted("::1"));
    EXPECT_TRUE(trusted("fdff::1"));
    EXPECT_FALSE(trusted("192.0.2.1"));
    EXPECT_FALSE(trusted("2001:db8::1"));
}

// --- consent and redis ---------------------------------------------------------------------

TEST(ParseConfig, ReadsConsentRedisAndSiteConsent) {
    const auto c = parse_config(R"({
      "consent": {"keys": ["0123456789abcdefghijklmnopqrstuvwxyzABCDEFGH"], "cookie_name": "cc",
                  "journal": {"path": "journal.jsonl"}},
      "redis": {"socket": "/run/redis/redis.sock", "database": 2},
      "sites": [
        {"name": "a", "hosts": ["a"], "upstream": "http://a",
         "consent": {"policy_version": "3", "lifetime_days": 180, "default_language": "en",
                     "categories": {"analytics": {}},
                     "cookies": [{"name": "_pk_*", "category": "analytics"}]}},
        {"name": "b", "hosts": ["b"], "upstream": "http://b"}
      ]
    })",
                                "/etc/consent-gateway/gateway.json");

    EXPECT_EQ(c.consent.keys, lines{"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGH"});
    EXPECT_EQ(c.consent.cookie_name, "cc");
    EXPECT_EQ(c.consent.journal.path, std::filesystem::path("/etc/consent-gateway/journal.jsonl"));
    EXPECT_EQ(c.consent.redis.socket, "/run/redis/redis.sock");
    EXPECT_EQ(c.consent.redis.database, 2U);
    ASSERT_EQ(c.sites.size(), 2U);
    const auto& a = c.sites[0].consent;
    EXPECT_EQ(a.policy_version, "3");
    EXPECT_EQ(a.lifetime, std::chrono::seconds(std::chrono::days(180)));
    EXPECT_EQ(a.default_language, consent::language::en);
    EXPECT_EQ(a.offered(),
              (consent::category_set{consent::category::necessary, consent::category::analytics}));
    ASSERT_EQ(a.cookies.size(), 1U);
    EXPECT_EQ(a.cookies[0].name, "_pk_*");
}

TEST(ParseConfig, GivesSitesWithoutConsentTheDefaultPolicy) {
    const auto c = parse_config(with_site(""), "test.json");

    EXPECT_EQ(c.sites[0].consent.offered(), consent::category_set::all());
    EXPECT_EQ(c.sites[0].consent.categories.size(), 4U);
    EXPECT_EQ(c.sites[0].consent.policy_version, "1");
    EXPECT_EQ(c.consent.cookie_name, "cg_consent");
    EXPECT_EQ(c.consent.redis.port, 6379);
}

TEST(ParseConfig, ReportsConsentProblemsWithFullPointers) {
    EXPECT_EQ(problems(R"({
      "consent": {"keys": ["short"]},
      "redis": {"port": "6379x"},
      "sites": [
        {"name": "a", "hosts": ["a"], "upstream": "http://a"},
        {"name": "b", "hosts": ["b"], "upstream": "http://b",
         "consent": {"lifetime_days": 500, "colour": 1,
                     "cookies": [{"name": "_ga", "category": "necessary"}]}}
      ]
    })"),
              (lines{"test.json: /sites/1/consent/colour: unknown field (allowed: policy_version, "
                     "lifetime_days, retention_days, default_language, unknown_cookies, "
                     "categories, cookies)",
                     "test.json: /sites/1/consent/lifetime_days: must be 1-400 (got 500)",
                     "test.json: /sites/1/consent/cookies/0/justification: required for a "
                     "necessary cookie: say why the site cannot work without it (classing "
                     "tracking cookies as necessary is the most common consent violation)",
                     "test.json: /consent/keys/0: must be at least 32 characters; generate one "
                     "with: openssl rand -base64 48",
                     "test.json: /redis/port: must be 1-65535 (got \"6379x\")"}));
}

TEST(ParseConfig, ResolvesConsentFilesAgainstTheConfigDirectory) {
    const std::string source = "/nonexistent/cg/gateway.json";
    try {
        parse_config(with_site(R"("consent": {"key_file": "keys/cookie.keys"})"), source);
        FAIL() << "no config_error";
    } catch (const config_error& e) {
        EXPECT_EQ(e.problems(), lines{source + ": /consent/key_file: cannot read "
                                               "/nonexistent/cg/keys/cookie.keys: No such file "
                                               "or directory"});
    }
}

TEST(ParseConfig, ReportsDuplicateFieldsInsideConsent) {
    EXPECT_EQ(problem(with_site_fields(R"("consent": {"policy_version": "1",
                                                      "policy_version": "2"})")),
              "test.json: /sites/0/consent/policy_version: duplicate field");
}

}  // namespace
}  // namespace cg::gateway
