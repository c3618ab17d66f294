#include "consent/revocations.hpp"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace cg::consent {
namespace {

constexpr std::int64_t now = 1'800'000'000;

TEST(Revocations, EmptySetRevokesNothing) {
    const revocations r;
    EXPECT_FALSE(r.revoked("Consent0000000000000001"));
    EXPECT_EQ(r.size(), 0U);
}

TEST(Revocations, AddedIdIsRevokedAndOthersAreNot) {
    revocations r;
    EXPECT_TRUE(r.add("Consent0000000000000001", now + 3600));
    EXPECT_TRUE(r.revoked("Consent0000000000000001"));
    EXPECT_FALSE(r.revoked("Consent0000000000000002"));
    EXPECT_EQ(r.size(), 1U);
}

TEST(Revocations, AddingAnIdAgainKeepsTheLaterTime) {
    revocations r;
    r.add("Consent0000000000000001", now + 7200);
    r.add("Consent0000000000000001", now + 60);
    EXPECT_EQ(r.size(), 1U);

    r.expire(now + 3600);

    EXPECT_TRUE(r.revoked("Consent0000000000000001"));
}

TEST(Revocations, ExpireForgetsIdsWhoseCookiesHaveExpired) {
    revocations r;
    r.add("Consent0000000000000001", now + 10);
    r.add("Consent0000000000000002", now + 20);
    r.add("Consent0000000000000003", now + 30);

    r.expire(now + 20);

    EXPECT_FALSE(r.revoked("Consent0000000000000001"));
    EXPECT_FALSE(r.revoked("Consent0000000000000002"));
    EXPECT_TRUE(r.revoked("Consent0000000000000003"));
    EXPECT_EQ(r.size(), 1U);
}

TEST(Revocations, RefusesATimeAlreadyExpired) {
    revocations r;
    r.expire(now);
    EXPECT_FALSE(r.add("Consent0000000000000001", now));
    EXPECT_FALSE(r.revoked("Consent0000000000000001"));
    EXPECT_TRUE(r.add("Consent0000000000000001", now + 1));
}

TEST(Revocations, WhenFullDropsTheIdThatExpiresFirst) {
    revocations r{2};
    r.add("Consent0000000000000001", now + 30);
    r.add("Consent0000000000000002", now + 10);

    EXPECT_TRUE(r.add("Consent0000000000000003", now + 20));

    EXPECT_TRUE(r.revoked("Consent0000000000000001"));
    EXPECT_FALSE(r.revoked("Consent0000000000000002"));
    EXPECT_TRUE(r.revoked("Consent0000000000000003"));
    EXPECT_EQ(r.size(), 2U);
    EXPECT_EQ(r.dropped(), 1U);
}

TEST(Revocations, WhenFullANewcomerThatExpiresFirstIsNotKept) {
    revocations r{2};
    r.add("Consent0000000000000001", now + 30);
    r.add("Consent0000000000000002", now + 20);

    EXPECT_FALSE(r.add("Consent0000000000000003", now + 10));

    EXPECT_FALSE(r.revoked("Consent0000000000000003"));
    EXPECT_EQ(r.size(), 2U);
    EXPECT_EQ(r.dropped(), 1U);
}

TEST(Revocations, LaterTimeMovesAnIdOutOfTheWayOfEviction) {
    revocations r{2};
    r.add("Consent0000000000000001", now + 10);
    r.add("Consent0000000000000002", now + 20);
    r.add("Consent0000000000000001", now + 40);

    r.add("Consent0000000000000003", now + 30);

    EXPECT_TRUE(r.revoked("Consent0000000000000001"));
    EXPECT_FALSE(r.revoked("Consent0000000000000002"));
}

TEST(Revocations, ManyIdsExpireInOrder) {
    revocations r;
    for (int i = 0; i < 10'000; ++i) {
        r.add("id-" + std::to_string(i), now + i);
    }
    r.expire(now + 4'999);
    EXPECT_EQ(r.size(), 5'000U);
    EXPECT_FALSE(r.revoked("id-4999"));
    EXPECT_TRUE(r.revoked("id-5000"));
}

TEST(Revocations, ReadersAndAWriterShareTheSetSafely) {
    revocations r;
    std::thread writer{[&] {
        for (int i = 0; i < 20'000; ++i) {
            r.add("id-" + std::to_string(i), now + i);
            if (i % 1000 == 0) {
                r.expire(now + i / 2);
            }
        }
    }};
    std::size_t seen = 0;
    for (int i = 0; i < 20'000; ++i) {
        seen += r.revoked("id-19999") ? 1U : 0U;
    }
    writer.join();
    EXPECT_TRUE(r.revoked("id-19999"));
    EXPECT_LE(seen, 20'000U);
}

}  // namespace
}  // namespace cg::consent
