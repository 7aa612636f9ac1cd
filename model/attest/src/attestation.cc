// Attestation report codec (facts §6.3), TCB_VERSION (facts §6.4), R/S <-> DER.
#include "snp/model/attest/attestation.h"

#include "snp/model/base/bytes.h"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

namespace snplab::model {

namespace {

template <std::size_t N>
void load_bytes(std::span<const std::uint8_t> b, std::size_t off, std::array<std::uint8_t, N>& out) {
  std::copy_n(b.begin() + static_cast<std::ptrdiff_t>(off), N, out.begin());
}

template <std::size_t N>
void store_bytes(std::span<std::uint8_t> b, std::size_t off, const std::array<std::uint8_t, N>& in) {
  std::copy(in.begin(), in.end(), b.begin() + static_cast<std::ptrdiff_t>(off));
}

/// Little-endian 72-byte component -> big-endian 48 bytes, or nullopt when it is wider.
std::optional<std::array<std::uint8_t, kP384ScalarSize>> component_to_be(
    const std::array<std::uint8_t, kEcdsaComponentSize>& le) {
  for (std::size_t i = kP384ScalarSize; i < kEcdsaComponentSize; ++i) {
    if (le[i] != 0) return std::nullopt;
  }
  std::array<std::uint8_t, kP384ScalarSize> be{};
  for (std::size_t i = 0; i < kP384ScalarSize; ++i) be[i] = le[kP384ScalarSize - 1 - i];
  return be;
}

/// DER INTEGER of a non-negative big-endian magnitude (minimal: leading zeros dropped, one
/// 0x00 added when the top bit is set so the value stays positive).
void append_der_integer(std::vector<std::uint8_t>& out, std::span<const std::uint8_t> be) {
  std::size_t first = 0;
  while (first < be.size() && be[first] == 0) ++first;
  const auto mag = be.subspan(first);
  const bool pad = mag.empty() || (mag[0] & 0x80U) != 0;
  out.push_back(0x02);
  out.push_back(static_cast<std::uint8_t>(mag.size() + (pad ? 1U : 0U)));
  if (pad) out.push_back(0x00);
  out.insert(out.end(), mag.begin(), mag.end());
}

/// Reads one DER TLV with a short or one/two-byte long length. Returns the value and moves
/// `pos` past it.
std::optional<std::span<const std::uint8_t>> read_tlv(std::span<const std::uint8_t> in, std::size_t& pos,
                                                      std::uint8_t want_tag) {
  if (pos + 2 > in.size() || in[pos] != want_tag) return std::nullopt;
  std::size_t len = in[pos + 1];
  std::size_t hdr = 2;
  if (len & 0x80U) {
    const std::size_t n = len & 0x7FU;
    if (n == 0 || n > 2 || pos + 2 + n > in.size()) return std::nullopt;
    len = 0;
    for (std::size_t i = 0; i < n; ++i) len = (len << 8) | in[pos + 2 + i];
    hdr += n;
  }
  if (pos + hdr + len > in.size()) return std::nullopt;
  auto v = in.subspan(pos + hdr, len);
  pos += hdr + len;
  return v;
}

/// DER INTEGER value (positive, at most 48 significant bytes) -> little-endian 72 bytes.
std::optional<std::array<std::uint8_t, kEcdsaComponentSize>> der_int_to_le(std::span<const std::uint8_t> v) {
  if (v.empty() || (v[0] & 0x80U) != 0) return std::nullopt;  // empty or negative
  std::size_t first = 0;
  while (first < v.size() && v[first] == 0) ++first;
  const auto mag = v.subspan(first);
  if (mag.size() > kP384ScalarSize) return std::nullopt;
  std::array<std::uint8_t, kEcdsaComponentSize> le{};
  for (std::size_t i = 0; i < mag.size(); ++i) le[i] = mag[mag.size() - 1 - i];
  return le;
}

void append_named_bits(std::string& s, std::uint64_t value, std::span<const NamedBit> names,
                       std::uint64_t skip_mask) {
  std::uint64_t known = skip_mask;
  for (const auto& nb : names) {
    known |= 1ULL << nb.bit;
    if ((value >> nb.bit) & 1U) {
      if (!s.empty()) s += ' ';
      s += nb.name;
    }
  }
  const std::uint64_t unknown = value & ~known;
  for (unsigned b = 0; b < 64; ++b) {
    if ((unknown >> b) & 1U) {
      if (!s.empty()) s += ' ';
      s += fmt::format("bit{}", b);
    }
  }
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

// --- Product / TCB -------------------------------------------------------------------------

std::string_view to_string(Product p) {
  switch (p) {
    case Product::Unknown: return "unknown";
    case Product::Milan: return "Milan";
    case Product::Genoa: return "Genoa";
    case Product::Turin: return "Turin";
  }
  return "invalid";
}

Product product_from_cpuid(std::uint8_t family, std::uint8_t model) {
  if (family == 0x19 && model == 0x01) return Product::Milan;
  if (family == 0x19 && model == 0x11) return Product::Genoa;
  if (family == 0x1A && model == 0x02) return Product::Turin;
  return Product::Unknown;
}

Product product_from_name(std::string_view name) {
  // A KDS name carries exactly one generation word; look for each.
  if (name.find("Milan") != std::string_view::npos) return Product::Milan;
  if (name.find("Genoa") != std::string_view::npos) return Product::Genoa;
  if (name.find("Turin") != std::string_view::npos) return Product::Turin;
  return Product::Unknown;
}

std::string_view to_string(TcbLayout l) {
  switch (l) {
    case TcbLayout::MilanGenoa: return "Milan/Genoa";
    case TcbLayout::Turin: return "Turin";
  }
  return "invalid";
}

std::optional<TcbLayout> tcb_layout_for(Product p) {
  switch (p) {
    case Product::Milan:
    case Product::Genoa: return TcbLayout::MilanGenoa;
    case Product::Turin: return TcbLayout::Turin;
    case Product::Unknown: return std::nullopt;
  }
  return std::nullopt;
}

TcbParts decode_tcb(std::uint64_t tcb, TcbLayout layout) {
  auto byte = [tcb](unsigned i) { return static_cast<std::uint8_t>(tcb >> (8 * i)); };
  TcbParts p;
  switch (layout) {
    case TcbLayout::MilanGenoa:
      p.boot_loader = byte(0);
      p.tee = byte(1);
      p.spl = {byte(2), byte(3), byte(4), byte(5)};
      p.snp = byte(6);
      p.microcode = byte(7);
      return p;
    case TcbLayout::Turin:
      p.fmc = byte(0);
      p.boot_loader = byte(1);
      p.tee = byte(2);
      p.snp = byte(3);
      p.spl = {0, byte(4), byte(5), byte(6)};
      p.microcode = byte(7);
      return p;
  }
  return p;
}

std::uint64_t encode_tcb(const TcbParts& p, TcbLayout layout) {
  auto at = [](std::uint8_t v, unsigned i) { return static_cast<std::uint64_t>(v) << (8 * i); };
  switch (layout) {
    case TcbLayout::MilanGenoa:
      return at(p.boot_loader, 0) | at(p.tee, 1) | at(p.spl[0], 2) | at(p.spl[1], 3) | at(p.spl[2], 4) |
             at(p.spl[3], 5) | at(p.snp, 6) | at(p.microcode, 7);
    case TcbLayout::Turin:
      return at(p.fmc, 0) | at(p.boot_loader, 1) | at(p.tee, 2) | at(p.snp, 3) | at(p.spl[1], 4) |
             at(p.spl[2], 5) | at(p.spl[3], 6) | at(p.microcode, 7);
  }
  return 0;
}

std::string describe_tcb(std::uint64_t tcb, TcbLayout layout) {
  const TcbParts p = decode_tcb(tcb, layout);
  std::string s;
  if (layout == TcbLayout::Turin) s += fmt::format("FMC={} ", p.fmc);
  s += fmt::format("BOOT_LOADER={} TEE={} SNP={} MICROCODE={}", p.boot_loader, p.tee, p.snp, p.microcode);
  for (std::size_t i = 0; i < p.spl.size(); ++i) {
    if (p.spl[i] != 0) s += fmt::format(" reserved[spl_{}]={}", i + 4, p.spl[i]);
  }
  return s;
}

std::string tcb_hex(std::uint64_t tcb) {
  std::string s;
  for (unsigned i = 0; i < 8; ++i) s += fmt::format("{:02x}", static_cast<unsigned>((tcb >> (8 * i)) & 0xFFU));
  return s;
}

// --- Bit fields ----------------------------------------------------------------------------

std::string describe_policy(std::uint64_t policy) {
  std::string s = fmt::format("ABI {}.{}", (policy >> 8) & 0xFFU, policy & 0xFFU);
  std::string flags;
  append_named_bits(flags, policy, kPolicyBits, 0xFFFFULL);
  if (!flags.empty()) s += "; " + flags;
  if (((policy >> 17) & 1U) == 0) s += "; RESERVED_MBO (bit 17) is CLEAR but must be 1";
  return s;
}

std::string describe_platform_info(std::uint64_t info) {
  std::string s;
  append_named_bits(s, info, kPlatformInfoBits, 0);
  return s.empty() ? "none" : s;
}

std::optional<SigningKey> signing_key_from_raw(std::uint8_t raw) {
  // 2..6 are reserved (facts §6.3).
  if (raw == 0) return SigningKey::Vcek;
  if (raw == 1) return SigningKey::Vlek;
  if (raw == 7) return SigningKey::None;
  return std::nullopt;
}

std::string_view to_string(SigningKey k) {
  switch (k) {
    case SigningKey::Vcek: return "VCEK";
    case SigningKey::Vlek: return "VLEK";
    case SigningKey::None: return "none";
  }
  return "invalid";
}

// --- Signature -----------------------------------------------------------------------------

AttestResult<std::array<std::uint8_t, 2 * kP384ScalarSize>> EcdsaP384Signature::to_big_endian() const {
  const auto rb = component_to_be(r);
  const auto sb = component_to_be(s);
  if (!rb || !sb) {
    return AttestError{fmt::format("signature {} has non-zero bytes above bit 383 (bytes 48..71 of the "
                                   "little-endian field); not a P-384 value",
                                   !rb ? "R" : "S")};
  }
  std::array<std::uint8_t, 2 * kP384ScalarSize> out{};
  std::copy(rb->begin(), rb->end(), out.begin());
  std::copy(sb->begin(), sb->end(), out.begin() + kP384ScalarSize);
  return out;
}

AttestResult<std::vector<std::uint8_t>> EcdsaP384Signature::to_der() const {
  auto be = to_big_endian();
  if (!be) return be.error();
  std::vector<std::uint8_t> body;
  append_der_integer(body, std::span(*be).first(kP384ScalarSize));
  append_der_integer(body, std::span(*be).subspan(kP384ScalarSize));
  // Two integers of at most 49 value bytes: the body stays below 128, short-form length.
  std::vector<std::uint8_t> der{0x30, static_cast<std::uint8_t>(body.size())};
  der.insert(der.end(), body.begin(), body.end());
  return der;
}

AttestResult<EcdsaP384Signature> EcdsaP384Signature::from_der(std::span<const std::uint8_t> der) {
  std::size_t pos = 0;
  const auto seq = read_tlv(der, pos, 0x30);
  if (!seq || pos != der.size()) return AttestError{"ECDSA signature: not a single DER SEQUENCE"};
  std::size_t in = 0;
  const auto rv = read_tlv(*seq, in, 0x02);
  const auto sv = rv ? read_tlv(*seq, in, 0x02) : std::nullopt;
  if (!rv || !sv || in != seq->size()) return AttestError{"ECDSA signature: SEQUENCE is not two INTEGERs"};
  const auto rle = der_int_to_le(*rv);
  const auto sle = der_int_to_le(*sv);
  if (!rle || !sle) return AttestError{"ECDSA signature: R or S is negative or wider than 48 bytes"};
  EcdsaP384Signature sig;
  sig.r = *rle;
  sig.s = *sle;
  return sig;
}

bool EcdsaP384Signature::is_zero() const {
  auto zero = [](const auto& a) { return std::all_of(a.begin(), a.end(), [](std::uint8_t b) { return b == 0; }); };
  return zero(r) && zero(s);
}

// --- Report --------------------------------------------------------------------------------

Product AttestationReport::product() const {
  return has_cpuid() ? product_from_cpuid(cpuid_fam_id, cpuid_mod_id) : Product::Unknown;
}

bool AttestationReport::chip_id_is_zero() const {
  return std::all_of(chip_id.begin(), chip_id.end(), [](std::uint8_t b) { return b == 0; });
}

AttestResult<AttestationReport> parse_attestation_report(std::span<const std::uint8_t> b) {
  if (b.size() != kReportSize) {
    return AttestError{fmt::format("an attestation report is exactly {} (0x{:X}) bytes; got {}", kReportSize,
                                   kReportSize, b.size())};
  }
  namespace o = report_offset;
  AttestationReport r;
  r.version = load_le<std::uint32_t>(b, o::kVersion);
  r.guest_svn = load_le<std::uint32_t>(b, o::kGuestSvn);
  r.policy = load_le<std::uint64_t>(b, o::kPolicy);
  load_bytes(b, o::kFamilyId, r.family_id);
  load_bytes(b, o::kImageId, r.image_id);
  r.vmpl = load_le<std::uint32_t>(b, o::kVmpl);
  r.signature_algo = load_le<std::uint32_t>(b, o::kSignatureAlgo);
  r.current_tcb = load_le<std::uint64_t>(b, o::kCurrentTcb);
  r.platform_info = load_le<std::uint64_t>(b, o::kPlatformInfo);
  r.key_info = load_le<std::uint32_t>(b, o::kKeyInfo);
  r.reserved_04c = load_le<std::uint32_t>(b, o::kReserved04C);
  load_bytes(b, o::kReportData, r.report_data);
  load_bytes(b, o::kMeasurement, r.measurement);
  load_bytes(b, o::kHostData, r.host_data);
  load_bytes(b, o::kIdKeyDigest, r.id_key_digest);
  load_bytes(b, o::kAuthorKeyDigest, r.author_key_digest);
  load_bytes(b, o::kReportId, r.report_id);
  load_bytes(b, o::kReportIdMa, r.report_id_ma);
  r.reported_tcb = load_le<std::uint64_t>(b, o::kReportedTcb);
  r.cpuid_fam_id = b[o::kCpuidFamId];
  r.cpuid_mod_id = b[o::kCpuidModId];
  r.cpuid_step = b[o::kCpuidStep];
  load_bytes(b, o::kReserved18B, r.reserved_18b);
  load_bytes(b, o::kChipId, r.chip_id);
  r.committed_tcb = load_le<std::uint64_t>(b, o::kCommittedTcb);
  r.current_build = b[o::kCurrentBuild];
  r.current_minor = b[o::kCurrentMinor];
  r.current_major = b[o::kCurrentMajor];
  r.reserved_1eb = b[o::kReserved1EB];
  r.committed_build = b[o::kCommittedBuild];
  r.committed_minor = b[o::kCommittedMinor];
  r.committed_major = b[o::kCommittedMajor];
  r.reserved_1ef = b[o::kReserved1EF];
  r.launch_tcb = load_le<std::uint64_t>(b, o::kLaunchTcb);
  r.launch_mit_vector = load_le<std::uint64_t>(b, o::kLaunchMitVector);
  r.current_mit_vector = load_le<std::uint64_t>(b, o::kCurrentMitVector);
  load_bytes(b, o::kReserved208, r.reserved_208);
  load_bytes(b, o::kSignatureR, r.signature.r);
  load_bytes(b, o::kSignatureS, r.signature.s);
  load_bytes(b, o::kSignatureReserved, r.signature_reserved);
  return r;
}

std::array<std::uint8_t, kReportSize> AttestationReport::to_bytes() const {
  namespace o = report_offset;
  std::array<std::uint8_t, kReportSize> out{};
  std::span<std::uint8_t> b(out);
  store_le(b, o::kVersion, version);
  store_le(b, o::kGuestSvn, guest_svn);
  store_le(b, o::kPolicy, policy);
  store_bytes(b, o::kFamilyId, family_id);
  store_bytes(b, o::kImageId, image_id);
  store_le(b, o::kVmpl, vmpl);
  store_le(b, o::kSignatureAlgo, signature_algo);
  store_le(b, o::kCurrentTcb, current_tcb);
  store_le(b, o::kPlatformInfo, platform_info);
  store_le(b, o::kKeyInfo, key_info);
  store_le(b, o::kReserved04C, reserved_04c);
  store_bytes(b, o::kReportData, report_data);
  store_bytes(b, o::kMeasurement, measurement);
  store_bytes(b, o::kHostData, host_data);
  store_bytes(b, o::kIdKeyDigest, id_key_digest);
  store_bytes(b, o::kAuthorKeyDigest, author_key_digest);
  store_bytes(b, o::kReportId, report_id);
  store_bytes(b, o::kReportIdMa, report_id_ma);
  store_le(b, o::kReportedTcb, reported_tcb);
  b[o::kCpuidFamId] = cpuid_fam_id;
  b[o::kCpuidModId] = cpuid_mod_id;
  b[o::kCpuidStep] = cpuid_step;
  store_bytes(b, o::kReserved18B, reserved_18b);
  store_bytes(b, o::kChipId, chip_id);
  store_le(b, o::kCommittedTcb, committed_tcb);
  b[o::kCurrentBuild] = current_build;
  b[o::kCurrentMinor] = current_minor;
  b[o::kCurrentMajor] = current_major;
  b[o::kReserved1EB] = reserved_1eb;
  b[o::kCommittedBuild] = committed_build;
  b[o::kCommittedMinor] = committed_minor;
  b[o::kCommittedMajor] = committed_major;
  b[o::kReserved1EF] = reserved_1ef;
  store_le(b, o::kLaunchTcb, launch_tcb);
  store_le(b, o::kLaunchMitVector, launch_mit_vector);
  store_le(b, o::kCurrentMitVector, current_mit_vector);
  store_bytes(b, o::kReserved208, reserved_208);
  store_bytes(b, o::kSignatureR, signature.r);
  store_bytes(b, o::kSignatureS, signature.s);
  store_bytes(b, o::kSignatureReserved, signature_reserved);
  return out;
}

std::array<std::uint8_t, kReportSignedSize> AttestationReport::signed_bytes() const {
  const auto all = to_bytes();
  std::array<std::uint8_t, kReportSignedSize> out{};
  std::copy_n(all.begin(), kReportSignedSize, out.begin());
  return out;
}

// --- Input helpers -------------------------------------------------------------------------

std::optional<std::vector<std::uint8_t>> decode_hex_text(std::string_view text) {
  std::vector<std::uint8_t> out;
  out.reserve(text.size() / 2);
  int hi = -1;
  for (char c : text) {
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    const int d = hex_digit(c);
    if (d < 0) return std::nullopt;
    if (hi < 0) {
      hi = d;
    } else {
      out.push_back(static_cast<std::uint8_t>((hi << 4) | d));
      hi = -1;
    }
  }
  if (hi >= 0) return std::nullopt;
  return out;
}

AttestResult<std::array<std::uint8_t, kReportSize>> extract_report_bytes(std::span<const std::uint8_t> contents,
                                                                        std::optional<std::size_t> offset) {
  std::vector<std::uint8_t> decoded;
  std::span<const std::uint8_t> data = contents;
  // Hex text is recognised only when it decodes to at least one report: a binary report is
  // never all hex digits (its VERSION starts with bytes 0x02..0x05).
  const std::string_view as_text(reinterpret_cast<const char*>(contents.data()), contents.size());
  if (auto hex = decode_hex_text(as_text); hex && hex->size() >= kReportSize) {
    decoded = std::move(*hex);
    data = decoded;
  }
  const std::size_t off = offset.value_or(0);
  if (!offset && data.size() != kReportSize) {
    return AttestError{fmt::format("file holds {} bytes but a report is {} bytes; name the report's offset "
                                   "inside a larger file as FILE@OFFSET",
                                   data.size(), kReportSize)};
  }
  if (off > data.size() || data.size() - off < kReportSize) {
    return AttestError{fmt::format("a {}-byte report at offset {} does not fit in {} bytes", kReportSize, off,
                                   data.size())};
  }
  std::array<std::uint8_t, kReportSize> out{};
  std::copy_n(data.begin() + static_cast<std::ptrdiff_t>(off), kReportSize, out.begin());
  return out;
}

}  // namespace snplab::model
