// Bad input files never crash, hang or allocate without bound: a directory, a device such as
// /dev/zero, a FIFO and a file larger than the format allows are refused before reading, by
// every command that reads files, with the exit code of an input error and a message that
// names the file and the problem.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "snp/scenarios/input_file.h"
#include "snp/scenarios/measure_cli.h"
#include "snp/scenarios/report_cli.h"

#include "cli_capture.h"

namespace snplab::scenarios {
namespace {

using Out = testsupport::Captured;

template <class Main>
Out call(Main m, std::vector<std::string> args) {
  return testsupport::run_captured(m, std::move(args));
}

class BadInput : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("snplab-bad-input-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    fifo_ = (dir_ / "fifo").string();
    ASSERT_EQ(::mkfifo(fifo_.c_str(), 0600), 0);
    big_ = (dir_ / "big.bin").string();
    std::ofstream(big_).close();
    std::filesystem::resize_file(big_, kMaxReportFile + 1);  // sparse: no disk used
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
  std::string fifo_, big_;
};

TEST_F(BadInput, ReadInputFile_RefusesWhatIsNotAFileAndWhatIsTooLarge) {
  std::string why;
  EXPECT_FALSE(read_input_file(dir_.string(), 100, "the report", &why));
  EXPECT_NE(why.find("is a directory, not a file"), std::string::npos) << why;
  EXPECT_FALSE(read_input_file("/dev/zero", 100, "the report", &why));
  EXPECT_NE(why.find("'/dev/zero' is a character device"), std::string::npos) << why;
  EXPECT_FALSE(read_input_file(fifo_, 100, "the report", &why));  // returns: never waits for a writer
  EXPECT_NE(why.find("is a FIFO"), std::string::npos) << why;
  EXPECT_FALSE(read_input_file(big_, kMaxReportFile, "the report", &why));
  EXPECT_NE(why.find("at most 1048576 are accepted"), std::string::npos) << why;
  EXPECT_FALSE(read_input_file((dir_ / "missing").string(), 100, "the report", &why));
  EXPECT_NE(why.find("No such file"), std::string::npos) << why;
  const std::string ok = (dir_ / "ok.bin").string();
  std::ofstream(ok) << "abc";
  const auto data = read_input_file(ok, 3, "the report", &why);
  ASSERT_TRUE(data);
  EXPECT_EQ(data->size(), 3u);
}

TEST_F(BadInput, ReportShowAndVerify_SayWhatIsWrong) {
  for (const std::string& bad : {dir_.string(), std::string("/dev/zero"), fifo_, big_}) {
    const Out show = call(report_main, {"show", bad});
    EXPECT_NE(show.code, 0) << bad;
    EXPECT_NE(show.err.find("'" + bad + "'"), std::string::npos) << show.err;
    const Out verify = call(report_main, {"verify", bad, "--cert", bad, "--chain", bad});
    EXPECT_NE(verify.code, 0) << bad;
    EXPECT_NE(verify.err.find("'" + bad + "'"), std::string::npos) << verify.err;
  }
}

TEST_F(BadInput, Measure_RefusesDevicesDirectoriesAndFifos) {
  for (const std::string& bad : {dir_.string(), std::string("/dev/zero"), fifo_}) {
    for (const char* option : {"--ovmf", "--kernel"}) {
      std::vector<std::string> args = {"--mode", "snp", "--vcpus", "1", "--vcpu-type", "EPYC-Milan", "--ovmf",
                                       bad};
      if (std::string_view(option) == "--kernel") {
        args = {"--mode", "snp", "--vcpus", "1", "--vcpu-type", "EPYC-Milan", "--ovmf", big_, "--kernel", bad};
      }
      const Out r = call(measure_main, args);
      EXPECT_NE(r.code, 0) << option << " " << bad;
      EXPECT_NE(r.err.find("'" + bad + "'"), std::string::npos) << r.err;
    }
  }
}

/// The CLI table: every command that reads a file, with an empty, a truncated, an oversized
/// and a garbage file and a directory. Each is refused with exit 2 (measure: the code
/// sev-snp-measure's vectors record, never 0) and a message that names the file.
TEST_F(BadInput, EveryFileArgument_EmptyTruncatedOversizedGarbageOrADirectory_IsAnInputError) {
  const std::string sim = (dir_ / "sim").string();
  std::filesystem::create_directories(sim);
  ASSERT_EQ(call(report_main, {"simulate", "--out", sim}).code, 0);
  const std::string empty = (dir_ / "empty.bin").string(), truncated = (dir_ / "truncated.bin").string(),
                    garbage = (dir_ / "garbage.txt").string();
  std::ofstream(empty).close();
  {
    std::ifstream in(sim + "/report.bin", std::ios::binary);
    std::string head(100, '\0');
    in.read(head.data(), 100);
    std::ofstream(truncated, std::ios::binary) << head;
  }
  std::ofstream(garbage) << std::string(1500, 'z');
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"empty", empty}, {"truncated", truncated}, {"oversized", big_}, {"garbage", garbage}, {"directory", dir_.string()}};
  const std::string report = sim + "/report.bin", vcek = sim + "/vcek.der", chain = sim + "/chain.pem";
  for (const auto& [kind, file] : bad) {
    const std::vector<std::pair<std::string, std::vector<std::string>>> report_cases = {
        {"report show", {"show", file}},
        {"report fetch-url", {"fetch-url", file}},
        {"report verify FILE", {"verify", file, "--cert", vcek, "--chain", chain}},
        {"report verify --cert", {"verify", report, "--cert", file, "--chain", chain}},
        {"report verify --chain", {"verify", report, "--cert", vcek, "--chain", file}},
        {"report verify --ark", {"verify", report, "--cert", vcek, "--chain", chain, "--ark", file}},
    };
    for (const auto& [what, args] : report_cases) {
      if (kind == "truncated" && what.find("--") != std::string::npos) continue;  // a truncated report only
      const Out r = call(report_main, args);
      EXPECT_EQ(r.code, 2) << what << " with the " << kind << " file: " << r.err;
      EXPECT_NE(r.err.find(file), std::string::npos) << what << " with the " << kind << " file: " << r.err;
    }
    const Out m = call(measure_main, {"--mode", "snp", "--vcpus", "1", "--vcpu-type", "EPYC-Milan", "--ovmf", file});
    EXPECT_NE(m.code, 0) << "measure --ovmf with the " << kind << " file";
    EXPECT_NE(m.err.find(file), std::string::npos) << "measure --ovmf with the " << kind << " file: " << m.err;
  }
}

}  // namespace
}  // namespace snplab::scenarios
