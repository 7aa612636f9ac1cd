#include "snp/model/psp/sim_chip.h"

#include <cstring>

#include "snp/model/crypto/aead.h"
#include "snp/model/base/assert.h"
#include "snp/model/base/bytes.h"
#include "snp/model/crypto/der.h"

namespace snplab::model {

namespace {

using der::Bytes;

constexpr const char* kOidEcdsaSha384 = "1.2.840.10045.4.3.3";
constexpr const char* kOidEcPublicKey = "1.2.840.10045.2.1";
constexpr const char* kOidSecp384r1 = "1.3.132.0.34";
constexpr const char* kAmdArc = "1.3.6.1.4.1.3704.1";  // AMD's VCEK/VLEK extensions

std::array<std::uint8_t, 8> le64(std::uint64_t v) {
  std::array<std::uint8_t, 8> b{};
  put_le(b.data(), v);
  return b;
}

Bytes name(const std::string& cn) {
  auto rdn = [](const char* oid, Bytes value) { return der::set({der::sequence({der::oid(oid), std::move(value)})}); };
  return der::sequence({rdn("2.5.4.11", der::utf8_string("Engineering")), rdn("2.5.4.6", der::printable_string("US")),
                        rdn("2.5.4.7", der::utf8_string("Santa Clara")), rdn("2.5.4.8", der::utf8_string("CA")),
                        rdn("2.5.4.10", der::utf8_string("Advanced Micro Devices (snplab simulated chip)")),
                        rdn("2.5.4.3", der::utf8_string(cn))});
}

Bytes spki(const P384PublicKey& k) {
  Bytes point{0x04};
  point.insert(point.end(), k.x.begin(), k.x.end());
  point.insert(point.end(), k.y.begin(), k.y.end());
  return der::sequence({der::sequence({der::oid(kOidEcPublicKey), der::oid(kOidSecp384r1)}), der::bit_string(point)});
}

Bytes ext(const std::string& oid, const Bytes& value, bool critical = false) {
  if (critical) return der::sequence({der::oid(oid), der::boolean(true), der::octet_string(value)});
  return der::sequence({der::oid(oid), der::octet_string(value)});
}

/// TBSCertificate (RFC 5280 §4.1) with ecdsa-with-SHA384, then the signed Certificate.
Bytes certificate(std::uint64_t serial, const std::string& issuer_cn, const std::string& subject_cn,
                  const P384PublicKey& subject_key, const std::vector<Bytes>& extensions,
                  const P384PrivateKey& issuer_key) {
  const Bytes alg = der::sequence({der::oid(kOidEcdsaSha384)});
  const Bytes tbs = der::sequence({der::explicit_tag(0, der::integer(std::uint64_t{2})), der::integer(serial), alg,
                                   name(issuer_cn),
                                   der::sequence({der::time(SimChip::kNotBefore), der::time(SimChip::kNotAfter)}),
                                   name(subject_cn), spki(subject_key),
                                   der::explicit_tag(3, der::sequence(extensions))});
  const EcdsaSignature sig = ecdsa_p384_sign(issuer_key, sha384(tbs));
  const Bytes sig_der = der::sequence({der::integer(sig.r), der::integer(sig.s)});
  return der::sequence({tbs, alg, der::bit_string(sig_der)});
}

std::vector<Bytes> ca_extensions() {
  const std::uint8_t key_cert_sign_crl_sign = 0x06;  // bits 5 and 6 of KeyUsage
  const Bytes key_usage = der::tlv(0x03, std::vector<std::uint8_t>{0x01, key_cert_sign_crl_sign});
  return {ext("2.5.29.19", der::sequence({der::boolean(true)}), true), ext("2.5.29.15", key_usage, true)};
}

}  // namespace

SimChip::SimChip(std::uint64_t seed, Product product) : seed_(seed), product_(product) {
  SNPLAB_ASSERT(tcb_layout_for(product).has_value(), "the simulated chip needs a known product");
  const auto s1 = secret("chip_id");
  const auto s2 = secret("chip_id2");
  std::memcpy(chip_id_.data(), s1.data(), 32);
  std::memcpy(chip_id_.data() + 32, s2.data(), 32);
  if (product == Product::Turin) std::fill(chip_id_.begin() + 8, chip_id_.end(), std::uint8_t{0});
  const auto root = secret("amd-root");  // the "AMD" side: same for all chips of a seed
  ark_ = p384_derive_key(root, "ark", std::span<const std::uint8_t>());
  ask_ = p384_derive_key(root, "ask", std::span<const std::uint8_t>());
  asvk_ = p384_derive_key(root, "asvk", std::span<const std::uint8_t>());
  ark_key_sha256_ = sha256(spki(p384_public_key(ark_)));
}

std::array<std::uint8_t, 32> SimChip::secret(std::string_view label) const {
  const auto seed = le64(seed_);
  const Sha384Digest d = hmac_sha384(seed, {reinterpret_cast<const std::uint8_t*>(label.data()), label.size()});
  std::array<std::uint8_t, 32> out{};
  std::memcpy(out.data(), d.data(), 32);
  return out;
}

std::string SimChip::product_name() const {
  switch (product_) {
    case Product::Milan: return "Milan-B0";
    case Product::Genoa: return "Genoa-B1";
    case Product::Turin: return "Turin-B0";
    case Product::Unknown: break;
  }
  SNPLAB_UNREACHABLE("SimChip with an unknown product");
}

P384PrivateKey SimChip::vcek_key(std::uint64_t tcb) const {
  const auto t = le64(tcb);
  return p384_derive_key(secret("vcek"), "vcek", t);
}

std::vector<std::uint8_t> SimChip::ark_cert() const {
  const std::string cn = "ARK-" + std::string(to_string(product_));
  return certificate(1, cn, cn, p384_public_key(ark_), ca_extensions(), ark_);
}

std::vector<std::uint8_t> SimChip::ask_cert() const {
  return certificate(2, "ARK-" + std::string(to_string(product_)), "SEV-" + std::string(to_string(product_)),
                     p384_public_key(ask_), ca_extensions(), ark_);
}

std::vector<std::uint8_t> SimChip::asvk_cert() const {
  return certificate(3, "ARK-" + std::string(to_string(product_)), "SEV-VLEK-" + std::string(to_string(product_)),
                     p384_public_key(asvk_), ca_extensions(), ark_);
}

std::vector<std::uint8_t> SimChip::leaf_cert(const std::string& cn, const P384PublicKey& key, std::uint64_t tcb,
                                             const P384PrivateKey& issuer_key, const std::string& issuer_cn,
                                             bool with_hwid, std::uint64_t serial) const {
  // AMD's extensions, encoded as AMD's VCEKs encode them: INTEGER SPLs, an IA5String product
  // name, the raw CHIP_ID bytes as hwID (Turin: its 8 bytes).
  const auto layout = *tcb_layout_for(product_);
  const TcbParts p = decode_tcb(tcb, layout);
  const std::string a = kAmdArc;
  std::vector<Bytes> exts{ext(a + ".1", der::integer(std::uint64_t{0})),
                          ext(a + ".2", der::ia5_string(product_name())),
                          ext(a + ".3.1", der::integer(std::uint64_t{p.boot_loader})),
                          ext(a + ".3.2", der::integer(std::uint64_t{p.tee}))};
  for (unsigned i = layout == TcbLayout::Turin ? 1U : 0U; i < 4; ++i) {
    exts.push_back(ext(a + ".3." + std::to_string(4 + i), der::integer(std::uint64_t{p.spl[i]})));
  }
  exts.push_back(ext(a + ".3.3", der::integer(std::uint64_t{p.snp})));
  exts.push_back(ext(a + ".3.8", der::integer(std::uint64_t{p.microcode})));
  if (layout == TcbLayout::Turin) exts.push_back(ext(a + ".3.9", der::integer(std::uint64_t{p.fmc})));
  if (with_hwid) {
    const std::size_t n = product_ == Product::Turin ? 8 : 64;
    exts.push_back(ext(a + ".4", Bytes(chip_id_.begin(), chip_id_.begin() + static_cast<std::ptrdiff_t>(n))));
  } else {
    exts.push_back(ext(a + ".5", der::ia5_string("snplab-csp")));
  }
  return certificate(serial, issuer_cn, cn, key, exts, issuer_key);
}

std::vector<std::uint8_t> SimChip::vcek_cert(std::uint64_t tcb) const {
  return leaf_cert("SEV-VCEK", p384_public_key(vcek_key(tcb)), tcb, ask_, "SEV-" + std::string(to_string(product_)),
                   true, 0x1000 + (tcb & 0xFFFF));
}

std::string SimChip::vcek_chain_pem() const {
  return der::pem("CERTIFICATE", ask_cert()) + der::pem("CERTIFICATE", ark_cert());
}

std::string SimChip::vlek_chain_pem() const {
  return der::pem("CERTIFICATE", asvk_cert()) + der::pem("CERTIFICATE", ark_cert());
}

P384PrivateKey SimChip::vlek_key(std::uint64_t tcb, std::uint64_t vlek_seed) const {
  const auto s = le64(vlek_seed);
  return p384_derive_key(s, "vlek", le64(tcb));
}

WrappedVlek SimChip::wrap_vlek(std::uint64_t tcb, std::uint64_t vlek_seed) const {
  WrappedVlek blob{};
  Aes256Key wrap_key = secret("vlek-wrap");
  GcmIv iv{};
  const auto ivsrc = hmac_sha384(le64(vlek_seed), le64(tcb));
  std::memcpy(iv.data(), ivsrc.data(), iv.size());
  std::array<std::uint8_t, 0x180> plain{};
  const auto s = le64(vlek_seed);
  std::memcpy(plain.data(), s.data(), s.size());
  const auto t = le64(tcb);
  const Sealed sealed = aes256gcm_seal(wrap_key, iv, t, plain);  // the TCB is authenticated
  std::memcpy(blob.data(), iv.data(), 12);
  std::memcpy(blob.data() + 16, sealed.ciphertext.data(), 0x180);
  std::memcpy(blob.data() + 16 + 0x180, t.data(), 8);
  std::memcpy(blob.data() + 16 + 0x180 + 16, sealed.tag.data(), 16);
  return blob;
}

std::optional<P384PrivateKey> SimChip::unwrap_vlek(const WrappedVlek& blob, std::uint64_t* tcb) const {
  GcmIv iv{};
  std::memcpy(iv.data(), blob.data(), 12);
  const std::uint64_t t = get_le<std::uint64_t>(blob.data() + 16 + 0x180);
  GcmTag tag{};
  std::memcpy(tag.data(), blob.data() + 16 + 0x180 + 16, 16);
  const auto plain = aes256gcm_open(secret("vlek-wrap"), iv, std::span<const std::uint8_t>(blob.data() + 16 + 0x180, 8),
                                    std::span<const std::uint8_t>(blob.data() + 16, 0x180), tag);
  if (!plain) return std::nullopt;
  const std::uint64_t vseed = get_le<std::uint64_t>(plain->data());
  if (tcb != nullptr) *tcb = t;
  return vlek_key(t, vseed);
}

std::vector<std::uint8_t> SimChip::vlek_cert(std::uint64_t tcb, std::uint64_t vlek_seed) const {
  return leaf_cert("SEV-VLEK", p384_public_key(vlek_key(tcb, vlek_seed)), tcb, asvk_,
                   "SEV-VLEK-" + std::string(to_string(product_)), false, 0x2000 + (vlek_seed & 0xFFFF));
}

}  // namespace snplab::model
