#include "banner/rewrite_cache.hpp"

#include <iterator>

namespace cg::banner {

const std::string* rewrite_cache::find(std::string_view key, std::string_view body) {
    const auto it = by_key_.find(key);
    if (it == by_key_.end()) {
        return nullptr;
    }
    if (it->second->body != body) {
        erase(it->second);  // the page changed: its old output is of no more use
        return nullptr;
    }
    order_.splice(order_.begin(), order_, it->second);
    return &order_.front().output;
}

void rewrite_cache::store(std::string_view key, std::string_view body, std::string_view output) {
    if (const auto it = by_key_.find(key); it != by_key_.end()) {
        erase(it->second);
    }
    const std::size_t size = key.size() + body.size() + output.size();
    if (size > max_bytes_ / 8) {
        return;
    }
    order_.push_front(entry{std::string{key}, std::string{body}, std::string{output}});
    try {
        by_key_.emplace(order_.front().key, order_.begin());
    } catch (...) {
        order_.pop_front();
        throw;
    }
    bytes_ += size;
    while (bytes_ > max_bytes_) {
        erase(std::prev(order_.end()));
    }
}

void rewrite_cache::erase(list::iterator it) noexcept {
    bytes_ -= it->size();
    by_key_.erase(it->key);
    order_.erase(it);
}

}  // namespace cg::banner
