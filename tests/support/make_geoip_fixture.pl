#!/usr/bin/perl
# Writes a small MaxMind DB for the country lookup's tests (support/geoip_fixture.hpp).
#
#   perl make_geoip_fixture.pl OUT.mmdb [--layout=maxmind|flat|asn] [--ip-version=6|4]
#
# Needs MaxMind::DB::Writer::Tree (Debian: libmaxmind-db-writer-perl; scripts/deps.sh).
#
# Layouts: `maxmind` has GeoIP2-Country-like records ({country => {iso_code => 'NO'}}), with
# a network whose record has only registered_country and networks with bad codes; `flat` has
# ip-location-db's records ({country_code => 'NO'}); `asn` has GeoLite2-ASN-like records and no
# country at all. The networks are documentation ranges (RFC 5737, RFC 3849, RFC 9637) and
# private ones, so the writer must keep reserved networks. IPv6 is not aliased to IPv4: an
# IPv4-mapped address (::ffff:192.0.2.1) is found only if the reader maps it to IPv4 itself.
# An IPv4 database (--ip-version=4) leaves the IPv6 networks out.
use strict;
use warnings;

use Getopt::Long qw(GetOptions);
use MaxMind::DB::Writer::Tree;

my $layout     = 'maxmind';
my $ip_version = 6;
GetOptions('layout=s' => \$layout, 'ip-version=i' => \$ip_version)
    or die "usage: $0 OUT.mmdb [--layout=maxmind|flat|asn] [--ip-version=6|4]\n";
my $out = shift @ARGV
    or die "usage: $0 OUT.mmdb [--layout=maxmind|flat|asn] [--ip-version=6|4]\n";
die "$0: --ip-version must be 4 or 6\n" unless $ip_version == 4 || $ip_version == 6;

my %types = (
    country                        => 'map',
    registered_country             => 'map',
    iso_code                       => 'utf8_string',
    geoname_id                     => 'uint32',
    names                          => 'map',
    en                             => 'utf8_string',
    country_code                   => 'utf8_string',
    autonomous_system_number       => 'uint32',
    autonomous_system_organization => 'utf8_string',
);

sub country {
    my ($code) = @_;
    return { country => { iso_code => $code } };
}

my %networks = (
    maxmind => [
        [ '192.0.2.0/24',      country('NO') ],
        [ '198.51.100.0/24',   country('SE') ],
        [ '203.0.113.0/26',    country('n0') ],
        [ '203.0.113.64/26',   country('NOR') ],
        [ '203.0.113.128/26',  country('') ],
        [ '10.0.0.0/24',       { registered_country => { iso_code => 'FI' } } ],
        [ '10.0.1.0/24',
          { country => { iso_code => 'no' }, registered_country => { iso_code => 'FI' } } ],
        [ '10.0.2.0/24',
          { country => { names => { en => 'Norway' } },
            registered_country => { iso_code => 'DK' } } ],
        [ '10.0.3.0/24',       { country => { geoname_id => 3144096 } } ],
        [ '2001:db8::/32',     country('DE') ],
        [ '3fff::/20',         { registered_country => { iso_code => 'IS' } } ],
    ],
    flat => [
        [ '192.0.2.0/24',    { country_code => 'NO' } ],
        [ '198.51.100.0/24', { country_code => 'SE' } ],
        [ '203.0.113.0/26',  { country_code => 'n0' } ],
        [ '2001:db8::/32',   { country_code => 'DE' } ],
    ],
    asn => [
        [ '192.0.2.0/24',
          { autonomous_system_number => 64496, autonomous_system_organization => 'Example' } ],
        [ '2001:db8::/32',
          { autonomous_system_number => 64497, autonomous_system_organization => 'Example' } ],
    ],
);
die "$0: unknown layout '$layout' (maxmind, flat or asn)\n" unless $networks{$layout};

my %database_type = (
    maxmind => 'CG-Test-Country',
    flat    => 'CG-Test country ipvAll',
    asn     => 'CG-Test-ASN',
);

my $tree = MaxMind::DB::Writer::Tree->new(
    ip_version               => $ip_version,
    record_size              => 24,
    database_type            => $database_type{$layout},
    languages                => ['en'],
    description              => { en => 'consent-gateway test fixture' },
    map_key_type_callback    => sub { $types{ $_[0] } },
    remove_reserved_networks => 0,
    alias_ipv6_to_ipv4       => 0,
);

for my $n (@{ $networks{$layout} }) {
    my ($network, $record) = @$n;
    next if $ip_version == 4 && $network =~ /:/;
    $tree->insert_network($network, $record);
}

open my $fh, '>:raw', $out or die "$0: cannot write $out: $!\n";
$tree->write_tree($fh);
close $fh or die "$0: cannot write $out: $!\n";
