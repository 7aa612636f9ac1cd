#include "snp/model/crypto.h"

#include <openssl/evp.h>

#include "snp/model/assert.h"

namespace snplab::model {

namespace {

template <std::size_t N>
std::array<std::uint8_t, N> one_shot(const EVP_MD* md, std::span<const std::uint8_t> data) {
  std::array<std::uint8_t, N> out{};
  unsigned len = 0;
  const int ok = EVP_Digest(data.data(), data.size(), out.data(), &len, md, nullptr);
  SNPLAB_ASSERT(ok == 1 && len == N, "EVP_Digest failed");
  return out;
}

struct MdCtx {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  const EVP_MD* md;
  explicit MdCtx(const EVP_MD* m) : md(m) {
    SNPLAB_ASSERT(ctx != nullptr && EVP_DigestInit_ex(ctx, md, nullptr) == 1, "EVP_DigestInit_ex failed");
  }
  ~MdCtx() { EVP_MD_CTX_free(ctx); }
  MdCtx(const MdCtx&) = delete;
  MdCtx& operator=(const MdCtx&) = delete;
  void update(std::span<const std::uint8_t> d) {
    SNPLAB_ASSERT(EVP_DigestUpdate(ctx, d.data(), d.size()) == 1, "EVP_DigestUpdate failed");
  }
  template <std::size_t N>
  std::array<std::uint8_t, N> finish() {
    std::array<std::uint8_t, N> out{};
    unsigned len = 0;
    SNPLAB_ASSERT(EVP_DigestFinal_ex(ctx, out.data(), &len) == 1 && len == N, "EVP_DigestFinal_ex failed");
    SNPLAB_ASSERT(EVP_DigestInit_ex(ctx, md, nullptr) == 1, "EVP_DigestInit_ex failed");
    return out;
  }
};

}  // namespace

Sha256Digest sha256(std::span<const std::uint8_t> data) { return one_shot<32>(EVP_sha256(), data); }
Sha384Digest sha384(std::span<const std::uint8_t> data) { return one_shot<48>(EVP_sha384(), data); }

struct Sha384::Impl : MdCtx {
  Impl() : MdCtx(EVP_sha384()) {}
};
Sha384::Sha384() : impl_(std::make_unique<Impl>()) {}
Sha384::~Sha384() = default;
Sha384::Sha384(Sha384&&) noexcept = default;
Sha384& Sha384::operator=(Sha384&&) noexcept = default;
void Sha384::update(std::span<const std::uint8_t> data) { impl_->update(data); }
Sha384Digest Sha384::finish() { return impl_->finish<48>(); }

struct Sha256::Impl : MdCtx {
  Impl() : MdCtx(EVP_sha256()) {}
};
Sha256::Sha256() : impl_(std::make_unique<Impl>()) {}
Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;
void Sha256::update(std::span<const std::uint8_t> data) { impl_->update(data); }
Sha256Digest Sha256::finish() { return impl_->finish<32>(); }

std::string to_hex(std::span<const std::uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s;
  s.reserve(bytes.size() * 2);
  for (std::uint8_t b : bytes) {
    s.push_back(kDigits[b >> 4]);
    s.push_back(kDigits[b & 0xF]);
  }
  return s;
}

}  // namespace snplab::model
