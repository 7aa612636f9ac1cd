// The simulated chip's certificates and the reports its firmware signs go through the same
// verifier as real AMD reports (`snplab report verify`).
#include <gtest/gtest.h>

#include "snp/model/crypto/der.h"
#include "snp/model/psp/firmware.h"
#include "snp/model/psp/guest_msg.h"
#include "snp/model/host/x86/sev.h"
#include "snp/model/attest/report_verify.h"
#include "snp/model/psp/sim_chip.h"

namespace snplab::model {
namespace {

constexpr UnixTime kWhen = 1767225600;  // 2026-01-01T00:00:00Z, inside the simulated window

Certificate cert(const std::vector<std::uint8_t>& der) {
  auto c = Certificate::from_der(der);
  EXPECT_TRUE(c.has_value()) << c.error().message;
  return *c;
}

std::vector<Certificate> chain_of(const std::string& pem) {
  auto all = Certificate::parse_all({reinterpret_cast<const std::uint8_t*>(pem.data()), pem.size()});
  EXPECT_TRUE(all.has_value());
  return *all;
}

TEST(SimChip, CertificatesAreDeterministicPerSeed) {
  const SimChip a(7, Product::Genoa), b(7, Product::Genoa), c(8, Product::Genoa);
  EXPECT_EQ(a.ark_cert(), b.ark_cert());
  EXPECT_EQ(a.vcek_cert(0x1234), b.vcek_cert(0x1234));
  EXPECT_NE(a.vcek_cert(0x1234), c.vcek_cert(0x1234));
  EXPECT_NE(a.vcek_cert(0x1234), a.vcek_cert(0x1235));
  EXPECT_EQ(a.chip_id(), b.chip_id());
  EXPECT_NE(a.chip_id(), c.chip_id());
}

TEST(SimChip, VcekCertificateCarriesAmdExtensions) {
  const SimChip chip(3, Product::Milan);
  const std::uint64_t tcb = 0x7308000000000003ULL;
  const Certificate vcek = cert(chip.vcek_cert(tcb));
  const auto ext = vcek.amd_extensions();
  ASSERT_TRUE(ext.has_value()) << ext.error().message;
  ASSERT_TRUE(ext->hwid.has_value());
  EXPECT_TRUE(std::equal(ext->hwid->begin(), ext->hwid->end(), chip.chip_id().begin()));
  ASSERT_TRUE(ext->product_name.has_value());
  EXPECT_EQ(*ext->product_name, "Milan-B0");
  EXPECT_EQ(ext->bl_spl, 3);
  EXPECT_EQ(ext->snp_spl, 8);
  EXPECT_EQ(ext->ucode_spl, 0x73);
  EXPECT_EQ(leaf_kind_of(vcek), LeafKind::Vcek);
}

TEST(SimChip, TurinChipIdHasEightSignificantBytes) {
  const SimChip chip(3, Product::Turin);
  for (std::size_t i = 8; i < 64; ++i) EXPECT_EQ(chip.chip_id()[i], 0) << i;
  const Certificate vcek = cert(chip.vcek_cert(0));
  const auto ext = vcek.amd_extensions();
  ASSERT_TRUE(ext.has_value());
  ASSERT_TRUE(ext->hwid.has_value());
  EXPECT_EQ(ext->hwid->size(), 8U);
}

// A launched guest asks for a report; the report verifies against the simulated chain.
class SimReportTest : public ::testing::Test {
 protected:
  static constexpr Pfn kGctx = 0x1000, kSecrets = 0x2000, kReq = 0x3000, kRsp = 0x3001;
  static constexpr Asid kAsid = 3;

  SimReportTest() : rmp_(*RmpLayout::covering(1ULL << 30)), fw_(rmp_, mem_, config()) {}

  static FirmwareConfig config() {
    FirmwareConfig c;
    c.seed = 42;
    c.product = Product::Genoa;
    c.current_tcb = 0x1A0B000000000004ULL;  // BL 4, SNP 11, ucode 26 (Milan/Genoa layout)
    return c;
  }

  void SetUp() override {
    const OpContext host{"test", 1};
    ASSERT_EQ(fw_.snp_init(), FwStatus::Success);
    ASSERT_EQ(rmp_make_private(rmp_, kGctx, 0, PageSize::Size4K, 0, true, host), RmpStatus::Success);
    ASSERT_EQ(fw_.snp_gctx_create(pfn_to_spa(kGctx)), FwStatus::Success);
    SnpLaunchStartCmd ls;
    ls.gctx_paddr = pfn_to_spa(kGctx);
    ls.policy = 0x30000;
    ASSERT_EQ(fw_.snp_launch_start(ls), FwStatus::Success);
    ASSERT_EQ(fw_.snp_activate(pfn_to_spa(kGctx), kAsid), FwStatus::Success);
    ASSERT_EQ(rmp_make_private(rmp_, kSecrets, 0x5000, PageSize::Size4K, kAsid, true, host), RmpStatus::Success);
    SnpLaunchUpdateCmd u;
    u.gctx_paddr = pfn_to_spa(kGctx);
    u.page_type = 5;
    u.address = pfn_to_spa(kSecrets);
    ASSERT_EQ(fw_.snp_launch_update(u), FwStatus::Success);
    SnpLaunchFinishCmd lf;
    lf.gctx_paddr = pfn_to_spa(kGctx);
    ASSERT_EQ(fw_.snp_launch_finish(lf), FwStatus::Success);
    ASSERT_EQ(rmp_make_private(rmp_, kRsp, 0, PageSize::Size4K, 0, true, host), RmpStatus::Success);
    std::copy_n(mem_.page(kSecrets).begin() + 0x20, 32, vmpck0_.begin());
  }

  std::vector<std::uint8_t> get_report() {
    ReportReq req;
    req.report_data[63] = 0x77;
    mem_.write(pfn_to_spa(kReq), seal_guest_msg(vmpck0_, 0, seqno_, MsgType::ReportReq, 1, req.encode()));
    EXPECT_EQ(fw_.snp_guest_request(pfn_to_spa(kGctx), pfn_to_spa(kReq), pfn_to_spa(kRsp)), FwStatus::Success);
    seqno_ += 2;
    std::vector<std::uint8_t> page(kPageSize);
    mem_.read(pfn_to_spa(kRsp), page);
    auto opened = open_guest_msg(vmpck0_, page);
    EXPECT_TRUE(std::holds_alternative<OpenedMsg>(opened));
    const auto& p = std::get<OpenedMsg>(opened).payload;
    return std::vector<std::uint8_t>(p.begin() + 0x20, p.begin() + 0x20 + kReportSize);
  }

  /// Trusts this platform's simulated root (the default trusts AMD's roots only).
  VerifyOptions trust() const { return trust_chip(fw_.chip()); }
  static VerifyOptions trust_chip(const SimChip& chip) {
    VerifyOptions o;
    o.roots = {TrustedRoot{"simulated ARK", chip.ark_key_sha256(), "test"}};
    return o;
  }

  Rmp rmp_;
  HostMemory mem_;
  Firmware fw_;
  Aes256Key vmpck0_{};
  std::uint64_t seqno_ = 1;
};

TEST_F(SimReportTest, Report_VerifiesAgainstTheSimulatedVcekChain) {
  const auto report = get_report();
  const auto res = verify_report(report, cert(fw_.chip().vcek_cert(fw_.reported_tcb())),
                                 chain_of(fw_.chip().vcek_chain_pem()), kWhen, trust());
  EXPECT_TRUE(res.ok()) << res.failure_summary();
}

TEST_F(SimReportTest, ReportAfterSetConfig_VerifiesOnlyWithTheMatchingCertificate) {
  const std::uint64_t old_tcb = fw_.reported_tcb();
  SnpConfigCmd c;
  c.reported_tcb = old_tcb - 1;  // BOOT_LOADER 4 -> 3
  ASSERT_EQ(fw_.snp_config(c), FwStatus::Success);
  const auto report = get_report();
  const auto chain = chain_of(fw_.chip().vcek_chain_pem());
  const auto with_new = verify_report(report, cert(fw_.chip().vcek_cert(c.reported_tcb)), chain, kWhen, trust());
  EXPECT_TRUE(with_new.ok()) << with_new.failure_summary();
  const auto with_old = verify_report(report, cert(fw_.chip().vcek_cert(old_tcb)), chain, kWhen, trust());
  EXPECT_FALSE(with_old.ok());
  ASSERT_NE(with_old.find(CheckId::ReportSignature), nullptr);
  EXPECT_EQ(with_old.find(CheckId::ReportSignature)->status, CheckStatus::Fail);
}

TEST_F(SimReportTest, VlekSignedReport_VerifiesAgainstTheVlekChain) {
  ASSERT_EQ(fw_.snp_vlek_load(16, 0, fw_.chip().wrap_vlek(fw_.reported_tcb(), 5)), FwStatus::Success);
  const auto report = get_report();
  const auto res = verify_report(report, cert(fw_.chip().vlek_cert(fw_.reported_tcb(), 5)),
                                 chain_of(fw_.chip().vlek_chain_pem()), kWhen, trust());
  EXPECT_TRUE(res.ok()) << res.failure_summary();
  EXPECT_EQ(res.leaf_kind, LeafKind::Vlek);
  // The VCEK chain does not verify a VLEK-signed report.
  const auto wrong = verify_report(report, cert(fw_.chip().vcek_cert(fw_.reported_tcb())),
                                   chain_of(fw_.chip().vcek_chain_pem()), kWhen, trust());
  EXPECT_FALSE(wrong.ok());
}

TEST_F(SimReportTest, SimulatedChain_UntrustedByDefault_AndPinnedByItsKey) {
  const auto report = get_report();
  const auto leaf = cert(fw_.chip().vcek_cert(fw_.reported_tcb()));
  const auto chain = chain_of(fw_.chip().vcek_chain_pem());
  const auto by_default = verify_report(report, leaf, chain, kWhen);
  ASSERT_EQ(by_default.failures().size(), 1U) << by_default.failure_summary();
  EXPECT_EQ(by_default.failures()[0]->id, CheckId::ChainArkTrusted);
  // The pin is the SHA-256 of the ARK certificate's SubjectPublicKeyInfo, as the verifier
  // computes it from the parsed certificate.
  EXPECT_EQ(fw_.chip().ark_key_sha256(), sha256(chain.back().public_key_der()));
  EXPECT_EQ(SimChip(42, Product::Turin).ark_key_sha256(), fw_.chip().ark_key_sha256()) << "one root per seed";
  EXPECT_NE(SimChip(43, Product::Genoa).ark_key_sha256(), fw_.chip().ark_key_sha256());
}

TEST_F(SimReportTest, ReportFromAnotherChip_FailsTheSignatureAndChipIdChecks) {
  const auto report = get_report();
  const SimChip other(43, Product::Genoa);
  const auto res = verify_report(report, cert(other.vcek_cert(fw_.reported_tcb())), chain_of(other.vcek_chain_pem()),
                                 kWhen, trust_chip(other));
  EXPECT_FALSE(res.ok());
  EXPECT_EQ(res.find(CheckId::ReportSignature)->status, CheckStatus::Fail);
  EXPECT_EQ(res.find(CheckId::ChipId)->status, CheckStatus::Fail);
}

}  // namespace
}  // namespace snplab::model
