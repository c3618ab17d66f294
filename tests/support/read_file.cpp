#include "support/read_file.hpp"

#include <fstream>
#include <sstream>

namespace cg::test {

std::string read_file(const std::filesystem::path& file) {
    std::ifstream in{file, std::ios::binary};
    std::ostringstream out;
    out << in.rdbuf();
    return std::move(out).str();
}

}  // namespace cg::test
