// The SEV-SNP attestation report (facts §6.3): 0x4A0 bytes, versions 2..5, parsed into named
// fields, serialised back bit for bit, plus the pieces every verifier needs: product
// detection, TCB_VERSION decoding per product (facts §6.4), and the conversion of the
// report's little-endian ECDSA R/S into the DER form standard verifiers take.
//
// Pure: no I/O, no clock. Verification always hashes the raw bytes a report arrived in, never a
// re-serialisation (facts §6.3, "Version notes").
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "snp/model/base/expected.h"

namespace snplab::model {

// --- Result type of the attestation code (errors are values, STYLE.md 3.3) ------------------

/// Why a report, certificate or certificate table was refused. `message` is written for a
/// human and names the field or bound that failed.
struct AttestError {
  std::string message;
};

/// Result of parsing/decoding untrusted attestation input.
template <class T>
using AttestResult = Expected<T, AttestError>;

// --- Sizes and layout (facts §6.3) ---------------------------------------------------------

/// Size of an attestation report (facts §6.3, §10).
inline constexpr std::size_t kReportSize = 0x4A0;
/// The signature covers bytes 0x000..0x29F inclusive (facts §6.3).
inline constexpr std::size_t kReportSignedSize = 0x2A0;
/// R and S are 72-byte little-endian, zero-extended integers (facts §6.3).
inline constexpr std::size_t kEcdsaComponentSize = 72;
/// A P-384 scalar is 48 bytes.
inline constexpr std::size_t kP384ScalarSize = 48;
/// Versions this code knows the layout of (facts §6.3: "2, 3, 4 or 5").
inline constexpr std::uint32_t kMinKnownReportVersion = 2;
inline constexpr std::uint32_t kMaxKnownReportVersion = 5;
/// SIGNATURE_ALGO value for ECDSA P-384 with SHA-384 (facts §6.3).
inline constexpr std::uint32_t kSignatureAlgoEcdsaP384Sha384 = 1;

/// Byte offsets of every field of the report, facts §6.3 table.
namespace report_offset {
inline constexpr std::size_t kVersion = 0x000;
inline constexpr std::size_t kGuestSvn = 0x004;
inline constexpr std::size_t kPolicy = 0x008;
inline constexpr std::size_t kFamilyId = 0x010;
inline constexpr std::size_t kImageId = 0x020;
inline constexpr std::size_t kVmpl = 0x030;
inline constexpr std::size_t kSignatureAlgo = 0x034;
inline constexpr std::size_t kCurrentTcb = 0x038;
inline constexpr std::size_t kPlatformInfo = 0x040;
inline constexpr std::size_t kKeyInfo = 0x048;
inline constexpr std::size_t kReserved04C = 0x04C;
inline constexpr std::size_t kReportData = 0x050;
inline constexpr std::size_t kMeasurement = 0x090;
inline constexpr std::size_t kHostData = 0x0C0;
inline constexpr std::size_t kIdKeyDigest = 0x0E0;
inline constexpr std::size_t kAuthorKeyDigest = 0x110;
inline constexpr std::size_t kReportId = 0x140;
inline constexpr std::size_t kReportIdMa = 0x160;
inline constexpr std::size_t kReportedTcb = 0x180;
inline constexpr std::size_t kCpuidFamId = 0x188;
inline constexpr std::size_t kCpuidModId = 0x189;
inline constexpr std::size_t kCpuidStep = 0x18A;
inline constexpr std::size_t kReserved18B = 0x18B;
inline constexpr std::size_t kChipId = 0x1A0;
inline constexpr std::size_t kCommittedTcb = 0x1E0;
inline constexpr std::size_t kCurrentBuild = 0x1E8;
inline constexpr std::size_t kCurrentMinor = 0x1E9;
inline constexpr std::size_t kCurrentMajor = 0x1EA;
inline constexpr std::size_t kReserved1EB = 0x1EB;
inline constexpr std::size_t kCommittedBuild = 0x1EC;
inline constexpr std::size_t kCommittedMinor = 0x1ED;
inline constexpr std::size_t kCommittedMajor = 0x1EE;
inline constexpr std::size_t kReserved1EF = 0x1EF;
inline constexpr std::size_t kLaunchTcb = 0x1F0;
inline constexpr std::size_t kLaunchMitVector = 0x1F8;
inline constexpr std::size_t kCurrentMitVector = 0x200;
inline constexpr std::size_t kReserved208 = 0x208;
inline constexpr std::size_t kSignature = 0x2A0;
inline constexpr std::size_t kSignatureR = 0x2A0;
inline constexpr std::size_t kSignatureS = 0x2E8;
inline constexpr std::size_t kSignatureReserved = 0x330;
}  // namespace report_offset

/// One row of the facts §6.3 table: the spec's field name, where it is, how big it is.
struct ReportFieldLayout {
  std::string_view name;
  std::size_t offset;
  std::size_t size;
};

/// The whole report, field by field, in offset order. Reserved areas are rows too, so the
/// rows tile 0..0x4A0 with no gap (checked below).
inline constexpr std::array kReportLayout{
    ReportFieldLayout{"VERSION", report_offset::kVersion, 4},
    ReportFieldLayout{"GUEST_SVN", report_offset::kGuestSvn, 4},
    ReportFieldLayout{"POLICY", report_offset::kPolicy, 8},
    ReportFieldLayout{"FAMILY_ID", report_offset::kFamilyId, 16},
    ReportFieldLayout{"IMAGE_ID", report_offset::kImageId, 16},
    ReportFieldLayout{"VMPL", report_offset::kVmpl, 4},
    ReportFieldLayout{"SIGNATURE_ALGO", report_offset::kSignatureAlgo, 4},
    ReportFieldLayout{"CURRENT_TCB", report_offset::kCurrentTcb, 8},
    ReportFieldLayout{"PLATFORM_INFO", report_offset::kPlatformInfo, 8},
    ReportFieldLayout{"KEY_INFO", report_offset::kKeyInfo, 4},
    ReportFieldLayout{"reserved", report_offset::kReserved04C, 4},
    ReportFieldLayout{"REPORT_DATA", report_offset::kReportData, 64},
    ReportFieldLayout{"MEASUREMENT", report_offset::kMeasurement, 48},
    ReportFieldLayout{"HOST_DATA", report_offset::kHostData, 32},
    ReportFieldLayout{"ID_KEY_DIGEST", report_offset::kIdKeyDigest, 48},
    ReportFieldLayout{"AUTHOR_KEY_DIGEST", report_offset::kAuthorKeyDigest, 48},
    ReportFieldLayout{"REPORT_ID", report_offset::kReportId, 32},
    ReportFieldLayout{"REPORT_ID_MA", report_offset::kReportIdMa, 32},
    ReportFieldLayout{"REPORTED_TCB", report_offset::kReportedTcb, 8},
    ReportFieldLayout{"CPUID_FAM_ID", report_offset::kCpuidFamId, 1},
    ReportFieldLayout{"CPUID_MOD_ID", report_offset::kCpuidModId, 1},
    ReportFieldLayout{"CPUID_STEP", report_offset::kCpuidStep, 1},
    ReportFieldLayout{"reserved", report_offset::kReserved18B, 21},
    ReportFieldLayout{"CHIP_ID", report_offset::kChipId, 64},
    ReportFieldLayout{"COMMITTED_TCB", report_offset::kCommittedTcb, 8},
    ReportFieldLayout{"CURRENT_BUILD", report_offset::kCurrentBuild, 1},
    ReportFieldLayout{"CURRENT_MINOR", report_offset::kCurrentMinor, 1},
    ReportFieldLayout{"CURRENT_MAJOR", report_offset::kCurrentMajor, 1},
    ReportFieldLayout{"reserved", report_offset::kReserved1EB, 1},
    ReportFieldLayout{"COMMITTED_BUILD", report_offset::kCommittedBuild, 1},
    ReportFieldLayout{"COMMITTED_MINOR", report_offset::kCommittedMinor, 1},
    ReportFieldLayout{"COMMITTED_MAJOR", report_offset::kCommittedMajor, 1},
    ReportFieldLayout{"reserved", report_offset::kReserved1EF, 1},
    ReportFieldLayout{"LAUNCH_TCB", report_offset::kLaunchTcb, 8},
    ReportFieldLayout{"LAUNCH_MIT_VECTOR", report_offset::kLaunchMitVector, 8},
    ReportFieldLayout{"CURRENT_MIT_VECTOR", report_offset::kCurrentMitVector, 8},
    ReportFieldLayout{"reserved", report_offset::kReserved208, 152},
    ReportFieldLayout{"SIGNATURE_R", report_offset::kSignatureR, kEcdsaComponentSize},
    ReportFieldLayout{"SIGNATURE_S", report_offset::kSignatureS, kEcdsaComponentSize},
    ReportFieldLayout{"reserved", report_offset::kSignatureReserved, 368},
};

/// True when the rows of kReportLayout follow each other without gap or overlap from 0 to
/// kReportSize.
constexpr bool report_layout_is_contiguous() {
  std::size_t at = 0;
  for (const auto& f : kReportLayout) {
    if (f.offset != at || f.size == 0) return false;
    at += f.size;
  }
  return at == kReportSize;
}

static_assert(report_layout_is_contiguous(), "facts §6.3: the report fields tile 0x000..0x49F");
static_assert(report_offset::kSignature == kReportSignedSize, "facts §6.3: signed range ends at 0x29F");
static_assert(report_offset::kSignatureS == report_offset::kSignatureR + kEcdsaComponentSize);
static_assert(report_offset::kSignatureReserved + 368 == kReportSize);
static_assert(report_offset::kReportedTcb == 0x180 && report_offset::kChipId == 0x1A0);
static_assert(report_offset::kLaunchMitVector == 0x1F8 && report_offset::kCurrentMitVector == 0x200);

// --- Product and TCB_VERSION (facts §6.3 product detection, §6.4) --------------------------

/// The EPYC generation a report or certificate belongs to.
enum class Product : std::uint8_t { Unknown, Milan, Genoa, Turin };

/// "Milan", "Genoa", "Turin" or "unknown".
std::string_view to_string(Product p);

/// Facts §6.3: FAM 0x19 MOD 0x01 = Milan, FAM 0x19 MOD 0x11 = Genoa, FAM 0x1A MOD 0x02 = Turin.
/// Anything else is Unknown.
Product product_from_cpuid(std::uint8_t family, std::uint8_t model);

/// The product a KDS name denotes: a VCEK/VLEK productName ("Milan-B0", "Genoa") or an
/// ASK/ARK common name ("SEV-Milan", "SEV-VLEK-Genoa", "ARK-Turin"). Case-sensitive, as AMD
/// spells them; Unknown when no generation name occurs.
Product product_from_name(std::string_view name);

/// The two byte layouts of TCB_VERSION (facts §6.4).
enum class TcbLayout : std::uint8_t { MilanGenoa, Turin };

std::string_view to_string(TcbLayout l);

/// The layout a product's firmware uses; nullopt for Unknown (the caller must decide).
std::optional<TcbLayout> tcb_layout_for(Product p);

/// TCB_VERSION split into its security patch levels (facts §6.4). Field names follow the
/// facts; `spl` holds the bytes the facts call reserved, indexed as AMD KDS's spl_4..spl_7
/// (Milan/Genoa bytes 2..5; Turin bytes 4..6 are spl_5..spl_7 and spl_4 does not exist).
struct TcbParts {
  std::uint8_t fmc = 0;          ///< Turin byte 0 (FMC SVN); not present on Milan/Genoa
  std::uint8_t boot_loader = 0;  ///< Milan/Genoa byte 0, Turin byte 1
  std::uint8_t tee = 0;          ///< Milan/Genoa byte 1, Turin byte 2
  std::uint8_t snp = 0;          ///< Milan/Genoa byte 6, Turin byte 3
  std::uint8_t microcode = 0;    ///< byte 7 on both
  std::array<std::uint8_t, 4> spl{};  ///< reserved bytes as KDS spl_4..spl_7

  friend bool operator==(const TcbParts&, const TcbParts&) = default;
};

/// Splits a TCB_VERSION (the u64 read little-endian from the report) per `layout`.
TcbParts decode_tcb(std::uint64_t tcb, TcbLayout layout);
/// Inverse of decode_tcb. Fields that do not exist in `layout` (fmc on Milan/Genoa, spl_4 on
/// Turin) are ignored.
std::uint64_t encode_tcb(const TcbParts& parts, TcbLayout layout);
/// "BOOT_LOADER=3 TEE=0 SNP=8 MICROCODE=115" (Turin: "FMC=.. BOOT_LOADER=.. ..."); non-zero
/// reserved bytes are appended as "reserved[spl_5]=..".
std::string describe_tcb(std::uint64_t tcb, TcbLayout layout);
/// The TCB_VERSION's 8 bytes in report (little-endian) order, as hex: "0300000000000873".
std::string tcb_hex(std::uint64_t tcb);

// --- Guest policy, platform info, key info (facts §4.7, §6.3) ------------------------------

/// A named bit of a report bit-field.
struct NamedBit {
  unsigned bit;
  std::string_view name;
};

/// Guest policy flag bits (facts §4.7); ABI_MINOR/ABI_MAJOR are bits 7:0 and 15:8.
inline constexpr std::array kPolicyBits{
    NamedBit{16, "SMT"},          NamedBit{17, "RESERVED_MBO"}, NamedBit{18, "MIGRATE_MA"},
    NamedBit{19, "DEBUG"},        NamedBit{20, "SINGLE_SOCKET"}, NamedBit{21, "CXL_ALLOW"},
    NamedBit{22, "MEM_AES_256_XTS"}, NamedBit{23, "RAPL_DIS"}, NamedBit{24, "CIPHERTEXT_HIDING_DRAM"},
    NamedBit{25, "PAGE_SWAP_DISABLE"},
};

/// PLATFORM_INFO bits (facts §6.3).
inline constexpr std::array kPlatformInfoBits{
    NamedBit{0, "SMT_EN"},   NamedBit{1, "TSME_EN"},  NamedBit{2, "ECC_EN"},
    NamedBit{3, "RAPL_DIS"}, NamedBit{4, "CIPHERTEXT_HIDING_DRAM_EN"},
    NamedBit{5, "ALIAS_CHECK_COMPLETE"}, NamedBit{7, "TIO_EN"},
};

/// "ABI 0.0; SMT RESERVED_MBO" (flags that are set; unknown set bits as "bit N").
std::string describe_policy(std::uint64_t policy);
/// "SMT_EN TSME_EN" (unknown set bits as "bit N"; "none" when zero).
std::string describe_platform_info(std::uint64_t info);

/// KEY_INFO.SIGNING_KEY (bits 4:2, facts §6.3). Values 2..6 are reserved; a report may carry
/// them, so code reads the raw 3-bit value and converts with signing_key_from_raw().
enum class SigningKey : std::uint8_t { Vcek = 0, Vlek = 1, None = 7 };

/// nullopt for the reserved values 2..6.
std::optional<SigningKey> signing_key_from_raw(std::uint8_t raw);
/// "VCEK", "VLEK", "none".
std::string_view to_string(SigningKey k);

// --- Signature (facts §6.3 signature block) ------------------------------------------------

/// The report signature as stored: R and S little-endian, zero-extended to 72 bytes.
struct EcdsaP384Signature {
  std::array<std::uint8_t, kEcdsaComponentSize> r{};
  std::array<std::uint8_t, kEcdsaComponentSize> s{};

  /// Big-endian 48-byte R||S (the X9.62 "raw" form). Fails when either value does not fit in
  /// 48 bytes (bytes 48..71 of a little-endian component are not zero).
  AttestResult<std::array<std::uint8_t, 2 * kP384ScalarSize>> to_big_endian() const;
  /// DER `SEQUENCE { INTEGER r, INTEGER s }` for standard ECDSA verifiers (OpenSSL). Fails
  /// like to_big_endian().
  AttestResult<std::vector<std::uint8_t>> to_der() const;
  /// From a DER ECDSA-Sig-Value (what OpenSSL signs into); the simulator uses this to put
  /// its signature into a report. Fails for malformed DER or values wider than 48 bytes.
  static AttestResult<EcdsaP384Signature> from_der(std::span<const std::uint8_t> der);
  /// True when R and S are both zero (an unsigned report, e.g. MASK_CHIP_KEY).
  bool is_zero() const;

  friend bool operator==(const EcdsaP384Signature&, const EcdsaP384Signature&) = default;
};

// --- The report ------------------------------------------------------------------------------

/// Every field of facts §6.3 by name. Byte arrays are in report order; integers are the
/// little-endian values. Reserved areas are kept so that to_bytes() of a parsed report gives
/// back the very bytes it was parsed from, whatever the version.
///
/// Version rules: v2 has CPUID_* and the mitigation vectors as reserved bytes (kept as read);
/// v3+ defines CPUID_FAM_ID/MOD_ID/STEP; v5 defines LAUNCH_MIT_VECTOR/CURRENT_MIT_VECTOR, and
/// v4 is treated like v5 for them (some Turin firmware fills them in v4, facts §6.3).
struct AttestationReport {
  std::uint32_t version = 0;
  std::uint32_t guest_svn = 0;
  std::uint64_t policy = 0;
  std::array<std::uint8_t, 16> family_id{};
  std::array<std::uint8_t, 16> image_id{};
  std::uint32_t vmpl = 0;
  std::uint32_t signature_algo = 0;
  std::uint64_t current_tcb = 0;
  std::uint64_t platform_info = 0;
  std::uint32_t key_info = 0;
  std::uint32_t reserved_04c = 0;
  std::array<std::uint8_t, 64> report_data{};
  std::array<std::uint8_t, 48> measurement{};
  std::array<std::uint8_t, 32> host_data{};
  std::array<std::uint8_t, 48> id_key_digest{};
  std::array<std::uint8_t, 48> author_key_digest{};
  std::array<std::uint8_t, 32> report_id{};
  std::array<std::uint8_t, 32> report_id_ma{};
  std::uint64_t reported_tcb = 0;
  std::uint8_t cpuid_fam_id = 0;
  std::uint8_t cpuid_mod_id = 0;
  std::uint8_t cpuid_step = 0;
  std::array<std::uint8_t, 21> reserved_18b{};
  std::array<std::uint8_t, 64> chip_id{};
  std::uint64_t committed_tcb = 0;
  std::uint8_t current_build = 0;
  std::uint8_t current_minor = 0;
  std::uint8_t current_major = 0;
  std::uint8_t reserved_1eb = 0;
  std::uint8_t committed_build = 0;
  std::uint8_t committed_minor = 0;
  std::uint8_t committed_major = 0;
  std::uint8_t reserved_1ef = 0;
  std::uint64_t launch_tcb = 0;
  std::uint64_t launch_mit_vector = 0;
  std::uint64_t current_mit_vector = 0;
  std::array<std::uint8_t, 152> reserved_208{};
  EcdsaP384Signature signature;
  std::array<std::uint8_t, 368> signature_reserved{};

  /// Version 2..5 (facts §6.3).
  bool version_known() const {
    return version >= kMinKnownReportVersion && version <= kMaxKnownReportVersion;
  }
  /// CPUID_FAM_ID/MOD_ID/STEP are defined from v3 on.
  bool has_cpuid() const { return version >= 3; }
  /// LAUNCH_MIT_VECTOR/CURRENT_MIT_VECTOR are defined in v5, and read in v4 too.
  bool has_mitigation_vectors() const { return version >= 4; }

  /// KEY_INFO bit 0.
  bool author_key_en() const { return (key_info & 1U) != 0; }
  /// KEY_INFO bit 1: the chip key is masked (the firmware does not sign with the VCEK).
  bool mask_chip_key() const { return (key_info & 2U) != 0; }
  /// KEY_INFO bits 4:2, raw.
  std::uint8_t signing_key_raw() const { return static_cast<std::uint8_t>((key_info >> 2) & 7U); }
  /// KEY_INFO.SIGNING_KEY, nullopt for a reserved value.
  std::optional<SigningKey> signing_key() const { return signing_key_from_raw(signing_key_raw()); }

  /// The product named by CPUID_FAM_ID/MOD_ID (v3+); Unknown for v2 reports.
  Product product() const;
  /// True when CHIP_ID is all zero (MASK_CHIP_ID set, or a VLEK-signed report).
  bool chip_id_is_zero() const;

  /// The 0x4A0 bytes of this report, every field (reserved ones included) in place.
  std::array<std::uint8_t, kReportSize> to_bytes() const;
  /// Bytes 0x000..0x29F of to_bytes(): what the firmware signs. For verification use
  /// signed_range() over the raw bytes instead.
  std::array<std::uint8_t, kReportSignedSize> signed_bytes() const;

  friend bool operator==(const AttestationReport&, const AttestationReport&) = default;
};

/// Parses exactly kReportSize bytes. Any version is accepted here (a verifier decides whether
/// it knows it; see AttestationReport::version_known()); the only failure is a wrong size.
AttestResult<AttestationReport> parse_attestation_report(std::span<const std::uint8_t> bytes);

/// The signed range 0x000..0x29F of raw report bytes (facts §6.3).
inline std::span<const std::uint8_t, kReportSignedSize> signed_range(
    std::span<const std::uint8_t, kReportSize> raw) {
  return raw.first<kReportSignedSize>();
}

/// Finds the report in the contents of a file: raw binary, or hex text (as virtee/sev ships
/// it: only hex digits and white space; decoded first). With `offset` the report starts at
/// that byte of the (decoded) contents, which may be longer (an Azure HCL report holds the
/// SNP report at 0x20); without it the contents must be exactly kReportSize bytes.
AttestResult<std::array<std::uint8_t, kReportSize>> extract_report_bytes(
    std::span<const std::uint8_t> contents, std::optional<std::size_t> offset);

/// Decodes hex text (upper or lower case; white space ignored). nullopt if any other
/// character occurs or the digit count is odd.
std::optional<std::vector<std::uint8_t>> decode_hex_text(std::string_view text);

}  // namespace snplab::model
