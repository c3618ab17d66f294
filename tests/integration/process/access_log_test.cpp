#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "gateway_process.hpp"
#include "support/raw_client.hpp"
#include "support/test_upstream.hpp"

namespace {

using namespace std::chrono_literals;
using cg::test::gateway_config;
using cg::test::gateway_process;
using cg::test::raw_client;
using cg::test::temp_dir;
using cg::test::test_upstream;
using nlohmann::json;

TEST(AccessLog, RequestLinesCarryPathStatusAndSiteButNoPersonalData) {
    test_upstream upstream;
    temp_dir dir{"cg-access-log"};
    cg::test::gateway_settings settings;
    settings.upstream_port = upstream.port();
    gateway_process gateway{dir, gateway_config(settings)};
    ASSERT_TRUE(gateway.wait_ready()) << gateway.output();
    raw_client client{gateway.proxy_port()};
    ASSERT_FALSE(
        client.send("GET /echo?email=a@b.no HTTP/1.1\r\n"
                    "Host: site.test\r\n"
                    "Cookie: session=SECRETVALUE\r\n"
                    "User-Agent: UniqueAgent/1.0\r\n"
                    "X-Forwarded-For: 203.0.113.9\r\n"
                    "\r\n"));
    const auto res = client.read_response();
    ASSERT_EQ(res.status, 200U) << res.ec.message();
    client.close();
    // Access lines are batched but flushed a few times a second, not only at exit.
    EXPECT_TRUE(gateway.child().wait_for_stdout("\"msg\":\"request\"", 1s)) << gateway.output();

    ASSERT_EQ(gateway.stop(), 0) << gateway.output();
    const std::string out = gateway.child().stdout_text();
    const std::string err = gateway.child().stderr_text();

    std::vector<json> requests;
    for (const auto& line : cg::test::lines_of(out)) {
        const auto entry = json::parse(line, nullptr, /*allow_exceptions=*/false);
        ASSERT_TRUE(entry.is_object()) << "not a JSON object: " << line;
        if (entry.value("msg", "") == "request") {
            requests.push_back(entry);
            EXPECT_EQ(line.find("127.0.0.1"), std::string::npos) << line;
        }
    }
    ASSERT_EQ(requests.size(), 1U) << out;
    EXPECT_EQ(requests[0].value("path", ""), "/echo");
    EXPECT_EQ(requests[0].value("status", 0), 200);
    EXPECT_EQ(requests[0].value("site", ""), "a");
    EXPECT_EQ(requests[0].value("method", ""), "GET");
    for (const std::string secret : {"a@b.no", "SECRETVALUE", "UniqueAgent", "203.0.113.9"}) {
        EXPECT_EQ(out.find(secret), std::string::npos) << secret << " in stdout:\n" << out;
        EXPECT_EQ(err.find(secret), std::string::npos) << secret << " in stderr:\n" << err;
    }
}

}  // namespace
