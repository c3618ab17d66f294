#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <set>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace cg::consent {

/// Consent ids whose records their visitors erased (DESIGN §5, §6): a copy of an erased
/// visitor's cookie must count as no decision on every gateway. This is the in-memory mirror
/// each gateway keeps of the Redis list (the store fills it: at once for its own erasures,
/// and by polling Redis for everyone else's); the hot path only asks revoked(), which reads
/// memory. Consent ids are 128 random bits, so an id alone names one visitor on one site.
///
/// Bounded: at most max_entries ids. When full, the id whose cookies expire first is dropped
/// (and counted in dropped()): by then it is the one least likely to be replayed. add(),
/// expire() and the eviction cost O(log n) per id (an index ordered by expiry), never a scan.
/// Thread-safe: readers share a lock, taken only when the set is not empty. Ids are untrusted
/// text (they come from Redis); they are only compared, never parsed.
class revocations {
  public:
    static constexpr std::size_t default_max_entries = 1'000'000;

    explicit revocations(std::size_t max_entries = default_max_entries);
    revocations(const revocations&) = delete;
    revocations& operator=(const revocations&) = delete;

    /// Marks `consent_id` revoked until `until` (unix seconds: when every cookie carrying it
    /// has expired). Adding an id again keeps the later time. Returns false if `until` has
    /// already passed relative to the last expire() (nothing kept).
    bool add(std::string_view consent_id, std::int64_t until);
    /// Whether a cookie carrying `consent_id` must count as no decision. Never blocks on I/O;
    /// never throws.
    bool revoked(std::string_view consent_id) const noexcept;
    /// Forgets ids revoked until `now` or earlier (their cookies have expired anyway), and
    /// refuses such times in later add() calls. Until it is called an id stays revoked even
    /// past its time (harmless: no cookie carries it any more).
    void expire(std::int64_t now);

    std::size_t size() const noexcept { return size_.load(std::memory_order_relaxed); }
    /// Ids forgotten early because the set was full.
    std::uint64_t dropped() const noexcept { return dropped_.load(std::memory_order_relaxed); }

  private:
    struct hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept {
            return std::hash<std::string_view>{}(s);
        }
    };

    const std::size_t max_entries_;
    mutable std::shared_mutex mutex_;
    std::unordered_map<std::string, std::int64_t, hash, std::equal_to<>> until_;
    /// until_'s entries ordered by expiry (the key points into until_'s stable node).
    std::set<std::pair<std::int64_t, const std::string*>> by_until_;
    std::int64_t expired_before_ = 0;
    std::atomic<std::size_t> size_{0};
    std::atomic<std::uint64_t> dropped_{0};
};

}  // namespace cg::consent
