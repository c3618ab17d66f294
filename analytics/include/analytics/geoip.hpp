#pragma once

#include <boost/asio/ip/address.hpp>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string_view>

namespace cg::analytics {

/// Thrown when a country database cannot be opened or is not a country database.
class geoip_error : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

/// An ISO 3166-1 alpha-2 country code ("NO"), or empty when unknown. A plain value: two
/// upper-case ASCII letters, or two zero bytes.
struct country_code {
    char code[2] = {0, 0};

    /// True when the code holds two letters.
    bool known() const noexcept { return code[0] != 0; }
    /// The two letters, or "" when unknown.
    std::string_view view() const noexcept {
        return known() ? std::string_view{code, 2} : std::string_view{};
    }
    friend bool operator==(const country_code&, const country_code&) = default;
};

/// A MaxMind DB file opened read-only (mmap), for the country a visitor's address is in.
///
/// Record layouts read (chosen once, when the file is opened, from its first records):
/// - MaxMind's GeoIP2/GeoLite2-Country, -City and -Enterprise: `country.iso_code`, and when a
///   record has no `country.iso_code`, `registered_country.iso_code` (the country the network
///   is registered in: the best guess left for where the visitor is). `represented_country` is
///   not read.
/// - ip-location-db's (geo-whois-asn-country, ...) and other flat ones: `country_code`.
///
/// The file is input we do not fully trust: a code is returned only when it is two ASCII
/// letters A-Z, and a corrupt record gives an empty code, never a crash.
/// Lookups are thread-safe, do no I/O beyond the mapped file and allocate nothing.
class country_database {
  public:
    /// Opens `file`. Throws geoip_error naming the file and the reason: libmaxminddb's
    /// MMDB_strerror text (with errno's for an I/O error), or that its records have no country.
    explicit country_database(const std::filesystem::path& file);
    ~country_database();
    country_database(country_database&&) noexcept;
    country_database& operator=(country_database&&) noexcept;
    country_database(const country_database&) = delete;
    country_database& operator=(const country_database&) = delete;

    /// The country of `address` (IPv4, IPv6, or IPv4-mapped IPv6 "::ffff:1.2.3.4", which is
    /// looked up as the IPv4 address). Empty when the address is not in the database (an IPv6
    /// address in an IPv4 database), on a lookup error, or when the record has no valid
    /// two-letter upper-case code. Never throws; a moved-from database finds nothing.
    country_code lookup(const boost::asio::ip::address& address) const noexcept;

    /// The database's metadata type ("GeoIP2-Country", "country ipvAll"), for logs; "" for a
    /// moved-from database.
    std::string_view type() const noexcept;

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace cg::analytics
