// The top-level `analytics` object's `forward` targets (issue 10, "Storing and forwarding"):
// every problem named with its JSON Pointer, header values never shown.
#include "analytics/config.hpp"

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "analytics/forwarder.hpp"

namespace cg::analytics {
namespace {

using lines = std::vector<std::string>;
using json_config::member;
using namespace std::chrono_literals;

struct read_result {
    settings value;
    lines problems;
};

read_result read(std::string_view text) {
    read_result out;
    out.problems = json_config::problems_in(
        text, "t.json", [&](json_config::reader& r, const nlohmann::json& doc) {
            out.value = read_settings(r, member(doc, "analytics"), "/etc/cg");
        });
    return out;
}

// The problems of a document whose `analytics.forward` is `forward`.
lines forward_problems(std::string_view forward) {
    return read(R"({"analytics": {"forward": )" + std::string{forward} + "}}").problems;
}

TEST(AnalyticsConfig, ReadsForwardTargets) {
    const auto r = read(R"({"analytics": {"forward": [
        {"name": "warehouse", "url": "https://bi.example/ingest?x=1",
         "headers": {"Authorization": "Bearer abc"}, "timeout_ms": 2500},
        {"name": "hook.2", "url": "http://127.0.0.1:8080"}]}})");
    ASSERT_EQ(r.problems, lines{});
    ASSERT_EQ(r.value.forward.size(), 2U);
    EXPECT_EQ(r.value.forward[0].name, "warehouse");
    EXPECT_EQ(r.value.forward[0].url, "https://bi.example/ingest?x=1");
    ASSERT_EQ(r.value.forward[0].headers.size(), 1U);
    EXPECT_EQ(r.value.forward[0].headers[0].first, "Authorization");
    EXPECT_EQ(r.value.forward[0].headers[0].second, "Bearer abc");
    EXPECT_EQ(r.value.forward[0].timeout, 2500ms);
    EXPECT_EQ(r.value.forward[1].timeout, 10000ms);
    EXPECT_TRUE(r.value.forward[1].headers.empty());
}

TEST(AnalyticsConfig, NoForwardMeansNoTargets) {
    const auto r = read(R"({"analytics": {}})");
    EXPECT_EQ(r.problems, lines{});
    EXPECT_TRUE(r.value.forward.empty());
}

TEST(AnalyticsConfig, ForwardMustBeAnArrayOfObjects) {
    EXPECT_EQ(
        forward_problems(R"({"name": "x"})"),
        lines{R"(t.json: /analytics/forward: must be an array of targets (got {"name":"x"}))"});
    EXPECT_EQ(forward_problems(R"([3])"),
              lines{"t.json: /analytics/forward/0: must be an object (got 3)"});
    EXPECT_EQ(forward_problems(R"([{"name": "a", "url": "http://h", "retries": 3}])"),
              lines{"t.json: /analytics/forward/0/retries: unknown field (allowed: name, url, "
                    "headers, timeout_ms)"});
}

TEST(AnalyticsConfig, TargetNeedsNameAndUrl) {
    EXPECT_EQ(forward_problems(R"([{}])"),
              (lines{"t.json: /analytics/forward/0/name: required field is missing",
                     "t.json: /analytics/forward/0/url: required field is missing"}));
}

TEST(AnalyticsConfig, TargetNameIsShortLowerCaseAndUnique) {
    EXPECT_EQ(forward_problems(R"([{"name": "Ware house", "url": "http://h"}])"),
              lines{"t.json: /analytics/forward/0/name: must be 1-64 characters of a-z, 0-9, "
                    "'.', '_' and '-' (got \"Ware house\")"});
    EXPECT_EQ(forward_problems(R"([{"name": "", "url": "http://h"}])"),
              lines{"t.json: /analytics/forward/0/name: must be 1-64 characters of a-z, 0-9, "
                    "'.', '_' and '-' (got \"\")"});
    EXPECT_EQ(
        forward_problems(R"([{"name": ")" + std::string(65, 'a') + R"(", "url": "http://h"}])")
            .size(),
        1U);
    EXPECT_EQ(
        forward_problems(R"([{"name": ")" + std::string(64, 'a') + R"(", "url": "http://h"}])"),
        lines{});
    EXPECT_EQ(forward_problems(R"([{"name": "bi", "url": "http://a"},
                                   {"name": "bi", "url": "http://b"}])"),
              lines{"t.json: /analytics/forward/1/name: \"bi\" is already the name of "
                    "/analytics/forward/0"});
    EXPECT_EQ(forward_problems(R"([{"name": 7, "url": "http://h"}])"),
              lines{"t.json: /analytics/forward/0/name: must be a string (got 7)"});
}

TEST(AnalyticsConfig, TargetUrlIsHttpOrHttpsWithAHost) {
    const auto url_problem = [](std::string_view url) {
        return forward_problems(R"([{"name": "bi", "url": ")" + std::string{url} + R"("}])");
    };
    EXPECT_EQ(url_problem("ftp://bi.example/"),
              lines{"t.json: /analytics/forward/0/url: must be an http:// or https:// URL"});
    EXPECT_EQ(url_problem("bi.example/ingest"),
              lines{"t.json: /analytics/forward/0/url: must be an http:// or https:// URL"});
    EXPECT_EQ(url_problem("https:///ingest"),
              lines{"t.json: /analytics/forward/0/url: has no host"});
    EXPECT_EQ(url_problem("https://user:secret@bi.example/"),
              lines{"t.json: /analytics/forward/0/url: must not contain user info (put "
                    "credentials in headers)"});
    EXPECT_EQ(url_problem("https://bi.example:0/"),
              lines{"t.json: /analytics/forward/0/url: has an invalid port (must be 1-65535)"});
    EXPECT_EQ(url_problem("https://bi.example:99999/"),
              lines{"t.json: /analytics/forward/0/url: has an invalid port (must be 1-65535)"});
    EXPECT_EQ(url_problem("https://bi..example/"),
              lines{"t.json: /analytics/forward/0/url: has an invalid host"});
    EXPECT_EQ(url_problem("https://[::1/"),
              lines{"t.json: /analytics/forward/0/url: has an invalid host"});
    EXPECT_EQ(url_problem("https://bi.example/a#b"),
              lines{"t.json: /analytics/forward/0/url: must not have a fragment (#)"});
    EXPECT_EQ(url_problem("https://bi.example/a b"),
              lines{"t.json: /analytics/forward/0/url: must not contain spaces or control "
                    "characters"});
}

TEST(AnalyticsConfig, HeaderNamesAreTokensAndValuesNeverShown) {
    const auto header_problem = [](std::string_view headers) {
        return forward_problems(R"([{"name": "bi", "url": "http://h", "headers": )" +
                                std::string{headers} + "}]");
    };
    EXPECT_EQ(header_problem(R"({"Bad Name": "v"})"),
              lines{"t.json: /analytics/forward/0/headers/Bad Name: is not a valid header name"});
    EXPECT_EQ(header_problem(R"({"": "v"})"),
              lines{"t.json: /analytics/forward/0/headers/: is not a valid header name"});
    EXPECT_EQ(header_problem(R"({"Authorization": "Bearer secret\r\nX-Evil: 1"})"),
              lines{"t.json: /analytics/forward/0/headers/Authorization: must not contain CR, "
                    "LF or NUL"});
    EXPECT_EQ(header_problem(R"({"Authorization": 12345})"),
              lines{"t.json: /analytics/forward/0/headers/Authorization: must be a string"});
    EXPECT_EQ(header_problem(R"("Bearer secret")"),
              lines{"t.json: /analytics/forward/0/headers: must be an object of header names "
                    "and string values"});
    EXPECT_EQ(header_problem(R"({"Idempotency-Key": "x"})"),
              lines{"t.json: /analytics/forward/0/headers/Idempotency-Key: is set by the "
                    "forwarder (not allowed: host, content-length, transfer-encoding, "
                    "content-type, idempotency-key, connection)"});
    EXPECT_EQ(header_problem(R"({"X-Token": "a", "x-token": "b"})"),
              lines{"t.json: /analytics/forward/0/headers/x-token: is the same header as "
                    "/analytics/forward/0/headers/X-Token"});
}

TEST(AnalyticsConfig, TimeoutIsBounded) {
    EXPECT_EQ(forward_problems(R"([{"name": "bi", "url": "http://h", "timeout_ms": 5}])"),
              lines{"t.json: /analytics/forward/0/timeout_ms: must be 100-120000 (got 5)"});
}

TEST(ForwardUrl, TakesTheUrlApart) {
    std::string why;
    const auto a = parse_forward_url("HTTPS://BI.example/ingest?k=v", why);
    ASSERT_TRUE(a) << why;
    EXPECT_TRUE(a->tls);
    EXPECT_EQ(a->host, "bi.example");
    EXPECT_EQ(a->port, 443);
    EXPECT_EQ(a->target, "/ingest?k=v");
    EXPECT_EQ(a->host_header, "bi.example");

    const auto b = parse_forward_url("http://127.0.0.1:8080", why);
    ASSERT_TRUE(b) << why;
    EXPECT_FALSE(b->tls);
    EXPECT_EQ(b->port, 8080);
    EXPECT_EQ(b->target, "/");
    EXPECT_EQ(b->host_header, "127.0.0.1:8080");

    const auto c = parse_forward_url("https://[::1]:8443?x", why);
    ASSERT_TRUE(c) << why;
    EXPECT_EQ(c->host, "::1");
    EXPECT_EQ(c->target, "/?x");
    EXPECT_EQ(c->host_header, "[::1]:8443");
}

TEST(ForwardUrl, IdempotencyKeyIsTheDocumentedHash) {
    // printf 'warehouse\ndemo\n2026-12-02' | sha256sum
    EXPECT_EQ(idempotency_key("warehouse", "demo", *parse_day("2026-12-02")),
              "34bbb9f0d4d8985c107fa4c150acbb14d91c0d8eea13b83935ac1c6a90bade0b");
    EXPECT_NE(idempotency_key("warehouse", "demo", *parse_day("2026-12-03")),
              idempotency_key("warehouse", "demo", *parse_day("2026-12-02")));
}

}  // namespace
}  // namespace cg::analytics
