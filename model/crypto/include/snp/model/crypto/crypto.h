// The model's only door to OpenSSL for digests (STYLE.md 3.1: model/ stays deterministic;
// hashing is). Signatures, keys, AEAD and X.509 have their own narrow headers next to this.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace snplab::model {

using Sha256Digest = std::array<std::uint8_t, 32>;
using Sha384Digest = std::array<std::uint8_t, 48>;

Sha256Digest sha256(std::span<const std::uint8_t> data);
Sha384Digest sha384(std::span<const std::uint8_t> data);

/// Incremental SHA-384 (for hashing in pieces without copying).
class Sha384 {
 public:
  Sha384();
  ~Sha384();
  Sha384(Sha384&&) noexcept;
  Sha384& operator=(Sha384&&) noexcept;
  Sha384(const Sha384&) = delete;
  Sha384& operator=(const Sha384&) = delete;
  void update(std::span<const std::uint8_t> data);
  Sha384Digest finish();  ///< the context is reset and may be reused

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Incremental SHA-256.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(std::span<const std::uint8_t> data);
  Sha256Digest finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Lower-case hex of bytes.
std::string to_hex(std::span<const std::uint8_t> bytes);

}  // namespace snplab::model
