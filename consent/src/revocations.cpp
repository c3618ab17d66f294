#include "consent/revocations.hpp"

#include <algorithm>
#include <mutex>

namespace cg::consent {

revocations::revocations(std::size_t max_entries)
    : max_entries_(std::max<std::size_t>(1, max_entries)) {}

bool revocations::add(std::string_view consent_id, std::int64_t until) {
    const std::unique_lock lock{mutex_};
    if (until <= expired_before_) {
        return false;
    }
    if (const auto it = until_.find(consent_id); it != until_.end()) {
        if (until > it->second) {
            by_until_.erase({it->second, &it->first});
            it->second = until;
            by_until_.emplace(until, &it->first);
        }
        return true;
    }
    if (until_.size() >= max_entries_) {
        // Full: the id whose cookies expire first goes; if that is the newcomer, it is not kept.
        const auto first = by_until_.begin();
        dropped_.fetch_add(1, std::memory_order_relaxed);
        if (first->first > until) {
            return false;
        }
        const auto* id = first->second;
        by_until_.erase(first);
        until_.erase(until_.find(*id));
    }
    const auto [it, inserted] = until_.emplace(std::string{consent_id}, until);
    by_until_.emplace(until, &it->first);
    size_.store(until_.size(), std::memory_order_relaxed);
    return inserted;
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
    while (!by_until_.empty() && by_until_.begin()->first <= now) {
        const auto* id = by_until_.begin()->second;
        by_until_.erase(by_until_.begin());
        until_.erase(until_.find(*id));
    }
    size_.store(until_.size(), std::memory_order_relaxed);
}

}  // namespace cg::consent
