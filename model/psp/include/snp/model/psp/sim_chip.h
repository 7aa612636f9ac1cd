// A simulated AMD chip and its key-distribution side: the chip's secrets, CHIP_ID, the VCEK
// for any TCB, and an ARK -> ASK -> VCEK (and ARK -> ASVK -> VLEK) chain issued as real X.509
// certificates with AMD's VCEK/VLEK extensions, all derived from one seed. Same seed, same
// bytes. The simulated ARK/ASK/ASVK use ECDSA P-384 where AMD's use RSA-4096 with PSS; the
// verifier accepts both, and a real AMD chain never verifies a simulated report (docs/firmware.md).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "snp/model/attest/attestation.h"
#include "snp/model/crypto/crypto.h"
#include "snp/model/crypto/ecdsa.h"

namespace snplab::model {

/// What KDS hands a cloud provider for SNP_VLEK_LOAD: a VLEK seed wrapped for one chip
/// (ASPFW `vlek_wrapped_t`, facts §4.2): iv[12], rsvd[4], wrapped[0x180], tcb_version,
/// reserved[8], auth_tag[16] = 432 bytes.
inline constexpr std::size_t kWrappedVlekSize = 432;
using WrappedVlek = std::array<std::uint8_t, kWrappedVlekSize>;

class SimChip {
 public:
  SimChip(std::uint64_t seed, Product product);

  Product product() const { return product_; }
  /// "Milan-B0", "Genoa-B1", "Turin-B0": the productName extension of its certificates.
  std::string product_name() const;
  /// CHIP_ID as reported (Turin: 8 significant bytes, the rest zero; facts §6.3).
  const std::array<std::uint8_t, 64>& chip_id() const { return chip_id_; }

  /// The VCEK for `tcb` (the firmware signs with the one for its REPORTED_TCB).
  P384PrivateKey vcek_key(std::uint64_t tcb) const;
  /// DER certificates.
  std::vector<std::uint8_t> ark_cert() const;
  std::vector<std::uint8_t> ask_cert() const;
  std::vector<std::uint8_t> asvk_cert() const;
  std::vector<std::uint8_t> vcek_cert(std::uint64_t tcb) const;
  /// ASK then ARK as PEM (what `--chain` takes); the VLEK chain is ASVK then ARK.
  std::string vcek_chain_pem() const;
  std::string vlek_chain_pem() const;
  /// SHA-256 of the ARK's DER SubjectPublicKeyInfo: the pin a verifier trusts this chip's
  /// chain by (TrustedRoot::spki_sha256). The ARK key depends on the seed only, so one pin
  /// covers every product of a seed.
  const Sha256Digest& ark_key_sha256() const { return ark_key_sha256_; }

  /// KDS side: a VLEK seed for `tcb`, wrapped for this chip.
  WrappedVlek wrap_vlek(std::uint64_t tcb, std::uint64_t vlek_seed) const;
  /// Firmware side: unwraps a blob; nullopt when it was not wrapped for this chip or was
  /// altered. `*tcb` receives the TCB it was issued for.
  std::optional<P384PrivateKey> unwrap_vlek(const WrappedVlek& blob, std::uint64_t* tcb) const;
  /// The VLEK certificate for a (tcb, vlek_seed) pair as KDS would issue it.
  std::vector<std::uint8_t> vlek_cert(std::uint64_t tcb, std::uint64_t vlek_seed) const;

  /// Certificate validity window of the simulated chain (seconds since the epoch).
  static constexpr std::int64_t kNotBefore = 1704067200;  // 2024-01-01T00:00:00Z
  static constexpr std::int64_t kNotAfter = 2524607999;   // 2049-12-31T23:59:59Z

 private:
  std::array<std::uint8_t, 32> secret(std::string_view label) const;
  P384PrivateKey vlek_key(std::uint64_t tcb, std::uint64_t vlek_seed) const;
  std::vector<std::uint8_t> leaf_cert(const std::string& cn, const P384PublicKey& key, std::uint64_t tcb,
                                      const P384PrivateKey& issuer_key, const std::string& issuer_cn,
                                      bool with_hwid, std::uint64_t serial) const;

  std::uint64_t seed_;
  Product product_;
  std::array<std::uint8_t, 64> chip_id_{};
  P384PrivateKey ark_, ask_, asvk_;
  Sha256Digest ark_key_sha256_{};
};

}  // namespace snplab::model
