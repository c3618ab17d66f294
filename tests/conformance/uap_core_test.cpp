// ua-parser's own test cases (uap-core: tests/test_ua.yaml, test_os.yaml, test_device.yaml, as
// Debian's uap-core package ships them) against analytics::ua_database over the same package's
// regexes.yaml. Prints per file how many cases give the expected parts; fails unless every case
// does (uap-core 0.16.0: 1,425 + 456 + 16,111 cases, all pass). Exit 77 (skipped) when the files
// are absent.
#include <yaml-cpp/yaml.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "analytics/user_agent.hpp"

namespace {

using cg::analytics::ua_database;
using cg::analytics::user_agent;

constexpr double min_share = 1.0;

std::string text(const YAML::Node& n, const char* key) {
    const YAML::Node v = n[key];
    return v && v.IsScalar() ? v.as<std::string>() : std::string{};
}

struct file_result {
    int cases = 0;
    int passed = 0;
    std::vector<std::string> examples;  // a few failures
};

template <class Compare>
file_result run(const std::filesystem::path& file, Compare compare) {
    file_result r;
    const YAML::Node root = YAML::LoadFile(file.string());
    for (const YAML::Node& c : root["test_cases"]) {
        ++r.cases;
        std::string why;
        if (compare(c, why)) {
            ++r.passed;
        } else if (r.examples.size() < 5) {
            r.examples.push_back(why + " <- " + text(c, "user_agent_string"));
        }
    }
    return r;
}

std::string diff(const char* what, const std::string& got, const std::string& want) {
    return got == want ? std::string{} : std::string{what} + " '" + got + "' != '" + want + "' ";
}

}  // namespace

int main() {
    const std::filesystem::path dir = CG_UAP_CORE_DIR;
    const std::filesystem::path regexes = dir / "regexes.yaml";
    if (!std::filesystem::exists(regexes) || !std::filesystem::exists(dir / "tests")) {
        std::printf("SKIP: %s (Debian package uap-core) is absent\n", dir.string().c_str());
        return 77;
    }
    const ua_database db = ua_database::load(regexes);
    std::printf("%zu parsers compiled, %zu regexes RE2 refused\n", db.parsers(), db.skipped());
    bool ok = true;
    const auto report = [&](const char* name, const file_result& r) {
        const double share = r.cases == 0 ? 0.0 : static_cast<double>(r.passed) / r.cases;
        std::printf("%-16s passed %5d/%-5d (%.2f%%)\n", name, r.passed, r.cases, 100 * share);
        for (const auto& e : r.examples) {
            std::printf("    %s\n", e.c_str());
        }
        ok = ok && r.cases > 0 && share >= min_share;
    };
    report("test_ua.yaml",
           run(dir / "tests/test_ua.yaml", [&](const YAML::Node& c, std::string& why) {
               const user_agent u = db.parse(text(c, "user_agent_string"));
               why = diff("family", u.browser, text(c, "family")) +
                     diff("major", u.browser_major, text(c, "major")) +
                     diff("minor", u.browser_minor, text(c, "minor")) +
                     diff("patch", u.browser_patch, text(c, "patch"));
               return why.empty();
           }));
    report("test_os.yaml",
           run(dir / "tests/test_os.yaml", [&](const YAML::Node& c, std::string& why) {
               const user_agent u = db.parse(text(c, "user_agent_string"));
               why = diff("family", u.os, text(c, "family")) +
                     diff("major", u.os_major, text(c, "major")) +
                     diff("minor", u.os_minor, text(c, "minor")) +
                     diff("patch", u.os_patch, text(c, "patch")) +
                     diff("patch_minor", u.os_patch_minor, text(c, "patch_minor"));
               return why.empty();
           }));
    report("test_device.yaml",
           run(dir / "tests/test_device.yaml", [&](const YAML::Node& c, std::string& why) {
               const user_agent u = db.parse(text(c, "user_agent_string"));
               why = diff("family", u.device, text(c, "family")) +
                     diff("brand", u.brand, text(c, "brand")) +
                     diff("model", u.model, text(c, "model"));
               return why.empty();
           }));
    return ok ? 0 : 1;
}
