#include "admin_auth.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <future>
#include <regex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <openssl/evp.h>

namespace cg::gateway {
namespace {

using namespace std::chrono_literals;
using time_point = std::chrono::steady_clock::time_point;

// Test hashes use the lowest accepted count: a tenth of the cost of a real one.
constexpr unsigned test_iterations = min_password_iterations;

const time_point t0 = time_point{} + 24h;

std::string hex(std::span<const unsigned char> bytes) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (const auto b : bytes) {
        out += digits[b >> 4];
        out += digits[b & 15];
    }
    return out;
}

login_limiter::client_key client(unsigned char n) {
    login_limiter::client_key k{};
    k[15] = n;
    return k;
}

// --- Password hashes --------------------------------------------------------------------------

TEST(PasswordHash, Pbkdf2MatchesTheRfc7914Vector) {
    // RFC 7914 §11: PBKDF2-HMAC-SHA256 (P="passwd", S="salt", c=1), the first 32 bytes.
    const std::string_view salt = "salt";
    const auto out = pbkdf2_sha256(
        "passwd", {reinterpret_cast<const unsigned char*>(salt.data()), salt.size()}, 1);
    EXPECT_EQ(hex(out), "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc");
}

TEST(PasswordHash, HasTheDocumentedFormat) {
    const auto h = hash_password("correct horse battery staple");

    EXPECT_TRUE(std::regex_match(
        h, std::regex(R"(pbkdf2-sha256\$600000\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43})")))
        << h;
    EXPECT_EQ(password_hash_iterations(h), 600000U);
}

TEST(PasswordHash, VerifiesTheRightPasswordOnly) {
    const auto h = hash_password("correct horse", test_iterations);

    EXPECT_TRUE(verify_password("correct horse", h));
    EXPECT_FALSE(verify_password("correct hors", h));
    EXPECT_FALSE(verify_password("correct horse ", h));
    EXPECT_FALSE(verify_password("Correct horse", h));
    EXPECT_FALSE(verify_password("", h));
}

TEST(PasswordHash, SaltsEveryHash) {
    EXPECT_NE(hash_password("same", test_iterations), hash_password("same", test_iterations));
}

TEST(PasswordHash, VerifiesPasswordsWithAnyBytes) {
    const std::string odd = std::string("pass\0word æøå", 15) + "\xff";
    const auto h = hash_password(odd, test_iterations);
    EXPECT_TRUE(verify_password(odd, h));
    EXPECT_FALSE(verify_password("pass", h));
}

TEST(PasswordHash, RefusesPasswordsOverTheLimitAtVerification) {
    const std::string longest(max_password_bytes, 'x');
    const std::string too_long(max_password_bytes + 1, 'x');
    EXPECT_TRUE(verify_password(longest, hash_password(longest, test_iterations)));
    EXPECT_FALSE(verify_password(too_long, hash_password(too_long, test_iterations)));
}

TEST(PasswordHash, RefusesIterationCountsOutsideTheRange) {
    EXPECT_THROW(hash_password("x", min_password_iterations - 1), std::invalid_argument);
    EXPECT_THROW(hash_password("x", max_password_iterations + 1), std::invalid_argument);
    EXPECT_THROW(dummy_password_hash(1), std::invalid_argument);
}

TEST(PasswordHash, DummyHashIsWellFormedAndMatchesNothing) {
    const auto d = dummy_password_hash(test_iterations);
    EXPECT_EQ(password_hash_problem(d), std::nullopt);
    EXPECT_EQ(password_hash_iterations(d), test_iterations);
    EXPECT_FALSE(verify_password("", d));
    EXPECT_FALSE(verify_password("password", d));
}

constexpr std::string_view salt22 = "c2FsdHNhbHRzYWx0c2FsdA";                       // 16 bytes
constexpr std::string_view hash43 = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";  // 32 bytes

std::string stored(std::string_view iterations, std::string_view salt = salt22,
                   std::string_view hash = hash43) {
    return "pbkdf2-sha256$" + std::string(iterations) + "$" + std::string(salt) + "$" +
           std::string(hash);
}

TEST(PasswordHash, AcceptsEveryIterationCountInTheRange) {
    EXPECT_EQ(password_hash_problem(stored("100000")), std::nullopt);
    EXPECT_EQ(password_hash_problem(stored("10000000")), std::nullopt);
    EXPECT_EQ(password_hash_iterations(stored("10000000")), 10'000'000U);
    // A longer salt (64 bytes) from another tool is fine too.
    EXPECT_EQ(password_hash_problem(stored("600000", std::string(86, 'A'))), std::nullopt);
}

TEST(PasswordHash, SaysWhatIsWrongWithAMalformedHash) {
    const std::string iterations = "the iteration count must be a whole number 100000-10000000";
    const std::string salt = "the salt must be 16-64 bytes of base64 without padding";
    const std::string hash = "the hash must be 32 bytes of base64 without padding";
    const std::string form = "must have the form pbkdf2-sha256$ITERATIONS$SALT$HASH";
    const std::string scheme = "must start with \"pbkdf2-sha256$\"";
    const std::vector<std::pair<std::string, std::string>> cases{
        {"", scheme},
        {"hunter2", scheme},
        {"pbkdf2-sha1$100000$" + std::string(salt22) + "$" + std::string(hash43), scheme},
        {"PBKDF2-SHA256$100000$" + std::string(salt22) + "$" + std::string(hash43), scheme},
        {"pbkdf2-sha256$", form},
        {"pbkdf2-sha256$100000$" + std::string(salt22), form},
        {stored("100000") + "$extra", form},
        {stored("99999"), iterations},
        {stored("10000001"), iterations},
        {stored("0100000"), iterations},
        {stored("+100000"), iterations},
        {stored("1e6"), iterations},
        {stored("99999999999999999999"), iterations},
        {stored(""), iterations},
        {stored("100000", ""), salt},
        {stored("100000", "c2FsdA"), salt},                    // 4 bytes
        {stored("100000", std::string(salt22) + "=="), salt},  // padding
        {stored("100000", "c2FsdHNhbHRzYWx0c2FsdB"), salt},    // non-zero unused bits
        {stored("100000", "c2FsdHNhbHRz-Wx0c2FsdA"), salt},    // base64url, not base64
        {stored("100000", std::string(87, 'A')), salt},        // 65 bytes
        {stored("100000", salt22, ""), hash},
        {stored("100000", salt22, std::string(hash43) + "="), hash},
        {stored("100000", salt22, std::string(42, 'A')), hash},  // 31 bytes
        {stored("100000", salt22, std::string(44, 'A')), hash},  // 33 bytes
        {stored("100000", salt22, std::string(42, 'A') + "B"), hash},
        {stored("100000", salt22, std::string(42, 'A') + "\n"), hash},
    };
    for (const auto& [text, why] : cases) {
        EXPECT_EQ(password_hash_problem(text), why) << text;
        EXPECT_EQ(password_hash_iterations(text), std::nullopt) << text;
        EXPECT_FALSE(verify_password("", text)) << text;
    }
}

TEST(UserName, AllowsLettersDigitsAndDotUnderscoreAtHyphen) {
    EXPECT_TRUE(is_user_name("anna"));
    EXPECT_TRUE(is_user_name("Anna.Berg_2@example-no"));
    EXPECT_TRUE(is_user_name(std::string(64, 'a')));
    EXPECT_FALSE(is_user_name(""));
    EXPECT_FALSE(is_user_name(std::string(65, 'a')));
    EXPECT_FALSE(is_user_name("anna berg"));
    EXPECT_FALSE(is_user_name("anna:x"));
    EXPECT_FALSE(is_user_name("åse"));
}

// --- Sessions ---------------------------------------------------------------------------------

std::string sha256_hex(std::string_view s) {
    std::array<unsigned char, 32> d{};
    unsigned n = 0;
    EVP_Digest(s.data(), s.size(), d.data(), &n, EVP_sha256(), nullptr);
    return hex(d);
}

TEST(SessionTable, HandsOutA32ByteBase64urlToken) {
    session_table t;
    const auto token = t.create("anna", admin_user_role::marketing, t0);

    ASSERT_TRUE(token);
    EXPECT_TRUE(std::regex_match(*token, std::regex("[A-Za-z0-9_-]{43}"))) << *token;
    EXPECT_TRUE(is_session_token(*token));
    EXPECT_NE(*t.create("anna", admin_user_role::marketing, t0), *token);
}

TEST(SessionTable, FindsTheUserAndRoleOfAToken) {
    session_table t;
    const auto anna = *t.create("anna", admin_user_role::marketing, t0);
    const auto ola = *t.create("ola", admin_user_role::admin, t0);

    const auto* s = t.find(anna, t0 + 1s);
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(s->user, "anna");
    EXPECT_EQ(s->role, admin_user_role::marketing);
    ASSERT_NE(t.find(ola, t0 + 1s), nullptr);
    EXPECT_EQ(t.find(ola, t0 + 1s)->role, admin_user_role::admin);
}

TEST(SessionTable, KeepsOnlyTheSha256OfTheToken) {
    session_table t;
    const auto token = *t.create("anna", admin_user_role::marketing, t0);

    const auto* s = t.find(token, t0);
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(hex(s->digest), sha256_hex(token));
}

TEST(SessionTable, RefusesAnAlteredOrMalformedToken) {
    session_table t;
    const auto token = *t.create("anna", admin_user_role::admin, t0);
    std::string altered = token;
    altered[10] = altered[10] == 'A' ? 'B' : 'A';

    EXPECT_EQ(t.find(altered, t0), nullptr);
    EXPECT_EQ(t.find(token.substr(0, 42), t0), nullptr);
    EXPECT_EQ(t.find(token + "A", t0), nullptr);
    EXPECT_EQ(t.find("", t0), nullptr);
    EXPECT_EQ(t.find(std::string(43, '='), t0), nullptr);
    EXPECT_NE(t.find(token, t0), nullptr);
}

TEST(SessionTable, EndsAfterThirtyIdleMinutes) {
    session_table t;
    const auto token = *t.create("anna", admin_user_role::marketing, t0);

    EXPECT_NE(t.find(token, t0 + 29min), nullptr);
    EXPECT_NE(t.find(token, t0 + 58min), nullptr);  // the idle timer restarted at 29 min
    EXPECT_EQ(t.find(token, t0 + 88min), nullptr);
    EXPECT_EQ(t.size(), 0U);
    EXPECT_EQ(t.find(token, t0 + 89min), nullptr);
}

TEST(SessionTable, EndsEightHoursAfterLogInHoweverActive) {
    session_table t;
    const auto token = *t.create("anna", admin_user_role::marketing, t0);
    for (auto at = t0; at < t0 + 8h; at += 20min) {
        ASSERT_NE(t.find(token, at), nullptr);
    }
    EXPECT_NE(t.find(token, t0 + 8h - 1s), nullptr);
    EXPECT_EQ(t.find(token, t0 + 8h), nullptr);
}

TEST(SessionTable, DropsTheOldestSessionBeyondAThousand) {
    session_table t;
    std::vector<std::string> tokens;
    for (int i = 0; i < 1001; ++i) {
        tokens.push_back(*t.create("u" + std::to_string(i), admin_user_role::marketing,
                                   t0 + std::chrono::seconds(i)));
    }
    const auto now = t0 + 1001s;
    EXPECT_EQ(t.size(), 1000U);
    EXPECT_EQ(t.find(tokens[0], now), nullptr);
    ASSERT_NE(t.find(tokens[1], now), nullptr);
    EXPECT_EQ(t.find(tokens[1], now)->user, "u1");
    EXPECT_NE(t.find(tokens[1000], now), nullptr);
}

TEST(SessionTable, RemoveEndsTheSession) {
    session_table t;
    const auto token = *t.create("anna", admin_user_role::marketing, t0);
    const auto other = *t.create("ola", admin_user_role::admin, t0);

    const auto ended = t.remove(token);
    ASSERT_TRUE(ended);
    EXPECT_EQ(ended->user, "anna");
    EXPECT_EQ(t.find(token, t0), nullptr);
    EXPECT_FALSE(t.remove(token));
    EXPECT_NE(t.find(other, t0), nullptr);
}

TEST(SessionTable, UsesTheConfiguredTimeouts) {
    session_table t{session_limits{10, 5s, 20s}};
    const auto token = *t.create("anna", admin_user_role::marketing, t0);
    EXPECT_NE(t.find(token, t0 + 4s), nullptr);
    EXPECT_EQ(t.find(token, t0 + 9s), nullptr);
}

// --- Failed log-ins ---------------------------------------------------------------------------

TEST(LoginLimiter, RefusesTheSixthAttemptWithinFifteenMinutes) {
    login_limiter l;
    for (int i = 0; i < 5; ++i) {
        EXPECT_EQ(l.begin("anna", client(1), t0 + std::chrono::minutes(i)), 0s) << i;
    }
    // The oldest failure (t0) leaves the window at t0 + 15 min.
    EXPECT_EQ(l.begin("anna", client(1), t0 + 5min), 600s);
    EXPECT_EQ(l.begin("anna", client(1), t0 + 15min - 1500ms), 2s);
    EXPECT_EQ(l.user_failures("anna", t0 + 10min), 5U);
}

TEST(LoginLimiter, AllowsAnAttemptOnceTheOldestFailureLeavesTheWindow) {
    login_limiter l;
    for (int i = 0; i < 5; ++i) {
        l.begin("anna", client(1), t0 + std::chrono::minutes(i));
    }
    EXPECT_EQ(l.begin("anna", client(1), t0 + 15min), 0s);
    // Now t0+1..t0+4 and t0+15: limited until t0+1 leaves.
    EXPECT_EQ(l.begin("anna", client(1), t0 + 15min), 60s);
}

TEST(LoginLimiter, LimitsAUserNameWhateverTheClient) {
    login_limiter l;
    for (unsigned char c = 1; c <= 5; ++c) {
        EXPECT_EQ(l.begin("anna", client(c), t0), 0s);
    }
    EXPECT_EQ(l.begin("anna", client(6), t0 + 1s), 15min - 1s);
    EXPECT_EQ(l.begin("ola", client(6), t0 + 1s), 0s);
}

TEST(LoginLimiter, LimitsAClientWhateverTheUserName) {
    login_limiter l;
    for (int i = 0; i < 5; ++i) {
        EXPECT_EQ(l.begin("user" + std::to_string(i), client(1), t0), 0s);
    }
    EXPECT_EQ(l.begin("ola", client(1), t0), 15min);
    EXPECT_EQ(l.begin("ola", client(2), t0), 0s);
}

TEST(LoginLimiter, CountsAnEmptyUserNameForTheClientOnly) {
    login_limiter l;
    for (int i = 0; i < 5; ++i) {
        l.begin("", client(1), t0);
    }
    EXPECT_EQ(l.user_failures("", t0), 0U);
    EXPECT_EQ(l.client_failures(client(1), t0), 5U);
    EXPECT_EQ(l.begin("", client(1), t0), 15min);
}

TEST(LoginLimiter, SaysTheLongerWaitOfUserAndClient) {
    login_limiter l;
    for (int i = 0; i < 5; ++i) {
        l.begin("anna", client(static_cast<unsigned char>(10 + i)),
                t0);  // anna limited until t0+15
    }
    for (int i = 0; i < 5; ++i) {
        l.begin("x" + std::to_string(i), client(1), t0 + 5min);  // client 1 until t0+20
    }
    EXPECT_EQ(l.begin("anna", client(1), t0 + 6min), 14min);
}

TEST(LoginLimiter, WithdrawTakesBackAnAttemptThatSucceeded) {
    login_limiter l;
    l.begin("anna", client(1), t0);
    l.withdraw("anna", client(1), t0);
    EXPECT_EQ(l.user_failures("anna", t0), 0U);
    EXPECT_EQ(l.client_failures(client(1), t0), 0U);
}

TEST(LoginLimiter, ASuccessDoesNotResetOtherFailures) {
    login_limiter l;
    for (int i = 0; i < 4; ++i) {
        l.begin("anna", client(1), t0);  // an attacker's four guesses
    }
    l.begin("anna", client(2), t0 + 1s);  // anna herself, successfully
    l.withdraw("anna", client(2), t0 + 1s);

    EXPECT_EQ(l.user_failures("anna", t0 + 2s), 4U);
    EXPECT_EQ(l.client_failures(client(1), t0 + 2s), 4U);
    l.begin("anna", client(1), t0 + 3s);
    EXPECT_GT(l.begin("anna", client(3), t0 + 4s), 0s);
}

TEST(LoginLimiter, ForgetsTheStalestEntryBeyondTheBound) {
    login_limiter l{login_limits{5, 15min, 3}};
    l.begin("a", client(1), t0);
    l.begin("b", client(2), t0 + 1s);
    l.begin("c", client(3), t0 + 2s);
    l.begin("a", client(1), t0 + 3s);  // a is now the freshest
    l.begin("d", client(4), t0 + 4s);  // b goes

    EXPECT_EQ(l.user_failures("a", t0 + 5s), 2U);
    EXPECT_EQ(l.user_failures("b", t0 + 5s), 0U);
    EXPECT_EQ(l.user_failures("c", t0 + 5s), 1U);
    EXPECT_EQ(l.user_failures("d", t0 + 5s), 1U);
    EXPECT_EQ(l.client_failures(client(2), t0 + 5s), 0U);
}

// --- The verification pool --------------------------------------------------------------------

TEST(VerifyPool, RunsJobsOnAnotherThread) {
    verify_pool pool;
    std::promise<std::thread::id> ran;
    ASSERT_TRUE(pool.try_post([&](bool run) {
        EXPECT_TRUE(run);
        ran.set_value(std::this_thread::get_id());
    }));
    auto f = ran.get_future();
    ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
    EXPECT_NE(f.get(), std::this_thread::get_id());
}

TEST(VerifyPool, RunsAtMostTwoJobsAtOnce) {
    std::atomic<int> running{0};
    std::atomic<int> most{0};
    std::atomic<int> done{0};
    {
        verify_pool pool{2, 8};
        for (int i = 0; i < 6; ++i) {
            ASSERT_TRUE(pool.try_post([&](bool) {
                const int now = ++running;
                int seen = most.load();
                while (now > seen && !most.compare_exchange_weak(seen, now)) {
                }
                std::this_thread::sleep_for(30ms);
                --running;
                ++done;
            }));
        }
        for (int i = 0; i < 500 && done.load() < 6; ++i) {
            std::this_thread::sleep_for(10ms);
        }
    }
    EXPECT_EQ(done.load(), 6);
    EXPECT_EQ(most.load(), 2);
}

TEST(VerifyPool, RefusesAJobWhenEveryThreadIsBusyAndTheQueueIsFull) {
    std::promise<void> release;
    const auto gate = release.get_future().share();
    std::atomic<int> started{0};
    verify_pool pool{2, 1};
    const auto blocker = [&](bool) {
        ++started;
        gate.wait();
    };
    ASSERT_TRUE(pool.try_post(blocker));
    ASSERT_TRUE(pool.try_post(blocker));
    for (int i = 0; i < 500 && started.load() < 2; ++i) {
        std::this_thread::sleep_for(10ms);
    }
    EXPECT_TRUE(pool.try_post([](bool) {}));   // waits
    EXPECT_FALSE(pool.try_post([](bool) {}));  // no room
    release.set_value();
}

TEST(VerifyPool, AnswersWaitingJobsWhenDestroyed) {
    std::promise<void> release;
    std::atomic<bool> started{false};
    std::atomic<int> calls{0};
    bool ran = true;
    std::thread releaser;
    {
        verify_pool pool{1, 4};
        ASSERT_TRUE(pool.try_post([&, gate = release.get_future().share()](bool) {
            started = true;
            gate.wait();
        }));
        for (int i = 0; i < 500 && !started.load(); ++i) {
            std::this_thread::sleep_for(10ms);
        }
        ASSERT_TRUE(pool.try_post([&](bool run) {
            ran = run;
            ++calls;
        }));
        releaser = std::thread([&] {
            std::this_thread::sleep_for(100ms);
            release.set_value();
        });
    }
    releaser.join();
    EXPECT_EQ(calls.load(), 1);
    EXPECT_FALSE(ran);
}

// --- Text helpers -----------------------------------------------------------------------------

TEST(AdminForm, DecodesUrlEncodedFields) {
    using fields = std::vector<std::pair<std::string, std::string>>;
    EXPECT_EQ(parse_form("username=anna&password=p%40ss+w%C3%B8rd&next=%2Fstats%2F"),
              (fields{{"username", "anna"}, {"password", "p@ss wørd"}, {"next", "/stats/"}}));
    EXPECT_EQ(parse_form("a&&b=&=c"), (fields{{"a", ""}, {"b", ""}, {"", "c"}}));
    EXPECT_EQ(parse_form("x=%zz%4&y=%"), (fields{{"x", "%zz%4"}, {"y", "%"}}));
    EXPECT_EQ(parse_form(""), fields{});
}

TEST(AdminForm, PercentEncodesAPathAndQueryForNext) {
    EXPECT_EQ(percent_encode("/consent/history?site=a&id=b c"),
              "/consent/history%3Fsite%3Da%26id%3Db%20c");
    EXPECT_EQ(percent_encode("/a-b_c.d~e"), "/a-b_c.d~e");
    EXPECT_EQ(percent_encode("/ø"), "/%C3%B8");
}

TEST(AdminForm, RedirectsOnlyToLocalPaths) {
    EXPECT_EQ(local_redirect("/consent/counts", "/stats/"), "/consent/counts");
    EXPECT_EQ(local_redirect("/consent/history?site=a&id=b", "/stats/"),
              "/consent/history?site=a&id=b");
    for (const std::string_view bad :
         {"", "stats", "//evil.example", "//evil.example/path", "https://evil.example",
          "http://evil.example/", "/\\evil.example", "\\/evil.example", "/a b", "/a\r\nX: y",
          "/a\tb", "/\xc3\xb8", "javascript:alert(1)"}) {
        EXPECT_EQ(local_redirect(bad, "/stats/"), "/stats/") << bad;
    }
    EXPECT_EQ(local_redirect("/" + std::string(2047, 'a'), "/stats/").size(), 2048U);
    EXPECT_EQ(local_redirect("/" + std::string(2048, 'a'), "/stats/"), "/stats/");
}

TEST(AdminForm, ComparesOriginWithHost) {
    EXPECT_TRUE(same_origin("http://127.0.0.1:9090", "127.0.0.1:9090"));
    EXPECT_TRUE(same_origin("https://admin.example", "admin.example"));
    EXPECT_TRUE(same_origin("http://Admin.Example:81", "admin.example:81"));
    EXPECT_FALSE(same_origin("http://evil.example", "127.0.0.1:9090"));
    EXPECT_FALSE(same_origin("http://127.0.0.1", "127.0.0.1:9090"));
    EXPECT_FALSE(same_origin("http://127.0.0.1:9091", "127.0.0.1:9090"));
    EXPECT_FALSE(same_origin("http://127.0.0.1:9090/", "127.0.0.1:9090"));
    EXPECT_FALSE(same_origin("null", "127.0.0.1:9090"));
    EXPECT_FALSE(same_origin("ftp://127.0.0.1:9090", "127.0.0.1:9090"));
    EXPECT_FALSE(same_origin("http://", ""));
    EXPECT_FALSE(same_origin("http://x", ""));
}

}  // namespace
}  // namespace cg::gateway
