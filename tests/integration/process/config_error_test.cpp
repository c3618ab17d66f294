#include <filesystem>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "gateway_process.hpp"
#include "support/read_file.hpp"

namespace {

using namespace std::chrono_literals;
using cg::test::read_file;
using cg::test::run_gateway;
using cg::test::temp_dir;
using cg::test::write_file;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr std::string_view bad_upstream =
    R"({"sites":[{"name":"a","hosts":["a"],"upstream":"htp://x"}]})";
constexpr std::string_view bad_upstream_problem =
    R"(bad.json: /sites/0/upstream: "htp://x" is not an http:// URL)";

TEST(ConfigErrors, CheckConfigNamesTheBadUpstreamByItsPointer) {
    temp_dir dir{"cg-config"};
    write_file(dir / "bad.json", bad_upstream);

    const auto run = run_gateway(dir, {"--check-config", "bad.json"});

    EXPECT_EQ(run.exit, 2);
    EXPECT_THAT(run.err, HasSubstr(bad_upstream_problem));
    EXPECT_THAT(run.out, Not(HasSubstr(": ok")));
}

TEST(ConfigErrors, CheckConfigNamesAnUnknownFieldByItsPointer) {
    temp_dir dir{"cg-config"};
    write_file(dir / "bad.json", R"({
  "listen": {"adress": "127.0.0.1"},
  "sites": [{"name": "a", "hosts": ["a"], "upstream": "http://127.0.0.1:8081"}]
})");

    const auto run = run_gateway(dir, {"--check-config", "bad.json"});

    EXPECT_EQ(run.exit, 2);
    EXPECT_THAT(run.err, HasSubstr("bad.json: /listen/adress: unknown field"));
}

TEST(ConfigErrors, CheckConfigReportsEveryProblemOnItsOwnLine) {
    temp_dir dir{"cg-config"};
    write_file(dir / "bad.json", R"({
  "workers": -1,
  "sites": [{"name": "a", "hosts": ["a"], "upstream": "htp://x"}]
})");

    const auto run = run_gateway(dir, {"--check-config", "bad.json"});

    EXPECT_EQ(run.exit, 2);
    EXPECT_THAT(run.err, HasSubstr("bad.json: /workers: must be 0-1024"));
    EXPECT_THAT(run.err, HasSubstr(bad_upstream_problem));
    for (const auto& line : cg::test::lines_of(run.err)) {
        EXPECT_TRUE(line.starts_with("bad.json: /")) << line;
    }
}

TEST(ConfigErrors, CheckConfigGivesLineAndColumnOfInvalidJson) {
    temp_dir dir{"cg-config"};
    write_file(dir / "bad.json", "{\n  \"workers\": 1,\n  \"sites\": }\n");

    const auto run = run_gateway(dir, {"--check-config", "bad.json"});

    EXPECT_EQ(run.exit, 2);
    EXPECT_THAT(run.err, HasSubstr("bad.json: invalid JSON at line 3, column 12"));
}

TEST(ConfigErrors, CheckConfigSaysOkForAValidFile) {
    temp_dir dir{"cg-config"};
    write_file(dir / "good.json",
               R"({"sites":[{"name":"a","hosts":["a"],"upstream":"http://127.0.0.1:8081"}]})");

    const auto run = run_gateway(dir, {"--check-config", "good.json"});

    EXPECT_EQ(run.exit, 0) << run.err;
    EXPECT_EQ(run.out, "good.json: ok\n");
    EXPECT_EQ(run.err, "");
}

// The demo config reads the key scripts/demo makes in .demo/: a copy laid out the same way.
std::string copy_of_demo_config(const temp_dir& dir) {
    const auto text = read_file(CG_SOURCE_DIR "/configs/demo.json");
    std::filesystem::create_directories(dir / "configs");
    write_file(dir / "configs" / "demo.json", text);
    // ... and the country database `npm ci` puts in node_modules/.
    std::filesystem::create_directory_symlink(std::filesystem::path{CG_SOURCE_DIR} / "node_modules",
                                              dir / "node_modules");
    return (dir / "configs" / "demo.json").string();
}

TEST(ConfigErrors, CheckConfigAcceptsTheShippedDemoConfig) {
    temp_dir dir{"cg-config"};
    const std::string demo = copy_of_demo_config(dir);
    std::filesystem::create_directories(dir / ".demo");
    write_file(dir / ".demo" / "consent.key", std::string(64, 'k') + "\n");
    std::filesystem::permissions(dir / ".demo" / "consent.key",
                                 std::filesystem::perms::owner_read |
                                     std::filesystem::perms::owner_write);

    const auto run = run_gateway(dir, {"--check-config", demo});

    EXPECT_EQ(run.exit, 0) << run.err;
    EXPECT_EQ(run.out, demo + ": ok\n");
}

TEST(ConfigErrors, CheckConfigNamesAMissingKeyFile) {
    temp_dir dir{"cg-config"};
    const std::string demo = copy_of_demo_config(dir);

    const auto run = run_gateway(dir, {"--check-config", demo});

    EXPECT_EQ(run.exit, 2);
    EXPECT_THAT(run.err, HasSubstr(demo + ": /consent/key_file: cannot read "));
    EXPECT_THAT(run.err, HasSubstr("consent.key"));
}

TEST(ConfigErrors, StartingWithABadConfigExits2WithTheSameMessageAndNeverListens) {
    temp_dir dir{"cg-config"};
    write_file(dir / "bad.json", bad_upstream);

    const auto run = run_gateway(dir, {"bad.json"});

    EXPECT_EQ(run.exit, 2);
    EXPECT_THAT(run.err, HasSubstr(bad_upstream_problem));
    EXPECT_THAT(run.out, Not(HasSubstr("listening")));
}

TEST(ConfigErrors, AMissingFileExits2SayingCannotRead) {
    temp_dir dir{"cg-config"};

    const auto check = run_gateway(dir, {"--check-config", "missing.json"});
    const auto start = run_gateway(dir, {"missing.json"});

    EXPECT_EQ(check.exit, 2);
    EXPECT_THAT(check.err, HasSubstr("missing.json: cannot read"));
    EXPECT_EQ(start.exit, 2);
    EXPECT_THAT(start.err, HasSubstr("missing.json: cannot read"));
    EXPECT_THAT(start.out, Not(HasSubstr("listening")));
}

}  // namespace
