#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string_view>
#include <utility>

#include <boost/asio/ip/address.hpp>

#include "analytics/calendar.hpp"

namespace cg::analytics {

/// A visitor as the unique-visitor counts know them: 16 bytes of HMAC-SHA256(day key; site ‖
/// 0 ‖ address ‖ digest_of(User-Agent)). Meaningless without the day's key, which is destroyed
/// at the day's end (DESIGN C6); never logged, never stored except inside Redis HyperLogLogs and, for 30
/// minutes, the gateway's visit table.
using visitor_id = std::array<std::uint8_t, 16>;

/// A day key: 32 random bytes.
using day_key = std::array<std::uint8_t, 32>;

/// The first 16 bytes of SHA-256(User-Agent): what the visitor id hashes instead of the string
/// itself, so an id is one SHA-256 block plus the outer one whatever the User-Agent's length
/// (the tap keeps it with the parsed User-Agent in its cache).
using ua_digest = std::array<std::uint8_t, 16>;
ua_digest digest_of(std::string_view user_agent) noexcept;

/// Computes visitor ids under one day key. The HMAC's inner and outer states are prepared
/// once, so an id costs two SHA-256 compressions and a few copies. Not thread-safe (one per
/// worker and key).
class visitor_hasher {
  public:
    explicit visitor_hasher(const day_key& key);
    ~visitor_hasher();
    visitor_hasher(const visitor_hasher&) = delete;
    visitor_hasher& operator=(const visitor_hasher&) = delete;

    /// The id of whoever sends `user_agent` from `address` to `site` (C5: the site is inside
    /// the hash, so two sites see unrelated ids). Untrusted input; never throws.
    visitor_id operator()(std::string_view site, const boost::asio::ip::address& address,
                          const ua_digest& user_agent) const noexcept;
    visitor_id operator()(std::string_view site, const boost::asio::ip::address& address,
                          std::string_view user_agent) const noexcept {
        return (*this)(site, address, digest_of(user_agent));
    }

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

/// The day keys this process knows, per site and local day: set by the flusher from Redis
/// (shared by every gateway), read by the workers. Keys of past days are dropped at the day's
/// end. Thread-safe; `generation()` changes whenever the set changes, so a worker can keep its
/// own prepared hasher and check one atomic per page view.
class day_keys {
  public:
    [[nodiscard]] std::uint64_t generation() const noexcept {
        return generation_.load(std::memory_order_acquire);
    }
    [[nodiscard]] std::optional<day_key> get(std::uint32_t site, day_number day) const;
    void set(std::uint32_t site, day_number day, const day_key& key);
    /// Forgets `site`'s keys of days before `day` (the bytes are overwritten).
    void drop_before(std::uint32_t site, day_number day);
    /// How many keys are held (for tests: a past day's key must be gone).
    [[nodiscard]] std::size_t size() const;

  private:
    mutable std::mutex mutex_;
    std::map<std::pair<std::uint32_t, day_number>, day_key> keys_;
    std::atomic<std::uint64_t> generation_{1};
};

}  // namespace cg::analytics
