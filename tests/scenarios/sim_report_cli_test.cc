// `snplab report simulate` then `snplab report verify`: every report the simulator produces
// verifies with the same command as a real AMD report, for each product and for the VLEK.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "snp/scenarios/report_cli.h"
#include "snp/scenarios/sim_report.h"

namespace snplab::scenarios {
namespace {

int run(std::vector<std::string> args, std::string* out_text = nullptr) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  std::FILE* out = std::tmpfile();
  std::FILE* err = std::tmpfile();
  const int rc = report_main(static_cast<int>(argv.size()), argv.data(), out, err);
  if (out_text != nullptr) {
    std::rewind(err);
    char buf[4096];
    std::size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof(buf), err)) > 0) out_text->append(buf, n);
  }
  std::fclose(out);
  std::fclose(err);
  return rc;
}

class SimulateVerify : public ::testing::TestWithParam<std::pair<std::string, bool>> {};

TEST_P(SimulateVerify, SimulatedReport_VerifiesWithTheCli) {
  const auto& [product, vlek] = GetParam();
  const auto dir = std::filesystem::temp_directory_path() / ("snplab-sim-" + product + (vlek ? "-vlek" : ""));
  std::filesystem::create_directories(dir);
  std::vector<std::string> sim{"simulate", "--out", dir.string(), "--seed", "11", "--product", product};
  if (vlek) sim.push_back("--vlek");
  ASSERT_EQ(run(sim), 0);
  const std::string leaf = (dir / (vlek ? "vlek.der" : "vcek.der")).string();
  const std::vector<std::string> verify{"verify", (dir / "report.bin").string(), "--cert", leaf,
                                        "--chain", (dir / "chain.pem").string(), "--at", "2026-01-01T00:00:00Z"};
  auto trusting = [&verify](std::vector<std::string> extra) {
    auto a = verify;
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  // A simulated chain is no AMD chain: refused unless its root is trusted by name of option.
  std::string why;
  EXPECT_EQ(run(verify, &why), 1);
  EXPECT_NE(why.find("FAILED chain.ark_trusted"), std::string::npos) << why;
  why.clear();
  EXPECT_EQ(run(trusting({"--trust-simulated", "--seed", "12"}), &why), 1) << "another seed's root";
  EXPECT_NE(why.find("FAILED chain.ark_trusted"), std::string::npos) << why;
  why.clear();
  EXPECT_EQ(run(trusting({"--trust-simulated", "--seed", "11"}), &why), 0) << why;
  why.clear();
  EXPECT_EQ(run(trusting({"--ark", (dir / "chain.pem").string()}), &why), 0) << why;
  // A flipped bit in the signed part must fail, naming the signature check.
  std::FILE* f = std::fopen((dir / "report.bin").string().c_str(), "r+b");
  ASSERT_NE(f, nullptr);
  std::fseek(f, 0x50, SEEK_SET);  // REPORT_DATA
  std::fputc(0xFF, f);
  std::fclose(f);
  why.clear();
  EXPECT_EQ(run(trusting({"--trust-simulated", "--seed", "11"}), &why), 1);
  EXPECT_NE(why.find("report.signature"), std::string::npos) << why;
  std::filesystem::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Products, SimulateVerify,
                         ::testing::Values(std::pair<std::string, bool>{"milan", false},
                                           std::pair<std::string, bool>{"genoa", false},
                                           std::pair<std::string, bool>{"turin", false},
                                           std::pair<std::string, bool>{"milan", true}),
                         [](const auto& p) { return p.param.first + (p.param.second ? "_vlek" : "_vcek"); });

TEST(SimulateReport, SameSeed_SameBytes) {
  SimReportOptions o;
  o.seed = 5;
  const SimReport a = simulate_report(o), b = simulate_report(o);
  ASSERT_TRUE(a.error.empty()) << a.error;
  EXPECT_EQ(a.report, b.report);
  EXPECT_EQ(a.leaf_der, b.leaf_der);
  o.seed = 6;
  EXPECT_NE(simulate_report(o).report, a.report);
}

TEST(SimulateReport, BadUsage_ExitsTwo) {
  EXPECT_EQ(run({"simulate"}), 2);
  EXPECT_EQ(run({"verify", "r.bin", "--cert", "c.der", "--chain", "p.pem", "--seed", "3"}), 2)
      << "--seed without --trust-simulated";
  EXPECT_EQ(run({"verify", "r.bin", "--cert", "c.der", "--chain", "p.pem", "--trust-simulated", "--seed", "-1"}), 2);
  EXPECT_EQ(run({"verify", "r.bin", "--cert", "c.der", "--chain", "p.pem", "--ark"}), 2);
  EXPECT_EQ(run({"simulate", "--out", "/tmp", "--product", "rome"}), 2);
  EXPECT_EQ(run({"simulate", "--out", "/tmp", "--seed", "x"}), 2);
  EXPECT_EQ(run({"simulate", "--out", "/nonexistent/dir"}), 1);
}

}  // namespace
}  // namespace snplab::scenarios
