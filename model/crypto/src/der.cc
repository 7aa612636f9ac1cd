#include "snp/model/crypto/der.h"

#include <string>

#include <fmt/format.h>

#include "snp/model/base/assert.h"

namespace snplab::model::der {

namespace {

void append(Bytes& out, const Bytes& b) { out.insert(out.end(), b.begin(), b.end()); }

Bytes str(std::uint8_t tag, std::string_view s) {
  return tlv(tag, {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()});
}

// Days since 1970-01-01 to a civil date (proleptic Gregorian), Howard Hinnant's algorithm.
void civil(std::int64_t days, int* y, unsigned* m, unsigned* d) {
  days += 719468;
  const std::int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const auto doe = static_cast<unsigned>(days - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = static_cast<int>(static_cast<std::int64_t>(yoe) + era * 400 + (*m <= 2 ? 1 : 0));
}

}  // namespace

Bytes tlv(std::uint8_t tag, std::span<const std::uint8_t> value) {
  Bytes out{tag};
  const std::size_t n = value.size();
  if (n < 0x80) {
    out.push_back(static_cast<std::uint8_t>(n));
  } else {
    Bytes len;
    for (std::size_t v = n; v != 0; v >>= 8) len.insert(len.begin(), static_cast<std::uint8_t>(v & 0xFF));
    out.push_back(static_cast<std::uint8_t>(0x80 | len.size()));
    append(out, len);
  }
  out.insert(out.end(), value.begin(), value.end());
  return out;
}

Bytes sequence(const std::vector<Bytes>& items) {
  Bytes body;
  for (const Bytes& b : items) append(body, b);
  return tlv(0x30, body);
}
Bytes sequence(std::initializer_list<Bytes> items) { return sequence(std::vector<Bytes>(items)); }

Bytes set(std::initializer_list<Bytes> items) {
  Bytes body;
  for (const Bytes& b : items) append(body, b);
  return tlv(0x31, body);
}

Bytes integer(std::span<const std::uint8_t> be) {
  std::size_t i = 0;
  while (i + 1 < be.size() && be[i] == 0) ++i;
  Bytes v(be.begin() + static_cast<std::ptrdiff_t>(i), be.end());
  if (v.empty()) v.push_back(0);
  if ((v[0] & 0x80) != 0) v.insert(v.begin(), 0);
  return tlv(0x02, v);
}

Bytes integer(std::uint64_t v) {
  std::uint8_t be[8];
  for (unsigned i = 0; i < 8; ++i) be[i] = static_cast<std::uint8_t>(v >> (56 - 8 * i));
  return integer(std::span<const std::uint8_t>(be, 8));
}

Bytes boolean(bool v) {
  const std::uint8_t b = v ? 0xFF : 0x00;
  return tlv(0x01, {&b, 1});
}

Bytes oid(std::string_view dotted) {
  std::vector<std::uint64_t> arcs;
  std::uint64_t cur = 0;
  bool have = false;
  for (char c : dotted) {
    if (c == '.') {
      SNPLAB_ASSERT(have, "malformed OID");
      arcs.push_back(cur);
      cur = 0;
      have = false;
    } else {
      SNPLAB_ASSERT(c >= '0' && c <= '9', "malformed OID");
      cur = cur * 10 + static_cast<std::uint64_t>(c - '0');
      have = true;
    }
  }
  SNPLAB_ASSERT(have && !arcs.empty(), "malformed OID");
  arcs.push_back(cur);
  Bytes body;
  auto put = [&body](std::uint64_t v) {
    Bytes tmp{static_cast<std::uint8_t>(v & 0x7F)};
    for (v >>= 7; v != 0; v >>= 7) tmp.insert(tmp.begin(), static_cast<std::uint8_t>(0x80 | (v & 0x7F)));
    append(body, tmp);
  };
  put(arcs[0] * 40 + arcs[1]);
  for (std::size_t i = 2; i < arcs.size(); ++i) put(arcs[i]);
  return tlv(0x06, body);
}

Bytes octet_string(std::span<const std::uint8_t> v) { return tlv(0x04, v); }

Bytes bit_string(std::span<const std::uint8_t> v) {
  Bytes body{0};
  body.insert(body.end(), v.begin(), v.end());
  return tlv(0x03, body);
}

Bytes utf8_string(std::string_view s) { return str(0x0C, s); }
Bytes printable_string(std::string_view s) { return str(0x13, s); }
Bytes ia5_string(std::string_view s) { return str(0x16, s); }

Bytes time(std::int64_t t) {
  const std::int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400;
  const std::int64_t secs = t - days * 86400;
  int y = 0;
  unsigned m = 0, d = 0;
  civil(days, &y, &m, &d);
  const auto hh = static_cast<unsigned>(secs / 3600), mm = static_cast<unsigned>(secs / 60 % 60),
             ss = static_cast<unsigned>(secs % 60);
  if (y >= 1950 && y < 2050) return str(0x17, fmt::format("{:02}{:02}{:02}{:02}{:02}{:02}Z", y % 100, m, d, hh, mm, ss));
  return str(0x18, fmt::format("{:04}{:02}{:02}{:02}{:02}{:02}Z", y, m, d, hh, mm, ss));
}

Bytes explicit_tag(unsigned n, const Bytes& inner) {
  SNPLAB_ASSERT(n < 31, "context tag number too large");
  return tlv(static_cast<std::uint8_t>(0xA0 | n), inner);
}

std::string pem(std::string_view label, std::span<const std::uint8_t> der) {
  static constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string b64;
  for (std::size_t i = 0; i < der.size(); i += 3) {
    const std::uint32_t n = (std::uint32_t{der[i]} << 16) | (i + 1 < der.size() ? std::uint32_t{der[i + 1]} << 8 : 0) |
                            (i + 2 < der.size() ? der[i + 2] : 0U);
    b64.push_back(kB64[(n >> 18) & 63]);
    b64.push_back(kB64[(n >> 12) & 63]);
    b64.push_back(i + 1 < der.size() ? kB64[(n >> 6) & 63] : '=');
    b64.push_back(i + 2 < der.size() ? kB64[n & 63] : '=');
  }
  std::string out = "-----BEGIN " + std::string(label) + "-----\n";
  for (std::size_t i = 0; i < b64.size(); i += 64) out += b64.substr(i, 64) + "\n";
  out += "-----END " + std::string(label) + "-----\n";
  return out;
}

}  // namespace snplab::model::der
