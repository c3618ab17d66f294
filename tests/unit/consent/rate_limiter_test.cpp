#include "consent/rate_limiter.hpp"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <boost/asio/ip/address.hpp>

namespace cg::consent {
namespace {

using boost::asio::ip::make_address;
using namespace std::chrono_literals;

constexpr std::int64_t t0 = 1'800'000'000'000;  // unix ms

TEST(RateLimiter, DefaultsAllowTwentyDecisionsPerConsentIdAndSixHundredPerAddress) {
    const rate_limits defaults;
    EXPECT_EQ(defaults.per_consent_id, 20U);
    EXPECT_EQ(defaults.per_address, 600U);
}

TEST(RateLimiter, RefusesTheRequestBeyondTheLimitWithRetryAfter) {
    rate_limiter limiter{{.per_consent_id = 3, .per_address = 0}};
    for (int i = 0; i < 3; ++i) {
        EXPECT_TRUE(limiter.take_consent_id("AAAAAAAAAAAAAAAAAAAAAA", t0).allowed) << i;
    }
    const auto refused = limiter.take_consent_id("AAAAAAAAAAAAAAAAAAAAAA", t0);
    EXPECT_FALSE(refused.allowed);
    EXPECT_EQ(refused.retry_after, 20s);  // 3 a minute: one more every 20 seconds
}

TEST(RateLimiter, RefillsEvenlyOverTheMinute) {
    rate_limiter limiter{{.per_consent_id = 0, .per_address = 60}};
    const auto a = make_address("192.0.2.7");
    for (int i = 0; i < 60; ++i) {
        ASSERT_TRUE(limiter.take_address(a, t0).allowed) << i;
    }
    EXPECT_FALSE(limiter.take_address(a, t0).allowed);
    EXPECT_EQ(limiter.take_address(a, t0 + 400).retry_after, 1s);
    EXPECT_TRUE(limiter.take_address(a, t0 + 1000).allowed);
    EXPECT_FALSE(limiter.take_address(a, t0 + 1000).allowed);
    EXPECT_TRUE(limiter.take_address(a, t0 + 61'000).allowed);
}

TEST(RateLimiter, CountsEachAddressAndEachConsentIdOnItsOwn) {
    rate_limiter limiter{{.per_consent_id = 1, .per_address = 1}};
    EXPECT_TRUE(limiter.take_address(make_address("192.0.2.7"), t0).allowed);
    EXPECT_FALSE(limiter.take_address(make_address("192.0.2.7"), t0).allowed);
    EXPECT_TRUE(limiter.take_address(make_address("192.0.2.8"), t0).allowed);
    EXPECT_TRUE(limiter.take_consent_id("AAAAAAAAAAAAAAAAAAAAAA", t0).allowed);
    EXPECT_FALSE(limiter.take_consent_id("AAAAAAAAAAAAAAAAAAAAAA", t0).allowed);
    EXPECT_TRUE(limiter.take_consent_id("BAAAAAAAAAAAAAAAAAAAAA", t0).allowed);
}

TEST(RateLimiter, CountsAnIpv6ClientPerSlash64AndAMappedIpv4AsIpv4) {
    rate_limiter limiter{{.per_consent_id = 0, .per_address = 1}};
    EXPECT_TRUE(limiter.take_address(make_address("2001:db8:1:2::1"), t0).allowed);
    EXPECT_FALSE(limiter.take_address(make_address("2001:db8:1:2:ffff::9"), t0).allowed);
    EXPECT_TRUE(limiter.take_address(make_address("2001:db8:1:3::1"), t0).allowed);
    EXPECT_TRUE(limiter.take_address(make_address("::ffff:192.0.2.7"), t0).allowed);
    EXPECT_FALSE(limiter.take_address(make_address("192.0.2.7"), t0).allowed);
}

TEST(RateLimiter, ZeroSwitchesALimitOff) {
    rate_limiter limiter{{.per_consent_id = 0, .per_address = 0}};
    for (int i = 0; i < 10'000; ++i) {
        ASSERT_TRUE(limiter.take_address(make_address("192.0.2.7"), t0).allowed);
        ASSERT_TRUE(limiter.take_consent_id("AAAAAAAAAAAAAAAAAAAAAA", t0).allowed);
    }
}

TEST(RateLimiter, AClockThatGoesBackRefillsNothing) {
    rate_limiter limiter{{.per_consent_id = 1, .per_address = 0}};
    EXPECT_TRUE(limiter.take_consent_id("AAAAAAAAAAAAAAAAAAAAAA", t0).allowed);
    EXPECT_FALSE(limiter.take_consent_id("AAAAAAAAAAAAAAAAAAAAAA", t0 - 3'600'000).allowed);
    EXPECT_FALSE(limiter.take_consent_id("AAAAAAAAAAAAAAAAAAAAAA", t0 + 30'000).allowed);
    EXPECT_TRUE(limiter.take_consent_id("AAAAAAAAAAAAAAAAAAAAAA", t0 + 60'000).allowed);
}

// The table has a fixed size: a flood of new keys evicts old buckets (the limiter forgets and
// gets more lenient) but never grows, and never refuses a key it has not seen.
TEST(RateLimiter, AFloodOfNewKeysNeitherGrowsMemoryNorBlocksOthers) {
    rate_limiter limiter{{.per_consent_id = 2, .per_address = 0}, 512};
    for (int i = 0; i < 100'000; ++i) {
        ASSERT_TRUE(limiter.take_consent_id("id-" + std::to_string(i), t0).allowed) << i;
    }
    EXPECT_TRUE(limiter.take_consent_id("someone else", t0).allowed);
}

TEST(RateLimiter, IsSharedSafelyBetweenThreads) {
    rate_limiter limiter{{.per_consent_id = 1000, .per_address = 0}};
    std::atomic<int> allowed{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 500; ++i) {
                if (limiter.take_consent_id("shared", t0).allowed) {
                    ++allowed;
                }
            }
        });
    }
    for (auto& t : threads) {
        t.join();
    }
    EXPECT_EQ(allowed.load(), 1000);
}

}  // namespace
}  // namespace cg::consent
