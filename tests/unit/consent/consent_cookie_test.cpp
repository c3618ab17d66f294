#include "consent/consent_cookie.hpp"

#include <gtest/gtest.h>

namespace cg::consent {
namespace {

const std::string key_a(32, 'a');
const std::string key_b = "another secret that is long enough!!";

consent_state analytics_state() {
    consent_state s;
    s.id = "AAAAAAAAAAAAAAAAAAAAAA";
    s.granted = {category::necessary, category::analytics};
    s.policy_version = "2026-11";
    s.issued = 1'800'000'000;
    s.kind = decision_kind::custom;
    return s;
}

cookie_check check_at(std::int64_t now) {
    return cookie_check{.site = "demo",
                        .policy_version = "2026-11",
                        .lifetime_seconds = 365 * 86400,
                        .now = now,
                        .offered = category_set::all()};
}

TEST(ConsentCookie, RoundTripsEveryField) {
    const key_ring keys({key_a});
    const auto value = encode_consent(analytics_state(), "demo", keys);

    const auto decoded = decode_consent(value, check_at(1'800'000'100), keys);

    ASSERT_TRUE(decoded.has_value()) << decoded.error().message();
    EXPECT_EQ(decoded->id, "AAAAAAAAAAAAAAAAAAAAAA");
    EXPECT_EQ(decoded->granted, (category_set{category::necessary, category::analytics}));
    EXPECT_EQ(decoded->policy_version, "2026-11");
    EXPECT_EQ(decoded->issued, 1'800'000'000);
    EXPECT_EQ(decoded->kind, decision_kind::custom);
}

TEST(ConsentCookie, MacIsHmacSha256OfTheDomainTheSiteAndThePayload) {
    // Known answer, checked with `openssl dgst -sha256 -mac HMAC` over
    // "cg-consent" NUL "demo" NUL payload: cookies already issued must keep verifying.
    auto s = analytics_state();
    s.policy_version = "7";
    const key_ring keys({key_a});

    EXPECT_EQ(encode_consent(s, "demo", keys),
              "1.AAAAAAAAAAAAAAAAAAAAAA.5.c.1800000000.7.O6P19D."
              "w9tFPV8dyIxXWqx23xIaneorMhTOSTdOB0U8bHySpXU");
}

TEST(ConsentCookie, ValueUsesOnlyCookieOctets) {
    const key_ring keys({key_a});
    const auto value = encode_consent(analytics_state(), "demo", keys);
    for (const char c : value) {
        // RFC 6265 §4.1.1 cookie-octet, and no '=' or ';' that a naive parser would split on.
        EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_')
            << value;
    }
    EXPECT_LT(value.size(), 140U);
}

TEST(ConsentCookie, RejectsEveryTamperedCharacter) {
    const key_ring keys({key_a});
    const auto value = encode_consent(analytics_state(), "demo", keys);
    for (std::size_t i = 0; i < value.size(); ++i) {
        std::string tampered = value;
        tampered[i] = tampered[i] == 'f' ? 'e' : 'f';
        EXPECT_FALSE(decode_consent(tampered, check_at(1'800'000'100), keys).has_value())
            << "position " << i << ": " << tampered;
    }
}

TEST(ConsentCookie, GrantingMoreByEditingTheCategoriesFails) {
    const key_ring keys({key_a});
    auto value = encode_consent(analytics_state(), "demo", keys);
    const auto at = value.find(".5.");  // necessary|analytics = 0b0101
    ASSERT_NE(at, std::string::npos);
    value[at + 1] = 'f';
    EXPECT_EQ(decode_consent(value, check_at(1'800'000'100), keys).error(), errc::bad_signature);
}

TEST(ConsentCookie, IsWorthNothingOnAnotherSite) {
    const key_ring keys({key_a});
    const auto value = encode_consent(analytics_state(), "demo", keys);
    auto other = check_at(1'800'000'100);
    other.site = "shop";
    EXPECT_EQ(decode_consent(value, other, keys).error(), errc::bad_signature);
}

TEST(ConsentCookie, OldKeysStillVerifyAfterRotation) {
    const auto value = encode_consent(analytics_state(), "demo", key_ring({key_a}));
    const key_ring rotated({key_b, key_a});

    EXPECT_TRUE(decode_consent(value, check_at(1'800'000'100), rotated).has_value());
    const auto fresh = encode_consent(analytics_state(), "demo", rotated);
    EXPECT_EQ(decode_consent(fresh, check_at(1'800'000'100), key_ring({key_a})).error(),
              errc::unknown_key);
}

TEST(ConsentCookie, RemovedKeyMeansNoDecision) {
    const auto value = encode_consent(analytics_state(), "demo", key_ring({key_a}));
    EXPECT_EQ(decode_consent(value, check_at(1'800'000'100), key_ring({key_b})).error(),
              errc::unknown_key);
}

TEST(ConsentCookie, ExpiresAfterTheLifetime) {
    const key_ring keys({key_a});
    const auto value = encode_consent(analytics_state(), "demo", keys);
    EXPECT_TRUE(decode_consent(value, check_at(1'800'000'000 + 365 * 86400 - 1), keys));
    EXPECT_EQ(decode_consent(value, check_at(1'800'000'000 + 365 * 86400), keys).error(),
              errc::expired);
}

TEST(ConsentCookie, IssuedFarInTheFutureIsRefused) {
    const key_ring keys({key_a});
    const auto value = encode_consent(analytics_state(), "demo", keys);
    EXPECT_EQ(decode_consent(value, check_at(1'800'000'000 - 3600), keys).error(), errc::expired);
    EXPECT_TRUE(decode_consent(value, check_at(1'800'000'000 - 60), keys));  // clock skew
}

TEST(ConsentCookie, AnotherPolicyVersionMeansNoDecision) {
    const key_ring keys({key_a});
    const auto value = encode_consent(analytics_state(), "demo", keys);
    auto check = check_at(1'800'000'100);
    check.policy_version = "2027-01";
    EXPECT_EQ(decode_consent(value, check, keys).error(), errc::old_policy);
}

TEST(ConsentCookie, PolicyVersionsMayContainDots) {
    const key_ring keys({key_a});
    auto state = analytics_state();
    state.policy_version = "1.2.3";
    auto check = check_at(1'800'000'100);
    check.policy_version = "1.2.3";
    const auto decoded = decode_consent(encode_consent(state, "demo", keys), check, keys);
    ASSERT_TRUE(decoded);
    EXPECT_EQ(decoded->policy_version, "1.2.3");
}

TEST(ConsentCookie, CategoryTheSiteNoLongerOffersMeansNoDecision) {
    const key_ring keys({key_a});
    const auto value = encode_consent(analytics_state(), "demo", keys);
    auto check = check_at(1'800'000'100);
    check.offered = {category::necessary, category::marketing};
    EXPECT_EQ(decode_consent(value, check, keys).error(), errc::unknown_category);
}

TEST(ConsentCookie, GarbageIsMalformedNotACrash) {
    const key_ring keys({key_a});
    const std::vector<std::string> garbage{"",
                                           ".",
                                           "1",
                                           "1.......",
                                           "x.AAAAAAAAAAAAAAAAAAAAAA.5.c.1.p.k.m",
                                           std::string(10000, '.'),
                                           std::string(300, 'a'),
                                           std::string("1.\0\0\0", 5)};
    for (const auto& v : garbage) {
        const auto r = decode_consent(v, check_at(1'800'000'100), keys);
        EXPECT_FALSE(r.has_value());
    }
}

TEST(ConsentCookie, ShortKeysAreRefused) {
    EXPECT_THROW(key_ring({"too short"}), std::invalid_argument);
    EXPECT_THROW(key_ring(std::vector<std::string>{}), std::invalid_argument);
}

TEST(ConsentCookie, RandomIdsAreDistinctAndWellFormed) {
    const auto a = new_consent_id();
    const auto b = new_consent_id();
    EXPECT_EQ(a.size(), 22U);
    EXPECT_NE(a, b);
    const auto r = key_ring::random();
    EXPECT_EQ(r.size(), 1U);
}

TEST(ConsentCookie, ARetiredKeyProvesIdentityButNeverConsent) {
    const auto value = encode_consent(analytics_state(), "demo", key_ring({key_a}));
    const key_ring rotated({key_b}, {key_a});

    EXPECT_EQ(decode_consent(value, check_at(1'800'000'100), rotated).error(),
              make_error_code(errc::unknown_key));
    const auto who = decode_consent(value, check_at(1'800'000'100), rotated, key_use::identity);
    ASSERT_TRUE(who.has_value());
    EXPECT_EQ(who->id, analytics_state().id);
    EXPECT_EQ(rotated.size(), 1U);
    EXPECT_EQ(rotated.retired_size(), 1U);
}

TEST(ConsentCookie, ARetiredKeyNeverSigns) {
    const key_ring rotated({key_b}, {key_a});
    const auto value = encode_consent(analytics_state(), "demo", rotated);

    EXPECT_TRUE(decode_consent(value, check_at(1'800'000'100), key_ring({key_b})).has_value());
    EXPECT_FALSE(
        decode_consent(value, check_at(1'800'000'100), key_ring({key_a}), key_use::identity)
            .has_value());
}

TEST(ConsentCookie, RefusesAShortRetiredKey) {
    EXPECT_THROW(key_ring({key_a}, {"too short"}), std::invalid_argument);
}

}  // namespace
}  // namespace cg::consent
