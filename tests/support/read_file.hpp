#pragma once

#include <filesystem>
#include <string>

namespace cg::test {

/// The bytes of `file` (binary), or "" when it cannot be read: for journals, logs and configs
/// a test looks into. Never throws except std::bad_alloc.
std::string read_file(const std::filesystem::path& file);

}  // namespace cg::test
