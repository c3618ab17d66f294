#pragma once

#include <filesystem>

#include "support/temp_dir.hpp"

namespace cg::test {

/// Which records a fixture database holds (see make_geoip_fixture.pl for every network).
enum class geoip_layout {
    /// GeoIP2-Country-like `{country => {iso_code => ...}}`: 192.0.2.0/24 NO,
    /// 198.51.100.0/24 SE, 2001:db8::/32 DE; invalid codes in 203.0.113.0/24 ("n0", "NOR",
    /// ""); 10.0.0.0/24 only registered_country FI; 10.0.1.0/24 country "no" beside
    /// registered_country FI; 10.0.2.0/24 a country without iso_code beside
    /// registered_country DK; 10.0.3.0/24 a country without iso_code; 3fff::/20 only
    /// registered_country IS.
    maxmind,
    /// ip-location-db-like `{country_code => ...}`: 192.0.2.0/24 NO, 198.51.100.0/24 SE,
    /// 203.0.113.0/26 "n0", 2001:db8::/32 DE.
    flat,
    /// GeoLite2-ASN-like records with no country at all.
    asn,
};

/// Writes a small MaxMind DB into `dir` at test time by running
/// `perl tests/support/make_geoip_fixture.pl` and returns its path. `ip_version` 4 leaves out
/// the IPv6 networks. Needs perl and MaxMind::DB::Writer::Tree (Debian's
/// libmaxmind-db-writer-perl, installed by scripts/deps.sh): throws std::runtime_error saying
/// so, with perl's stderr, when the script fails. Not thread safe (one call at a time).
std::filesystem::path make_geoip_fixture(const temp_dir& dir,
                                         geoip_layout layout = geoip_layout::maxmind,
                                         int ip_version = 6);

}  // namespace cg::test
