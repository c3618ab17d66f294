// `consent-gateway --hash-password` (admin.users): the real binary reads one line on standard
// input and prints pbkdf2-sha256$ITERATIONS$SALT$HASH, checked here with OpenSSL directly (an
// implementation of its own, not the gateway's).
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include "support/child_process.hpp"
#include "support/temp_dir.hpp"

namespace {

using namespace std::chrono_literals;
using cg::test::child_process;
using cg::test::temp_dir;

std::string gateway_binary() {
    if (const char* other = std::getenv("CG_GATEWAY_BINARY"); other != nullptr && *other != '\0') {
        return other;
    }
    return CG_GATEWAY_BINARY;
}

struct run_result {
    std::optional<int> exit;
    std::string out;
    std::string err;
};

// Runs `consent-gateway --hash-password` with `input` as its standard input (through a file:
// the child_process guard gives children /dev/null).
run_result hash_password(std::string_view input) {
    temp_dir dir{"cg-hash"};
    {
        std::FILE* f = std::fopen((dir / "password.txt").c_str(), "wb");
        EXPECT_NE(f, nullptr);
        if (f != nullptr) {
            std::fwrite(input.data(), 1, input.size(), f);
            std::fclose(f);
        }
    }
    child_process child{"/bin/sh",
                        {"-c", "exec \"$0\" --hash-password < password.txt", gateway_binary()},
                        dir.path(),
                        "hash"};
    run_result r;
    r.exit = child.wait_exit(30s);
    r.out = child.stdout_text();
    r.err = child.stderr_text();
    return r;
}

// Unpadded base64 (RFC 4648 §4) decoded with OpenSSL.
std::vector<unsigned char> base64(std::string text) {
    const std::size_t bytes = text.size() * 3 / 4;
    while (text.size() % 4 != 0) {
        text += '=';
    }
    std::vector<unsigned char> out(text.size() / 4 * 3);
    const int n = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(text.data()),
                                  static_cast<int>(text.size()));
    EXPECT_GE(n, 0) << text;
    out.resize(bytes);
    return out;
}

// True when `line` is a hash of `password` in the documented format.
void expect_hash_of(const std::string& line, std::string_view password) {
    std::smatch m;
    ASSERT_TRUE(std::regex_match(
        line, m, std::regex(R"(pbkdf2-sha256\$600000\$([A-Za-z0-9+/]{22})\$([A-Za-z0-9+/]{43}))")))
        << line;
    const auto salt = base64(m[1].str());
    const auto hash = base64(m[2].str());
    ASSERT_EQ(salt.size(), 16U);
    ASSERT_EQ(hash.size(), 32U);
    std::array<unsigned char, 32> expected{};
    ASSERT_EQ(PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()), salt.data(),
                                static_cast<int>(salt.size()), 600000, EVP_sha256(),
                                static_cast<int>(expected.size()), expected.data()),
              1);
    EXPECT_TRUE(std::equal(expected.begin(), expected.end(), hash.begin()));
}

TEST(HashPassword, PrintsAHashOfTheLineThatOpenSslVerifies) {
    const auto r = hash_password("s3cret pässord\n");

    EXPECT_EQ(r.exit, 0) << r.err;
    ASSERT_TRUE(r.out.ends_with("\n")) << r.out;
    expect_hash_of(r.out.substr(0, r.out.size() - 1), "s3cret pässord");
}

TEST(HashPassword, TakesTheLineWithoutItsCrlfOrAMissingNewline) {
    const auto crlf = hash_password("windows\r\n");
    const auto bare = hash_password("no newline");

    EXPECT_EQ(crlf.exit, 0) << crlf.err;
    expect_hash_of(crlf.out.substr(0, crlf.out.find('\n')), "windows");
    EXPECT_EQ(bare.exit, 0) << bare.err;
    expect_hash_of(bare.out.substr(0, bare.out.find('\n')), "no newline");
}

TEST(HashPassword, SaltsEveryHash) {
    EXPECT_NE(hash_password("same\n").out, hash_password("same\n").out);
}

TEST(HashPassword, RefusesAnEmptyPassword) {
    for (const std::string_view input : {"", "\n", "\r\n"}) {
        const auto r = hash_password(input);

        EXPECT_EQ(r.exit, 2);
        EXPECT_EQ(r.out, "");
        EXPECT_NE(r.err.find("the password is empty"), std::string::npos) << r.err;
    }
}

TEST(HashPassword, RefusesAPasswordOverTheLimit) {
    const auto r = hash_password(std::string(1025, 'x') + "\n");

    EXPECT_EQ(r.exit, 2);
    EXPECT_EQ(r.out, "");
    EXPECT_NE(r.err.find("longer than 1024 bytes"), std::string::npos) << r.err;
}

TEST(HashPassword, IsInTheUsageText) {
    temp_dir dir{"cg-hash"};
    child_process child{gateway_binary(), {"--help"}, dir.path(), "help"};

    EXPECT_EQ(child.wait_exit(10s), 0);
    EXPECT_NE(child.stdout_text().find("--hash-password"), std::string::npos);
}

}  // namespace
