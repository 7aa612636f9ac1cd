// `snplab report` on a simulated chip: the policy checks, snpguest's certificate directory,
// the JSON documents, strict numbers, and --help on every subcommand. (The real AMD reports
// run through the same commands in tests/vectors/report_vectors_test.cc.)
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "snp/scenarios/report_cli.h"

#include "cli_capture.h"

namespace snplab::scenarios {
namespace {

using testsupport::Captured;

Captured report(std::vector<std::string> args) { return testsupport::run_captured(report_main, std::move(args)); }

class ReportCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("snplab-report-cli-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    const Captured sim = report({"simulate", "--out", dir_.string(), "--seed", "5", "--report-data", "a1b2c3"});
    ASSERT_EQ(sim.code, 0) << sim.err;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::vector<std::string> verify(std::vector<std::string> extra) const {
    std::vector<std::string> a{"verify",  (dir_ / "report.bin").string(), "--cert", (dir_ / "vcek.der").string(),
                               "--chain", (dir_ / "chain.pem").string(),  "--trust-simulated", "--seed", "5",
                               "--at",    "2026-01-01T00:00:00Z"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }

  std::filesystem::path dir_;
};

TEST_F(ReportCli, ReportData_PassesWhenItIsTheOneTheGuestAskedFor) {
  const std::string rd = "a1b2c3" + std::string(122, '0');
  const Captured ok = report(verify({"--report-data", rd}));
  EXPECT_EQ(ok.code, 0) << ok.err;
  EXPECT_NE(ok.out.find("PASS policy.report_data: REPORT_DATA is " + rd), std::string::npos) << ok.out;
  const Captured no = report(verify({"--report-data", std::string(128, '0')}));
  EXPECT_EQ(no.code, 1);
  EXPECT_NE(no.err.find("FAILED policy.report_data"), std::string::npos) << no.err;
}

TEST_F(ReportCli, GuestPolicyBits_RequiredAndForbidden_AreCheckedSeparately) {
  // The simulated guest runs with SNP's must-be-one bit 17 (0x20000) and without DEBUG (bit 19).
  const Captured show = report({"show", (dir_ / "report.bin").string(), "--json"});
  ASSERT_EQ(show.code, 0);
  const auto policy = nlohmann::json::parse(show.out).at("fields").at("POLICY").at("value").get<std::uint64_t>();
  ASSERT_NE(policy & 0x20000, 0U);
  ASSERT_EQ(policy & 0x80000, 0U);
  EXPECT_EQ(report(verify({"--policy-require", "0x20000", "--policy-forbid", "0x80000"})).code, 0);
  const Captured forbid = report(verify({"--policy-forbid", "0x20000"}));
  EXPECT_EQ(forbid.code, 1);
  EXPECT_NE(forbid.err.find("forbidden bits 0x20000 are set"), std::string::npos) << forbid.err;
  const Captured require = report(verify({"--policy-require", "0x80000"}));
  EXPECT_EQ(require.code, 1);
  EXPECT_NE(require.err.find("required bits 0x80000 are clear"), std::string::npos) << require.err;
}

TEST_F(ReportCli, MinTcb_NamesEachComponentBelowTheMinimum) {
  EXPECT_EQ(report(verify({"--min-tcb", "0000000000000000"})).code, 0);
  const Captured high = report(verify({"--min-tcb", "ffffffffffffffff"}));
  EXPECT_EQ(high.code, 1);
  for (const char* c : {"BOOT_LOADER", "TEE", "SNP", "MICROCODE"}) {
    EXPECT_NE(high.err.find(c), std::string::npos) << c << ": " << high.err;
  }
}

TEST_F(ReportCli, PolicyValues_OfTheWrongSizeOrNotHex_AreUsageErrorsNamingTheOption) {
  const Captured short_m = report(verify({"--measurement", "abcd"}));
  EXPECT_EQ(short_m.code, 2);
  EXPECT_NE(short_m.err.find("--measurement needs 48 bytes as 96 hex digits, not 2 bytes"), std::string::npos)
      << short_m.err;
  const Captured stray = report(verify({"--host-data", std::string(63, '0') + "g"}));
  EXPECT_EQ(stray.code, 2);
  EXPECT_NE(stray.err.find("--host-data needs 32 bytes as 64 hex digits, and has a character that is not hex"),
            std::string::npos)
      << stray.err;
  const Captured tcb = report(verify({"--min-tcb", "12"}));
  EXPECT_EQ(tcb.code, 2);
  EXPECT_NE(tcb.err.find("--min-tcb"), std::string::npos);
}

TEST_F(ReportCli, Numbers_OutOfRangeNegativeOrOctalLooking_AreRefusedWithTheRange) {
  const Captured vmpl = report(verify({"--vmpl", "4"}));
  EXPECT_EQ(vmpl.code, 2);
  EXPECT_NE(vmpl.err.find("'4' is not a number from 0 to 3"), std::string::npos) << vmpl.err;
  for (const char* seed : {"-1", "18446744073709551616", "1x", ""}) {
    const Captured c = report({"verify", (dir_ / "report.bin").string(), "--cert", "c", "--chain", "p",
                               "--trust-simulated", "--seed", seed});
    EXPECT_EQ(c.code, 2) << seed;
    EXPECT_NE(c.err.find("is not a number from 0 to 18446744073709551615"), std::string::npos) << seed << c.err;
  }
  EXPECT_EQ(report(verify({"--vmpl", "0x0"})).code, 0) << "hex is accepted";
  EXPECT_EQ(report(verify({"--vmpl=0"})).code, 0) << "--opt=value is accepted";
}

TEST_F(ReportCli, CertsDir_SnpguestLayout_VerifiesLikeCertAndChain) {
  const auto certs = dir_ / "certs";
  std::filesystem::create_directories(certs);
  const std::vector<std::string> base{"verify", (dir_ / "report.bin").string(), "--certs-dir", certs.string(),
                                      "--trust-simulated", "--seed", "5", "--at", "2026-01-01T00:00:00Z"};
  const Captured empty = report(base);
  EXPECT_EQ(empty.code, 2);
  EXPECT_NE(empty.err.find("holds no vcek.pem, vcek.der, vlek.pem or vlek.der"), std::string::npos) << empty.err;
  std::filesystem::copy_file(dir_ / "vcek.der", certs / "vcek.der");
  std::filesystem::copy_file(dir_ / "chain.pem", certs / "ask.pem");  // ASK and ARK in one PEM, as KDS serves them
  const Captured ok = report(base);
  EXPECT_EQ(ok.code, 0) << ok.err;
  const Captured not_dir = report({"verify", (dir_ / "report.bin").string(), "--certs-dir", (dir_ / "vcek.der").string()});
  EXPECT_EQ(not_dir.code, 2);
  EXPECT_NE(not_dir.err.find("is not a directory"), std::string::npos) << not_dir.err;
  const Captured both = report({"verify", (dir_ / "report.bin").string(), "--certs-dir", certs.string(), "--cert", "x"});
  EXPECT_EQ(both.code, 2) << "--certs-dir excludes --cert";
}

TEST_F(ReportCli, TheSimulatedRootIsNotAnAmdRoot_WithoutTrustSimulated) {
  const Captured c = report({"verify", (dir_ / "report.bin").string(), "--cert", (dir_ / "vcek.der").string(), "--chain",
                             (dir_ / "chain.pem").string(), "--json"});
  EXPECT_EQ(c.code, 1);
  const auto doc = nlohmann::json::parse(c.out);
  EXPECT_EQ(doc.at("verdict"), "INVALID");
  EXPECT_TRUE(doc.at("root").is_null());
}

TEST_F(ReportCli, FetchUrl_OfASimulatedReport_UsesItsChipIdAndReportedTcb) {
  const Captured c = report({"fetch-url", (dir_ / "report.bin").string()});
  ASSERT_EQ(c.code, 0) << c.err;
  EXPECT_EQ(c.out.rfind("https://kdsintf.amd.com/vcek/v1/Milan/", 0), 0U) << c.out;
  EXPECT_NE(c.out.find("?blSPL="), std::string::npos);
  const Captured vlek_dir = report({"simulate", "--out", dir_.string(), "--vlek"});
  ASSERT_EQ(vlek_dir.code, 0);
  const Captured vlek = report({"fetch-url", (dir_ / "report.bin").string()});
  EXPECT_EQ(vlek.code, 1);
  EXPECT_NE(vlek.err.find("not a VCEK"), std::string::npos) << vlek.err;
}

TEST(ReportCliHelp, EverySubcommandHasHelpGeneratedFromItsOptions) {
  for (const char* sub : {"show", "verify", "fetch-url", "simulate"}) {
    const Captured h = report({sub, "--help"});
    EXPECT_EQ(h.code, 0) << sub;
    EXPECT_NE(h.out.find(std::string("Usage: snplab report ") + sub), std::string::npos) << h.out;
  }
  const Captured v = report({"verify", "--help"});
  for (const char* opt : {"--certs-dir", "--measurement", "--min-tcb", "--policy-require", "--vmpl", "--json"}) {
    EXPECT_NE(v.out.find(opt), std::string::npos) << opt;
  }
  EXPECT_EQ(report({"--help"}).code, 0);
  EXPECT_EQ(report({}).code, 2);
}

}  // namespace
}  // namespace snplab::scenarios
