// A minimal DER writer (X.690) for the certificates the simulated chip issues. Writing only;
// parsing of certificates is x509.h's job (OpenSSL).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace snplab::model::der {

using Bytes = std::vector<std::uint8_t>;

Bytes tlv(std::uint8_t tag, std::span<const std::uint8_t> value);
Bytes sequence(std::initializer_list<Bytes> items);
Bytes sequence(const std::vector<Bytes>& items);
Bytes set(std::initializer_list<Bytes> items);
/// An unsigned big-endian integer (leading zeros stripped, 0x00 prepended if needed).
Bytes integer(std::span<const std::uint8_t> big_endian);
Bytes integer(std::uint64_t v);
Bytes boolean(bool v);
/// Dotted OID text, e.g. "1.2.840.10045.4.3.3". Precondition: well formed.
Bytes oid(std::string_view dotted);
Bytes octet_string(std::span<const std::uint8_t> v);
Bytes bit_string(std::span<const std::uint8_t> v);  ///< zero unused bits
Bytes utf8_string(std::string_view s);
Bytes printable_string(std::string_view s);
Bytes ia5_string(std::string_view s);
/// UTCTime (1950..2049) or GeneralizedTime, from seconds since the epoch (UTC).
Bytes time(std::int64_t unix_seconds);
/// [n] EXPLICIT, constructed context tag.
Bytes explicit_tag(unsigned n, const Bytes& inner);

/// PEM armour ("-----BEGIN CERTIFICATE-----" ...) for DER bytes.
std::string pem(std::string_view label, std::span<const std::uint8_t> der);

}  // namespace snplab::model::der
