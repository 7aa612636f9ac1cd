// ECDSA over P-384 with SHA-384, the signature of attestation reports, ID blocks and the
// simulated chip's certificates (facts §5.4, §6.3). Signing is deterministic (RFC 6979 nonce)
// so one seed gives byte-identical reports. Scalars and coordinates are big-endian here;
// the report's little-endian 72-byte fields are converted where they are read or written.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>

#include "snp/model/crypto/crypto.h"

namespace snplab::model {

using P384Scalar = std::array<std::uint8_t, 48>;  // big-endian

struct P384PrivateKey {
  P384Scalar d{};
};

struct P384PublicKey {
  P384Scalar x{};
  P384Scalar y{};
  friend bool operator==(const P384PublicKey&, const P384PublicKey&) = default;
};

struct EcdsaSignature {
  P384Scalar r{};
  P384Scalar s{};
  friend bool operator==(const EcdsaSignature&, const EcdsaSignature&) = default;
};

/// HMAC-SHA-384 (RFC 2104), also the PRF the model's key derivations use.
Sha384Digest hmac_sha384(std::span<const std::uint8_t> key, std::span<const std::uint8_t> msg);

/// A private key derived from `secret` and `label` (HMAC-SHA-384 in counter mode, reduced
/// into [1, n-1]). Same inputs, same key.
P384PrivateKey p384_derive_key(std::span<const std::uint8_t> secret, std::string_view label,
                               std::span<const std::uint8_t> context = {});

P384PublicKey p384_public_key(const P384PrivateKey& key);

/// Signs a SHA-384 digest with the RFC 6979 deterministic nonce.
EcdsaSignature ecdsa_p384_sign(const P384PrivateKey& key, const Sha384Digest& digest);

/// Verifies a signature over a SHA-384 digest. False for any malformed input.
bool ecdsa_p384_verify(const P384PublicKey& key, const Sha384Digest& digest, const EcdsaSignature& sig);

/// The report/ID-block wire form: R and S as 72-byte little-endian, zero-extended.
void put_le72(const P384Scalar& be, std::span<std::uint8_t, 72> out);
P384Scalar get_le72(std::span<const std::uint8_t, 72> in);

}  // namespace snplab::model
