// Attestation report codec (facts §6.3), TCB_VERSION (§6.4), X.509 parsing and the report
// verifier. The verifier paths the real vectors do not reach (Turin, masked CHIP_ID, VLEK
// mismatches, expiry, ECDSA chains) run over a synthetic PKI built here with OpenSSL: P-384
// keys, an ARK -> ASK/ASVK -> VCEK/VLEK chain carrying AMD's KDS extensions, reports signed
// over 0x000..0x29F.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "snp/model/attest/attestation.h"
#include "snp/model/attest/report_verify.h"
#include "snp/model/attest/x509.h"

namespace snplab::model {
namespace {

using Bytes = std::vector<std::uint8_t>;

std::string shared_dir() {
  if (const char* env = std::getenv("SNPLAB_SHARED_DIR"); env != nullptr && *env != '\0') return env;
  return SNPLAB_SHARED_DIR;
}

Bytes read_vector(const std::string& rel) {
  std::ifstream in(shared_dir() + "/vectors/reports/" + rel, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// A report whose every byte is distinct-ish (i * 7 + 3), so a field read from the wrong
/// offset shows.
std::array<std::uint8_t, kReportSize> patterned_bytes() {
  std::array<std::uint8_t, kReportSize> b{};
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<std::uint8_t>(i * 7 + 3);
  return b;
}

// === Layout =================================================================================

TEST(ReportLayout, Table_TilesTheWholeReport_WithFactsOffsets) {
  EXPECT_TRUE(report_layout_is_contiguous());
  EXPECT_EQ(kReportSize, 1184u);
  EXPECT_EQ(kReportSignedSize, 0x2A0u);
  auto offset_of = [](std::string_view name) {
    for (const auto& f : kReportLayout) {
      if (f.name == name) return f.offset;
    }
    return std::size_t{0xFFFF};
  };
  EXPECT_EQ(offset_of("POLICY"), 0x008u);
  EXPECT_EQ(offset_of("KEY_INFO"), 0x048u);
  EXPECT_EQ(offset_of("REPORT_DATA"), 0x050u);
  EXPECT_EQ(offset_of("MEASUREMENT"), 0x090u);
  EXPECT_EQ(offset_of("HOST_DATA"), 0x0C0u);
  EXPECT_EQ(offset_of("REPORT_ID_MA"), 0x160u);
  EXPECT_EQ(offset_of("REPORTED_TCB"), 0x180u);
  EXPECT_EQ(offset_of("CPUID_STEP"), 0x18Au);
  EXPECT_EQ(offset_of("CHIP_ID"), 0x1A0u);
  EXPECT_EQ(offset_of("COMMITTED_MAJOR"), 0x1EEu);
  EXPECT_EQ(offset_of("LAUNCH_TCB"), 0x1F0u);
  EXPECT_EQ(offset_of("CURRENT_MIT_VECTOR"), 0x200u);
  EXPECT_EQ(offset_of("SIGNATURE_S"), 0x2E8u);
}

TEST(ReportParse, EveryField_ReadFromItsOffset_LittleEndian) {
  const auto b = patterned_bytes();
  const auto r = parse_attestation_report(b);
  ASSERT_TRUE(r.has_value());
  auto u32 = [&b](std::size_t o) {
    return static_cast<std::uint32_t>(b[o]) | static_cast<std::uint32_t>(b[o + 1]) << 8 |
           static_cast<std::uint32_t>(b[o + 2]) << 16 | static_cast<std::uint32_t>(b[o + 3]) << 24;
  };
  auto u64 = [&u32](std::size_t o) { return std::uint64_t{u32(o)} | std::uint64_t{u32(o + 4)} << 32; };
  namespace o = report_offset;
  EXPECT_EQ(r->version, u32(o::kVersion));
  EXPECT_EQ(r->guest_svn, u32(o::kGuestSvn));
  EXPECT_EQ(r->policy, u64(o::kPolicy));
  EXPECT_EQ(r->family_id[0], b[o::kFamilyId]);
  EXPECT_EQ(r->image_id[15], b[o::kImageId + 15]);
  EXPECT_EQ(r->vmpl, u32(o::kVmpl));
  EXPECT_EQ(r->signature_algo, u32(o::kSignatureAlgo));
  EXPECT_EQ(r->current_tcb, u64(o::kCurrentTcb));
  EXPECT_EQ(r->platform_info, u64(o::kPlatformInfo));
  EXPECT_EQ(r->key_info, u32(o::kKeyInfo));
  EXPECT_EQ(r->reserved_04c, u32(o::kReserved04C));
  EXPECT_EQ(r->report_data[63], b[o::kReportData + 63]);
  EXPECT_EQ(r->measurement[0], b[o::kMeasurement]);
  EXPECT_EQ(r->host_data[31], b[o::kHostData + 31]);
  EXPECT_EQ(r->id_key_digest[47], b[o::kIdKeyDigest + 47]);
  EXPECT_EQ(r->author_key_digest[0], b[o::kAuthorKeyDigest]);
  EXPECT_EQ(r->report_id[0], b[o::kReportId]);
  EXPECT_EQ(r->report_id_ma[31], b[o::kReportIdMa + 31]);
  EXPECT_EQ(r->reported_tcb, u64(o::kReportedTcb));
  EXPECT_EQ(r->cpuid_fam_id, b[0x188]);
  EXPECT_EQ(r->cpuid_mod_id, b[0x189]);
  EXPECT_EQ(r->cpuid_step, b[0x18A]);
  EXPECT_EQ(r->reserved_18b[20], b[0x19F]);
  EXPECT_EQ(r->chip_id[0], b[0x1A0]);
  EXPECT_EQ(r->chip_id[63], b[0x1DF]);
  EXPECT_EQ(r->committed_tcb, u64(o::kCommittedTcb));
  EXPECT_EQ(r->current_build, b[0x1E8]);
  EXPECT_EQ(r->current_minor, b[0x1E9]);
  EXPECT_EQ(r->current_major, b[0x1EA]);
  EXPECT_EQ(r->reserved_1eb, b[0x1EB]);
  EXPECT_EQ(r->committed_build, b[0x1EC]);
  EXPECT_EQ(r->committed_minor, b[0x1ED]);
  EXPECT_EQ(r->committed_major, b[0x1EE]);
  EXPECT_EQ(r->reserved_1ef, b[0x1EF]);
  EXPECT_EQ(r->launch_tcb, u64(o::kLaunchTcb));
  EXPECT_EQ(r->launch_mit_vector, u64(o::kLaunchMitVector));
  EXPECT_EQ(r->current_mit_vector, u64(o::kCurrentMitVector));
  EXPECT_EQ(r->reserved_208[151], b[0x29F]);
  EXPECT_EQ(r->signature.r[0], b[0x2A0]);
  EXPECT_EQ(r->signature.s[0], b[0x2E8]);
  EXPECT_EQ(r->signature_reserved[367], b[0x49F]);
}

TEST(ReportParse, ToBytes_OfParsedReport_IsTheInputBitForBit) {
  const auto b = patterned_bytes();
  const auto r = parse_attestation_report(b);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->to_bytes(), b);
  const auto signed_part = r->signed_bytes();
  EXPECT_TRUE(std::equal(signed_part.begin(), signed_part.end(), b.begin()));
  const auto range = signed_range(std::span<const std::uint8_t, kReportSize>(b));
  EXPECT_EQ(range.size(), 0x2A0u);
  EXPECT_EQ(range.data(), b.data());
}

TEST(ReportParse, FieldsSet_SerialiseToTheirOffsets) {
  AttestationReport r;
  r.version = 5;
  r.policy = 0x30000;
  r.vmpl = 2;
  r.key_info = 1U << 2;
  r.reported_tcb = 0x1122334455667788ULL;
  r.cpuid_fam_id = 0x1A;
  r.launch_mit_vector = 0xAB;
  r.measurement[0] = 0x5A;
  const auto b = r.to_bytes();
  EXPECT_EQ(b[0x000], 5);
  EXPECT_EQ(b[0x00A], 0x03);
  EXPECT_EQ(b[0x030], 2);
  EXPECT_EQ(b[0x048], 4);
  EXPECT_EQ(b[0x180], 0x88);
  EXPECT_EQ(b[0x187], 0x11);
  EXPECT_EQ(b[0x188], 0x1A);
  EXPECT_EQ(b[0x1F8], 0xAB);
  EXPECT_EQ(b[0x090], 0x5A);
  EXPECT_EQ(r.signing_key(), SigningKey::Vlek);
}

TEST(ReportParse, WrongSize_FailsNamingTheSize) {
  for (std::size_t n : {std::size_t{0}, std::size_t{1}, kReportSize - 1, kReportSize + 1, std::size_t{4096}}) {
    const Bytes b(n, 0x02);
    const auto r = parse_attestation_report(b);
    ASSERT_FALSE(r.has_value()) << n;
    EXPECT_NE(r.error().message.find("1184"), std::string::npos) << r.error().message;
    EXPECT_NE(r.error().message.find(std::to_string(n)), std::string::npos) << r.error().message;
  }
}

class ReportVersions : public ::testing::TestWithParam<std::uint32_t> {};

TEST_P(ReportVersions, Version_DecidesKnownCpuidAndMitigationFields) {
  auto b = patterned_bytes();
  const std::uint32_t v = GetParam();
  b[0] = static_cast<std::uint8_t>(v);
  b[1] = b[2] = b[3] = 0;
  const auto r = parse_attestation_report(b);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->version, v);
  EXPECT_EQ(r->version_known(), v >= 2 && v <= 5);
  EXPECT_EQ(r->has_cpuid(), v >= 3);
  EXPECT_EQ(r->has_mitigation_vectors(), v >= 4);  // v4 treated like v5 (facts §6.3)
  // Whatever the version, every byte survives the round trip.
  EXPECT_EQ(r->to_bytes(), b);
}

INSTANTIATE_TEST_SUITE_P(V0toV6, ReportVersions, ::testing::Values(0u, 1u, 2u, 3u, 4u, 5u, 6u));

TEST(ReportParse, KeyInfo_Bits) {
  AttestationReport r;
  r.key_info = 0b11111;
  EXPECT_TRUE(r.author_key_en());
  EXPECT_TRUE(r.mask_chip_key());
  EXPECT_EQ(r.signing_key_raw(), 7);
  EXPECT_EQ(r.signing_key(), SigningKey::None);
  r.key_info = 2U << 2;
  EXPECT_FALSE(r.signing_key().has_value());  // reserved value
  EXPECT_EQ(to_string(SigningKey::Vcek), "VCEK");
  EXPECT_EQ(to_string(SigningKey::Vlek), "VLEK");
}

TEST(ReportParse, RealReports_Version2_3_5_FieldsAsExpected) {
  const auto v2 = parse_attestation_report(read_vector("trustee/test-report.bin"));
  ASSERT_TRUE(v2.has_value()) << v2.error().message;
  EXPECT_EQ(v2->version, 2u);
  EXPECT_EQ(v2->product(), Product::Unknown);  // v2: no CPUID
  EXPECT_EQ(v2->current_major, 1);
  EXPECT_EQ(v2->current_minor, 52);

  const auto v3 = parse_attestation_report(read_vector("trustee/test-vlek-report.bin"));
  ASSERT_TRUE(v3.has_value());
  EXPECT_EQ(v3->version, 3u);
  EXPECT_EQ(v3->product(), Product::Milan);
  EXPECT_EQ(v3->signing_key(), SigningKey::Vlek);
  EXPECT_TRUE(v3->chip_id_is_zero());

  const auto v5 = parse_attestation_report(read_vector("oak/genoa_oc.report.bin"));
  ASSERT_TRUE(v5.has_value());
  EXPECT_EQ(v5->version, 5u);
  EXPECT_EQ(v5->product(), Product::Genoa);
  EXPECT_EQ(v5->cpuid_step, 1);
  EXPECT_EQ(v5->launch_mit_vector, 1u);
  EXPECT_EQ(v5->current_mit_vector, 1u);
}

// === Extracting a report from a file ========================================================

TEST(ExtractReport, HexText_IsDecoded) {
  const auto hex = read_vector("virtee-sev/report_milan.hex");
  ASSERT_EQ(hex.size(), 2 * kReportSize);
  const auto b = extract_report_bytes(hex, std::nullopt);
  ASSERT_TRUE(b.has_value()) << b.error().message;
  EXPECT_EQ((*b)[0], 2);
  EXPECT_EQ(to_hex(std::span(*b).subspan(0x180, 8)), "0300000000000873");
}

TEST(ExtractReport, Offset_TakesTheEmbeddedReport) {
  const auto hcl = read_vector("trustee/hcl-report.bin");
  ASSERT_EQ(hcl.size(), 2600u);
  const auto b = extract_report_bytes(hcl, 32);
  ASSERT_TRUE(b.has_value());
  EXPECT_TRUE(std::equal(b->begin(), b->end(), hcl.begin() + 32));
}

TEST(ExtractReport, BadShapes_FailWithAReason) {
  const Bytes big(2600, 1);
  const auto no_offset = extract_report_bytes(big, std::nullopt);
  ASSERT_FALSE(no_offset.has_value());
  EXPECT_NE(no_offset.error().message.find("FILE@OFFSET"), std::string::npos);

  const auto past = extract_report_bytes(big, 2600 - kReportSize + 1);
  ASSERT_FALSE(past.has_value());
  EXPECT_NE(past.error().message.find("does not fit"), std::string::npos);
  EXPECT_FALSE(extract_report_bytes(big, SIZE_MAX).has_value());
  EXPECT_FALSE(extract_report_bytes({}, std::nullopt).has_value());
  EXPECT_TRUE(extract_report_bytes(big, 2600 - kReportSize).has_value());
}

TEST(HexText, Decode_AcceptsCaseAndSpace_RejectsOddOrGarbage) {
  EXPECT_EQ(decode_hex_text("0aFf 10\n"), (Bytes{0x0a, 0xff, 0x10}));
  EXPECT_FALSE(decode_hex_text("abc").has_value());
  EXPECT_FALSE(decode_hex_text("zz").has_value());
  EXPECT_EQ(decode_hex_text(""), Bytes{});
}

// === Product and TCB ========================================================================

TEST(Product, FromCpuid_FactsTable) {
  EXPECT_EQ(product_from_cpuid(0x19, 0x01), Product::Milan);
  EXPECT_EQ(product_from_cpuid(0x19, 0x11), Product::Genoa);
  EXPECT_EQ(product_from_cpuid(0x1A, 0x02), Product::Turin);
  EXPECT_EQ(product_from_cpuid(0x19, 0x02), Product::Unknown);
  EXPECT_EQ(product_from_cpuid(0x17, 0x01), Product::Unknown);
  EXPECT_EQ(product_from_cpuid(0, 0), Product::Unknown);
}

TEST(Product, FromKdsNames) {
  EXPECT_EQ(product_from_name("Milan-B0"), Product::Milan);
  EXPECT_EQ(product_from_name("Genoa"), Product::Genoa);
  EXPECT_EQ(product_from_name("SEV-VLEK-Turin"), Product::Turin);
  EXPECT_EQ(product_from_name("ARK-Milan"), Product::Milan);
  EXPECT_EQ(product_from_name("Naples"), Product::Unknown);
  EXPECT_EQ(to_string(Product::Unknown), "unknown");
  EXPECT_EQ(tcb_layout_for(Product::Genoa), TcbLayout::MilanGenoa);
  EXPECT_EQ(tcb_layout_for(Product::Turin), TcbLayout::Turin);
  EXPECT_FALSE(tcb_layout_for(Product::Unknown).has_value());
}

TEST(Tcb, MilanLayout_RealValue) {
  // trustee/test-report.bin REPORTED_TCB bytes 03 00 00 00 00 00 08 73.
  const std::uint64_t tcb = 0x7308000000000003ULL;
  const TcbParts p = decode_tcb(tcb, TcbLayout::MilanGenoa);
  EXPECT_EQ(p.boot_loader, 3);
  EXPECT_EQ(p.tee, 0);
  EXPECT_EQ(p.snp, 8);
  EXPECT_EQ(p.microcode, 0x73);
  EXPECT_EQ(p.fmc, 0);
  EXPECT_EQ(tcb_hex(tcb), "0300000000000873");
  EXPECT_EQ(describe_tcb(tcb, TcbLayout::MilanGenoa), "BOOT_LOADER=3 TEE=0 SNP=8 MICROCODE=115");
  EXPECT_EQ(encode_tcb(p, TcbLayout::MilanGenoa), tcb);
}

TEST(Tcb, TurinLayout_BytesPerFacts) {
  TcbParts p;
  p.fmc = 1;
  p.boot_loader = 2;
  p.tee = 3;
  p.snp = 4;
  p.microcode = 5;
  const std::uint64_t tcb = encode_tcb(p, TcbLayout::Turin);
  EXPECT_EQ(tcb_hex(tcb), "0102030400000005");
  EXPECT_EQ(decode_tcb(tcb, TcbLayout::Turin), p);
  EXPECT_EQ(describe_tcb(tcb, TcbLayout::Turin), "FMC=1 BOOT_LOADER=2 TEE=3 SNP=4 MICROCODE=5");
  // The same parts in the Milan layout land elsewhere.
  EXPECT_EQ(tcb_hex(encode_tcb(p, TcbLayout::MilanGenoa)), "0203000000000405");
}

TEST(Tcb, RoundTrip_AnyValue_BothLayouts) {
  for (std::uint64_t v : {0ULL, ~0ULL, 0x0123456789ABCDEFULL, 0x8000000000000001ULL}) {
    EXPECT_EQ(encode_tcb(decode_tcb(v, TcbLayout::MilanGenoa), TcbLayout::MilanGenoa), v);
    EXPECT_EQ(encode_tcb(decode_tcb(v, TcbLayout::Turin), TcbLayout::Turin), v);
  }
  EXPECT_NE(describe_tcb(0x0000000100000000ULL, TcbLayout::MilanGenoa).find("reserved[spl_6]=1"), std::string::npos);
}

TEST(BitFields, PolicyAndPlatformInfo_Named) {
  EXPECT_EQ(describe_policy(0x30000), "ABI 0.0; SMT RESERVED_MBO");
  EXPECT_EQ(describe_policy(0xb001f), "ABI 0.31; SMT RESERVED_MBO DEBUG");
  EXPECT_NE(describe_policy(0x10000).find("must be 1"), std::string::npos);
  EXPECT_NE(describe_policy(1ULL << 40).find("bit40"), std::string::npos);
  EXPECT_EQ(describe_platform_info(0x25), "SMT_EN ECC_EN ALIAS_CHECK_COMPLETE");
  EXPECT_EQ(describe_platform_info(0), "none");
  EXPECT_EQ(describe_platform_info(0xC0), "TIO_EN bit6");
}

// === Signature conversion ====================================================================

TEST(Signature, LittleEndian72_ToDer_AndBack) {
  EcdsaP384Signature s;
  for (std::size_t i = 0; i < 48; ++i) {
    s.r[i] = static_cast<std::uint8_t>(i + 1);
    s.s[i] = static_cast<std::uint8_t>(0xFF - i);
  }
  const auto be = s.to_big_endian();
  ASSERT_TRUE(be.has_value());
  EXPECT_EQ((*be)[0], 48);  // R's most significant byte is le[47]
  EXPECT_EQ((*be)[47], 1);
  const auto der = s.to_der();
  ASSERT_TRUE(der.has_value());
  EXPECT_EQ((*der)[0], 0x30);
  EXPECT_EQ((*der)[1], der->size() - 2);
  EXPECT_EQ((*der)[2], 0x02);
  EXPECT_EQ((*der)[3], 48);  // R's top byte 0x30 < 0x80: no pad
  // S's top byte (le[47] = 0xD0) has the high bit: one 0x00 pad.
  EXPECT_EQ((*der)[4 + 48], 0x02);
  EXPECT_EQ((*der)[5 + 48], 49);
  EXPECT_EQ((*der)[6 + 48], 0x00);
  const auto back = EcdsaP384Signature::from_der(*der);
  ASSERT_TRUE(back.has_value()) << back.error().message;
  EXPECT_EQ(*back, s);
}

TEST(Signature, SmallAndZeroValues_MinimalDer) {
  EcdsaP384Signature s;
  s.r[0] = 5;
  const auto der = s.to_der();
  ASSERT_TRUE(der.has_value());
  EXPECT_EQ(*der, (Bytes{0x30, 0x06, 0x02, 0x01, 0x05, 0x02, 0x01, 0x00}));
  EXPECT_FALSE(s.is_zero());
  EXPECT_TRUE(EcdsaP384Signature{}.is_zero());
  EXPECT_EQ(*EcdsaP384Signature::from_der(*der), s);
}

TEST(Signature, WiderThan384Bits_Fails) {
  EcdsaP384Signature s;
  s.s[48] = 1;
  ASSERT_FALSE(s.to_der().has_value());
  EXPECT_NE(s.to_der().error().message.find("S"), std::string::npos);
}

TEST(Signature, FromMalformedDer_FailsClearly) {
  EXPECT_FALSE(EcdsaP384Signature::from_der({}).has_value());
  EXPECT_FALSE(EcdsaP384Signature::from_der(Bytes{0x30, 0x03, 0x02, 0x01}).has_value());          // truncated
  EXPECT_FALSE(EcdsaP384Signature::from_der(Bytes{0x30, 0x03, 0x02, 0x01, 0x01}).has_value());    // one INTEGER
  EXPECT_FALSE(EcdsaP384Signature::from_der(Bytes{0x30, 0x06, 0x02, 0x01, 0x81, 0x02, 0x01, 0x01}).has_value());  // negative
  EXPECT_FALSE(EcdsaP384Signature::from_der(Bytes{0x31, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01}).has_value());  // SET
  Bytes wide{0x30, 0x66, 0x02, 0x31};
  wide.insert(wide.end(), 49, 0x11);
  wide.insert(wide.end(), {0x02, 0x31});
  wide.insert(wide.end(), 49, 0x11);
  wide[1] = static_cast<std::uint8_t>(wide.size() - 2);
  const auto r = EcdsaP384Signature::from_der(wide);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("48"), std::string::npos);
  Bytes trailing{0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01, 0x00};
  EXPECT_FALSE(EcdsaP384Signature::from_der(trailing).has_value());
}

// === Time ===================================================================================

TEST(Time, FormatAndParse_Utc) {
  EXPECT_EQ(format_utc(0), "1970-01-01 00:00:00");
  EXPECT_EQ(format_utc(1765404861), "2025-12-10 22:14:21");
  EXPECT_EQ(format_utc(-1), "1969-12-31 23:59:59");
  EXPECT_EQ(parse_utc("2025-12-10T22:14:21Z"), 1765404861);
  EXPECT_EQ(parse_utc("2025-12-10 22:14:21"), 1765404861);
  EXPECT_EQ(parse_utc("2025-12-10 22:14:21 UTC"), 1765404861);
  EXPECT_EQ(parse_utc("2024-05-01"), 1714521600);
  EXPECT_EQ(parse_utc("2024-02-29T00:00:00Z"), 1709164800);
  EXPECT_FALSE(parse_utc("2023-02-29T00:00:00Z").has_value());
  EXPECT_FALSE(parse_utc("2024-13-01").has_value());
  EXPECT_FALSE(parse_utc("2024-05-01T24:00:00Z").has_value());
  EXPECT_FALSE(parse_utc("2024-05-01T00:00:00+02:00").has_value());
  EXPECT_FALSE(parse_utc("yesterday").has_value());
  EXPECT_FALSE(parse_utc("").has_value());
}

// === Certificates (real AMD ones) =============================================================

TEST(Certificate, RealVcek_NamesValidityKeyAndExtensions) {
  const auto certs = Certificate::parse_all(read_vector("virtee-sev/vcek_milan.der"));
  ASSERT_TRUE(certs.has_value()) << certs.error().message;
  ASSERT_EQ(certs->size(), 1u);
  const auto& c = certs->front();
  EXPECT_EQ(c.subject_cn(), "SEV-VCEK");
  EXPECT_EQ(c.issuer_cn(), "SEV-Milan");
  EXPECT_NE(c.subject().find("O=Advanced Micro Devices"), std::string::npos);
  EXPECT_FALSE(c.self_issued());
  EXPECT_EQ(format_utc(c.not_before()), "2023-04-03 19:23:43");
  EXPECT_EQ(format_utc(c.not_after()), "2030-04-03 19:23:43");
  EXPECT_TRUE(c.valid_at(c.not_before()));
  EXPECT_TRUE(c.valid_at(c.not_after()));
  EXPECT_FALSE(c.valid_at(c.not_after() + 1));
  EXPECT_EQ(c.public_key_description(), "EC P-384");
  EXPECT_TRUE(c.public_key_is_p384());
  EXPECT_EQ(c.public_key_der().size(), 120u);  // SPKI of an uncompressed P-384 point
  EXPECT_EQ(c.signature_algorithm(), "RSASSA-PSS/SHA-384");
  EXPECT_EQ(to_hex(c.fingerprint_sha256()), "3bbfb6ee259f75a95d13168cfdf2e034181bb93c7c016825731cbe8ea16c95e1");

  const auto e = c.amd_extensions();
  ASSERT_TRUE(e.has_value()) << e.error().message;
  EXPECT_EQ(e->struct_version, 0);
  EXPECT_EQ(e->product_name, "Milan-B0");
  EXPECT_EQ(e->bl_spl, 3);
  EXPECT_EQ(e->tee_spl, 0);
  EXPECT_EQ(e->snp_spl, 8);
  EXPECT_EQ(e->ucode_spl, 115);
  EXPECT_EQ(e->spl_4_7[0], 0);
  EXPECT_FALSE(e->fmc_spl.has_value());
  ASSERT_TRUE(e->hwid.has_value());
  EXPECT_EQ(e->hwid->size(), 64u);
  EXPECT_EQ(to_hex(*e->hwid).substr(0, 16), "d49554ec717f4e5b");
  EXPECT_TRUE(e->has_tcb(TcbLayout::MilanGenoa));
  EXPECT_FALSE(e->has_tcb(TcbLayout::Turin));
  EXPECT_EQ(encode_tcb(e->tcb_parts(), TcbLayout::MilanGenoa), 0x7308000000000003ULL);
  EXPECT_EQ(leaf_kind_of(c), LeafKind::Vcek);
}

TEST(Certificate, RealVlek_CspIdAndTwoByteMicrocodeInteger) {
  const auto c = Certificate::from_der(read_vector("trustee/test-vlek.der"));
  ASSERT_TRUE(c.has_value());
  const auto e = c->amd_extensions();
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->ucode_spl, 0xD9);  // encoded 02 02 00 D9
  EXPECT_EQ(e->csp_id, "CN=cc-us-east-2.amazonaws.com");
  EXPECT_FALSE(e->hwid.has_value());
  EXPECT_EQ(leaf_kind_of(*c), LeafKind::Vlek);
}

TEST(Certificate, PemBundle_AllCertificatesInOrder_AndRsaPssChainVerifies) {
  const auto certs = Certificate::parse_all(read_vector("trustee/milan_ask_ark_asvk.pem"));
  ASSERT_TRUE(certs.has_value());
  ASSERT_EQ(certs->size(), 3u);
  const auto& ask = (*certs)[0];
  const auto& ark = (*certs)[1];
  EXPECT_EQ(ask.subject_cn(), "SEV-Milan");
  EXPECT_EQ(ark.subject_cn(), "ARK-Milan");
  EXPECT_EQ((*certs)[2].subject_cn(), "SEV-VLEK-Milan");
  EXPECT_TRUE(ark.self_issued());
  EXPECT_TRUE(ask.names_as_issuer(ark));
  EXPECT_FALSE(ark.names_as_issuer(ask));
  EXPECT_EQ(ark.public_key_description(), "RSA-4096");
  EXPECT_TRUE(ark.verify_signed_by(ark).ok);
  EXPECT_TRUE(ask.verify_signed_by(ark).ok);
  const auto wrong = ark.verify_signed_by(ask);
  EXPECT_FALSE(wrong.ok);
  EXPECT_NE(wrong.message.find("does not verify"), std::string::npos);
  EXPECT_TRUE(ark.amd_extensions()->empty());
}

TEST(Certificate, Garbage_FailsWithReasonNoCrash) {
  EXPECT_FALSE(Certificate::parse_all({}).has_value());
  EXPECT_FALSE(Certificate::from_der({}).has_value());
  const Bytes junk(300, 0xA5);
  const auto j = Certificate::parse_all(junk);
  ASSERT_FALSE(j.has_value());
  EXPECT_NE(j.error().message.find("not a DER certificate"), std::string::npos) << j.error().message;

  auto der = read_vector("virtee-sev/vcek_milan.der");
  ASSERT_FALSE(der.empty());
  for (std::size_t cut : {std::size_t{1}, std::size_t{4}, der.size() / 2, der.size() - 1}) {
    EXPECT_FALSE(Certificate::from_der(std::span(der).first(cut)).has_value()) << cut;
  }
  auto trailing = der;
  trailing.push_back(0);
  const auto t = Certificate::from_der(trailing);
  ASSERT_FALSE(t.has_value());
  EXPECT_NE(t.error().message.find("trailing"), std::string::npos);

  auto pem = read_vector("oak/ark_milan.pem");
  std::string text(pem.begin(), pem.end());
  const auto body = text.find('\n') + 40;
  text[body] = '!';  // not base64
  const auto corrupt = Certificate::parse_all(Bytes(text.begin(), text.end()));
  ASSERT_FALSE(corrupt.has_value());
  EXPECT_NE(corrupt.error().message.find("PEM block 1"), std::string::npos) << corrupt.error().message;
  // A structurally broken certificate inside a well-formed PEM block.
  text.assign(pem.begin(), pem.end());
  const auto b64 = text.find('\n') + 1;
  text[b64 + 2] = text[b64 + 2] == 'C' ? 'D' : 'C';  // the outer SEQUENCE length
  EXPECT_FALSE(Certificate::parse_all(Bytes(text.begin(), text.end())).has_value());
  const std::string no_end = "-----BEGIN CERTIFICATE-----\nMIIB\n";
  const auto ne = Certificate::parse_all(Bytes(no_end.begin(), no_end.end()));
  ASSERT_FALSE(ne.has_value());
  EXPECT_NE(ne.error().message.find("END CERTIFICATE"), std::string::npos);
}

TEST(Certificate, ReportSignature_RealReport_TamperAnyBit_Fails) {
  const auto raw = extract_report_bytes(read_vector("trustee/test-report.bin"), std::nullopt);
  ASSERT_TRUE(raw.has_value());
  const auto vcek = Certificate::from_der(read_vector("trustee/test-vcek.der"));
  ASSERT_TRUE(vcek.has_value());
  EXPECT_TRUE(verify_report_signature(*raw, *vcek).ok);
  for (std::size_t at : {std::size_t{0}, std::size_t{0x50}, std::size_t{0x29F}, std::size_t{0x2A0},
                         std::size_t{0x2E8 + 47}}) {
    auto t = *raw;
    t[at] ^= 1;
    EXPECT_FALSE(verify_report_signature(t, *vcek).ok) << at;
  }
  // Bytes after the signature are not signed (reserved): changing them changes nothing.
  auto t = *raw;
  t[0x400] ^= 1;
  EXPECT_TRUE(verify_report_signature(t, *vcek).ok);
  // A report signature with an RSA key certificate is refused by name.
  const auto ark = Certificate::parse_all(read_vector("oak/ark_milan.pem"));
  const auto wrong_key = verify_report_signature(*raw, ark->front());
  EXPECT_FALSE(wrong_key.ok);
  EXPECT_NE(wrong_key.message.find("not EC P-384"), std::string::npos);
}

// === Synthetic PKI ==========================================================================

struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using Key = std::shared_ptr<EVP_PKEY>;

Key new_p384() {
  EVP_PKEY* k = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384");
  return Key(k, KeyFree{});
}

Bytes der_uint(unsigned v) { return v < 0x80 ? Bytes{0x02, 0x01, static_cast<std::uint8_t>(v)} : Bytes{0x02, 0x02, 0x00, static_cast<std::uint8_t>(v)}; }
Bytes der_ia5(std::string_view s) {
  // Sized once: GCC 12's LTO misreads an insert after a two-byte initialiser as a read past an
  // empty buffer (-Wstringop-overread).
  Bytes b(2 + s.size());
  b[0] = 0x16;
  b[1] = static_cast<std::uint8_t>(s.size());
  std::copy(s.begin(), s.end(), b.begin() + 2);
  return b;
}

struct Ext {
  std::string oid;
  Bytes value;
};

struct CertSpec {
  std::string cn;
  std::string issuer_cn;
  EVP_PKEY* key = nullptr;
  EVP_PKEY* issuer_key = nullptr;
  UnixTime not_before = 1704067200;  // 2024-01-01
  UnixTime not_after = 2524607999;   // 2049-12-31
  std::vector<Ext> exts;
  const EVP_MD* md = EVP_sha384();
};

CertSpec spec_of(std::string cn, std::string issuer_cn, EVP_PKEY* key, EVP_PKEY* issuer_key) {
  CertSpec s;
  s.cn = std::move(cn);
  s.issuer_cn = std::move(issuer_cn);
  s.key = key;
  s.issuer_key = issuer_key;
  return s;
}

Bytes make_cert(const CertSpec& s) {
  std::unique_ptr<X509, decltype(&X509_free)> x(X509_new(), &X509_free);
  X509_set_version(x.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x.get()), 1);
  auto name = [](const std::string& cn) {
    X509_NAME* n = X509_NAME_new();
    X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("snplab test"), -1, -1, 0);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
    return n;
  };
  X509_NAME* subj = name(s.cn);
  X509_NAME* iss = name(s.issuer_cn);
  X509_set_subject_name(x.get(), subj);
  X509_set_issuer_name(x.get(), iss);
  X509_NAME_free(subj);
  X509_NAME_free(iss);
  ASN1_TIME_set(X509_getm_notBefore(x.get()), static_cast<time_t>(s.not_before));
  ASN1_TIME_set(X509_getm_notAfter(x.get()), static_cast<time_t>(s.not_after));
  X509_set_pubkey(x.get(), s.key);
  for (const auto& e : s.exts) {
    ASN1_OBJECT* obj = OBJ_txt2obj(e.oid.c_str(), 1);
    ASN1_OCTET_STRING* os = ASN1_OCTET_STRING_new();
    ASN1_OCTET_STRING_set(os, e.value.data(), static_cast<int>(e.value.size()));
    X509_EXTENSION* ext = X509_EXTENSION_create_by_OBJ(nullptr, obj, 0, os);
    X509_add_ext(x.get(), ext, -1);
    X509_EXTENSION_free(ext);
    ASN1_OCTET_STRING_free(os);
    ASN1_OBJECT_free(obj);
  }
  EXPECT_GT(X509_sign(x.get(), s.issuer_key, s.md), 0);
  unsigned char* der = nullptr;
  const int n = i2d_X509(x.get(), &der);
  Bytes out(der, der + n);
  OPENSSL_free(der);
  return out;
}

Certificate cert_or_die(const Bytes& der) {
  auto c = Certificate::from_der(der);
  EXPECT_TRUE(c.has_value()) << (c ? "" : c.error().message);
  return *c;
}

Bytes sign_p384(EVP_PKEY* key, std::span<const std::uint8_t> msg) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  EXPECT_EQ(EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha384(), nullptr, key), 1);
  std::size_t len = 0;
  EXPECT_EQ(EVP_DigestSign(ctx.get(), nullptr, &len, msg.data(), msg.size()), 1);
  Bytes sig(len);
  EXPECT_EQ(EVP_DigestSign(ctx.get(), sig.data(), &len, msg.data(), msg.size()), 1);
  sig.resize(len);
  return sig;
}

/// KDS extensions for a leaf (VCEK when hwid is given, VLEK when csp is).
std::vector<Ext> kds_exts(const std::string& product_name, const TcbParts& t, bool turin, const Bytes* hwid,
                          const char* csp) {
  const std::string p = "1.3.6.1.4.1.3704.1.";
  std::vector<Ext> e{{p + "1", der_uint(0)},          {p + "2", der_ia5(product_name)}, {p + "3.1", der_uint(t.boot_loader)},
                     {p + "3.2", der_uint(t.tee)},    {p + "3.3", der_uint(t.snp)},     {p + "3.4", der_uint(t.spl[0])},
                     {p + "3.5", der_uint(t.spl[1])}, {p + "3.6", der_uint(t.spl[2])},  {p + "3.7", der_uint(t.spl[3])},
                     {p + "3.8", der_uint(t.microcode)}};
  if (turin) e.push_back({p + "3.9", der_uint(t.fmc)});
  if (hwid != nullptr) e.push_back({p + "4", *hwid});
  if (csp != nullptr) e.push_back({p + "5", der_ia5(csp)});
  return e;
}

/// One simulated product: keys, chain, and a report builder.
class SyntheticPki {
 public:
  explicit SyntheticPki(Product product) : product_(product) {
    name_ = std::string(to_string(product));
    ark_key_ = new_p384();
    ask_key_ = new_p384();
    asvk_key_ = new_p384();
    vcek_key_ = new_p384();
    vlek_key_ = new_p384();
    tcb_.boot_loader = 9;
    tcb_.tee = 1;
    tcb_.snp = 23;
    tcb_.microcode = 0xD5;
    if (product == Product::Turin) tcb_.fmc = 2;
    hwid_ = Bytes(product == Product::Turin ? 8 : 64);
    for (std::size_t i = 0; i < hwid_.size(); ++i) hwid_[i] = static_cast<std::uint8_t>(0xC0 + i);
    ark_ = make_cert(spec_of("ARK-" + name_, "ARK-" + name_, ark_key_.get(), ark_key_.get()));
    ask_ = make_cert(spec_of("SEV-" + name_, "ARK-" + name_, ask_key_.get(), ark_key_.get()));
    asvk_ = make_cert(spec_of("SEV-VLEK-" + name_, "ARK-" + name_, asvk_key_.get(), ark_key_.get()));
  }

  bool turin() const { return product_ == Product::Turin; }
  TcbLayout layout() const { return turin() ? TcbLayout::Turin : TcbLayout::MilanGenoa; }

  CertSpec vcek_spec() const {
    CertSpec s = spec_of("SEV-VCEK", "SEV-" + name_, vcek_key_.get(), ask_key_.get());
    s.exts = kds_exts(name_ + "-B0", tcb_, turin(), &hwid_, nullptr);
    return s;
  }
  CertSpec vlek_spec() const {
    CertSpec s = spec_of("SEV-VLEK", "SEV-VLEK-" + name_, vlek_key_.get(), asvk_key_.get());
    s.exts = kds_exts(name_, tcb_, turin(), nullptr, "CN=csp.example");
    return s;
  }
  Certificate vcek() const { return cert_or_die(make_cert(vcek_spec())); }
  Certificate vlek() const { return cert_or_die(make_cert(vlek_spec())); }
  std::vector<Certificate> vcek_chain() const { return {cert_or_die(ask_), cert_or_die(ark_)}; }
  /// Options that trust this PKI's ARK (and nothing else: not AMD's roots).
  VerifyOptions trust(bool allow_masked_chip_id = true) const {
    VerifyOptions o;
    o.allow_masked_chip_id = allow_masked_chip_id;
    o.roots = {trusted_root_of(cert_or_die(ark_), "test ARK-" + name_, "the test's own root")};
    return o;
  }
  std::vector<Certificate> vlek_chain() const { return {cert_or_die(asvk_), cert_or_die(ark_)}; }

  /// A report as this chip's firmware would produce it, before signing.
  AttestationReport report(std::uint32_t version = 5, SigningKey key = SigningKey::Vcek) const {
    AttestationReport r;
    r.version = version;
    r.policy = 0x30000;
    r.signature_algo = kSignatureAlgoEcdsaP384Sha384;
    r.key_info = static_cast<std::uint32_t>(key) << 2;
    r.reported_tcb = r.current_tcb = r.committed_tcb = r.launch_tcb = encode_tcb(tcb_, layout());
    if (version >= 3) {
      switch (product_) {
        case Product::Milan:
          r.cpuid_fam_id = 0x19;
          r.cpuid_mod_id = 0x01;
          break;
        case Product::Genoa:
          r.cpuid_fam_id = 0x19;
          r.cpuid_mod_id = 0x11;
          break;
        case Product::Turin:
          r.cpuid_fam_id = 0x1A;
          r.cpuid_mod_id = 0x02;
          break;
        case Product::Unknown:
          break;
      }
    }
    if (key == SigningKey::Vcek) std::copy(hwid_.begin(), hwid_.end(), r.chip_id.begin());
    r.report_data.fill(0x42);
    r.measurement.fill(0x17);
    return r;
  }

  /// Signs `r` with `key` over its bytes 0x000..0x29F and returns the raw report.
  static std::array<std::uint8_t, kReportSize> sign(AttestationReport r, EVP_PKEY* key) {
    const auto unsigned_bytes = r.to_bytes();
    const auto der = sign_p384(key, std::span(unsigned_bytes).first(kReportSignedSize));
    auto sig = EcdsaP384Signature::from_der(der);
    EXPECT_TRUE(sig.has_value());
    r.signature = *sig;
    return r.to_bytes();
  }
  std::array<std::uint8_t, kReportSize> sign_vcek(const AttestationReport& r) const { return sign(r, vcek_key_.get()); }
  std::array<std::uint8_t, kReportSize> sign_vlek(const AttestationReport& r) const { return sign(r, vlek_key_.get()); }

  Product product_;
  std::string name_;
  Key ark_key_, ask_key_, asvk_key_, vcek_key_, vlek_key_;
  TcbParts tcb_;
  Bytes hwid_;
  Bytes ark_, ask_, asvk_;
};

constexpr UnixTime kInside = 1767225600;  // 2026-01-01

std::string log_of(const VerifyResult& v) {
  std::string s;
  for (const auto& c : v.checks) s += std::string(to_string(c.status)) + " " + c.name + ": " + c.message + "\n";
  return s;
}

std::set<std::string> failed_names(const VerifyResult& v) {
  std::set<std::string> s;
  for (const auto* f : v.failures()) s.insert(f->name);
  return s;
}

CheckStatus status_of(const VerifyResult& v, CheckId id) {
  const auto* c = v.find(id);
  EXPECT_NE(c, nullptr);
  return c != nullptr ? c->status : CheckStatus::Fail;
}

class SyntheticProducts : public ::testing::TestWithParam<Product> {};

TEST_P(SyntheticProducts, EcdsaChain_VcekReport_EveryVersion_Verifies) {
  const SyntheticPki pki(GetParam());
  for (std::uint32_t version : {2u, 3u, 4u, 5u}) {
    auto r = pki.report(version);
    if (version >= 4) r.launch_mit_vector = r.current_mit_vector = 0x0B;  // v4 fills them on some Turin FW
    const auto raw = pki.sign_vcek(r);
    const auto v = verify_report(raw, pki.vcek(), pki.vcek_chain(), kInside, pki.trust());
    EXPECT_TRUE(v.ok()) << "v" << version << "\n" << log_of(v);
    EXPECT_EQ(v.checks.size(), 14u);
    EXPECT_EQ(v.product, GetParam());
    EXPECT_EQ(v.product_source, version >= 3 ? "report CPUID" : "VCEK productName '" + pki.name_ + "-B0'");
    EXPECT_EQ(status_of(v, CheckId::ChipId), CheckStatus::Pass) << log_of(v);
    EXPECT_EQ(status_of(v, CheckId::ReportedTcb), CheckStatus::Pass) << log_of(v);
    ASSERT_EQ(v.chain.size(), 3u);
    EXPECT_EQ(v.chain[0].role, "VCEK");
    EXPECT_EQ(v.chain[1].role, "ASK");
    EXPECT_EQ(v.chain[2].role, "ARK");
    EXPECT_EQ(v.chain[2].cert.signature_algorithm(), "ECDSA/SHA-384");
  }
}

TEST_P(SyntheticProducts, SelfSignedChain_NotATrustedRoot_FailsOnlyArkTrusted) {
  // A chain anyone can mint: every signature holds and the names are AMD's, but the ARK's key
  // is none of AMD's roots. The default options trust AMD's roots only.
  const SyntheticPki pki(GetParam());
  const auto raw = pki.sign_vcek(pki.report());
  const auto v = verify_report(raw, pki.vcek(), pki.vcek_chain(), kInside);
  EXPECT_EQ(failed_names(v), std::set<std::string>{"chain.ark_trusted"}) << log_of(v);
  EXPECT_FALSE(v.trusted_root.has_value());
  EXPECT_NE(v.find(CheckId::ChainArkTrusted)->message.find("none of the 3 trusted roots"), std::string::npos)
      << v.find(CheckId::ChainArkTrusted)->message;

  const auto trusted = verify_report(raw, pki.vcek(), pki.vcek_chain(), kInside, pki.trust());
  EXPECT_TRUE(trusted.ok()) << log_of(trusted);
  ASSERT_TRUE(trusted.trusted_root.has_value());
  EXPECT_EQ(trusted.trusted_root->name, "test ARK-" + pki.name_);
  EXPECT_NE(trusted.find(CheckId::ChainArkTrusted)->message.find("the test's own root"), std::string::npos);
}

TEST(SyntheticMilan, RootPinnedByKey_NotByName) {
  // Another PKI's ARK with exactly the same names is a different key: not trusted.
  const SyntheticPki pki(Product::Milan);
  const SyntheticPki other(Product::Milan);
  const auto raw = pki.sign_vcek(pki.report());
  const auto v = verify_report(raw, pki.vcek(), pki.vcek_chain(), kInside, other.trust());
  EXPECT_EQ(failed_names(v), std::set<std::string>{"chain.ark_trusted"}) << log_of(v);
}

TEST(SyntheticMilan, TrustedRootProduct_JoinsTheProductCheck) {
  const SyntheticPki pki(Product::Milan);
  auto options = pki.trust();
  options.roots[0].product = Product::Genoa;  // a root the caller trusts for Genoa only
  const auto v = verify_report(pki.sign_vcek(pki.report()), pki.vcek(), pki.vcek_chain(), kInside, options);
  EXPECT_EQ(failed_names(v), std::set<std::string>{"report.product"}) << log_of(v);
  EXPECT_NE(v.find(CheckId::Product)->message.find("trusted root test ARK-Milan says Genoa"), std::string::npos)
      << v.find(CheckId::Product)->message;
}

TEST(AmdRoots, OnePinPerProduct_NoDuplicates) {
  const auto roots = amd_roots();
  ASSERT_EQ(roots.size(), 3u);
  std::set<Product> products;
  std::set<Sha256Digest> keys;
  for (const auto& r : roots) {
    products.insert(r.product);
    keys.insert(r.spki_sha256);
  }
  EXPECT_EQ(products, (std::set<Product>{Product::Milan, Product::Genoa, Product::Turin}));
  EXPECT_EQ(keys.size(), 3u);
}

TEST_P(SyntheticProducts, VlekReport_ChainThroughAsvk_ChipIdSkipped) {
  const SyntheticPki pki(GetParam());
  const auto raw = pki.sign_vlek(pki.report(3, SigningKey::Vlek));
  const auto v = verify_report(raw, pki.vlek(), pki.vlek_chain(), kInside, pki.trust());
  EXPECT_TRUE(v.ok()) << log_of(v);
  EXPECT_EQ(v.leaf_kind, LeafKind::Vlek);
  EXPECT_EQ(status_of(v, CheckId::ChipId), CheckStatus::Skipped);
  EXPECT_EQ(v.find(CheckId::ChainArkSignsAsk)->name, "chain.ark_signs_asvk");
  EXPECT_EQ(v.find(CheckId::ChainAskSignsLeaf)->name, "chain.asvk_signs_vlek");
  EXPECT_EQ(v.find(CheckId::ValidityLeaf)->name, "validity.vlek");
}

TEST_P(SyntheticProducts, ReportedTcbOffByOne_FailsOnlyTcbCheck) {
  const SyntheticPki pki(GetParam());
  auto r = pki.report();
  TcbParts t = pki.tcb_;
  t.snp = static_cast<std::uint8_t>(t.snp + 1);
  r.reported_tcb = encode_tcb(t, pki.layout());
  const auto v = verify_report(pki.sign_vcek(r), pki.vcek(), pki.vcek_chain(), kInside, pki.trust());
  EXPECT_EQ(failed_names(v), std::set<std::string>{"report.reported_tcb"}) << log_of(v);
  EXPECT_NE(v.find(CheckId::ReportedTcb)->message.find("SNP=24"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Products, SyntheticProducts, ::testing::Values(Product::Milan, Product::Genoa, Product::Turin),
                         [](const auto& param_info) { return std::string(to_string(param_info.param)); });

TEST(SyntheticTurin, ChipId_Is8ByteHwIdThenZeros) {
  const SyntheticPki pki(Product::Turin);
  const auto ok = verify_report(pki.sign_vcek(pki.report()), pki.vcek(), pki.vcek_chain(), kInside, pki.trust());
  EXPECT_TRUE(ok.ok()) << log_of(ok);
  EXPECT_NE(ok.find(CheckId::ChipId)->message.find("8-byte (Turin)"), std::string::npos);

  auto r = pki.report();
  r.chip_id[40] = 1;  // junk after the 8 significant bytes
  const auto bad = verify_report(pki.sign_vcek(r), pki.vcek(), pki.vcek_chain(), kInside, pki.trust());
  EXPECT_EQ(failed_names(bad), std::set<std::string>{"report.chip_id"}) << log_of(bad);
}

TEST(SyntheticTurin, TcbComparedInTurinLayout) {
  // FMC lives in byte 0 on Turin: a report built with the Milan layout does not match.
  const SyntheticPki pki(Product::Turin);
  auto r = pki.report();
  r.reported_tcb = encode_tcb(pki.tcb_, TcbLayout::MilanGenoa);
  const auto v = verify_report(pki.sign_vcek(r), pki.vcek(), pki.vcek_chain(), kInside, pki.trust());
  EXPECT_EQ(failed_names(v), std::set<std::string>{"report.reported_tcb"}) << log_of(v);
  EXPECT_NE(v.find(CheckId::ReportedTcb)->message.find("Turin layout"), std::string::npos);
}

TEST(SyntheticTurin, CertificateWithoutFmcSpl_FailsTcbCheck) {
  const SyntheticPki pki(Product::Turin);
  auto spec = pki.vcek_spec();
  spec.exts.erase(std::remove_if(spec.exts.begin(), spec.exts.end(),
                                 [](const Ext& e) { return e.oid == "1.3.6.1.4.1.3704.1.3.9"; }),
                  spec.exts.end());
  const auto v = verify_report(pki.sign_vcek(pki.report()), cert_or_die(make_cert(spec)), pki.vcek_chain(), kInside, pki.trust());
  EXPECT_EQ(failed_names(v), std::set<std::string>{"report.reported_tcb"}) << log_of(v);
  EXPECT_NE(v.find(CheckId::ReportedTcb)->message.find("fmcSPL"), std::string::npos);
}

TEST(SyntheticMilan, MaskedChipId_SkippedByDefault_FailsWhenStrict) {
  const SyntheticPki pki(Product::Milan);
  auto r = pki.report();
  r.chip_id.fill(0);
  const auto raw = pki.sign_vcek(r);
  const auto lax = verify_report(raw, pki.vcek(), pki.vcek_chain(), kInside, pki.trust());
  EXPECT_TRUE(lax.ok()) << log_of(lax);
  EXPECT_EQ(status_of(lax, CheckId::ChipId), CheckStatus::Skipped);
  EXPECT_NE(lax.find(CheckId::ChipId)->message.find("MASK_CHIP_ID"), std::string::npos);

  const auto strict = verify_report(raw, pki.vcek(), pki.vcek_chain(), kInside, pki.trust(false));
  EXPECT_EQ(failed_names(strict), std::set<std::string>{"report.chip_id"});
}

TEST(SyntheticMilan, SigningKeyField_MustNameTheCertificateKind) {
  const SyntheticPki pki(Product::Milan);
  // Signed by the VCEK, but KEY_INFO says VLEK.
  const auto v = verify_report(pki.sign_vcek(pki.report(5, SigningKey::Vlek)), pki.vcek(), pki.vcek_chain(), kInside, pki.trust());
  EXPECT_EQ(failed_names(v), std::set<std::string>{"report.signing_key"}) << log_of(v);

  auto none = pki.report();
  none.key_info = 7U << 2;
  const auto n = verify_report(pki.sign_vcek(none), pki.vcek(), pki.vcek_chain(), kInside, pki.trust());
  EXPECT_EQ(failed_names(n), std::set<std::string>{"report.signing_key"});
  auto reserved = pki.report();
  reserved.key_info = 3U << 2;
  const auto rs = verify_report(pki.sign_vcek(reserved), pki.vcek(), pki.vcek_chain(), kInside, pki.trust());
  EXPECT_NE(rs.find(CheckId::SigningKey)->message.find("reserved"), std::string::npos);
}

TEST(SyntheticMilan, ReportSignedByAnotherKey_FailsSignature) {
  const SyntheticPki pki(Product::Milan);
  const SyntheticPki other(Product::Milan);
  const auto v = verify_report(other.sign_vcek(pki.report()), pki.vcek(), pki.vcek_chain(), kInside, pki.trust());
  EXPECT_EQ(failed_names(v), std::set<std::string>{"report.signature"}) << log_of(v);
}

TEST(SyntheticMilan, ProductSourcesDisagree_FailsProduct) {
  const SyntheticPki pki(Product::Milan);
  auto r = pki.report();
  r.cpuid_mod_id = 0x11;  // Genoa CPUID, Milan certificates
  const auto v = verify_report(pki.sign_vcek(r), pki.vcek(), pki.vcek_chain(), kInside, pki.trust());
  EXPECT_EQ(failed_names(v), std::set<std::string>{"report.product"}) << log_of(v);
  EXPECT_NE(v.find(CheckId::Product)->message.find("disagree"), std::string::npos);
}

TEST(SyntheticMilan, NoProductAnywhere_FailsProductAndTcb) {
  SyntheticPki pki(Product::Milan);
  pki.name_ = "Naples";  // names no known generation
  pki.ark_ = make_cert(spec_of("ARK-Naples", "ARK-Naples", pki.ark_key_.get(), pki.ark_key_.get()));
  pki.ask_ = make_cert(spec_of("SEV-Naples", "ARK-Naples", pki.ask_key_.get(), pki.ark_key_.get()));
  const auto v = verify_report(pki.sign_vcek(pki.report(2)), pki.vcek(), pki.vcek_chain(), kInside, pki.trust());
  EXPECT_EQ(failed_names(v), (std::set<std::string>{"report.product", "report.reported_tcb"})) << log_of(v);
}

TEST(SyntheticMilan, Validity_ExpiredAndNotYetValid_NameTheCertificate) {
  const SyntheticPki pki(Product::Milan);
  auto spec = pki.vcek_spec();
  spec.not_before = 1704067200;  // 2024-01-01
  spec.not_after = 1735689599;   // 2024-12-31
  const auto leaf = cert_or_die(make_cert(spec));
  const auto raw = pki.sign_vcek(pki.report());
  const auto late = verify_report(raw, leaf, pki.vcek_chain(), kInside, pki.trust());
  EXPECT_EQ(failed_names(late), std::set<std::string>{"validity.vcek"});
  EXPECT_NE(late.find(CheckId::ValidityLeaf)->message.find("expired at 2024-12-31 23:59:59 UTC"), std::string::npos)
      << late.find(CheckId::ValidityLeaf)->message;
  const auto early = verify_report(raw, leaf, pki.vcek_chain(), 1704067199, pki.trust());
  EXPECT_EQ(failed_names(early), (std::set<std::string>{"validity.ark", "validity.ask", "validity.vcek"}));
  EXPECT_NE(early.find(CheckId::ValidityLeaf)->message.find("not yet valid"), std::string::npos);
  EXPECT_TRUE(verify_report(raw, leaf, pki.vcek_chain(), 1735689599, pki.trust()).ok());  // last valid second
}

TEST(SyntheticMilan, MissingChainMembers_FailByName) {
  const SyntheticPki pki(Product::Milan);
  const auto raw = pki.sign_vcek(pki.report());
  const std::vector<Certificate> only_ask{cert_or_die(pki.ask_)};
  const auto no_ark = verify_report(raw, pki.vcek(), only_ask, kInside, pki.trust());
  EXPECT_EQ(failed_names(no_ark),
            (std::set<std::string>{"chain.ark_self_signed", "chain.ark_trusted", "chain.ark_signs_ask"}));
  EXPECT_EQ(status_of(no_ark, CheckId::ValidityArk), CheckStatus::Skipped);

  const std::vector<Certificate> only_ark{cert_or_die(pki.ark_)};
  const auto no_ask = verify_report(raw, pki.vcek(), only_ark, kInside, pki.trust());
  EXPECT_EQ(failed_names(no_ask),
            (std::set<std::string>{"chain.ark_self_signed", "chain.ark_trusted", "chain.ark_signs_ask",
                                   "chain.ask_signs_vcek"}));
  EXPECT_NE(no_ask.find(CheckId::ChainAskSignsLeaf)->message.find("CN=SEV-Milan"), std::string::npos);

  const auto empty = verify_report(raw, pki.vcek(), {}, kInside, pki.trust());
  EXPECT_FALSE(empty.ok());
}

TEST(SyntheticMilan, ChainWithExtrasAndTheLeafItself_StillVerifies) {
  const SyntheticPki pki(Product::Milan);
  const SyntheticPki genoa(Product::Genoa);
  auto chain = genoa.vcek_chain();
  chain.push_back(pki.vcek());
  chain.push_back(cert_or_die(pki.asvk_));
  for (const auto& c : pki.vcek_chain()) chain.push_back(c);
  const auto v = verify_report(pki.sign_vcek(pki.report()), pki.vcek(), chain, kInside, pki.trust());
  EXPECT_TRUE(v.ok()) << log_of(v);
}

TEST(SyntheticMilan, ForgedLinks_FailTheRightChainCheck) {
  const SyntheticPki pki(Product::Milan);
  const auto raw = pki.sign_vcek(pki.report());
  const Key rogue = new_p384();
  // ASK with the right names, signed by a key that is not the ARK's.
  const std::vector<Certificate> bad_ask{
      cert_or_die(make_cert(spec_of("SEV-Milan", "ARK-Milan", pki.ask_key_.get(), rogue.get()))), cert_or_die(pki.ark_)};
  EXPECT_EQ(failed_names(verify_report(raw, pki.vcek(), bad_ask, kInside, pki.trust())),
            std::set<std::string>{"chain.ark_signs_ask"});
  // ARK that names itself but was signed by another key.
  const std::vector<Certificate> bad_ark{
      cert_or_die(pki.ask_), cert_or_die(make_cert(spec_of("ARK-Milan", "ARK-Milan", pki.ark_key_.get(), rogue.get())))};
  EXPECT_EQ(failed_names(verify_report(raw, pki.vcek(), bad_ark, kInside, pki.trust())),
            std::set<std::string>{"chain.ark_self_signed"});
  // VCEK issued by a rogue key under the ASK's name.
  auto spec = pki.vcek_spec();
  spec.issuer_key = rogue.get();
  EXPECT_EQ(failed_names(verify_report(raw, cert_or_die(make_cert(spec)), pki.vcek_chain(), kInside, pki.trust())),
            std::set<std::string>{"chain.ask_signs_vcek"});
}

TEST(SyntheticMilan, Sha256SignedCertificate_RefusedByAlgorithm) {
  const SyntheticPki pki(Product::Milan);
  auto spec = pki.vcek_spec();
  spec.md = EVP_sha256();
  const auto v = verify_report(pki.sign_vcek(pki.report()), cert_or_die(make_cert(spec)), pki.vcek_chain(), kInside, pki.trust());
  EXPECT_EQ(failed_names(v), std::set<std::string>{"chain.ask_signs_vcek"});
  EXPECT_NE(v.find(CheckId::ChainAskSignsLeaf)->message.find("not one this verifier accepts"), std::string::npos)
      << v.find(CheckId::ChainAskSignsLeaf)->message;
}

TEST(SyntheticMilan, MalformedKdsExtension_ReportedNoCrash) {
  const SyntheticPki pki(Product::Milan);
  auto spec = pki.vcek_spec();
  for (auto& e : spec.exts) {
    if (e.oid == "1.3.6.1.4.1.3704.1.3.3") e.value = Bytes{0x04, 0x01, 0x08};  // OCTET STRING, not INTEGER
  }
  const auto leaf = cert_or_die(make_cert(spec));
  const auto ext = leaf.amd_extensions();
  ASSERT_FALSE(ext.has_value());
  EXPECT_NE(ext.error().message.find("1.3.6.1.4.1.3704.1.3.3"), std::string::npos);
  const auto v = verify_report(pki.sign_vcek(pki.report()), leaf, pki.vcek_chain(), kInside, pki.trust());
  EXPECT_EQ(failed_names(v), (std::set<std::string>{"report.chip_id", "report.reported_tcb"})) << log_of(v);

  spec = pki.vcek_spec();
  for (auto& e : spec.exts) {
    if (e.oid == "1.3.6.1.4.1.3704.1.3.8") e.value = Bytes{0x02, 0x02, 0x01, 0x00};  // 256
  }
  EXPECT_FALSE(cert_or_die(make_cert(spec)).amd_extensions().has_value());
}

TEST(SyntheticMilan, UnknownLeafKind_FailsSigningKey) {
  const SyntheticPki pki(Product::Milan);
  auto spec = pki.vcek_spec();
  spec.cn = "guest-key";
  spec.exts.pop_back();  // drop hwID
  const auto leaf = cert_or_die(make_cert(spec));
  EXPECT_EQ(leaf_kind_of(leaf), LeafKind::Unknown);
  const auto v = verify_report(pki.sign_vcek(pki.report()), leaf, pki.vcek_chain(), kInside, pki.trust());
  EXPECT_EQ(failed_names(v), std::set<std::string>{"report.signing_key"}) << log_of(v);
  EXPECT_EQ(status_of(v, CheckId::ChipId), CheckStatus::Skipped);
}

TEST(SyntheticMilan, SignatureFieldProblems_FailSignatureWithReason) {
  const SyntheticPki pki(Product::Milan);
  auto algo = pki.report();
  algo.signature_algo = 2;
  const auto a = verify_report(pki.sign_vcek(algo), pki.vcek(), pki.vcek_chain(), kInside, pki.trust());
  EXPECT_EQ(failed_names(a), std::set<std::string>{"report.signature"});
  EXPECT_NE(a.find(CheckId::ReportSignature)->message.find("SIGNATURE_ALGO is 2"), std::string::npos);

  auto raw = pki.report().to_bytes();  // never signed
  const auto u = verify_report(raw, pki.vcek(), pki.vcek_chain(), kInside, pki.trust());
  EXPECT_NE(u.find(CheckId::ReportSignature)->message.find("unsigned"), std::string::npos);

  raw = pki.sign_vcek(pki.report());
  raw[0x2A0 + 60] = 1;  // R wider than 384 bits
  const auto w = verify_report(raw, pki.vcek(), pki.vcek_chain(), kInside, pki.trust());
  EXPECT_NE(w.find(CheckId::ReportSignature)->message.find("above bit 383"), std::string::npos);
}

TEST(SyntheticMilan, WrongSizeReport_FailsFormat_NoCrash) {
  const SyntheticPki pki(Product::Milan);
  const auto raw = pki.sign_vcek(pki.report());
  const auto v = verify_report(std::span(raw).first(100), pki.vcek(), pki.vcek_chain(), kInside, pki.trust());
  EXPECT_FALSE(v.ok());
  EXPECT_EQ(status_of(v, CheckId::ReportFormat), CheckStatus::Fail);
  EXPECT_EQ(status_of(v, CheckId::ReportSignature), CheckStatus::Skipped);
  EXPECT_FALSE(v.report.has_value());
  // The chain is still judged.
  EXPECT_EQ(status_of(v, CheckId::ChainAskSignsLeaf), CheckStatus::Pass);
}

TEST(SyntheticMilan, UnknownVersion_FailsVersion) {
  const SyntheticPki pki(Product::Milan);
  for (std::uint32_t version : {0u, 1u, 6u}) {
    const auto v = verify_report(pki.sign_vcek(pki.report(version)), pki.vcek(), pki.vcek_chain(), kInside, pki.trust());
    EXPECT_EQ(failed_names(v), std::set<std::string>{"report.version"}) << version << "\n" << log_of(v);
  }
}

}  // namespace
}  // namespace snplab::model
