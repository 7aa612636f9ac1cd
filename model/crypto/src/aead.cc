#include "snp/model/crypto/aead.h"

#include <openssl/evp.h>

#include <climits>
#include <memory>

#include "snp/model/base/assert.h"

namespace snplab::model {

namespace {

struct CtxFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using Ctx = std::unique_ptr<EVP_CIPHER_CTX, CtxFree>;

/// AES-256-GCM, fetched once (EVP_aes_256_gcm() is fetched again on every init).
const EVP_CIPHER* aes256gcm() {
  static EVP_CIPHER* const cipher = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
  SNPLAB_ASSERT(cipher != nullptr, "OpenSSL has no AES-256-GCM");
  return cipher;
}

/// This thread's cipher context, reset for one operation.
EVP_CIPHER_CTX* thread_ctx() {
  thread_local Ctx ctx(EVP_CIPHER_CTX_new());
  SNPLAB_ASSERT(ctx != nullptr, "EVP_CIPHER_CTX_new failed");
  EVP_CIPHER_CTX_reset(ctx.get());
  return ctx.get();
}

int as_int(std::size_t n) {
  SNPLAB_ASSERT(n <= static_cast<std::size_t>(INT_MAX), "AEAD input too large");
  return static_cast<int>(n);
}

}  // namespace

Sealed aes256gcm_seal(const Aes256Key& key, const GcmIv& iv, std::span<const std::uint8_t> aad,
                      std::span<const std::uint8_t> plaintext) {
  EVP_CIPHER_CTX* const ctx = thread_ctx();
  Sealed out;
  out.ciphertext.resize(plaintext.size());
  int len = 0;
  bool ok = EVP_EncryptInit_ex(ctx, aes256gcm(), nullptr, key.data(), iv.data()) == 1;
  ok = ok && (aad.empty() || EVP_EncryptUpdate(ctx, nullptr, &len, aad.data(), as_int(aad.size())) == 1);
  ok = ok && (plaintext.empty() ||
              EVP_EncryptUpdate(ctx, out.ciphertext.data(), &len, plaintext.data(), as_int(plaintext.size())) == 1);
  ok = ok && EVP_EncryptFinal_ex(ctx, out.ciphertext.data() + plaintext.size(), &len) == 1;
  ok = ok && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, out.tag.data()) == 1;
  SNPLAB_ASSERT(ok, "AES-256-GCM encryption failed");
  return out;
}

std::optional<std::vector<std::uint8_t>> aes256gcm_open(const Aes256Key& key, const GcmIv& iv,
                                                        std::span<const std::uint8_t> aad,
                                                        std::span<const std::uint8_t> ciphertext, const GcmTag& tag) {
  EVP_CIPHER_CTX* const ctx = thread_ctx();
  std::vector<std::uint8_t> plain(ciphertext.size());
  int len = 0;
  GcmTag t = tag;
  bool ok = EVP_DecryptInit_ex(ctx, aes256gcm(), nullptr, key.data(), iv.data()) == 1;
  ok = ok && (aad.empty() || EVP_DecryptUpdate(ctx, nullptr, &len, aad.data(), as_int(aad.size())) == 1);
  ok = ok && (ciphertext.empty() ||
              EVP_DecryptUpdate(ctx, plain.data(), &len, ciphertext.data(), as_int(ciphertext.size())) == 1);
  ok = ok && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, t.data()) == 1;
  SNPLAB_ASSERT(ok, "AES-256-GCM decryption setup failed");
  if (EVP_DecryptFinal_ex(ctx, plain.data() + ciphertext.size(), &len) != 1) return std::nullopt;
  return plain;
}

}  // namespace snplab::model
