#include "banner/rewrite_cache.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {

using cg::banner::rewrite_cache;

TEST(RewriteCache, GivesBackTheOutputForTheSameKeyAndBody) {
    rewrite_cache cache{1 << 20};
    EXPECT_EQ(cache.find("k", "<p>page</p>"), nullptr);
    cache.store("k", "<p>page</p>", "<p>page</p><!--banner-->");
    const std::string* hit = cache.find("k", "<p>page</p>");
    ASSERT_NE(hit, nullptr);
    EXPECT_EQ(*hit, "<p>page</p><!--banner-->");
    EXPECT_EQ(cache.find("other key", "<p>page</p>"), nullptr);
}

TEST(RewriteCache, AChangedBodyMissesAndDropsTheOldEntry) {
    rewrite_cache cache{1 << 20};
    cache.store("k", "<p>one</p>", "out one");
    EXPECT_EQ(cache.find("k", "<p>two</p>"), nullptr);
    EXPECT_EQ(cache.find("k", "<p>one</p>"), nullptr);  // dropped: the page moved on
    EXPECT_EQ(cache.entries(), 0U);
    EXPECT_EQ(cache.bytes(), 0U);
    // A body that differs only in its last byte, or is a prefix, is another body.
    cache.store("k", "abc", "x");
    EXPECT_EQ(cache.find("k", "abd"), nullptr);
    cache.store("k", "abc", "x");
    EXPECT_EQ(cache.find("k", "ab"), nullptr);
}

TEST(RewriteCache, StoringAKeyAgainReplacesIt) {
    rewrite_cache cache{1 << 20};
    cache.store("k", "body", "first");
    cache.store("k", "body", "second");
    EXPECT_EQ(cache.entries(), 1U);
    EXPECT_EQ(*cache.find("k", "body"), "second");
    EXPECT_EQ(cache.bytes(), std::string{"k"}.size() + 4 + 6);
}

TEST(RewriteCache, DropsTheLeastRecentlyUsedOverTheBound) {
    rewrite_cache cache{800};  // entries up to 100 bytes
    const std::string body(40, 'b');
    for (char k = 'a'; k < 'a' + 8; ++k) {
        cache.store(std::string(1, k), body, std::string(50, k));  // 91 bytes each
    }
    EXPECT_EQ(cache.entries(), 8U);
    ASSERT_NE(cache.find("a", body), nullptr);  // "a" is now the most recent; "b" the least
    cache.store("i", body, std::string(50, 'i'));
    EXPECT_LE(cache.bytes(), 800U);
    EXPECT_EQ(cache.find("b", body), nullptr);
    EXPECT_NE(cache.find("a", body), nullptr);
    EXPECT_NE(cache.find("i", body), nullptr);
}

TEST(RewriteCache, KeepsNothingLargerThanAnEighthOfTheBound) {
    rewrite_cache cache{800};
    cache.store("k", std::string(60, 'b'), std::string(60, 'o'));
    EXPECT_EQ(cache.find("k", std::string(60, 'b')), nullptr);
    EXPECT_EQ(cache.bytes(), 0U);
    rewrite_cache none{0};
    none.store("k", "b", "o");
    EXPECT_EQ(none.find("k", "b"), nullptr);
}

}  // namespace
