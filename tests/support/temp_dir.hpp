#pragma once

#include <filesystem>
#include <string_view>

namespace cg::test {

/// A fresh directory under /tmp (mkdtemp), removed recursively on destruction.
/// Throws std::system_error if it cannot be created. Not copyable or movable.
class temp_dir {
  public:
    /// Creates /tmp/PREFIX-XXXXXX.
    explicit temp_dir(std::string_view prefix = "cg-test");
    ~temp_dir();
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;

    const std::filesystem::path& path() const noexcept { return path_; }
    /// path() / name.
    std::filesystem::path operator/(const std::filesystem::path& name) const {
        return path_ / name;
    }

  private:
    std::filesystem::path path_;
};

}  // namespace cg::test
