#include "snp/model/crypto/ecdsa.h"

#include "snp/model/crypto/memo.h"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>

#include <algorithm>
#include <memory>
#include <cstring>
#include <vector>

#include "snp/model/base/assert.h"

namespace snplab::model {

namespace {

struct BnFree { void operator()(BIGNUM* b) const { BN_clear_free(b); } };
struct CtxFree { void operator()(BN_CTX* c) const { BN_CTX_free(c); } };
struct GroupFree { void operator()(EC_GROUP* g) const { EC_GROUP_free(g); } };
struct PointFree { void operator()(EC_POINT* p) const { EC_POINT_free(p); } };
using Bn = std::unique_ptr<BIGNUM, BnFree>;
using BnCtx = std::unique_ptr<BN_CTX, CtxFree>;
using Group = std::unique_ptr<EC_GROUP, GroupFree>;
using Point = std::unique_ptr<EC_POINT, PointFree>;

Bn bn() {
  Bn b(BN_new());
  SNPLAB_ASSERT(b != nullptr, "BN_new failed");
  return b;
}
Bn bn_from(std::span<const std::uint8_t> be) {
  Bn b(BN_bin2bn(be.data(), static_cast<int>(be.size()), nullptr));
  SNPLAB_ASSERT(b != nullptr, "BN_bin2bn failed");
  return b;
}
P384Scalar to_scalar(const BIGNUM* b) {
  P384Scalar out{};
  SNPLAB_ASSERT(BN_bn2binpad(b, out.data(), static_cast<int>(out.size())) == 48, "scalar does not fit 48 bytes");
  return out;
}

struct Curve {
  Group group{EC_GROUP_new_by_curve_name(NID_secp384r1)};
  Bn order = bn();
  BnCtx ctx{BN_CTX_new()};
  Curve() {
    SNPLAB_ASSERT(group != nullptr && ctx != nullptr, "P-384 setup failed");
    SNPLAB_ASSERT(EC_GROUP_get_order(group.get(), order.get(), ctx.get()) == 1, "EC_GROUP_get_order failed");
  }
};

const Curve& curve() {
  // One per thread: the BN_CTX is scratch space, and TBB runs schedules on every core.
  thread_local const Curve c;
  return c;
}

// bits2int of RFC 6979 for a 384-bit order and a 384-bit hash: the hash as an integer.
Bn digest_int(const Sha384Digest& d) { return bn_from(d); }

}  // namespace

Sha384Digest hmac_sha384(std::span<const std::uint8_t> key, std::span<const std::uint8_t> msg) {
  constexpr std::size_t kBlock = 128;
  std::array<std::uint8_t, kBlock> k{};
  if (key.size() > kBlock) {
    const Sha384Digest kd = sha384(key);
    std::copy(kd.begin(), kd.end(), k.begin());
  } else {
    std::copy(key.begin(), key.end(), k.begin());
  }
  std::array<std::uint8_t, kBlock> ipad{}, opad{};
  for (std::size_t i = 0; i < kBlock; ++i) {
    ipad[i] = static_cast<std::uint8_t>(k[i] ^ 0x36);
    opad[i] = static_cast<std::uint8_t>(k[i] ^ 0x5c);
  }
  Sha384 inner;
  inner.update(ipad);
  inner.update(msg);
  const Sha384Digest ih = inner.finish();
  Sha384 outer;
  outer.update(opad);
  outer.update(ih);
  return outer.finish();
}

static P384PrivateKey p384_derive_key_uncached(std::span<const std::uint8_t> secret, std::string_view label,
                                               std::span<const std::uint8_t> context) {
  const Curve& c = curve();
  for (std::uint32_t counter = 1;; ++counter) {
    // counter (big-endian) || label || 0 || context, laid out in place (sized once: GCC 12's
    // LTO misreads push_back-then-insert as a write past an empty buffer).
    std::vector<std::uint8_t> msg(4 + label.size() + 1 + context.size(), 0);
    for (unsigned i = 0; i < 4; ++i) msg[i] = static_cast<std::uint8_t>(counter >> (24 - 8 * i));
    if (!label.empty()) std::memcpy(msg.data() + 4, label.data(), label.size());
    if (!context.empty()) std::memcpy(msg.data() + 4 + label.size() + 1, context.data(), context.size());
    const Sha384Digest cand = hmac_sha384(secret, msg);
    Bn d = bn_from(cand);
    // Accept only 1 <= d < n (rejection sampling keeps the key uniform).
    if (!BN_is_zero(d.get()) && BN_cmp(d.get(), c.order.get()) < 0) return P384PrivateKey{to_scalar(d.get())};
  }
}

static P384PublicKey p384_public_key_uncached(const P384PrivateKey& key) {
  const Curve& c = curve();
  Bn d = bn_from(key.d);
  Point q(EC_POINT_new(c.group.get()));
  Bn x = bn(), y = bn();
  const bool ok = q != nullptr && EC_POINT_mul(c.group.get(), q.get(), d.get(), nullptr, nullptr, c.ctx.get()) == 1 &&
                  EC_POINT_get_affine_coordinates(c.group.get(), q.get(), x.get(), y.get(), c.ctx.get()) == 1;
  SNPLAB_ASSERT(ok, "P-384 public key computation failed");
  return P384PublicKey{to_scalar(x.get()), to_scalar(y.get())};
}

static EcdsaSignature ecdsa_p384_sign_uncached(const P384PrivateKey& key, const Sha384Digest& digest) {
  const Curve& c = curve();
  const BIGNUM* n = c.order.get();
  BN_CTX* ctx = c.ctx.get();
  Bn d = bn_from(key.d);
  Bn z = digest_int(digest);
  Bn z_mod = bn();
  SNPLAB_ASSERT(BN_nnmod(z_mod.get(), z.get(), n, ctx) == 1, "BN_nnmod failed");
  const P384Scalar h1 = to_scalar(z_mod.get());  // int2octets(bits2int(H) mod q)

  // RFC 6979 §3.2 with HMAC-SHA-384.
  std::array<std::uint8_t, 48> v{}, kk{};
  v.fill(0x01);
  kk.fill(0x00);
  auto step = [&](std::uint8_t sep, bool with_data) {
    std::vector<std::uint8_t> m(v.begin(), v.end());
    m.push_back(sep);
    if (with_data) {
      m.insert(m.end(), key.d.begin(), key.d.end());
      m.insert(m.end(), h1.begin(), h1.end());
    }
    kk = hmac_sha384(kk, m);
    v = hmac_sha384(kk, v);
  };
  step(0x00, true);
  step(0x01, true);
  for (;;) {
    v = hmac_sha384(kk, v);
    Bn k = bn_from(v);
    if (!BN_is_zero(k.get()) && BN_cmp(k.get(), n) < 0) {
      Point rp(EC_POINT_new(c.group.get()));
      Bn rx = bn(), r = bn(), kinv = bn(), s = bn(), tmp = bn();
      bool ok = rp != nullptr && EC_POINT_mul(c.group.get(), rp.get(), k.get(), nullptr, nullptr, ctx) == 1 &&
                EC_POINT_get_affine_coordinates(c.group.get(), rp.get(), rx.get(), nullptr, ctx) == 1 &&
                BN_nnmod(r.get(), rx.get(), n, ctx) == 1;
      ok = ok && BN_mod_inverse(kinv.get(), k.get(), n, ctx) != nullptr &&
           BN_mod_mul(tmp.get(), r.get(), d.get(), n, ctx) == 1 && BN_mod_add(tmp.get(), tmp.get(), z.get(), n, ctx) == 1 &&
           BN_mod_mul(s.get(), tmp.get(), kinv.get(), n, ctx) == 1;
      SNPLAB_ASSERT(ok, "ECDSA signing arithmetic failed");
      if (!BN_is_zero(r.get()) && !BN_is_zero(s.get())) return EcdsaSignature{to_scalar(r.get()), to_scalar(s.get())};
    }
    std::vector<std::uint8_t> m(v.begin(), v.end());
    m.push_back(0x00);
    kk = hmac_sha384(kk, m);
    v = hmac_sha384(kk, v);
  }
}

static bool ecdsa_p384_verify_uncached(const P384PublicKey& key, const Sha384Digest& digest, const EcdsaSignature& sig) {
  const Curve& c = curve();
  const BIGNUM* n = c.order.get();
  BN_CTX* ctx = c.ctx.get();
  Bn r = bn_from(sig.r), s = bn_from(sig.s);
  if (BN_is_zero(r.get()) || BN_is_zero(s.get()) || BN_cmp(r.get(), n) >= 0 || BN_cmp(s.get(), n) >= 0) return false;
  Bn qx = bn_from(key.x), qy = bn_from(key.y);
  Point q(EC_POINT_new(c.group.get()));
  if (q == nullptr || EC_POINT_set_affine_coordinates(c.group.get(), q.get(), qx.get(), qy.get(), ctx) != 1) return false;
  if (EC_POINT_is_on_curve(c.group.get(), q.get(), ctx) != 1) return false;
  Bn z = digest_int(digest);
  Bn w = bn(), u1 = bn(), u2 = bn(), x = bn(), v = bn();
  Point pt(EC_POINT_new(c.group.get()));
  bool ok = pt != nullptr && BN_mod_inverse(w.get(), s.get(), n, ctx) != nullptr &&
            BN_mod_mul(u1.get(), z.get(), w.get(), n, ctx) == 1 && BN_mod_mul(u2.get(), r.get(), w.get(), n, ctx) == 1 &&
            EC_POINT_mul(c.group.get(), pt.get(), u1.get(), q.get(), u2.get(), ctx) == 1;
  if (!ok || EC_POINT_is_at_infinity(c.group.get(), pt.get()) == 1) return false;
  ok = EC_POINT_get_affine_coordinates(c.group.get(), pt.get(), x.get(), nullptr, ctx) == 1 &&
       BN_nnmod(v.get(), x.get(), n, ctx) == 1;
  return ok && BN_cmp(v.get(), r.get()) == 0;
}

void put_le72(const P384Scalar& be, std::span<std::uint8_t, 72> out) {
  std::fill(out.begin(), out.end(), std::uint8_t{0});
  for (std::size_t i = 0; i < be.size(); ++i) out[i] = be[be.size() - 1 - i];
}

P384Scalar get_le72(std::span<const std::uint8_t, 72> in) {
  P384Scalar be{};
  for (std::size_t i = 0; i < be.size(); ++i) be[i] = in[be.size() - 1 - i];
  return be;
}

// Memoized entry points (memo.h): the same inputs give the same bytes, without the curve
// arithmetic when they were seen before on this thread.
P384PrivateKey p384_derive_key(std::span<const std::uint8_t> secret, std::string_view label,
                               std::span<const std::uint8_t> context) {
  thread_local memo::Cache<P384PrivateKey> cache;  // the firmware derives its VCEK on every report
  const std::string k =
      memo::key(secret, std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(label.data()), label.size()),
                context);
  if (const P384PrivateKey* hit = cache.find(k)) return *hit;
  const P384PrivateKey v = p384_derive_key_uncached(secret, label, context);
  cache.put(k, v);
  return v;
}

P384PublicKey p384_public_key(const P384PrivateKey& key) {
  thread_local memo::Cache<P384PublicKey> cache;
  const std::string k = memo::key(key.d);
  if (const P384PublicKey* hit = cache.find(k)) return *hit;
  const P384PublicKey v = p384_public_key_uncached(key);
  cache.put(k, v);
  return v;
}

EcdsaSignature ecdsa_p384_sign(const P384PrivateKey& key, const Sha384Digest& digest) {
  thread_local memo::Cache<EcdsaSignature> cache;
  const std::string k = memo::key(key.d, digest);
  if (const EcdsaSignature* hit = cache.find(k)) return *hit;
  const EcdsaSignature v = ecdsa_p384_sign_uncached(key, digest);
  cache.put(k, v);
  return v;
}

bool ecdsa_p384_verify(const P384PublicKey& key, const Sha384Digest& digest, const EcdsaSignature& sig) {
  thread_local memo::Cache<bool> cache;
  const std::string k = memo::key(key.x, key.y, digest, sig.r, sig.s);
  if (const bool* hit = cache.find(k)) return *hit;
  const bool v = ecdsa_p384_verify_uncached(key, digest, sig);
  cache.put(k, v);
  return v;
}

}  // namespace snplab::model
