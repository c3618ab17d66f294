#include "consent/rate_limiter.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <vector>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

namespace cg::consent {

namespace {

constexpr std::size_t shard_count = 64;
constexpr std::size_t ways = 8;
constexpr double ms_per_minute = 60'000.0;

// SipHash-2-4 (Aumasson, Bernstein 2012), OpenSSL's: a keyed hash made for hash tables fed by
// attackers; without the key nobody can pick keys that collide, nor learn the input from the
// output. The endpoints it guards are rare, so a context per call costs nothing that matters.
// Should OpenSSL fail (out of memory), the unkeyed std::hash still spreads keys: limits then
// stay in force, only predictable collisions become possible.
std::uint64_t siphash24(const std::array<std::uint64_t, 2>& k,
                        std::span<const unsigned char> in) noexcept {
    std::array<unsigned char, 16> out{};
    std::size_t out_len = 0;
    const std::unique_ptr<EVP_MAC, decltype(&EVP_MAC_free)> mac{
        EVP_MAC_fetch(nullptr, "SIPHASH", nullptr), &EVP_MAC_free};
    const std::unique_ptr<EVP_MAC_CTX, decltype(&EVP_MAC_CTX_free)> ctx{
        mac ? EVP_MAC_CTX_new(mac.get()) : nullptr, &EVP_MAC_CTX_free};
    std::size_t size = 8;
    const std::array<OSSL_PARAM, 2> params{
        OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &size), OSSL_PARAM_construct_end()};
    if (ctx && EVP_MAC_init(ctx.get(), reinterpret_cast<const unsigned char*>(k.data()),
                            sizeof(k), params.data()) == 1 &&
        EVP_MAC_update(ctx.get(), in.data(), in.size()) == 1 &&
        EVP_MAC_final(ctx.get(), out.data(), &out_len, out.size()) == 1 && out_len == 8) {
        std::uint64_t v = 0;
        std::memcpy(&v, out.data(), sizeof(v));
        return v;
    }
    return std::hash<std::string_view>{}(
        {reinterpret_cast<const char*>(in.data()), in.size()});
}

struct bucket {
    std::uint64_t tag = 0;  ///< 0 = free; otherwise the key's hash with the low bit set
    std::int64_t last_ms = 0;
    double tokens = 0;
};

}  // namespace

struct rate_limiter::table {
    explicit table(std::size_t slots)
        : sets_per_shard(std::max<std::size_t>(1, slots / shard_count / ways)) {
        for (auto& s : shards) {
            s.buckets.resize(sets_per_shard * ways);
        }
    }

    rate_verdict take(std::uint32_t per_minute, std::uint64_t h, std::int64_t now_ms) noexcept {
        if (per_minute == 0) {
            return {};
        }
        const double capacity = per_minute;
        const double per_ms = capacity / ms_per_minute;
        const std::uint64_t tag = h | 1U;
        auto& s = shards[h % shard_count];
        const std::size_t set = static_cast<std::size_t>((h >> 6U) % sets_per_shard);
        const std::scoped_lock lock{s.mutex};
        bucket* const first = s.buckets.data() + set * ways;
        const auto refilled = [&](const bucket& b) {
            const auto elapsed = static_cast<double>(std::max<std::int64_t>(0, now_ms - b.last_ms));
            return std::min(capacity, b.tokens + elapsed * per_ms);
        };
        bucket* mine = nullptr;
        for (std::size_t i = 0; i < ways; ++i) {
            if (first[i].tag == tag) {
                mine = first + i;
                break;
            }
        }
        if (mine == nullptr) {
            // Evict what loses the least: a free or full bucket, else the least recently used.
            mine = first;
            for (std::size_t i = 0; i < ways && mine->tag != 0; ++i) {
                bucket& b = first[i];
                if (b.tag == 0) {
                    mine = &b;
                } else if (refilled(b) > refilled(*mine) ||
                           (refilled(b) == refilled(*mine) && b.last_ms < mine->last_ms)) {
                    mine = &b;
                }
            }
            *mine = bucket{tag, now_ms, capacity};
        }
        mine->tokens = refilled(*mine);
        mine->last_ms = std::max(mine->last_ms, now_ms);
        if (mine->tokens >= 1.0) {
            mine->tokens -= 1.0;
            return {};
        }
        const double wait_ms = (1.0 - mine->tokens) / per_ms;
        const auto seconds = static_cast<std::int64_t>(std::ceil(wait_ms / 1000.0));
        return {false, std::chrono::seconds{std::max<std::int64_t>(1, seconds)}};
    }

    struct shard {
        std::mutex mutex;
        std::vector<bucket> buckets;
    };
    const std::size_t sets_per_shard;
    std::array<shard, shard_count> shards;
};

rate_limiter::rate_limiter(rate_limits limits, std::size_t slots)
    : limits_(limits),
      addresses_(std::make_unique<table>(slots)),
      ids_(std::make_unique<table>(slots)) {
    if (RAND_bytes(reinterpret_cast<unsigned char*>(key_.data()), static_cast<int>(sizeof(key_))) !=
        1) {
        throw std::runtime_error("cannot draw a random key for the consent rate limiter");
    }
}

rate_limiter::~rate_limiter() = default;

std::uint64_t rate_limiter::hash(std::span<const unsigned char> bytes) const noexcept {
    return siphash24(key_, bytes);
}

rate_verdict rate_limiter::take_address(const boost::asio::ip::address& client,
                                        std::int64_t now_ms) noexcept {
    std::array<unsigned char, 9> key{};
    std::size_t n = 0;
    if (client.is_v6() && !client.to_v6().is_v4_mapped()) {
        // One subscriber usually gets a /64: counting /128s would let one client rotate freely.
        const auto b = client.to_v6().to_bytes();
        key[0] = 6;
        std::copy_n(b.begin(), 8, key.begin() + 1);
        n = 9;
    } else {
        const auto v4 = client.is_v4() ? client.to_v4()
                                       : boost::asio::ip::make_address_v4(
                                             boost::asio::ip::v4_mapped, client.to_v6());
        const auto b = v4.to_bytes();
        key[0] = 4;
        std::copy(b.begin(), b.end(), key.begin() + 1);
        n = 5;
    }
    return addresses_->take(limits_.per_address, hash({key.data(), n}), now_ms);
}

rate_verdict rate_limiter::take_consent_id(std::string_view id, std::int64_t now_ms) noexcept {
    return ids_->take(limits_.per_consent_id,
                      hash({reinterpret_cast<const unsigned char*>(id.data()), id.size()}), now_ms);
}

}  // namespace cg::consent
