#include "analytics/geoip.hpp"

#include <maxminddb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <system_error>
#include <vector>

namespace cg::analytics {

namespace {

// Where a record keeps its country (see geoip.hpp).
enum class layout { none, maxmind, flat };

// MMDB_aget_value takes its path as a NULL-terminated array: MMDB_get_value's varargs form
// allocates a copy of the path on every call, and lookups must not allocate.
constexpr const char* country_path[] = {"country", "iso_code", nullptr};
constexpr const char* registered_country_path[] = {"registered_country", "iso_code", nullptr};
constexpr const char* flat_path[] = {"country_code", nullptr};

// The layout is read from the first data records in tree order that have either kind of field
// (a record may have neither: MaxMind's anycast networks carry only traits). The record budget
// keeps a database that is not about countries (GeoLite2-ASN) from being read to its end; the
// node budget bounds the walk of a corrupt tree whose records point back up.
constexpr int max_probe_records = 64;
constexpr int max_probe_nodes = 1 << 16;

bool is_upper_ascii(char c) noexcept {
    return c >= 'A' && c <= 'Z';
}

// Whether a record has the field at `path`. A present field gives `out` only when it is two
// letters A-Z: the file is input we do not fully trust, and a broken code must not become a
// dashboard dimension.
enum class field { absent, present };

field read_code(MMDB_entry_s entry, const char* const* path, country_code& out) noexcept {
    MMDB_entry_data_s data;
    const int status = MMDB_aget_value(&entry, &data, path);
    // libmaxminddb reports a missing key, or a path through something that is not a map (IPinfo
    // keeps a country's name in a string `country`), as "path does not match data". Success
    // without data is checked too, for safety: neither gives a code.
    if (status == MMDB_LOOKUP_PATH_DOES_NOT_MATCH_DATA_ERROR ||
        (status == MMDB_SUCCESS && !data.has_data)) {
        return field::absent;
    }
    if (status == MMDB_SUCCESS && data.type == MMDB_DATA_TYPE_UTF8_STRING && data.data_size == 2 &&
        is_upper_ascii(data.utf8_string[0]) && is_upper_ascii(data.utf8_string[1])) {
        out.code[0] = data.utf8_string[0];
        out.code[1] = data.utf8_string[1];
    }
    return field::present;
}

country_code code_of(MMDB_entry_s entry, layout l) noexcept {
    country_code c;
    if (l == layout::flat) {
        read_code(entry, flat_path, c);
    } else if (read_code(entry, country_path, c) == field::absent) {
        // We want where the visitor is, so `country` (geolocated) first. MaxMind leaves it out
        // for networks it cannot place (satellite providers, some anycast, blocks known only as
        // "EU") and may still name the country the network is registered in: the best guess
        // left. A present but invalid `country` is not replaced: a corrupt record is unknown,
        // not another country.
        read_code(entry, registered_country_path, c);
    }
    return c;
}

layout layout_of(MMDB_entry_s entry) noexcept {
    country_code ignored;
    if (read_code(entry, country_path, ignored) == field::present ||
        read_code(entry, registered_country_path, ignored) == field::present) {
        return layout::maxmind;
    }
    if (read_code(entry, flat_path, ignored) == field::present) {
        return layout::flat;
    }
    return layout::none;
}

// Walks the search tree depth first from the root (IPv4 space first in an IPv6 database) to
// the first records that say where their country is.
layout detect_layout(const MMDB_s& db) {
    std::vector<std::uint32_t> stack{0};
    int records = 0;
    for (int nodes = 0; !stack.empty() && nodes < max_probe_nodes; ++nodes) {
        MMDB_search_node_s node;
        const std::uint32_t number = stack.back();
        stack.pop_back();
        if (MMDB_read_node(&db, number, &node) != MMDB_SUCCESS) {
            continue;
        }
        // Right is pushed first so that the left (lower) subtree comes off the stack first.
        for (const bool right : {true, false}) {
            const std::uint8_t type = right ? node.right_record_type : node.left_record_type;
            if (type == MMDB_RECORD_TYPE_SEARCH_NODE) {
                stack.push_back(
                    static_cast<std::uint32_t>(right ? node.right_record : node.left_record));
            } else if (type == MMDB_RECORD_TYPE_DATA) {
                const layout l =
                    layout_of(right ? node.right_record_entry : node.left_record_entry);
                if (l != layout::none) {
                    return l;
                }
                if (++records >= max_probe_records) {
                    return layout::none;
                }
            }
        }
    }
    return layout::none;
}

}  // namespace

struct country_database::impl {
    MMDB_s db{};
    bool open = false;
    layout kind = layout::none;

    impl() = default;
    impl(const impl&) = delete;
    impl& operator=(const impl&) = delete;
    ~impl() {
        if (open) {
            MMDB_close(&db);
        }
    }
};

country_database::country_database(const std::filesystem::path& file)
    : impl_(std::make_unique<impl>()) {
    errno = 0;
    const int status = MMDB_open(file.c_str(), MMDB_MODE_MMAP, &impl_->db);
    const int open_errno = errno;
    if (status != MMDB_SUCCESS) {
        // MMDB_open frees what it allocated when it fails: nothing to close.
        std::string why = MMDB_strerror(status);
        if ((status == MMDB_FILE_OPEN_ERROR || status == MMDB_IO_ERROR) && open_errno != 0) {
            why.append(" (").append(std::generic_category().message(open_errno)).append(")");
        }
        throw geoip_error(file.string() + ": cannot open country database: " + why);
    }
    impl_->open = true;
    impl_->kind = detect_layout(impl_->db);
    if (impl_->kind == layout::none) {
        const char* type = impl_->db.metadata.database_type;
        throw geoip_error(file.string() + ": not a country database (type \"" +
                          (type != nullptr ? type : "") +
                          "\"): its records have no country.iso_code, "
                          "registered_country.iso_code or country_code");
    }
}

country_database::~country_database() = default;
country_database::country_database(country_database&&) noexcept = default;
country_database& country_database::operator=(country_database&&) noexcept = default;

country_code country_database::lookup(const boost::asio::ip::address& address) const noexcept {
    if (!impl_) {
        return {};
    }
    // MMDB_lookup_sockaddr rather than MMDB_lookup_string: no getaddrinfo (which allocates) for
    // an address we already hold in binary.
    sockaddr_in v4{};
    sockaddr_in6 v6{};
    const sockaddr* sa = nullptr;
    if (address.is_v4()) {
        const auto bytes = address.to_v4().to_bytes();
        v4.sin_family = AF_INET;
        std::memcpy(&v4.sin_addr, bytes.data(), bytes.size());
        sa = reinterpret_cast<const sockaddr*>(&v4);
    } else {
        const auto bytes = address.to_v6().to_bytes();
        static constexpr std::array<unsigned char, 12> mapped_prefix = {0, 0, 0, 0, 0,    0,
                                                                        0, 0, 0, 0, 0xff, 0xff};
        if (std::memcmp(bytes.data(), mapped_prefix.data(), mapped_prefix.size()) == 0) {
            // ::ffff:a.b.c.d (a dual-stack socket's IPv4 client) as IPv4: MaxMind's databases
            // alias ::ffff:0:0/96 to their IPv4 tree, but others (ip-location-db's) do not,
            // and an IPv4 database has no IPv6 tree at all.
            v4.sin_family = AF_INET;
            std::memcpy(&v4.sin_addr, bytes.data() + mapped_prefix.size(), 4);
            sa = reinterpret_cast<const sockaddr*>(&v4);
        } else {
            v6.sin6_family = AF_INET6;
            std::memcpy(&v6.sin6_addr, bytes.data(), bytes.size());
            sa = reinterpret_cast<const sockaddr*>(&v6);
        }
    }
    // An IPv4 address in an IPv6 database: libmaxminddb starts at the IPv4 subtree (::/96).
    int error = MMDB_SUCCESS;
    const MMDB_lookup_result_s result = MMDB_lookup_sockaddr(&impl_->db, sa, &error);
    if (error != MMDB_SUCCESS || !result.found_entry) {
        return {};
    }
    return code_of(result.entry, impl_->kind);
}

std::string_view country_database::type() const noexcept {
    if (!impl_ || impl_->db.metadata.database_type == nullptr) {
        return {};
    }
    return impl_->db.metadata.database_type;
}

}  // namespace cg::analytics
