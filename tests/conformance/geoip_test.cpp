// MaxMind's test databases (MaxMind-DB test-data: GeoIP2-Country-Test, GeoLite2-Country-Test,
// GeoIP2-City-Test) against analytics::country_database. There are no source JSON files, so
// the test walks each search tree itself with libmaxminddb (MMDB_read_node) and, for every
// network, looks up its first and last address (in the IPv4 subtree also as IPv4 addresses):
// lookup() must give exactly the record's country.iso_code, or registered_country.iso_code
// when the record has no country.iso_code (the fallback geoip.hpp documents), or empty when
// neither is there. Networks with no record must give empty. A few addresses are also checked
// against what `mmdblookup` printed, so the walk is not the only judge. The two broken
// databases must either be refused with geoip_error or give only empty or valid codes, never
// crash. Exit 77 (skipped) when the directory is absent.
#include <maxminddb.h>

#include <algorithm>
#include <array>
#include <boost/asio/ip/address.hpp>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "analytics/geoip.hpp"

namespace {

namespace fs = std::filesystem;
using cg::analytics::country_database;
using cg::analytics::geoip_error;
using bytes16 = std::array<unsigned char, 16>;

// A corrupt tree may point back up; no test database has a tenth of this.
constexpr int max_walk_nodes = 1 << 20;

struct tally {
    int networks = 0;  // data records reached in the walk, aliases included
    int aliased = 0;   // of which reached through an alias of the IPv4 subtree
    int agree = 0;     // networks whose first and last address both gave the expected code
    int fallback = 0;  // networks whose expected code came from registered_country
    int no_code = 0;   // networks with neither code (expected empty)
    int empty = 0;     // networks without a record, checked to give empty
    int empty_agree = 0;
    std::vector<std::string> examples;  // a few disagreements
};

// The record's code the way geoip.hpp documents it, read with libmaxminddb's own accessors.
std::string expected_code(MMDB_entry_s entry, bool& fell_back) {
    fell_back = false;
    MMDB_entry_data_s data;
    int status = MMDB_get_value(&entry, &data, "country", "iso_code", nullptr);
    if (status != MMDB_SUCCESS || !data.has_data) {
        status = MMDB_get_value(&entry, &data, "registered_country", "iso_code", nullptr);
        fell_back = true;
    }
    if (status != MMDB_SUCCESS || !data.has_data || data.type != MMDB_DATA_TYPE_UTF8_STRING ||
        data.data_size != 2) {
        return {};
    }
    std::string code{data.utf8_string, 2};
    for (const char c : code) {
        if (c < 'A' || c > 'Z') {
            return {};
        }
    }
    return code;
}

// `bits` with the host part (after `prefix` bits) all zero or all one.
bytes16 edge(bytes16 bits, int prefix, bool last) {
    for (int i = prefix; i < 128; ++i) {
        const auto byte = static_cast<std::size_t>(i / 8);
        const auto mask = static_cast<unsigned char>(0x80U >> (i % 8));
        bits[byte] = static_cast<unsigned char>(last ? bits[byte] | mask : bits[byte] & ~mask);
    }
    return bits;
}

boost::asio::ip::address to_address(const bytes16& bits, bool ipv4_database) {
    if (ipv4_database) {
        return boost::asio::ip::address_v4{{bits[0], bits[1], bits[2], bits[3]}};
    }
    return boost::asio::ip::address_v6{bits};
}

std::string describe(const bytes16& bits, int prefix, bool ipv4_database) {
    return to_address(bits, ipv4_database).to_string() + "/" + std::to_string(prefix);
}

// The addresses a network is checked with: its first and last, and in an IPv6 database's IPv4
// subtree (::/96) the same as IPv4 addresses, which libmaxminddb starts at that subtree.
std::vector<boost::asio::ip::address> probes(const bytes16& bits, int prefix, bool ipv4_database) {
    std::vector<boost::asio::ip::address> out;
    for (const bool last : {false, true}) {
        const bytes16 b = edge(bits, prefix, last);
        out.push_back(to_address(b, ipv4_database));
        const bool in_ipv4_subtree =
            !ipv4_database && prefix >= 96 &&
            std::all_of(b.begin(), b.begin() + 12, [](unsigned char c) { return c == 0; });
        if (in_ipv4_subtree) {
            out.push_back(boost::asio::ip::address_v4{{b[12], b[13], b[14], b[15]}});
        }
    }
    return out;
}

// Visits every record of the search tree, lower half first: (network bits, prefix length,
// record type, entry, whether it was reached through an alias). MaxMind's databases point
// ::ffff:0:0/96, 2001::/32 (Teredo) and 2002::/16 (6to4) at the IPv4 subtree under ::/96, so
// the walk sees those networks again; a node reached a second time is such an alias.
using visitor = std::function<void(const bytes16&, int, std::uint8_t, MMDB_entry_s, bool)>;

void walk(const MMDB_s& db, const visitor& visit) {
    struct item {
        std::uint32_t node;
        bytes16 bits;
        int depth;
        bool via_alias;
    };
    std::vector<bool> seen(db.metadata.node_count);
    std::vector<item> stack{{0, {}, 0, false}};
    for (int nodes = 0; !stack.empty() && nodes < max_walk_nodes; ++nodes) {
        item at = stack.back();
        stack.pop_back();
        MMDB_search_node_s node;
        if (MMDB_read_node(&db, at.node, &node) != MMDB_SUCCESS || at.depth >= 128) {
            continue;
        }
        at.via_alias = at.via_alias || seen[at.node];
        seen[at.node] = true;
        for (const int side : {1, 0}) {  // right pushed first: left comes off the stack first
            bytes16 bits = at.bits;
            if (side == 1) {
                const auto byte = static_cast<std::size_t>(at.depth / 8);
                bits[byte] = static_cast<unsigned char>(bits[byte] | (0x80U >> (at.depth % 8)));
            }
            const std::uint8_t type = side == 0 ? node.left_record_type : node.right_record_type;
            const std::uint64_t record = side == 0 ? node.left_record : node.right_record;
            const MMDB_entry_s entry = side == 0 ? node.left_record_entry : node.right_record_entry;
            if (type == MMDB_RECORD_TYPE_SEARCH_NODE) {
                stack.push_back(
                    {static_cast<std::uint32_t>(record), bits, at.depth + 1, at.via_alias});
            } else {
                visit(bits, at.depth + 1, type, entry, at.via_alias);
            }
        }
    }
}

tally check_database(const fs::path& file) {
    tally t;
    const country_database db{file};
    MMDB_s raw;
    if (MMDB_open(file.c_str(), MMDB_MODE_MMAP, &raw) != MMDB_SUCCESS) {
        t.examples.push_back("libmaxminddb cannot open it for the walk");
        return t;
    }
    const bool ipv4_database = raw.metadata.ip_version == 4;
    walk(raw, [&](const bytes16& bits, int prefix, std::uint8_t type, MMDB_entry_s entry,
                  bool via_alias) {
        std::string want;
        if (type == MMDB_RECORD_TYPE_DATA) {
            ++t.networks;
            t.aliased += via_alias ? 1 : 0;
            bool fell_back = false;
            want = expected_code(entry, fell_back);
            t.fallback += fell_back && !want.empty() ? 1 : 0;
            t.no_code += want.empty() ? 1 : 0;
        } else if (type == MMDB_RECORD_TYPE_EMPTY) {
            ++t.empty;
        } else {
            return;
        }
        bool ok = true;
        for (const auto& address : probes(bits, prefix, ipv4_database)) {
            const std::string got{db.lookup(address).view()};
            if (got != want) {
                ok = false;
                if (t.examples.size() < 5) {
                    t.examples.push_back(describe(bits, prefix, ipv4_database) + ": " +
                                         address.to_string() + " gave '" + got + "', record '" +
                                         want + "'");
                }
            }
        }
        if (ok) {
            (type == MMDB_RECORD_TYPE_DATA ? t.agree : t.empty_agree) += 1;
        }
    });
    MMDB_close(&raw);
    return t;
}

// What `mmdblookup --file F --ip A country iso_code` printed (registered_country where the
// record has no country): the test data's country and registered_country often differ.
struct spot {
    const char* database;
    const char* address;
    const char* code;
};
constexpr spot spots[] = {
    {"GeoIP2-Country-Test.mmdb", "2.125.160.216", "GB"},  // registered_country FR
    {"GeoIP2-Country-Test.mmdb", "81.2.69.160", "GB"},    // registered_country US
    {"GeoIP2-Country-Test.mmdb", "::ffff:81.2.69.160", "GB"},
    {"GeoIP2-Country-Test.mmdb", "2002:5102:45a0::", "GB"},  // 6to4, aliased to 81.2.69.160
    {"GeoIP2-Country-Test.mmdb", "89.160.20.112", "SE"},
    {"GeoIP2-Country-Test.mmdb", "216.160.83.56", "US"},
    {"GeoIP2-Country-Test.mmdb", "67.43.156.0", "BT"},
    {"GeoIP2-Country-Test.mmdb", "2001:218::", "JP"},
    {"GeoIP2-Country-Test.mmdb", "2a02:d300::", "UA"},
    {"GeoIP2-Country-Test.mmdb", "2001:480::1", ""},
    {"GeoLite2-Country-Test.mmdb", "2001:480::1", "US"},
    {"GeoLite2-Country-Test.mmdb", "175.16.199.0", ""},
    {"GeoLite2-Country-Test.mmdb", "2a02:cfc0::", "FR"},
    {"GeoIP2-City-Test.mmdb", "81.2.69.160", "GB"},
    {"GeoIP2-City-Test.mmdb", "216.160.83.56", "US"},
    {"GeoIP2-City-Test.mmdb", "175.16.199.0", "CN"},
    {"GeoIP2-City-Test.mmdb", "111.235.160.0", ""},
};

// A broken database: refused, or every lookup gives empty or two letters A-Z.
bool check_broken(const fs::path& file, const std::vector<boost::asio::ip::address>& addresses) {
    try {
        const country_database db{file};
        int known = 0;
        for (const auto& a : addresses) {
            const auto code = db.lookup(a);
            const std::string_view v = code.view();
            if (!v.empty() &&
                (v.size() != 2 || v[0] < 'A' || v[0] > 'Z' || v[1] < 'A' || v[1] > 'Z')) {
                std::printf("  %s: %s gave an invalid code\n", file.filename().c_str(),
                            a.to_string().c_str());
                return false;
            }
            known += code.known() ? 1 : 0;
        }
        std::printf("%-45s opened: %zu lookups, %d known, the rest empty\n",
                    file.filename().c_str(), addresses.size(), known);
    } catch (const geoip_error& e) {
        std::printf("%-45s refused: %s\n", file.filename().c_str(), e.what());
    }
    return true;
}

}  // namespace

int main() {
    const fs::path dir = CG_GEOIP_TESTDATA_DIR;
    if (!fs::is_directory(dir)) {
        std::printf("SKIP: %s is absent\n", dir.string().c_str());
        return 77;
    }
    bool ok = true;
    int networks = 0;
    int agree = 0;
    int databases = 0;
    std::vector<boost::asio::ip::address> every_edge;  // addresses for the broken databases
    for (const char* name :
         {"GeoIP2-Country-Test.mmdb", "GeoLite2-Country-Test.mmdb", "GeoIP2-City-Test.mmdb"}) {
        const fs::path file = dir / name;
        try {
            const tally t = check_database(file);
            std::printf(
                "%-28s %4d networks (%d through IPv4 aliases), %4d agree (%d from "
                "registered_country, %d without a code); %d empty networks, %d give empty\n",
                name, t.networks, t.aliased, t.agree, t.fallback, t.no_code, t.empty,
                t.empty_agree);
            for (const auto& e : t.examples) {
                std::printf("    %s\n", e.c_str());
            }
            ok = ok && t.networks > 0 && t.agree == t.networks && t.empty_agree == t.empty;
            networks += t.networks;
            agree += t.agree;
            ++databases;
        } catch (const geoip_error& e) {
            std::printf("%s: %s\n", name, e.what());
            ok = false;
        }
    }

    int spots_agree = 0;
    for (const spot& s : spots) {
        const country_database db{dir / s.database};
        const std::string got{db.lookup(boost::asio::ip::make_address(s.address)).view()};
        if (got == s.code) {
            ++spots_agree;
        } else {
            std::printf("    %s %s gave '%s', mmdblookup '%s'\n", s.database, s.address,
                        got.c_str(), s.code);
            ok = false;
        }
    }
    std::printf("mmdblookup spot checks: %d/%zu agree\n", spots_agree, std::size(spots));

    // The broken databases get the first and last address of every network of the good City
    // database, which they are copies of.
    {
        MMDB_s raw;
        if (MMDB_open((dir / "GeoIP2-City-Test.mmdb").c_str(), MMDB_MODE_MMAP, &raw) ==
            MMDB_SUCCESS) {
            walk(raw, [&](const bytes16& bits, int prefix, std::uint8_t, MMDB_entry_s, bool) {
                every_edge.push_back(boost::asio::ip::address_v6{edge(bits, prefix, false)});
                every_edge.push_back(boost::asio::ip::address_v6{edge(bits, prefix, true)});
            });
            MMDB_close(&raw);
        }
        every_edge.push_back(boost::asio::ip::make_address("81.2.69.160"));
        every_edge.push_back(boost::asio::ip::make_address("::ffff:81.2.69.160"));
    }
    for (const char* name : {"GeoIP2-City-Test-Broken-Double-Format.mmdb",
                             "GeoIP2-City-Test-Invalid-Node-Count.mmdb"}) {
        ok = check_broken(dir / name, every_edge) && ok;
    }

    std::printf("geoip conformance: %d networks in %d databases, %d agree\n", networks, databases,
                agree);
    return ok ? 0 : 1;
}
