#include "consent/revocations.hpp"

#include <algorithm>
#include <mutex>

namespace cg::consent {

revocations::revocations(std::size_t max_entries) : max_entries_(std::max<std::size_t>(1, max_entries)) {}

bool revocations::add(std::string_view consent_id, std::int64_t until) {
    const std::unique_lock lock{mutex_};
    if (until <= expired_before_) {
        return false;
    }
    if (const auto it = until_.find(consent_id); it != until_.end()) {
        it->second = std::max(it->second, until);
        return true;
    }
    if (until_.size() >= max_entries_) {
        // Full: the id whose cookies expire first goes (a linear scan, only ever when full).
        const auto first = std::min_element(until_.begin(), until_.end(),
                                            [](const auto& a, const auto& b) {
                                                return a.second < b.second;
                                            });
        if (first->second > until) {
            dropped_.fetch_add(1, std::memory_order_relaxed);
            return false;  // the newcomer is the one that expires first
        }
        until_.erase(first);
        dropped_.fetch_add(1, std::memory_order_relaxed);
    }
    until_.emplace(std::string{consent_id}, until);
    size_.store(until_.size(), std::memory_order_relaxed);
    return true;
}

bool revocations::revoked(std::string_view consent_id) const noexcept {
    if (size_.load(std::memory_order_relaxed) == 0) {
        return false;  // the common case: no lock at all
    }
    const std::shared_lock lock{mutex_};
    return until_.find(consent_id) != until_.end();
}

void revocations::expire(std::int64_t now) {
    const std::unique_lock lock{mutex_};
    expired_before_ = std::max(expired_before_, now);
    std::erase_if(until_, [now](const auto& entry) { return entry.second <= now; });
    size_.store(until_.size(), std::memory_order_relaxed);
}

}  // namespace cg::consent
