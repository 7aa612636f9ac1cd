// Verifying an attestation report against its VCEK/VLEK and the AMD (or simulated) key chain
// (facts §6.3, §6.4; ../shared/vectors/reports/README.md "A report is VALID when").
//
// One pure function, used by `snplab report verify` and by the simulated guest alike. It runs
// every check it can, even after one has failed, so a rejection names all the reasons.
//
// Order of the checks (docs/attestation.md explains each):
//   report.format, report.version,
//   chain.ark_self_signed, chain.ark_trusted, chain.ark_signs_ask, chain.ask_signs_<leaf>,
//   validity.ark, validity.ask, validity.<leaf>,
//   report.signing_key, report.signature, report.product, report.chip_id, report.reported_tcb
// where <leaf> is vcek or vlek and "ask" reads "asvk" for a VLEK chain.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "snp/model/attest/attestation.h"
#include "snp/model/crypto/crypto.h"
#include "snp/model/attest/x509.h"

namespace snplab::model {

/// Which key a leaf certificate holds.
enum class LeafKind : std::uint8_t { Unknown, Vcek, Vlek };

std::string_view to_string(LeafKind k);

/// VCEK or VLEK: by subject CN ("SEV-VCEK"/"SEV-VLEK", as AMD's KDS issues them), else by
/// extension (hwID => VCEK, cspId => VLEK), else Unknown.
LeafKind leaf_kind_of(const Certificate& leaf);

/// Every check verify_report() makes.
enum class CheckId : std::uint8_t {
  ReportFormat,      ///< the bytes are one report (0x4A0)
  ReportVersion,     ///< VERSION is 2..5
  ChainArkSelfSigned,
  ChainArkTrusted,   ///< the ARK's key is one of VerifyOptions::roots
  ChainArkSignsAsk,  ///< ARK -> ASK (VCEK chain) or ASVK (VLEK chain)
  ChainAskSignsLeaf, ///< ASK/ASVK -> VCEK/VLEK
  ValidityArk,
  ValidityAsk,
  ValidityLeaf,
  SigningKey,        ///< KEY_INFO.SIGNING_KEY names the kind of the leaf certificate
  ReportSignature,   ///< ECDSA P-384/SHA-384 over 0x000..0x29F with the leaf key
  Product,           ///< report CPUID, leaf productName and ASK name agree
  ChipId,            ///< CHIP_ID == hwID (VCEK only)
  ReportedTcb,       ///< REPORTED_TCB == the leaf's TCB extensions
  // What the relying party expects (check_report_policy()):
  PolicyMeasurement,  ///< MEASUREMENT == the expected launch digest
  PolicyReportData,   ///< REPORT_DATA == the expected nonce/binding
  PolicyHostData,     ///< HOST_DATA == the expected value
  PolicyIdKeyDigest,  ///< ID_KEY_DIGEST == the expected ID key
  PolicyMinTcb,       ///< every SPL of REPORTED_TCB >= the minimum's
  PolicyGuestPolicy,  ///< POLICY == a value, and/or has the required bits and none of the forbidden
  PolicyVmpl,         ///< VMPL == the expected level
};

enum class CheckStatus : std::uint8_t {
  Pass,
  Fail,
  Skipped,  ///< does not apply (CHIP_ID for a VLEK; masked CHIP_ID when allowed; missing cert)
};

std::string_view to_string(CheckStatus s);

struct CheckResult {
  CheckId id;
  CheckStatus status;
  std::string name;     ///< "chain.ask_signs_vcek", "validity.vlek", ... (role names filled in)
  std::string message;  ///< what was compared and what was found
};

/// A root key a chain may be anchored in, pinned by the SHA-256 of its DER
/// SubjectPublicKeyInfo (the key, not the certificate: a root re-issued with the same key
/// stays trusted, a certificate with the same names and another key does not).
struct TrustedRoot {
  std::string name;          ///< "AMD ARK-Milan", "--ark ark.pem", ...
  Sha256Digest spki_sha256{};
  std::string why;           ///< why it is trusted, printed with the verdict
  Product product = Product::Unknown;  ///< the product the root is for; Unknown: any
};

/// AMD's published ARKs for Milan, Genoa and Turin, as AMD's KDS serves them in each
/// product's cert_chain (docs/attestation.md "Trusted roots" gives the source of each pin).
std::span<const TrustedRoot> amd_roots();

/// A root for `cert`'s key.
TrustedRoot trusted_root_of(const Certificate& cert, std::string name, std::string why,
                            Product product = Product::Unknown);

/// Choices a caller may tighten.
struct VerifyOptions {
  /// The roots a chain may end in. The default is AMD's ARKs only: a self-signed ARK that is
  /// not one of these fails chain.ark_trusted, whatever its names say.
  std::vector<TrustedRoot> roots{amd_roots().begin(), amd_roots().end()};

  /// A VCEK-signed report whose CHIP_ID is all zero (the platform set MASK_CHIP_ID) cannot be
  /// matched to the certificate's hwID. true: chip_id is Skipped (the VCEK signature still
  /// ties the report to one chip's key); false: chip_id Fails.
  bool allow_masked_chip_id = true;
};

/// A certificate with the role verify_report() gave it.
struct ChainRole {
  std::string role;  ///< "ARK", "ASK", "ASVK", "VCEK", "VLEK", "leaf"
  Certificate cert;
};

struct VerifyResult {
  std::vector<CheckResult> checks;  ///< in the order they ran
  std::optional<AttestationReport> report;
  LeafKind leaf_kind = LeafKind::Unknown;
  Product product = Product::Unknown;  ///< the product the TCB was read with
  std::string product_source;          ///< "report CPUID", "VCEK productName", ...
  std::optional<AmdCertExtensions> leaf_extensions;
  std::vector<ChainRole> chain;  ///< leaf, intermediate, root as found
  std::optional<TrustedRoot> trusted_root;  ///< the root the ARK matched, if any
  UnixTime at_time = 0;

  /// True when no check failed.
  bool ok() const;
  /// The failed checks, in order.
  std::vector<const CheckResult*> failures() const;
  /// The check with `id`, or nullptr.
  const CheckResult* find(CheckId id) const;
  /// "report.signature: ...; report.reported_tcb: ..." (empty when ok()).
  std::string failure_summary() const;
};

/// What a relying party expects of a verified report, each field one named check when set (as
/// go-sev-guest's `check` does): exact MEASUREMENT, REPORT_DATA, HOST_DATA, ID_KEY_DIGEST and
/// VMPL; REPORTED_TCB at least `min_tcb` component by component (FMC, boot loader, TEE, SNP,
/// microcode, in the product's layout); POLICY equal to `policy`, and holding every bit of
/// `policy_require` and none of `policy_forbid` (facts §4.7 for the bits).
struct ReportPolicy {
  std::optional<std::array<std::uint8_t, 48>> measurement;
  std::optional<std::array<std::uint8_t, 64>> report_data;
  std::optional<std::array<std::uint8_t, 32>> host_data;
  std::optional<std::array<std::uint8_t, 48>> id_key_digest;
  std::optional<std::uint64_t> min_tcb;
  std::optional<std::uint64_t> policy;
  std::uint64_t policy_require = 0;
  std::uint64_t policy_forbid = 0;
  std::optional<std::uint32_t> vmpl;

  bool empty() const {
    return !measurement && !report_data && !host_data && !id_key_digest && !min_tcb && !policy &&
           policy_require == 0 && policy_forbid == 0 && !vmpl;
  }
};

/// The checks `policy` asks for, in the order of the struct (names "policy.measurement",
/// "policy.report_data", "policy.host_data", "policy.id_key_digest", "policy.min_tcb",
/// "policy.guest_policy", "policy.vmpl"). `layout` reads the TCBs; without one (the product
/// is unknown) policy.min_tcb fails.
std::vector<CheckResult> check_report_policy(const AttestationReport& report, const ReportPolicy& policy,
                                             std::optional<TcbLayout> layout);

/// Verifies `report_bytes` (exactly 0x4A0 raw bytes, hashed as given) against `leaf` (the
/// VCEK or VLEK) and `chain` (the ASK/ASVK and ARK; may also hold other certificates, and
/// the leaf itself, which is ignored) at `at_time` (the caller's "now", or a chosen instant).
///
/// The chain is anchored in `options.roots`: the ARK must be self-signed and its key one of
/// the roots (by default AMD's), so a chain anyone can mint does not verify.
VerifyResult verify_report(std::span<const std::uint8_t> report_bytes, const Certificate& leaf,
                           std::span<const Certificate> chain, UnixTime at_time, const VerifyOptions& options = {});

}  // namespace snplab::model
