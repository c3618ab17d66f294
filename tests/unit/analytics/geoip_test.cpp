#include "analytics/geoip.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "support/geoip_fixture.hpp"
#include "support/temp_dir.hpp"

namespace {

namespace fs = std::filesystem;
using cg::analytics::country_code;
using cg::analytics::country_database;
using cg::analytics::geoip_error;
using cg::test::geoip_layout;

// One fixture file per layout and IP version, written once per test process (perl takes about
// half a second to start the writer).
const fs::path& fixture(geoip_layout layout = geoip_layout::maxmind, int ip_version = 6) {
    static cg::test::temp_dir dir{"cg-geoip"};
    static std::map<std::pair<geoip_layout, int>, fs::path> files;
    auto [it, fresh] = files.try_emplace({layout, ip_version});
    if (fresh) {
        try {
            it->second = cg::test::make_geoip_fixture(dir, layout, ip_version);
        } catch (...) {
            files.erase(it);
            throw;
        }
    }
    return it->second;
}

std::string country(const country_database& db, const char* address) {
    return std::string{db.lookup(boost::asio::ip::make_address(address)).view()};
}

std::string open_error(const fs::path& file) {
    try {
        country_database db{file};
    } catch (const geoip_error& e) {
        return e.what();
    }
    return "(no geoip_error)";
}

void write_file(const fs::path& file, const std::string& bytes) {
    std::ofstream out{file, std::ios::binary};
    out << bytes;
}

TEST(CountryCode, IsATwoByteValueThatStartsUnknown) {
    static_assert(sizeof(country_code) == 2);
    static_assert(std::is_trivially_copyable_v<country_code>);
    const country_code unknown;
    EXPECT_FALSE(unknown.known());
    EXPECT_EQ(unknown.view(), "");
    const country_code norway{{'N', 'O'}};
    EXPECT_TRUE(norway.known());
    EXPECT_EQ(norway.view(), "NO");
}

TEST(CountryDatabase, FindsIpv4Networks) {
    const country_database db{fixture()};
    EXPECT_EQ(country(db, "192.0.2.1"), "NO");
    EXPECT_EQ(country(db, "192.0.2.255"), "NO");
    EXPECT_EQ(country(db, "198.51.100.0"), "SE");
    EXPECT_EQ(country(db, "198.51.100.77"), "SE");
}

TEST(CountryDatabase, FindsIpv6Networks) {
    const country_database db{fixture()};
    EXPECT_EQ(country(db, "2001:db8::1"), "DE");
    EXPECT_EQ(country(db, "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"), "DE");
}

// The fixture does not alias ::ffff:0:0/96 to its IPv4 tree (ip-location-db's files do not
// either), so only the conversion to IPv4 finds these.
TEST(CountryDatabase, FindsIpv4MappedAddressesAsIpv4) {
    const country_database db{fixture()};
    EXPECT_EQ(country(db, "::ffff:192.0.2.1"), "NO");
    EXPECT_EQ(country(db, "::ffff:198.51.100.200"), "SE");
    EXPECT_EQ(country(db, "::ffff:8.8.8.8"), "");
}

TEST(CountryDatabase, ReturnsEmptyForAddressesNotInTheDatabase) {
    const country_database db{fixture()};
    EXPECT_EQ(country(db, "8.8.8.8"), "");
    EXPECT_EQ(country(db, "0.0.0.0"), "");
    EXPECT_EQ(country(db, "255.255.255.255"), "");
    EXPECT_EQ(country(db, "192.0.3.0"), "");
    EXPECT_EQ(country(db, "2001:db9::1"), "");
    EXPECT_EQ(country(db, "::1"), "");
    EXPECT_EQ(country(db, "::"), "");
}

TEST(CountryDatabase, RejectsCodesThatAreNotTwoUpperCaseLetters) {
    const country_database db{fixture()};
    EXPECT_EQ(country(db, "203.0.113.1"), "");    // "n0"
    EXPECT_EQ(country(db, "203.0.113.65"), "");   // "NOR"
    EXPECT_EQ(country(db, "203.0.113.130"), "");  // ""
}

TEST(CountryDatabase, FallsBackToRegisteredCountryWhenCountryHasNoCode) {
    const country_database db{fixture()};
    EXPECT_EQ(country(db, "10.0.0.1"), "FI");  // no country at all
    EXPECT_EQ(country(db, "10.0.2.1"), "DK");  // a country with names only
    EXPECT_EQ(country(db, "3fff::1"), "IS");
}

TEST(CountryDatabase, KeepsAnInvalidCountryUnknownRatherThanFallingBack) {
    const country_database db{fixture()};
    EXPECT_EQ(country(db, "10.0.1.1"), "");  // country "no", registered_country "FI"
}

TEST(CountryDatabase, ReturnsEmptyForARecordWithoutAnyCode) {
    const country_database db{fixture()};
    EXPECT_EQ(country(db, "10.0.3.1"), "");
}

TEST(CountryDatabase, ReadsFlatCountryCodeRecords) {
    const country_database db{fixture(geoip_layout::flat)};
    EXPECT_EQ(db.type(), "CG-Test country ipvAll");
    EXPECT_EQ(country(db, "192.0.2.1"), "NO");
    EXPECT_EQ(country(db, "::ffff:198.51.100.1"), "SE");
    EXPECT_EQ(country(db, "2001:db8::1"), "DE");
    EXPECT_EQ(country(db, "203.0.113.1"), "");  // "n0"
    EXPECT_EQ(country(db, "8.8.8.8"), "");
}

TEST(CountryDatabase, LooksUpIpv4AndMappedAddressesInAnIpv4Database) {
    const country_database db{fixture(geoip_layout::maxmind, 4)};
    EXPECT_EQ(country(db, "192.0.2.1"), "NO");
    EXPECT_EQ(country(db, "::ffff:192.0.2.1"), "NO");
    EXPECT_EQ(country(db, "2001:db8::1"), "");
}

TEST(CountryDatabase, ReportsTheDatabaseType) {
    const country_database db{fixture()};
    EXPECT_EQ(db.type(), "CG-Test-Country");
}

TEST(CountryDatabase, ThrowsNamingTheFileWhenItIsMissing) {
    const cg::test::temp_dir dir{"cg-geoip"};
    const fs::path missing = dir / "missing.mmdb";
    EXPECT_EQ(open_error(missing),
              missing.string() +
                  ": cannot open country database: Error opening the specified MaxMind DB file "
                  "(No such file or directory)");
}

TEST(CountryDatabase, ThrowsWhenTheFileIsNotAMaxMindDatabase) {
    const cg::test::temp_dir dir{"cg-geoip"};
    const fs::path garbage = dir / "garbage.mmdb";
    write_file(garbage, std::string(4096, '\x5a') + "not a MaxMind DB at all\n");
    EXPECT_EQ(open_error(garbage),
              garbage.string() +
                  ": cannot open country database: The MaxMind DB file contains invalid "
                  "metadata");
}

TEST(CountryDatabase, ThrowsWhenTheFileIsEmpty) {
    const cg::test::temp_dir dir{"cg-geoip"};
    const fs::path empty = dir / "empty.mmdb";
    write_file(empty, "");
    EXPECT_EQ(open_error(empty).rfind(empty.string() + ": cannot open country database: ", 0), 0U)
        << open_error(empty);
}

TEST(CountryDatabase, ThrowsWhenTheRecordsHaveNoCountry) {
    const fs::path& asn = fixture(geoip_layout::asn);
    EXPECT_EQ(open_error(asn), asn.string() +
                                   ": not a country database (type \"CG-Test-ASN\"): its records "
                                   "have no country.iso_code, registered_country.iso_code or "
                                   "country_code");
}

TEST(CountryDatabase, LooksUpFromSeveralThreadsAtOnce) {
    const country_database db{fixture()};
    const std::vector<std::pair<boost::asio::ip::address, std::string>> cases = {
        {boost::asio::ip::make_address("192.0.2.7"), "NO"},
        {boost::asio::ip::make_address("198.51.100.7"), "SE"},
        {boost::asio::ip::make_address("2001:db8::7"), "DE"},
        {boost::asio::ip::make_address("::ffff:192.0.2.7"), "NO"},
        {boost::asio::ip::make_address("10.0.0.7"), "FI"},
        {boost::asio::ip::make_address("203.0.113.7"), ""},
        {boost::asio::ip::make_address("8.8.8.8"), ""},
    };
    std::atomic<int> wrong{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (std::size_t i = 0; i < 20000; ++i) {
                const auto& [address, expected] =
                    cases[(i + static_cast<std::size_t>(t)) % cases.size()];
                if (db.lookup(address).view() != expected) {
                    ++wrong;
                }
            }
        });
    }
    for (auto& t : threads) {
        t.join();
    }
    EXPECT_EQ(wrong.load(), 0);
}

TEST(CountryDatabase, MovesAndTheMovedFromDatabaseFindsNothing) {
    country_database first{fixture()};
    country_database second{std::move(first)};
    EXPECT_EQ(country(second, "192.0.2.1"), "NO");
    // NOLINTNEXTLINE(bugprone-use-after-move): the moved-from state is documented.
    EXPECT_EQ(country(first, "192.0.2.1"), "");
    EXPECT_EQ(first.type(), "");
    first = std::move(second);
    EXPECT_EQ(country(first, "2001:db8::1"), "DE");
}

// ip-location-db's geo-whois-asn-country (npm @ip-location-db/geo-whois-asn-country-mmdb):
// records are {country_code: "US"} at the top level and ::ffff:0:0/96 is not aliased.
TEST(CountryDatabase, ReadsIpLocationDbGeoWhoisAsnCountry) {
    const fs::path file = CG_NPM_GEOIP_DB;
    if (!fs::exists(file)) {
        GTEST_SKIP() << file << " is absent (run `npm ci`)";
    }
    const country_database db{file};
    EXPECT_EQ(country(db, "8.8.8.8"), "US");
    EXPECT_EQ(country(db, "::ffff:8.8.8.8"), "US");
    EXPECT_EQ(country(db, "2001:4860:4860::8888"), "US");
    EXPECT_EQ(country(db, "127.0.0.1"), "");
}

}  // namespace
