#include "snp/model/crypto/crypto.h"

#include <openssl/evp.h>

#include "snp/model/base/assert.h"

namespace snplab::model {

namespace {

/// The digest implementations, fetched from the default provider once: EVP_sha384() and
/// friends make OpenSSL 3 fetch (a locked lookup) on every init, which costs as much as
/// hashing a small PAGE_INFO.
const EVP_MD* fetched(const char* name) {
  const EVP_MD* md = EVP_MD_fetch(nullptr, name, nullptr);
  SNPLAB_ASSERT(md != nullptr, "EVP_MD_fetch failed");
  return md;  // kept for the process's life
}
const EVP_MD* md_sha384() {
  static const EVP_MD* md = fetched("SHA384");
  return md;
}
const EVP_MD* md_sha256() {
  static const EVP_MD* md = fetched("SHA256");
  return md;
}

template <std::size_t N>
std::array<std::uint8_t, N> one_shot(const EVP_MD* md, std::span<const std::uint8_t> data) {
  // One context per thread, reused: EVP_MD_CTX_new/free per digest is measurable on 4 KiB pages.
  thread_local struct Ctx {
    EVP_MD_CTX* c = EVP_MD_CTX_new();
    ~Ctx() { EVP_MD_CTX_free(c); }
  } ctx;
  std::array<std::uint8_t, N> out{};
  unsigned len = 0;
  const int ok = ctx.c != nullptr && EVP_DigestInit_ex(ctx.c, md, nullptr) == 1 &&
                 EVP_DigestUpdate(ctx.c, data.data(), data.size()) == 1 &&
                 EVP_DigestFinal_ex(ctx.c, out.data(), &len) == 1;
  SNPLAB_ASSERT(ok == 1 && len == N, "EVP digest failed");
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

Sha256Digest sha256(std::span<const std::uint8_t> data) { return one_shot<32>(md_sha256(), data); }
Sha384Digest sha384(std::span<const std::uint8_t> data) { return one_shot<48>(md_sha384(), data); }

struct Sha384::Impl : MdCtx {
  Impl() : MdCtx(md_sha384()) {}
};
Sha384::Sha384() : impl_(std::make_unique<Impl>()) {}
Sha384::~Sha384() = default;
Sha384::Sha384(Sha384&&) noexcept = default;
Sha384& Sha384::operator=(Sha384&&) noexcept = default;
void Sha384::update(std::span<const std::uint8_t> data) { impl_->update(data); }
Sha384Digest Sha384::finish() { return impl_->finish<48>(); }

struct Sha256::Impl : MdCtx {
  Impl() : MdCtx(md_sha256()) {}
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
