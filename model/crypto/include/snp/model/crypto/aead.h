// AES-256-GCM, the AEAD of SNP guest messages (facts §6.1). OpenSSL stays behind this header.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace snplab::model {

using Aes256Key = std::array<std::uint8_t, 32>;
using GcmIv = std::array<std::uint8_t, 12>;
using GcmTag = std::array<std::uint8_t, 16>;

struct Sealed {
  std::vector<std::uint8_t> ciphertext;
  GcmTag tag{};
};

/// Encrypts `plaintext` and authenticates it together with `aad`.
Sealed aes256gcm_seal(const Aes256Key& key, const GcmIv& iv, std::span<const std::uint8_t> aad,
                      std::span<const std::uint8_t> plaintext);

/// Decrypts and checks the tag; nullopt when authentication fails.
std::optional<std::vector<std::uint8_t>> aes256gcm_open(const Aes256Key& key, const GcmIv& iv,
                                                        std::span<const std::uint8_t> aad,
                                                        std::span<const std::uint8_t> ciphertext, const GcmTag& tag);

}  // namespace snplab::model
