// X.509 and ECDSA behind model/x509.h. Every OpenSSL object lives in a unique_ptr with its
// own free function; the OpenSSL error queue is drained into the message of each failure so
// no error leaks into a later, unrelated call.
#include "snp/model/attest/x509.h"

#include "snp/model/crypto/memo.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include <fmt/format.h>
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

namespace snplab::model {

namespace {

// --- RAII ----------------------------------------------------------------------------------

struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
};
struct BioFree {
  void operator()(BIO* p) const { BIO_free(p); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;
using BioPtr = std::unique_ptr<BIO, BioFree>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;

/// Empties OpenSSL's (thread-local) error queue into one line.
std::string drain_openssl_errors() {
  std::string s;
  while (const unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!s.empty()) s += "; ";
    s += buf;
  }
  return s;
}

/// " (detail)" or "" when OpenSSL left no error behind.
std::string openssl_detail() {
  const std::string d = drain_openssl_errors();
  return d.empty() ? std::string() : " (" + d + ")";
}

// --- Calendar (proleptic Gregorian, no <ctime>: model/ has no clock headers) ---------------

constexpr std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);                       // [0, 399]
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;        // [0, 365]
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;                  // [0, 146096]
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

struct Civil {
  std::int64_t year;
  unsigned month;
  unsigned day;
};

constexpr Civil civil_from_days(std::int64_t z) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2 ? 1 : 0), m, d};
}

static_assert(days_from_civil(1970, 1, 1) == 0);
static_assert(days_from_civil(2000, 3, 1) == 11017);
static_assert(civil_from_days(11017).year == 2000 && civil_from_days(11017).month == 3);

constexpr unsigned days_in_month(std::int64_t y, unsigned m) {
  constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : kDays[m - 1];
}

std::optional<UnixTime> asn1_time_to_unix(const ASN1_TIME* t) {
  struct tm tmv {};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tmv) != 1) return std::nullopt;
  const std::int64_t days = days_from_civil(tmv.tm_year + 1900, static_cast<unsigned>(tmv.tm_mon + 1),
                                            static_cast<unsigned>(tmv.tm_mday));
  return days * 86400 + tmv.tm_hour * 3600 + tmv.tm_min * 60 + tmv.tm_sec;
}

// --- Names ---------------------------------------------------------------------------------

std::string name_to_string(const X509_NAME* name) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio) return "";
  const unsigned long flags = (XN_FLAG_RFC2253 & ~static_cast<unsigned long>(XN_FLAG_SEP_MASK)) | XN_FLAG_SEP_CPLUS_SPC;
  X509_NAME_print_ex(bio.get(), name, 0, flags);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return n > 0 ? std::string(data, static_cast<std::size_t>(n)) : std::string();
}

std::string common_name(const X509_NAME* name) {
  const int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (idx < 0) return "";
  const ASN1_STRING* s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
  unsigned char* utf8 = nullptr;
  const int n = ASN1_STRING_to_UTF8(&utf8, s);
  if (n < 0) return "";
  std::string out(reinterpret_cast<const char*>(utf8), static_cast<std::size_t>(n));
  OPENSSL_free(utf8);
  return out;
}

// --- Minimal DER reading for the KDS extension values --------------------------------------

struct Tlv {
  std::uint8_t tag;
  std::span<const std::uint8_t> value;
};

/// The single TLV that makes up all of `in`, or nullopt.
std::optional<Tlv> single_tlv(std::span<const std::uint8_t> in) {
  if (in.size() < 2) return std::nullopt;
  std::size_t len = in[1];
  std::size_t hdr = 2;
  if (len & 0x80U) {
    const std::size_t n = len & 0x7FU;
    if (n == 0 || n > 4 || in.size() < 2 + n) return std::nullopt;
    len = 0;
    for (std::size_t i = 0; i < n; ++i) len = (len << 8) | in[2 + i];
    hdr += n;
  }
  if (in.size() != hdr + len) return std::nullopt;
  return Tlv{in[0], in.subspan(hdr)};
}

/// DER INTEGER 0..255 (AMD encodes every SPL as an INTEGER, e.g. 02 01 08 or 02 02 00 D9).
std::optional<std::uint8_t> der_small_uint(std::span<const std::uint8_t> in) {
  const auto tlv = single_tlv(in);
  if (!tlv || tlv->tag != 0x02 || tlv->value.empty() || (tlv->value[0] & 0x80U) != 0) return std::nullopt;
  std::uint64_t v = 0;
  for (std::uint8_t b : tlv->value) {
    if (v > 0xFFFF) return std::nullopt;
    v = (v << 8) | b;
  }
  if (v > 0xFF) return std::nullopt;
  return static_cast<std::uint8_t>(v);
}

std::optional<std::int64_t> der_int64(std::span<const std::uint8_t> in) {
  const auto tlv = single_tlv(in);
  if (!tlv || tlv->tag != 0x02 || tlv->value.empty() || tlv->value.size() > 7 || (tlv->value[0] & 0x80U) != 0) {
    return std::nullopt;
  }
  std::int64_t v = 0;
  for (std::uint8_t b : tlv->value) v = (v << 8) | b;
  return v;
}

/// IA5String / UTF8String / PrintableString.
std::optional<std::string> der_string(std::span<const std::uint8_t> in) {
  const auto tlv = single_tlv(in);
  if (!tlv || (tlv->tag != 0x16 && tlv->tag != 0x0C && tlv->tag != 0x13)) return std::nullopt;
  return std::string(reinterpret_cast<const char*>(tlv->value.data()), tlv->value.size());
}

constexpr std::string_view kKdsPrefix = "1.3.6.1.4.1.3704.1.";

}  // namespace

// --- Time ----------------------------------------------------------------------------------

std::string format_utc(UnixTime t) {
  std::int64_t days = t / 86400;
  std::int64_t secs = t % 86400;
  if (secs < 0) {
    secs += 86400;
    days -= 1;
  }
  const Civil c = civil_from_days(days);
  return fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02}", c.year, c.month, c.day, secs / 3600, (secs / 60) % 60,
                     secs % 60);
}

std::optional<UnixTime> parse_utc(std::string_view s) {
  auto num = [&s](std::size_t pos, std::size_t len) -> std::optional<unsigned> {
    if (pos + len > s.size()) return std::nullopt;
    unsigned v = 0;
    for (std::size_t i = pos; i < pos + len; ++i) {
      if (s[i] < '0' || s[i] > '9') return std::nullopt;
      v = v * 10 + static_cast<unsigned>(s[i] - '0');
    }
    return v;
  };
  if (s.size() < 10 || s[4] != '-' || s[7] != '-') return std::nullopt;
  const auto y = num(0, 4), mo = num(5, 2), d = num(8, 2);
  if (!y || !mo || !d || *mo < 1 || *mo > 12 || *d < 1 || *d > days_in_month(*y, *mo)) return std::nullopt;
  unsigned hh = 0, mm = 0, ss = 0;
  std::string_view rest = s.substr(10);
  if (!rest.empty()) {
    if ((rest[0] != 'T' && rest[0] != ' ') || rest.size() < 9 || rest[3] != ':' || rest[6] != ':') return std::nullopt;
    const auto h = num(11, 2), mi = num(14, 2), se = num(17, 2);
    if (!h || !mi || !se || *h > 23 || *mi > 59 || *se > 59) return std::nullopt;
    hh = *h;
    mm = *mi;
    ss = *se;
    rest = rest.substr(9);
    if (rest != "" && rest != "Z" && rest != " UTC" && rest != "+00:00") return std::nullopt;
  }
  return days_from_civil(*y, *mo, *d) * 86400 + hh * 3600 + mm * 60 + ss;
}

// --- AmdCertExtensions ---------------------------------------------------------------------

bool AmdCertExtensions::has_tcb(TcbLayout layout) const {
  const bool base = bl_spl && tee_spl && snp_spl && ucode_spl;
  switch (layout) {
    case TcbLayout::MilanGenoa: return base;
    case TcbLayout::Turin: return base && fmc_spl.has_value();
  }
  return false;
}

TcbParts AmdCertExtensions::tcb_parts() const {
  TcbParts p;
  p.fmc = fmc_spl.value_or(0);
  p.boot_loader = bl_spl.value_or(0);
  p.tee = tee_spl.value_or(0);
  p.snp = snp_spl.value_or(0);
  p.microcode = ucode_spl.value_or(0);
  for (std::size_t i = 0; i < 4; ++i) p.spl[i] = spl_4_7[i].value_or(0);
  return p;
}

bool AmdCertExtensions::empty() const {
  return !struct_version && !product_name && !bl_spl && !tee_spl && !snp_spl &&
         std::none_of(spl_4_7.begin(), spl_4_7.end(), [](const auto& v) { return v.has_value(); }) && !ucode_spl &&
         !fmc_spl && !hwid && !csp_id;
}

// --- Certificate ---------------------------------------------------------------------------

struct Certificate::Impl {
  X509Ptr x509;
  std::vector<std::uint8_t> der;
  UnixTime not_before = 0;
  UnixTime not_after = 0;
  std::string subject, issuer, subject_cn, issuer_cn;
};

AttestResult<Certificate> Certificate::from_der(std::span<const std::uint8_t> der) {
  // Parsed certificates are immutable and shared (Impl): memoized by their bytes (memo.h),
  // which also keeps OpenSSL's decoder lookup, and its locks, off every exploration schedule.
  thread_local memo::Cache<std::shared_ptr<const Impl>> cache;
  const std::string k = memo::key(der);
  if (const std::shared_ptr<const Impl>* hit = cache.find(k)) return Certificate(*hit);
  auto parsed = from_der_uncached(der);
  if (parsed) cache.put(k, parsed->impl_);
  return parsed;
}

AttestResult<Certificate> Certificate::from_der_uncached(std::span<const std::uint8_t> der) {
  ERR_clear_error();
  if (der.empty()) return AttestError{"certificate: no bytes"};
  if (der.size() > 0x7FFFFFFF) return AttestError{"certificate: too large"};
  const unsigned char* p = der.data();
  X509Ptr x(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!x) return AttestError{"certificate: not valid DER X.509" + openssl_detail()};
  const auto used = static_cast<std::size_t>(p - der.data());
  if (used != der.size()) {
    return AttestError{fmt::format("certificate: {} trailing bytes after the DER certificate", der.size() - used)};
  }
  auto impl = std::make_shared<Impl>();
  const auto nb = asn1_time_to_unix(X509_get0_notBefore(x.get()));
  const auto na = asn1_time_to_unix(X509_get0_notAfter(x.get()));
  if (!nb || !na) return AttestError{"certificate: unreadable validity time"};
  impl->not_before = *nb;
  impl->not_after = *na;
  impl->subject = name_to_string(X509_get_subject_name(x.get()));
  impl->issuer = name_to_string(X509_get_issuer_name(x.get()));
  impl->subject_cn = common_name(X509_get_subject_name(x.get()));
  impl->issuer_cn = common_name(X509_get_issuer_name(x.get()));
  impl->der.assign(der.begin(), der.end());
  impl->x509 = std::move(x);
  ERR_clear_error();
  return Certificate(std::move(impl));
}

AttestResult<std::vector<Certificate>> Certificate::parse_all(std::span<const std::uint8_t> data) {
  static constexpr std::string_view kBegin = "-----BEGIN CERTIFICATE-----";
  static constexpr std::string_view kEnd = "-----END CERTIFICATE-----";
  const std::string_view text(reinterpret_cast<const char*>(data.data()), data.size());
  if (text.find(kBegin) == std::string_view::npos) {
    auto one = from_der(data);
    if (!one) return AttestError{"no PEM certificate block and not a DER certificate: " + one.error().message};
    return std::vector<Certificate>{std::move(*one)};
  }
  std::vector<Certificate> out;
  std::size_t pos = 0;
  while ((pos = text.find(kBegin, pos)) != std::string_view::npos) {
    const std::size_t end = text.find(kEnd, pos);
    if (end == std::string_view::npos) {
      return AttestError{fmt::format("PEM block {} has no \"{}\" line", out.size() + 1, kEnd)};
    }
    const std::string_view block = text.substr(pos, end + kEnd.size() - pos);
    ERR_clear_error();
    BioPtr bio(BIO_new_mem_buf(block.data(), static_cast<int>(block.size())));
    X509Ptr x(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
    if (!x) {
      return AttestError{fmt::format("PEM block {} is not a valid certificate{}", out.size() + 1, openssl_detail())};
    }
    unsigned char* der = nullptr;
    const int n = i2d_X509(x.get(), &der);
    if (n <= 0) return AttestError{"PEM block: cannot re-encode certificate" + openssl_detail()};
    std::vector<std::uint8_t> bytes(der, der + n);
    OPENSSL_free(der);
    auto c = from_der(bytes);
    if (!c) return AttestError{fmt::format("PEM block {}: {}", out.size() + 1, c.error().message)};
    out.push_back(std::move(*c));
    pos = end + kEnd.size();
  }
  return out;
}

std::string Certificate::subject() const { return impl_->subject; }
std::string Certificate::issuer() const { return impl_->issuer; }
std::string Certificate::subject_cn() const { return impl_->subject_cn; }
std::string Certificate::issuer_cn() const { return impl_->issuer_cn; }

bool Certificate::self_issued() const {
  return X509_NAME_cmp(X509_get_subject_name(impl_->x509.get()), X509_get_issuer_name(impl_->x509.get())) == 0;
}

bool Certificate::names_as_issuer(const Certificate& issuer) const {
  return X509_NAME_cmp(X509_get_issuer_name(impl_->x509.get()), X509_get_subject_name(issuer.impl_->x509.get())) ==
         0;
}

UnixTime Certificate::not_before() const { return impl_->not_before; }
UnixTime Certificate::not_after() const { return impl_->not_after; }
const std::vector<std::uint8_t>& Certificate::der() const { return impl_->der; }
Sha256Digest Certificate::fingerprint_sha256() const { return sha256(impl_->der); }

std::string Certificate::signature_algorithm() const {
  int md = NID_undef, pk = NID_undef, bits = 0;
  std::uint32_t flags = 0;
  if (X509_get_signature_info(impl_->x509.get(), &md, &pk, &bits, &flags) != 1) {
    ERR_clear_error();
    return fmt::format("unsupported ({})", OBJ_nid2ln(X509_get_signature_nid(impl_->x509.get())));
  }
  std::string pk_name;
  if (pk == NID_rsassaPss) {
    pk_name = "RSASSA-PSS";
  } else if (pk == NID_rsaEncryption) {
    pk_name = "RSA-PKCS1";
  } else if (pk == NID_X9_62_id_ecPublicKey) {
    pk_name = "ECDSA";
  } else {
    pk_name = OBJ_nid2sn(pk) != nullptr ? OBJ_nid2sn(pk) : "unknown";
  }
  std::string md_name;
  if (md == NID_sha384) {
    md_name = "SHA-384";
  } else {
    md_name = OBJ_nid2sn(md) != nullptr ? OBJ_nid2sn(md) : "unknown";
  }
  return pk_name + "/" + md_name;
}

std::string Certificate::public_key_description() const {
  const EVP_PKEY* key = X509_get0_pubkey(impl_->x509.get());
  if (key == nullptr) {
    ERR_clear_error();
    return "unreadable key";
  }
  const int bits = EVP_PKEY_get_bits(key);
  switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_RSA: return fmt::format("RSA-{}", bits);
    case EVP_PKEY_RSA_PSS: return fmt::format("RSA-PSS-{}", bits);
    case EVP_PKEY_EC: {
      char group[64] = {};
      std::size_t len = 0;
      if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &len) == 1) {
        const std::string_view g(group, len);
        return g == "secp384r1" ? "EC P-384" : fmt::format("EC {}", g);
      }
      ERR_clear_error();
      return fmt::format("EC {}-bit", bits);
    }
    default: return fmt::format("{}-{}", OBJ_nid2sn(EVP_PKEY_get_base_id(key)), bits);
  }
}

bool Certificate::public_key_is_p384() const { return public_key_description() == "EC P-384"; }

std::vector<std::uint8_t> Certificate::public_key_der() const {
  const EVP_PKEY* key = X509_get0_pubkey(impl_->x509.get());
  unsigned char* der = nullptr;
  const int n = key != nullptr ? i2d_PUBKEY(key, &der) : -1;
  if (n <= 0) {
    ERR_clear_error();
    return {};
  }
  std::vector<std::uint8_t> out(der, der + n);
  OPENSSL_free(der);
  return out;
}

AttestResult<AmdCertExtensions> Certificate::amd_extensions() const {
  AmdCertExtensions e;
  X509* x = impl_->x509.get();
  const int count = X509_get_ext_count(x);
  for (int i = 0; i < count; ++i) {
    X509_EXTENSION* ext = X509_get_ext(x, i);
    char oid_buf[128] = {};
    const int oid_len = OBJ_obj2txt(oid_buf, sizeof oid_buf, X509_EXTENSION_get_object(ext), 1);
    if (oid_len <= 0 || static_cast<std::size_t>(oid_len) >= sizeof oid_buf) continue;
    const std::string_view oid(oid_buf, static_cast<std::size_t>(oid_len));
    if (oid.substr(0, kKdsPrefix.size()) != kKdsPrefix) continue;
    const std::string_view which = oid.substr(kKdsPrefix.size());
    const ASN1_OCTET_STRING* os = X509_EXTENSION_get_data(ext);
    const std::span<const std::uint8_t> v(ASN1_STRING_get0_data(os), static_cast<std::size_t>(ASN1_STRING_length(os)));

    auto bad = [&oid](std::string_view what) {
      return AttestError{fmt::format("AMD extension {}: {}", oid, what)};
    };
    auto set_spl = [&](std::optional<std::uint8_t>& slot) -> std::optional<AttestError> {
      if (slot) return bad("appears twice");
      slot = der_small_uint(v);
      if (!slot) return bad("not a DER INTEGER in 0..255");
      return std::nullopt;
    };
    std::optional<AttestError> err;
    if (which == "1") {
      if (e.struct_version) return bad("appears twice");
      e.struct_version = der_int64(v);
      if (!e.struct_version) return bad("structVersion is not a DER INTEGER");
    } else if (which == "2") {
      if (e.product_name) return bad("appears twice");
      e.product_name = der_string(v);
      if (!e.product_name) return bad("productName is not an IA5String");
    } else if (which == "3.1") {
      err = set_spl(e.bl_spl);
    } else if (which == "3.2") {
      err = set_spl(e.tee_spl);
    } else if (which == "3.3") {
      err = set_spl(e.snp_spl);
    } else if (which == "3.4" || which == "3.5" || which == "3.6" || which == "3.7") {
      err = set_spl(e.spl_4_7[static_cast<std::size_t>(which[2] - '4')]);
    } else if (which == "3.8") {
      err = set_spl(e.ucode_spl);
    } else if (which == "3.9") {
      err = set_spl(e.fmc_spl);
    } else if (which == "4") {
      if (e.hwid) return bad("appears twice");
      // AMD stores the raw chip id as the extension value; tolerate one OCTET STRING wrapper.
      std::span<const std::uint8_t> id = v;
      if (auto tlv = single_tlv(v); tlv && tlv->tag == 0x04 && (tlv->value.size() == 64 || tlv->value.size() == 8)) {
        id = tlv->value;
      }
      e.hwid = std::vector<std::uint8_t>(id.begin(), id.end());
    } else if (which == "5") {
      if (e.csp_id) return bad("appears twice");
      e.csp_id = der_string(v);
      if (!e.csp_id) return bad("cspId is not an IA5String");
    }
    // Other 1.3.6.1.4.1.3704.1.* OIDs are future KDS fields: ignored, not an error.
    if (err) return *err;
  }
  return e;
}

SignatureCheck Certificate::verify_signed_by(const Certificate& issuer) const {
  thread_local memo::Cache<SignatureCheck> cache;  // memo.h: by both certificates' bytes
  const std::string k = memo::key(impl_->der, issuer.impl_->der);
  if (const SignatureCheck* hit = cache.find(k)) return *hit;
  SignatureCheck v = verify_signed_by_uncached(issuer);
  cache.put(k, v);
  return v;
}

SignatureCheck Certificate::verify_signed_by_uncached(const Certificate& issuer) const {
  ERR_clear_error();
  X509* x = impl_->x509.get();
  int md = NID_undef, pk = NID_undef, bits = 0;
  std::uint32_t flags = 0;
  if (X509_get_signature_info(x, &md, &pk, &bits, &flags) != 1) {
    return {false, fmt::format("signature algorithm {} is not supported{}", OBJ_nid2ln(X509_get_signature_nid(x)),
                               openssl_detail())};
  }
  const bool allowed = md == NID_sha384 && (pk == NID_rsassaPss || pk == NID_X9_62_id_ecPublicKey);
  if (!allowed) {
    return {false, fmt::format("signature algorithm {} is not one this verifier accepts (RSASSA-PSS/SHA-384 or "
                               "ECDSA/SHA-384)",
                               signature_algorithm())};
  }
  EVP_PKEY* key = X509_get0_pubkey(issuer.impl_->x509.get());
  if (key == nullptr) return {false, "issuer public key unreadable" + openssl_detail()};
  const int rc = X509_verify(x, key);
  if (rc == 1) {
    ERR_clear_error();
    return {true, fmt::format("{} signature verifies", signature_algorithm())};
  }
  return {false, fmt::format("{} signature does not verify with the issuer's {} key{}", signature_algorithm(),
                             issuer.public_key_description(), openssl_detail())};
}

SignatureCheck Certificate::verify_p384_sha384(std::span<const std::uint8_t> message,
                                               std::span<const std::uint8_t> der_signature) const {
  // Memoized by certificate, message and signature (memo.h): the guest driver checks the
  // same chain in every exploration schedule.
  thread_local memo::Cache<SignatureCheck> cache;
  const std::string k = memo::key(impl_->der, message, der_signature);
  if (const SignatureCheck* hit = cache.find(k)) return *hit;
  SignatureCheck v = verify_p384_sha384_uncached(message, der_signature);
  cache.put(k, v);
  return v;
}

SignatureCheck Certificate::verify_p384_sha384_uncached(std::span<const std::uint8_t> message,
                                                        std::span<const std::uint8_t> der_signature) const {
  ERR_clear_error();
  if (!public_key_is_p384()) {
    return {false, fmt::format("the certificate key is {}, not EC P-384", public_key_description())};
  }
  EVP_PKEY* key = X509_get0_pubkey(impl_->x509.get());
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || key == nullptr || EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha384(), nullptr, key) != 1) {
    return {false, "cannot set up ECDSA verification" + openssl_detail()};
  }
  const int rc = EVP_DigestVerify(ctx.get(), der_signature.data(), der_signature.size(), message.data(),
                                  message.size());
  if (rc == 1) {
    ERR_clear_error();
    return {true, "ECDSA P-384/SHA-384 signature verifies"};
  }
  // rc == 0: a well-formed signature that does not match; rc < 0: malformed input.
  const std::string detail = openssl_detail();
  return {false, rc == 0 ? "ECDSA P-384/SHA-384 signature does not verify"
                         : "ECDSA P-384/SHA-384 signature is malformed" + detail};
}

SignatureCheck verify_report_signature(std::span<const std::uint8_t, kReportSize> raw_report,
                                       const Certificate& signer) {
  EcdsaP384Signature sig;
  std::copy_n(raw_report.begin() + report_offset::kSignatureR, kEcdsaComponentSize, sig.r.begin());
  std::copy_n(raw_report.begin() + report_offset::kSignatureS, kEcdsaComponentSize, sig.s.begin());
  if (sig.is_zero()) return {false, "the report is unsigned (R and S are zero)"};
  const auto der = sig.to_der();
  if (!der) return {false, der.error().message};
  auto check = signer.verify_p384_sha384(signed_range(raw_report), *der);
  if (check.ok) check.message += " over bytes 0x000..0x29F";
  return check;
}

}  // namespace snplab::model
