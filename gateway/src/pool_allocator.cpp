#include "gateway/pool_allocator.hpp"

#include <array>

namespace cg::gateway::detail {

namespace {

constexpr std::size_t granule = 16;
constexpr std::size_t largest = 512;
constexpr std::size_t keep_per_class = 256;  // bounds what an idle thread holds on to

struct free_block {
    free_block* next;
};

struct free_lists {
    std::array<free_block*, largest / granule> head{};
    std::array<std::size_t, largest / granule> count{};

    ~free_lists() {
        for (auto* b : head) {
            while (b != nullptr) {
                auto* next = b->next;
                ::operator delete(b);
                b = next;
            }
        }
    }
};

thread_local free_lists lists;

std::size_t size_class(std::size_t bytes) noexcept {
    return (bytes + granule - 1) / granule - 1;
}

}  // namespace

void* pool_allocate(std::size_t bytes) {
    if (bytes == 0 || bytes > largest) {
        return ::operator new(bytes);
    }
    const auto c = size_class(bytes);
    if (auto* b = lists.head[c]) {
        lists.head[c] = b->next;
        --lists.count[c];
        return b;
    }
    return ::operator new((c + 1) * granule);
}

void pool_deallocate(void* p, std::size_t bytes) noexcept {
    if (bytes == 0 || bytes > largest) {
        ::operator delete(p);
        return;
    }
    const auto c = size_class(bytes);
    if (lists.count[c] >= keep_per_class) {
        ::operator delete(p);
        return;
    }
    auto* b = static_cast<free_block*>(p);
    b->next = lists.head[c];
    lists.head[c] = b;
    ++lists.count[c];
}

}  // namespace cg::gateway::detail
