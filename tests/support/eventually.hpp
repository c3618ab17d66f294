#pragma once

#include <chrono>
#include <functional>

namespace cg::test {

/// Calls `done` every `step` until it returns true or `deadline` passes, then returns its
/// last result: for waiting on what another thread or process does, always bounded.
bool eventually(const std::function<bool()>& done,
                std::chrono::milliseconds deadline = std::chrono::seconds{5},
                std::chrono::milliseconds step = std::chrono::milliseconds{10});

}  // namespace cg::test
