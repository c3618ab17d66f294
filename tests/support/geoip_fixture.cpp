#include "support/geoip_fixture.hpp"

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include "support/child_process.hpp"

namespace cg::test {

namespace {

const char* name_of(geoip_layout layout) {
    switch (layout) {
        case geoip_layout::maxmind:
            return "maxmind";
        case geoip_layout::flat:
            return "flat";
        case geoip_layout::asn:
            return "asn";
    }
    return "maxmind";
}

}  // namespace

std::filesystem::path make_geoip_fixture(const temp_dir& dir, geoip_layout layout, int ip_version) {
    const std::string name =
        std::string{"geoip-"} + name_of(layout) + "-v" + std::to_string(ip_version);
    const std::filesystem::path out = dir / (name + ".mmdb");
    const std::string hint =
        " (the fixture needs perl and MaxMind::DB::Writer::Tree: Debian's "
        "libmaxmind-db-writer-perl, installed by scripts/deps.sh)";
    std::optional<child_process> perl;
    try {
        perl.emplace("perl",
                     std::vector<std::string>{CG_GEOIP_FIXTURE_SCRIPT, out.string(),
                                              std::string{"--layout="} + name_of(layout),
                                              "--ip-version=" + std::to_string(ip_version)},
                     dir.path(), name);
    } catch (const std::system_error& e) {
        throw std::runtime_error(std::string{"cannot run perl: "} + e.what() + hint);
    }
    // The writer starts in about half a second (Moose); a loaded machine may take longer.
    const std::optional<int> status = perl->wait_exit(std::chrono::seconds{60});
    if (status != 0 || !std::filesystem::exists(out)) {
        const std::string how = !status ? "did not finish within 60 s"
                                        : "exited with status " + std::to_string(*status);
        throw std::runtime_error(std::string{CG_GEOIP_FIXTURE_SCRIPT} + " " + how + hint + ":\n" +
                                 perl->stderr_text());
    }
    return out;
}

}  // namespace cg::test
