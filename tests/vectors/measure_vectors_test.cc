// `snplab measure` against every run of sev-snp-measure 0.0.13 recorded in
// shared/vectors/measure/{synthetic,debian-ovmf}.jsonl (one test per line; see the README
// there). A line with a measurement must print exactly it (or its base64) as the last stdout
// line; a line without one must fail with a message, and with the recorded exit code.
//
// Quirk lines ("category": "quirk") may either print sev-snp-measure's value or refuse with
// a clear message. snplab prints the same value for all of them except the two listed in
// kRefusedQuirks (docs/measure.md, "Quirks"): a negative --vcpus and a --guest-features
// value wider than 64 bits are refused as usage errors instead of being silently
// reinterpreted.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "snp/model/crypto/crypto.h"
#include "snp/scenarios/measure_cli.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

#ifndef SNPLAB_SHARED_DIR
#error "SNPLAB_SHARED_DIR must point at the shared/ folder beside the project"
#endif

/// Quirk vectors snplab refuses (id prefixes); every other quirk prints the recorded value.
constexpr std::array<std::string_view, 2> kRefusedQuirks{
    "Q/vcpus-minus1/",     // --vcpus -1: sev-snp-measure treats it as 0
    "Q/gf-over-64-bits/",  // 0x10000000000000001: sev-snp-measure silently truncates to 0x1
};

fs::path shared_dir() {
  if (const char* env = std::getenv("SNPLAB_SHARED_DIR"); env != nullptr && *env != '\0') return env;
  return SNPLAB_SHARED_DIR;
}

fs::path vectors_dir() { return shared_dir() / "vectors" / "measure"; }

struct Vector {
  std::string name;     // the gtest name: the id with every other character as '_'
  std::string file;     // which jsonl
  std::string line;     // the line's JSON text, parsed by the test that runs it
  std::string problem;  // non-empty: the vectors could not be loaded (the test fails with it)
};

/// gtest prints a failing parameter with this: the vector's id is enough.
void PrintTo(const Vector& v, std::ostream* os) { *os << v.file << ":" << v.name; }

std::string sanitize(std::string_view id) {
  std::string s(id);
  for (char& c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!ok) c = '_';
  }
  return s;
}

/// The id of a line without parsing all of it (CTest starts the binary once per test, so
/// listing the tests must be cheap): lines start `{"id": "..."`; anything else is parsed.
std::string line_id(const std::string& text) {
  constexpr std::string_view kKey = "{\"id\": \"";
  if (text.rfind(kKey, 0) == 0) {
    const auto end = text.find('"', kKey.size());
    if (end != std::string::npos && text.find('\\', kKey.size()) > end) return text.substr(kKey.size(), end - kKey.size());
  }
  const json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.contains("id") || !j["id"].is_string()) return "";
  return j["id"].get<std::string>();
}

std::vector<Vector> load_vectors() {
  std::vector<Vector> out;
  for (const char* file : {"synthetic.jsonl", "debian-ovmf.jsonl"}) {
    const fs::path path = vectors_dir() / file;
    std::ifstream in(path);
    if (!in) {
      out.push_back({sanitize(std::string("missing_") + file), file, "",
                     "cannot open " + path.string() + " (set SNPLAB_SHARED_DIR to the shared/ folder)"});
      continue;
    }
    std::string text;
    std::size_t lineno = 0;
    while (std::getline(in, text)) {
      ++lineno;
      if (text.empty()) continue;
      const std::string id = line_id(text);
      if (id.empty()) {
        out.push_back({sanitize(std::string(file) + "_line_" + std::to_string(lineno)), file, "",
                       path.string() + ":" + std::to_string(lineno) + ": not a vector line"});
        continue;
      }
      out.push_back({sanitize(id), file, std::move(text), ""});
    }
  }
  return out;
}

/// Where a vector's input path lives: `debian-ovmf/NAME` is the file Debian's ovmf package
/// installs (OVMF.fd in /usr/share/ovmf, the OVMF_CODE* images in /usr/share/OVMF); the
/// rest is relative to the vectors folder.
fs::path resolve(const std::string& p) {
  constexpr std::string_view kDebian = "debian-ovmf/";
  if (p.rfind(kDebian, 0) == 0) {
    const std::string name = p.substr(kDebian.size());
    return name == "OVMF.fd" ? fs::path("/usr/share/ovmf") / name : fs::path("/usr/share/OVMF") / name;
  }
  return vectors_dir() / p;
}

bool is_debian(const std::string& p) { return p.rfind("debian-ovmf/", 0) == 0; }

std::string file_sha256(const fs::path& p) {
  snplab::model::Sha256 h;
  std::ifstream in(p, std::ios::binary);
  std::vector<char> buf(1 << 20);
  while (in.read(buf.data(), static_cast<std::streamsize>(buf.size())) || in.gcount() > 0) {
    h.update({reinterpret_cast<const std::uint8_t*>(buf.data()), static_cast<std::size_t>(in.gcount())});
  }
  return snplab::model::to_hex(h.finish());
}

std::string slurp(std::FILE* f) {
  std::rewind(f);
  std::string s;
  std::array<char, 4096> buf{};
  std::size_t n = 0;
  while ((n = std::fread(buf.data(), 1, buf.size(), f)) > 0) s.append(buf.data(), n);
  return s;
}

std::string last_line(const std::string& s) {
  std::string t = s;
  while (!t.empty() && (t.back() == '\n' || t.back() == '\r')) t.pop_back();
  const auto nl = t.find_last_of('\n');
  return nl == std::string::npos ? t : t.substr(nl + 1);
}

class MeasureVector : public ::testing::TestWithParam<Vector> {};

TEST_P(MeasureVector, MatchesSevSnpMeasure) {
  const Vector& v = GetParam();
  ASSERT_TRUE(v.problem.empty()) << v.problem;
  const json j = json::parse(v.line, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(j.is_discarded()) << v.file << ": not JSON: " << v.line;
  const std::string id = j["id"].get<std::string>();
  SCOPED_TRACE(v.file + ": " + id);

  // Inputs first: a Debian file that is absent or differs is a skip, never a pass.
  for (const auto& [path, sha] : j["inputs"].items()) {
    const fs::path real = resolve(path);
    if (sha.is_null()) {
      ASSERT_FALSE(fs::exists(real)) << real << " must not exist (the vector tests the missing-file error)";
      continue;
    }
    const std::string want = sha.get<std::string>();
    if (is_debian(path)) {
      if (!fs::exists(real)) GTEST_SKIP() << "Debian ovmf file " << real << " is not installed (apt-get install ovmf)";
      const std::string got = file_sha256(real);
      if (got != want) {
        GTEST_SKIP() << "Debian ovmf file " << real << " has sha256 " << got << ", the vector was made with " << want
                     << " (ovmf 2022.11-6+deb12u2)";
      }
    } else {
      ASSERT_TRUE(fs::exists(real)) << "vector input " << real << " is missing";
      ASSERT_EQ(file_sha256(real), want) << "vector input " << real << " differs from the recorded file";
    }
  }

  std::vector<std::string> args;
  for (const auto& a : j["args"]) {
    const std::string s = a.get<std::string>();
    args.push_back(j["inputs"].contains(s) ? resolve(s).string() : s);
  }
  std::vector<char*> argv;
  for (std::string& s : args) argv.push_back(s.data());
  argv.push_back(nullptr);

  std::FILE* out = std::tmpfile();
  std::FILE* err = std::tmpfile();
  ASSERT_NE(out, nullptr);
  ASSERT_NE(err, nullptr);
  const int rc = snplab::scenarios::measure_main(static_cast<int>(args.size()), argv.data(), out, err);
  const std::string stdout_text = slurp(out);
  const std::string stderr_text = slurp(err);
  std::fclose(out);
  std::fclose(err);

  const bool refused_quirk = j["category"] == "quirk" && std::any_of(kRefusedQuirks.begin(), kRefusedQuirks.end(),
                                                                     [&](std::string_view p) { return id.rfind(p, 0) == 0; });
  if (refused_quirk) {
    EXPECT_NE(rc, 0) << "snplab refuses this quirk (docs/measure.md); stdout: " << stdout_text;
    EXPECT_FALSE(stderr_text.empty());
    return;
  }
  if (!j["measurement"].is_null()) {
    const std::string want = j.contains("measurement_base64") ? j["measurement_base64"].get<std::string>()
                                                               : j["measurement"].get<std::string>();
    ASSERT_EQ(rc, 0) << "stderr: " << stderr_text;
    EXPECT_EQ(last_line(stdout_text), want) << "stderr: " << stderr_text;
    return;
  }
  // sev-snp-measure refused: snplab must refuse too, saying why, with the same exit code.
  EXPECT_NE(rc, 0) << "expected a refusal like: " << j["error"] << "\nstdout: " << stdout_text;
  EXPECT_FALSE(stderr_text.empty()) << "a refusal must say what is wrong";
  if (j.contains("rc") && j["rc"].is_number_integer()) {
    EXPECT_EQ(rc, j["rc"].get<int>()) << stderr_text;
  }
}

INSTANTIATE_TEST_SUITE_P(SevSnpMeasure, MeasureVector, ::testing::ValuesIn(load_vectors()),
                         [](const ::testing::TestParamInfo<Vector>& p) { return p.param.name; });


// ---- the command line beyond the recorded runs --------------------------------------------

struct CliRun {
  int rc = 0;
  std::string out;
  std::string err;
};

CliRun run_cli(std::vector<std::string> args) {
  for (std::string& a : args) {
    if (a.rfind("firmware/", 0) == 0 || a.rfind("inputs/", 0) == 0) a = (vectors_dir() / a).string();
  }
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::FILE* out = std::tmpfile();
  std::FILE* err = std::tmpfile();
  CliRun r;
  r.rc = snplab::scenarios::measure_main(static_cast<int>(args.size()), argv.data(), out, err);
  r.out = slurp(out);
  r.err = slurp(err);
  std::fclose(out);
  std::fclose(err);
  return r;
}

// X/type/fw-kh-1m/QEMU/EPYC-Milan/vcpus2/gf-default/nokernel
constexpr const char* kMilan2 = "00fdd915fae10dda53d3d80050531a67fc4724b09fbfe3c1bf45c1d6d0e0e1c1dd2a36cbfe4433fb73ceb08295727f95";

TEST(MeasureCli, Help_PrintsUsageAndSucceeds) {
  const CliRun r = run_cli({"--help"});

  EXPECT_EQ(r.rc, 0);
  EXPECT_NE(r.out.find("--snp-ovmf-hash"), std::string::npos);
}

TEST(MeasureCli, ArgparseSpellings_GiveTheSameMeasurement) {
  // --opt=value, unique prefixes, and Python int() forms of 0x1 and 2.
  const CliRun r = run_cli({"--mode=snp", "--vcpus", " +0_2 ", "--vcpu-t", "EPYC-Milan", "--ovmf", "firmware/fw-kh-1m.bin",
                            "--guest-features", "0b1"});

  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(last_line(r.out), kMilan2);
}

TEST(MeasureCli, Verbose_PrefixesTheModeName) {
  const CliRun r = run_cli({"-v", "--mode", "snp", "--vcpus", "2", "--vcpu-type", "EPYC-Milan", "--ovmf",
                            "firmware/fw-kh-1m.bin"});

  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(last_line(r.out), std::string("Calculated SEV_SNP guest measurement: ") + kMilan2);
}

const std::vector<std::string> kBase{"--mode", "snp", "--vcpu-type", "EPYC-Milan", "--ovmf", "firmware/fw-kh-1m.bin"};

std::vector<std::string> with(std::vector<std::string> extra) {
  std::vector<std::string> a = kBase;
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

TEST(MeasureCli, Json_TheSameMeasurementAndWhatItWasMadeFrom) {
  const CliRun text = run_cli(with({"--vcpus", "2"}));
  const CliRun r = run_cli(with({"--vcpus=2", "--json", "--output-format", "base64"}));

  ASSERT_EQ(r.rc, 0) << r.err;
  const json j = json::parse(r.out);
  EXPECT_EQ(j.at("schema"), "snplab.measure/1");
  EXPECT_EQ(j.at("mode"), "snp");
  EXPECT_EQ(j.at("measurement"), kMilan2);
  EXPECT_EQ(j.at("measurement"), last_line(text.out));
  EXPECT_EQ(j.at("measurement_base64").get<std::string>().size(), 64u);
  EXPECT_EQ(j.at("vcpus"), 2);
  EXPECT_EQ(j.at("vcpu_sig"), 0xa00f11);  // EPYC-Milan
  EXPECT_EQ(j.at("vmm_type"), "QEMU");
  EXPECT_EQ(j.at("guest_features"), 1);
  EXPECT_EQ(j.at("inputs").at("ovmf").get<std::string>(), (vectors_dir() / "firmware/fw-kh-1m.bin").string());
  EXPECT_TRUE(j.at("warnings").empty());
}

TEST(MeasureCli, EmptyInlineValue_IsAnEmptyValue) {
  // argparse reads `--append=` as an empty command line, the same as `--append ''`.
  const CliRun a = run_cli(with({"--vcpus", "2", "--append="}));
  const CliRun b = run_cli(with({"--vcpus", "2", "--append", ""}));

  ASSERT_EQ(a.rc, 0) << a.err;
  EXPECT_EQ(last_line(a.out), kMilan2);
  EXPECT_EQ(b.rc, 0) << b.err;
}

TEST(MeasureCli, Version_NamesSnplabAndTheSevSnpMeasureItFollows) {
  const CliRun r = run_cli({"--version"});

  EXPECT_EQ(r.rc, 0);
  EXPECT_EQ(r.out.rfind("snplab measure ", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("(follows sev-snp-measure 0.0.13)"), std::string::npos) << r.out;
}

struct BadUsage {
  std::vector<std::string> args;
  int rc;
};

void PrintTo(const BadUsage& b, std::ostream* os) {
  for (const std::string& a : b.args) *os << a << ' ';
}

class MeasureCliErrors : public ::testing::TestWithParam<BadUsage> {};

TEST_P(MeasureCliErrors, BadArguments_FailWithAMessage) {
  const CliRun r = run_cli(GetParam().args);

  EXPECT_EQ(r.rc, GetParam().rc) << r.err;
  EXPECT_NE(r.err.find("error:"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, MeasureCliErrors,
    ::testing::Values(BadUsage{{}, 2},                                              // no --mode
                      BadUsage{{"--mode", "snp"}, 2},                               // no --ovmf
                      BadUsage{with({"--vcpus", "1", "stray"}), 2},                 // positional
                      BadUsage{with({"--vcpus", "1", "--frobnicate"}), 2},          // unknown option
                      BadUsage{with({"--vcpus", "1", "--vcpu"}), 2},                // ambiguous prefix
                      BadUsage{with({"--vcpus"}), 2},                               // missing value
                      BadUsage{with({"--vcpus", "033x"}), 2},                       // not an int
                      BadUsage{with({"--vcpus", "4097"}), 2},                       // above KVM's max
                      BadUsage{with({"--vcpus", "1", "--guest-features", "033"}), 2},  // int(x, 0) rejects it
                      BadUsage{with({"--vcpus", "1", "--vcpu-sig", "-1"}), 2},
                      BadUsage{with({"--vcpus", "1", "--vcpu-family", "25"}), 2},   // no model/stepping
                      BadUsage{with({"--vcpus", "1", "--output-format", "b64"}), 2},
                      BadUsage{with({"--vcpus", "1", "--vars-size", "1", "--vars-file", "x"}), 2},
                      BadUsage{with({"--vcpus", "1", "--help=yes"}), 2},            // a flag with a value
                      BadUsage{with({"--vcpus", "1", "--json=1"}), 2},
                      BadUsage{with({"--vcpus", "1", "--vcpu-sig", "0x100000000"}), 2},  // past 32 bits
                      BadUsage{with({"--vcpus", "1", "--guest-features", "0x10000000000000000"}), 2},
                      BadUsage{{"--mode", "sev", "--ovmf", "firmware/fw-kh-1m.bin", "--dump-vmsa"}, 2},
                      BadUsage{{"--mode", "snp:svsm", "--vcpus", "1", "--vcpu-type", "EPYC", "--ovmf",
                                "firmware/svsm-ovmf-192k.bin", "--vars-size", "4096"},
                               2},                                                  // no --svsm
                      BadUsage{with({"--vcpus", "1", "--snp-ovmf-hash", "00 11"}), 1},  // 2 bytes
                      BadUsage{with({"--vcpus", "1", "--snp-ovmf-hash", "0"}), 1},      // odd digits
                      BadUsage{with({"--vcpus", "1", "--kernel", "inputs/missing.bin"}), 1}));
}  // namespace
