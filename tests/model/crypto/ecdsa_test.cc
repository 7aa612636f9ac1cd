// ECDSA P-384 / SHA-384 with the RFC 6979 nonce: known-answer tests from RFC 6979 A.2.6,
// HMAC-SHA-384 from RFC 4231, AES-256-GCM round trip and tamper detection.
#include <gtest/gtest.h>

#include <string>

#include "snp/model/crypto/aead.h"
#include "snp/model/crypto/ecdsa.h"

namespace snplab::model {
namespace {

template <std::size_t N>
std::array<std::uint8_t, N> hex(const std::string& s) {
  std::array<std::uint8_t, N> out{};
  for (std::size_t i = 0; i < N; ++i) out[i] = static_cast<std::uint8_t>(std::stoi(s.substr(2 * i, 2), nullptr, 16));
  return out;
}

std::span<const std::uint8_t> bytes(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// RFC 6979 A.2.6 (P-384).
const P384PrivateKey kKey{hex<48>("6B9D3DAD2E1B8C1C05B19875B6659F4DE23C3B667BF297BA9AA47740787137D896D5724E4C70A825F872C9EA60D2EDF5")};

TEST(Ecdsa, PublicKey_MatchesRfc6979) {
  const P384PublicKey pub = p384_public_key(kKey);
  EXPECT_EQ(pub.x, hex<48>("EC3A4E415B4E19A4568618029F427FA5DA9A8BC4AE92E02E06AAE5286B300C64DEF8F0EA9055866064A254515480BC13"));
  EXPECT_EQ(pub.y, hex<48>("8015D9B72D7D57244EA8EF9AC0C621896708A59367F9DFB9F54CA84B3F1C9DB1288B231C3AE0D4FE7344FD2533264720"));
}

TEST(Ecdsa, SignSample_MatchesRfc6979DeterministicSignature) {
  const std::string msg = "sample";
  const EcdsaSignature sig = ecdsa_p384_sign(kKey, sha384(bytes(msg)));
  EXPECT_EQ(sig.r, hex<48>("94EDBB92A5ECB8AAD4736E56C691916B3F88140666CE9FA73D64C4EA95AD133C81A648152E44ACF96E36DD1E80FABE46"));
  EXPECT_EQ(sig.s, hex<48>("99EF4AEB15F178CEA1FE40DB2603138F130E740A19624526203B6351D0A3A94FA329C145786E679E7B82C71A38628AC8"));
}

TEST(Ecdsa, Verify_AcceptsOwnSignatureRejectsAnyChange) {
  const P384PublicKey pub = p384_public_key(kKey);
  const Sha384Digest d = sha384(bytes("report bytes"));
  const EcdsaSignature sig = ecdsa_p384_sign(kKey, d);
  EXPECT_TRUE(ecdsa_p384_verify(pub, d, sig));
  Sha384Digest d2 = d;
  d2[0] ^= 1;
  EXPECT_FALSE(ecdsa_p384_verify(pub, d2, sig));
  EcdsaSignature bad = sig;
  bad.s[47] ^= 1;
  EXPECT_FALSE(ecdsa_p384_verify(pub, d, bad));
  EXPECT_FALSE(ecdsa_p384_verify(pub, d, EcdsaSignature{}));  // r = s = 0
  P384PublicKey off = pub;
  off.y[47] ^= 1;  // not on the curve
  EXPECT_FALSE(ecdsa_p384_verify(off, d, sig));
}

TEST(Ecdsa, DerivedKeys_AreDeterministicAndDistinct) {
  const std::string secret = "chip-seed-1";
  const P384PrivateKey a = p384_derive_key(bytes(secret), "vcek");
  const P384PrivateKey b = p384_derive_key(bytes(secret), "vcek");
  const P384PrivateKey c = p384_derive_key(bytes(secret), "ask");
  EXPECT_EQ(a.d, b.d);
  EXPECT_NE(a.d, c.d);
}

TEST(Ecdsa, Le72_RoundTripsAndZeroExtends) {
  const P384Scalar s = kKey.d;
  std::array<std::uint8_t, 72> le{};
  put_le72(s, le);
  EXPECT_EQ(le[0], s[47]);
  EXPECT_EQ(le[47], s[0]);
  for (std::size_t i = 48; i < 72; ++i) EXPECT_EQ(le[i], 0);
  EXPECT_EQ(get_le72(le), s);
}

TEST(Hmac, Sha384_MatchesRfc4231Case2) {
  const Sha384Digest mac = hmac_sha384(bytes("Jefe"), bytes("what do ya want for nothing?"));
  EXPECT_EQ(mac, hex<48>("AF45D2E376484031617F78D2B58A6B1B9C7EF464F5A01B47E42EC3736322445E8E2240CA5E69E2C78B3239ECFAB21649"));
}

TEST(Aead, SealOpen_RoundTripsAndDetectsTampering) {
  Aes256Key key{};
  key[0] = 7;
  GcmIv iv{};
  iv[0] = 1;
  const std::string aad = "header";
  const std::string pt = "a guest message payload, 48 bytes long.........";
  Sealed s = aes256gcm_seal(key, iv, bytes(aad), bytes(pt));
  auto opened = aes256gcm_open(key, iv, bytes(aad), s.ciphertext, s.tag);
  ASSERT_TRUE(opened.has_value());
  EXPECT_EQ(std::string(opened->begin(), opened->end()), pt);
  s.ciphertext[3] ^= 1;
  EXPECT_FALSE(aes256gcm_open(key, iv, bytes(aad), s.ciphertext, s.tag).has_value());
  s.ciphertext[3] ^= 1;
  EXPECT_FALSE(aes256gcm_open(key, iv, bytes("headex"), s.ciphertext, s.tag).has_value());
  iv[0] = 2;
  EXPECT_FALSE(aes256gcm_open(key, iv, bytes(aad), s.ciphertext, s.tag).has_value());
}

}  // namespace
}  // namespace snplab::model
