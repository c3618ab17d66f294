#pragma once

#include <cstddef>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>

namespace cg::banner {

/// Rewritten pages kept for reuse. A page rewrite is a pure function of the upstream body and
/// the visitor's state (site_banner::page, recoding_transform), and most visitors of a page get
/// the same body in the same state, so one worker keeps recent outputs by a key that names
/// everything the output depends on besides the body (site, coding, visitor state, address),
/// together with the body they were made from; an output is reused only when the body is
/// byte for byte the one it was made from. Least recently used entries go first once the
/// total (bodies, outputs and keys) passes the bound; an entry larger than an eighth of the
/// bound is not kept. Nothing here is trusted or parsed: keys and bodies are plain bytes.
/// Not thread-safe: one per worker thread.
class rewrite_cache {
  public:
    /// Keeps at most `max_bytes` (0: nothing is kept).
    explicit rewrite_cache(std::size_t max_bytes) : max_bytes_(max_bytes) {}

    /// The output stored for `key` when it was made from exactly `body`, else nullptr (a key
    /// whose body changed is dropped). A hit becomes the most recent entry. The pointer is
    /// valid until the next store().
    const std::string* find(std::string_view key, std::string_view body);

    /// Stores `output` made from `body` under `key` (replacing what the key had), then drops
    /// the least recent entries while over the bound. Only std::bad_alloc can escape, and then
    /// the cache is left without the entry.
    void store(std::string_view key, std::string_view body, std::string_view output);

    /// Bytes held now (bodies, outputs, keys).
    [[nodiscard]] std::size_t bytes() const noexcept { return bytes_; }
    [[nodiscard]] std::size_t entries() const noexcept { return order_.size(); }

  private:
    struct entry {
        std::string key;
        std::string body;
        std::string output;
        [[nodiscard]] std::size_t size() const noexcept {
            return key.size() + body.size() + output.size();
        }
    };
    using list = std::list<entry>;
    void erase(list::iterator it) noexcept;

    std::size_t max_bytes_;
    std::size_t bytes_ = 0;
    list order_;                                                   // most recent first
    std::unordered_map<std::string_view, list::iterator> by_key_;  // views into order_'s keys
};

}  // namespace cg::banner
