#pragma once
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include <boost/asio/ip/address.hpp>

#include "consent/config.hpp"

namespace cg::consent {

/// What rate_limiter::take says about one request.
struct rate_verdict {
    bool allowed = true;
    /// When refused: whole seconds until one more request would be allowed (at least 1), for
    /// `Retry-After`. 0 when allowed.
    std::chrono::seconds retry_after{0};
};

/// In-memory limits on how often one client address and one consent id may record a decision
/// (POST /_consent) or erase a record (DELETE /_consent/record): each costs about 2 KB of
/// Redis kept for the retention (365 days by default), and one client once made 2,070 a second.
///
/// A token bucket per key: `n` per minute allows a burst of n, then one every 60/n seconds.
/// Defaults (rate_limits): 20 per consent id, 600 per address, which no person clicking a
/// banner reaches, nor an office of hundreds behind one NAT address. 0 switches a limit off.
///
/// Memory is fixed at construction (`slots` buckets per kind, about 24 bytes each; 384 KiB
/// each by default: 16,384 clients or consent ids deciding within a minute, far beyond what
/// one gateway sees, and resident from the start, so kept small for idle RSS) whatever clients
/// send: a table of 64 shards, each behind its own mutex,
/// 8-way set-associative. A new key takes the bucket in its set that has refilled most (a full
/// bucket forgets nothing), else the least recently used one, so under a flood of new keys the
/// limiter forgets and becomes more lenient, never stricter. Keys are never stored: a bucket
/// holds a 64-bit SipHash-2-4 of the key under a random per-limiter secret (no raw address or
/// consent id in memory, nothing to correlate across restarts). IPv6 addresses count per /64
/// (one subscriber's prefix), IPv4-mapped IPv6 as IPv4.
///
/// No I/O, no Redis; each gateway process limits on its own. Thread-safe: one limiter is
/// shared by every worker thread. `now_ms` is any millisecond clock (unix time in the
/// gateway); a clock that goes back refills nothing.
class rate_limiter {
  public:
    static constexpr std::size_t default_slots = 1U << 14U;

    /// `slots` is rounded up to a multiple of 512 (64 shards of 8-way sets). Throws
    /// std::runtime_error when no random secret can be drawn.
    explicit rate_limiter(rate_limits limits, std::size_t slots = default_slots);
    ~rate_limiter();
    rate_limiter(const rate_limiter&) = delete;
    rate_limiter& operator=(const rate_limiter&) = delete;

    /// Counts one request from `client` when allowed. Untrusted input; never throws.
    rate_verdict take_address(const boost::asio::ip::address& client, std::int64_t now_ms) noexcept;
    /// Counts one request for consent id `id` (from a verified cookie) when allowed. Never throws.
    rate_verdict take_consent_id(std::string_view id, std::int64_t now_ms) noexcept;

    const rate_limits& limits() const noexcept { return limits_; }

  private:
    struct table;
    std::uint64_t hash(std::span<const unsigned char> bytes) const noexcept;

    rate_limits limits_;
    std::array<std::uint64_t, 2> key_{};
    std::unique_ptr<table> addresses_;
    std::unique_ptr<table> ids_;
};

}  // namespace cg::consent
