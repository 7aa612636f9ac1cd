// X.509 certificates of the AMD SEV-SNP key hierarchy (ARK -> ASK/ASVK -> VCEK/VLEK) and of
// the simulator's own chain: parsing (PEM or DER), names, validity, the AMD KDS extensions,
// signature checks. The model's narrow door to OpenSSL's X.509 and ECDSA code (STYLE.md 3.1);
// no OpenSSL type appears in this header.
//
// Times are int64 seconds since 1970-01-01T00:00:00Z. model/ never reads a clock: the caller
// passes "now".
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "snp/model/attest/attestation.h"
#include "snp/model/crypto/crypto.h"

namespace snplab::model {

/// Seconds since the Unix epoch, UTC.
using UnixTime = std::int64_t;

/// "2023-04-03 19:23:43" (UTC, no zone suffix; the form sets.json uses).
std::string format_utc(UnixTime t);
/// Parses "YYYY-MM-DDTHH:MM:SSZ", "YYYY-MM-DD HH:MM:SS" (optionally with a trailing "Z" or
/// " UTC") or "YYYY-MM-DD" (midnight). nullopt for anything else or an impossible date.
std::optional<UnixTime> parse_utc(std::string_view text);

/// The AMD KDS extensions of a VCEK or VLEK (OIDs 1.3.6.1.4.1.3704.1.*; AMD VCEK spec 57230,
/// as read from the real certificates in ../shared/vectors/reports). Absent extensions are
/// nullopt.
struct AmdCertExtensions {
  std::optional<std::int64_t> struct_version;      ///< .1
  std::optional<std::string> product_name;         ///< .2 ("Milan-B0", "Genoa", ...)
  std::optional<std::uint8_t> bl_spl;              ///< .3.1 boot loader
  std::optional<std::uint8_t> tee_spl;             ///< .3.2
  std::optional<std::uint8_t> snp_spl;             ///< .3.3
  std::array<std::optional<std::uint8_t>, 4> spl_4_7;  ///< .3.4 .. .3.7 (reserved levels)
  std::optional<std::uint8_t> ucode_spl;           ///< .3.8 microcode
  std::optional<std::uint8_t> fmc_spl;             ///< .3.9 (Turin)
  std::optional<std::vector<std::uint8_t>> hwid;   ///< .4 (VCEK: 64 bytes; Turin: 8 bytes)
  std::optional<std::string> csp_id;               ///< .5 (VLEK: the cloud provider)

  /// True when every level a TCB comparison needs is present (bl, tee, snp, microcode; and
  /// fmc when `layout` is Turin).
  bool has_tcb(TcbLayout layout) const;
  /// The certified TCB as parts; absent levels read as 0.
  TcbParts tcb_parts() const;
  /// True when no KDS extension was found at all.
  bool empty() const;
};

/// Outcome of a signature check: ok, or a message saying why not.
struct SignatureCheck {
  bool ok = false;
  std::string message;
};

/// One parsed X.509 certificate. Cheap to copy (shares the immutable parsed object).
class Certificate {
 public:
  /// Exactly one DER certificate (trailing bytes are an error).
  static AttestResult<Certificate> from_der(std::span<const std::uint8_t> der);
  /// Every certificate in `data`: one or more PEM "CERTIFICATE" blocks (other text between
  /// them is ignored), or else a single DER certificate. Fails when nothing parses or a PEM
  /// block is corrupt.
  static AttestResult<std::vector<Certificate>> parse_all(std::span<const std::uint8_t> data);

  /// One-line distinguished names, "CN=SEV-VCEK, O=Advanced Micro Devices, ..." (RFC 2253
  /// order).
  std::string subject() const;
  std::string issuer() const;
  /// The commonName, or "" when there is none.
  std::string subject_cn() const;
  std::string issuer_cn() const;
  /// Subject and issuer names are equal (a root names itself as issuer).
  bool self_issued() const;
  /// This certificate's issuer name equals `issuer`'s subject name.
  bool names_as_issuer(const Certificate& issuer) const;

  UnixTime not_before() const;
  UnixTime not_after() const;
  /// not_before <= t <= not_after (RFC 5280 §4.1.2.5: both bounds inclusive).
  bool valid_at(UnixTime t) const { return not_before() <= t && t <= not_after(); }

  /// The DER encoding.
  const std::vector<std::uint8_t>& der() const;
  /// SHA-256 of the DER (the usual certificate fingerprint).
  Sha256Digest fingerprint_sha256() const;
  /// "RSASSA-PSS/SHA-384", "ECDSA/SHA-384", ... (what signed this certificate).
  std::string signature_algorithm() const;
  /// "RSA-4096", "EC P-384", ... (the subject key).
  std::string public_key_description() const;
  /// The subject key is an EC key on P-384 (what signs reports).
  bool public_key_is_p384() const;
  /// The subject key as DER SubjectPublicKeyInfo (to compare keys without OpenSSL types).
  std::vector<std::uint8_t> public_key_der() const;

  /// The AMD KDS extensions. Fails when one is present but malformed (wrong ASN.1 type, SPL
  /// out of 0..255, duplicate).
  AttestResult<AmdCertExtensions> amd_extensions() const;

  /// Checks that `issuer`'s key signed this certificate. Accepted algorithms are
  /// RSASSA-PSS with SHA-384 (AMD's ARK/ASK/VCEK/VLEK) and ECDSA with SHA-384 (the
  /// simulator's chain); anything else is refused by name. Names are not compared here (see
  /// names_as_issuer()).
  SignatureCheck verify_signed_by(const Certificate& issuer) const;

  /// ECDSA P-384 / SHA-384 over `message` with this certificate's key; `der_signature` is
  /// an ECDSA-Sig-Value (EcdsaP384Signature::to_der()).
  SignatureCheck verify_p384_sha384(std::span<const std::uint8_t> message,
                                    std::span<const std::uint8_t> der_signature) const;

 private:
  static AttestResult<Certificate> from_der_uncached(std::span<const std::uint8_t> der);
  SignatureCheck verify_signed_by_uncached(const Certificate& issuer) const;
  SignatureCheck verify_p384_sha384_uncached(std::span<const std::uint8_t> message,
                                             std::span<const std::uint8_t> der_signature) const;

 public:

  struct Impl;

 private:
  explicit Certificate(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
};

/// Verifies a report signature (facts §6.3): R/S little-endian -> DER, then ECDSA P-384 /
/// SHA-384 over the raw bytes 0x000..0x29F with `signer`'s key.
SignatureCheck verify_report_signature(std::span<const std::uint8_t, kReportSize> raw_report,
                                       const Certificate& signer);

}  // namespace snplab::model
