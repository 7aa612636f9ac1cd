// Real SEV-SNP attestation reports (../shared/vectors/reports): one parameterised case per
// sets.json entry, checked through the library (parse + verify_report) and through the
// `snplab report` command (report_main), for the verdict and for every extracted fact.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "snp/model/attest/attestation.h"
#include "snp/model/crypto/crypto.h"
#include "snp/model/attest/report_verify.h"
#include "snp/model/attest/x509.h"
#include "snp/scenarios/report_cli.h"

namespace snplab::model {
namespace {

std::string shared_dir() {
  if (const char* env = std::getenv("SNPLAB_SHARED_DIR"); env != nullptr && *env != '\0') return env;
  return SNPLAB_SHARED_DIR;
}

std::string reports_dir() { return shared_dir() + "/vectors/reports"; }

std::vector<std::uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// One sets.json entry.
struct VectorCase {
  std::string id;
  nlohmann::json j;
};

std::vector<VectorCase> load_cases() {
  std::ifstream in(reports_dir() + "/sets.json");
  if (!in) return {};
  const auto all = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  std::vector<VectorCase> out;
  if (!all.is_array()) return out;
  for (const auto& c : all) out.push_back({c.value("id", std::string("?")), c});
  return out;
}

/// gtest names allow [A-Za-z0-9_] only.
std::string test_name(const std::string& id) {
  std::string s;
  for (char c : id) s += (std::isalnum(static_cast<unsigned char>(c)) != 0) ? c : '_';
  return s;
}

/// The checks each known-bad case must fail, exactly (names from report_verify.h).
const std::map<std::string, std::set<std::string>>& expected_failures() {
  static const std::map<std::string, std::set<std::string>> k{
      {"bad/virtee-sev_report_b21", {"report.signature"}},
      {"bad/virtee-sev_vcek_b40", {"chain.ask_signs_vcek"}},
      {"bad/trustee_report_b42", {"report.signature"}},
      {"bad/trustee_report_b384_tcb", {"report.signature", "report.reported_tcb"}},
      // A VCEK that is not AMD-signed, from another "chip" (hwID 00 01 02 ..) and another TCB.
      {"bad/trustee_vcek_invalid_legacy",
       {"chain.ask_signs_vcek", "report.signature", "report.chip_id", "report.reported_tcb"}},
      {"bad/report_sigR_0x2a0", {"report.signature"}},
      {"bad/teekit_version0", {"report.version", "report.signature"}},
  };
  return k;
}

/// "file@N" -> (path, N).
std::pair<std::string, std::optional<std::size_t>> split_report(const std::string& spec) {
  const auto at = spec.rfind('@');
  if (at == std::string::npos) return {spec, std::nullopt};
  return {spec.substr(0, at), static_cast<std::size_t>(std::stoul(spec.substr(at + 1)))};
}

std::string policy_hex(std::uint64_t p) { return fmt::format("0x{:x}", p); }

UnixTime now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class ReportVector : public ::testing::TestWithParam<VectorCase> {
 protected:
  void SetUp() override {
    const auto& j = GetParam().j;
    const auto [path, offset] = split_report(j.at("report").get<std::string>());
    auto bytes = extract_report_bytes(read_bytes(reports_dir() + "/" + path), offset);
    ASSERT_TRUE(bytes.has_value()) << bytes.error().message;
    raw_ = *bytes;
    auto leafs = Certificate::parse_all(read_bytes(reports_dir() + "/" + j.at("vek").get<std::string>()));
    ASSERT_TRUE(leafs.has_value()) << leafs.error().message;
    leaf_ = leafs->front();
    for (const auto& c : j.at("chain")) {
      auto certs = Certificate::parse_all(read_bytes(reports_dir() + "/" + c.get<std::string>()));
      ASSERT_TRUE(certs.has_value()) << c << ": " << certs.error().message;
      chain_.insert(chain_.end(), certs->begin(), certs->end());
    }
    // Verify inside the leaf's window (a day after it starts): the verdict then depends on
    // the bytes only, not on when the test runs.
    inside_ = leaf_->not_before() + 86400;
  }

  bool expected_good() const { return GetParam().j.at("expected_good").get<bool>(); }
  std::string fact(const char* key) const { return GetParam().j.at(key).get<std::string>(); }

  std::array<std::uint8_t, kReportSize> raw_{};
  std::optional<Certificate> leaf_;
  std::vector<Certificate> chain_;
  UnixTime inside_ = 0;
};

// --- Through the library ---------------------------------------------------------------------

TEST_P(ReportVector, Library_ParsedFacts_MatchSetsJson) {
  const auto& j = GetParam().j;
  const auto r = parse_attestation_report(raw_);
  ASSERT_TRUE(r.has_value()) << r.error().message;

  EXPECT_EQ(r->version, j.at("report_version").get<std::uint32_t>());
  EXPECT_EQ(r->vmpl, j.at("vmpl").get<std::uint32_t>());
  ASSERT_TRUE(r->signing_key().has_value());
  EXPECT_EQ(to_string(*r->signing_key()), fact("signing_key"));
  EXPECT_EQ(policy_hex(r->policy), fact("policy"));
  EXPECT_EQ(tcb_hex(r->reported_tcb), fact("reported_tcb"));
  EXPECT_EQ(to_hex(r->measurement), fact("measurement"));
  EXPECT_EQ(to_hex(r->report_data), fact("report_data"));
  // The codec is lossless whatever the version.
  EXPECT_EQ(r->to_bytes(), raw_);
}

TEST_P(ReportVector, Library_CertificateFacts_MatchSetsJson) {
  const auto& j = GetParam().j;
  const auto ext = leaf_->amd_extensions();
  ASSERT_TRUE(ext.has_value()) << ext.error().message;
  ASSERT_TRUE(ext->product_name.has_value());
  EXPECT_EQ(*ext->product_name, fact("product_from_vek"));
  EXPECT_EQ(leaf_->subject_cn(), fact("vek_cn"));
  EXPECT_EQ(format_utc(leaf_->not_before()), j.at("vek_validity")[0].get<std::string>());
  EXPECT_EQ(format_utc(leaf_->not_after()), j.at("vek_validity")[1].get<std::string>());

  const auto v = verify_report(raw_, *leaf_, chain_, inside_);
  ASSERT_GE(v.chain.size(), 2u) << v.failure_summary();
  EXPECT_EQ(v.chain[1].cert.subject_cn(), fact("ask_cn"));
  EXPECT_EQ(v.leaf_kind == LeafKind::Vlek ? "VLEK" : "VCEK", fact("signing_key"));
}

TEST_P(ReportVector, Library_VerifyInsideWindow_GivesExpectedVerdict) {
  const auto v = verify_report(raw_, *leaf_, chain_, inside_);
  std::string log;
  for (const auto& c : v.checks) log += fmt::format("  {} {}: {}\n", to_string(c.status), c.name, c.message);

  EXPECT_EQ(v.ok(), expected_good()) << log;
  EXPECT_EQ(v.checks.size(), 14u);
  if (expected_good()) {
    EXPECT_TRUE(v.failures().empty()) << log;
    // Anchored in AMD's pinned root for the report's product, with no option given.
    ASSERT_TRUE(v.trusted_root.has_value());
    EXPECT_EQ(v.trusted_root->name, "AMD ARK-" + std::string(to_string(v.product)));
    return;
  }
  std::set<std::string> failed;
  for (const auto* f : v.failures()) failed.insert(f->name);
  const auto it = expected_failures().find(GetParam().id);
  if (it != expected_failures().end()) {
    EXPECT_EQ(failed, it->second) << log;
  } else {
    EXPECT_FALSE(failed.empty()) << log;
  }
  // The summary names the failing check.
  for (const auto& name : failed) EXPECT_NE(v.failure_summary().find(name), std::string::npos);
}

TEST_P(ReportVector, Library_VerifyNow_RejectsExactlyWhenACertificateIsOutOfDate) {
  const UnixTime now = now_seconds();
  const auto v = verify_report(raw_, *leaf_, chain_, now);
  bool all_current = true;
  for (const auto& role : v.chain) all_current = all_current && role.cert.valid_at(now);

  EXPECT_EQ(v.ok(), expected_good() && all_current) << v.failure_summary();
  if (GetParam().id == "trustee/milan-vlek") {
    // README: the trustee VLEK expired on 2025-12-10; "now" must reject it and say so.
    ASSERT_FALSE(v.ok());
    const auto* c = v.find(CheckId::ValidityLeaf);
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(c->status, CheckStatus::Fail);
    EXPECT_EQ(c->name, "validity.vlek");
    EXPECT_NE(c->message.find("expired"), std::string::npos) << c->message;
    EXPECT_EQ(v.failures().size(), 1u) << v.failure_summary();
  }
}

// --- Through `snplab report` -----------------------------------------------------------------

struct CliRun {
  int rc = -1;
  std::string out;
  std::string err;
};

std::string slurp(std::FILE* f) {
  std::rewind(f);
  std::string s;
  char buf[4096];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, n);
  return s;
}

CliRun run_cli(std::vector<std::string> args) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  std::FILE* out = std::tmpfile();
  std::FILE* err = std::tmpfile();
  CliRun r;
  if (out == nullptr || err == nullptr) return r;
  r.rc = scenarios::report_main(static_cast<int>(argv.size()), argv.data(), out, err);
  std::fflush(out);
  std::fflush(err);
  r.out = slurp(out);
  r.err = slurp(err);
  std::fclose(out);
  std::fclose(err);
  return r;
}

/// The value of "KEY    : value" in `report show` output.
std::string field(const std::string& text, const std::string& key) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t end = text.find('\n', pos);
    const std::string line = text.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
    const auto colon = line.find(" : ");
    if (colon != std::string::npos && line.compare(0, key.size(), key) == 0 &&
        line.find_first_not_of(' ', key.size()) == colon + 1) {
      return line.substr(colon + 3);
    }
    if (end == std::string::npos) break;
    pos = end + 1;
  }
  return "<no " + key + " line>";
}

std::vector<std::string> verify_args(const nlohmann::json& j) {
  std::vector<std::string> a{"verify", reports_dir() + "/" + j.at("report").get<std::string>(), "--cert",
                             reports_dir() + "/" + j.at("vek").get<std::string>()};
  for (const auto& c : j.at("chain")) {
    a.push_back("--chain");
    a.push_back(reports_dir() + "/" + c.get<std::string>());
  }
  return a;
}

TEST_P(ReportVector, Cli_Show_PrintsTheFactsByName) {
  const auto& j = GetParam().j;
  const auto r = run_cli({"show", reports_dir() + "/" + j.at("report").get<std::string>()});
  ASSERT_EQ(r.rc, 0) << r.err;

  EXPECT_EQ(field(r.out, "VERSION").substr(0, 1), std::to_string(j.at("report_version").get<int>()));
  EXPECT_EQ(field(r.out, "VMPL"), std::to_string(j.at("vmpl").get<int>()));
  EXPECT_EQ(field(r.out, "POLICY").substr(0, fact("policy").size() + 1), fact("policy") + " ");
  EXPECT_EQ(field(r.out, "REPORTED_TCB").substr(0, 16), fact("reported_tcb"));
  EXPECT_EQ(field(r.out, "MEASUREMENT"), fact("measurement"));
  EXPECT_EQ(field(r.out, "REPORT_DATA"), fact("report_data"));
  EXPECT_NE(field(r.out, "KEY_INFO").find("SIGNING_KEY=" + fact("signing_key")), std::string::npos);
  for (const char* name : {"GUEST_SVN", "FAMILY_ID", "IMAGE_ID", "SIGNATURE_ALGO", "CURRENT_TCB", "PLATFORM_INFO",
                           "HOST_DATA", "ID_KEY_DIGEST", "AUTHOR_KEY_DIGEST", "REPORT_ID", "REPORT_ID_MA", "CHIP_ID",
                           "COMMITTED_TCB", "LAUNCH_TCB", "SIGNATURE_R (LE)", "SIGNATURE_S (LE)"}) {
    EXPECT_EQ(field(r.out, name).find("<no "), std::string::npos) << name << " missing:\n" << r.out;
  }
}

TEST_P(ReportVector, Cli_VerifyAtTimeInsideWindow_ExitsWithVerdictAndNamesFailures) {
  const auto& j = GetParam().j;
  auto args = verify_args(j);
  args.push_back("--at");
  args.push_back(fmt::format("{}Z", format_utc(inside_)).replace(10, 1, "T"));
  const auto r = run_cli(args);

  EXPECT_EQ(r.rc, expected_good() ? 0 : 1) << r.out << r.err;
  EXPECT_NE(r.out.find("CN=" + fact("vek_cn") + ","), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("CN=" + fact("ask_cn") + ","), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("productName " + fact("product_from_vek") + ";"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(fmt::format("valid {} .. {} UTC", j.at("vek_validity")[0].get<std::string>(),
                                   j.at("vek_validity")[1].get<std::string>())),
            std::string::npos)
      << r.out;
  if (expected_good()) {
    EXPECT_NE(r.out.find("verdict: VALID"), std::string::npos);
    EXPECT_NE(r.out.find("root  AMD ARK-"), std::string::npos) << r.out;
    EXPECT_TRUE(r.err.empty()) << r.err;
    return;
  }
  EXPECT_NE(r.out.find("verdict: INVALID"), std::string::npos);
  const auto it = expected_failures().find(GetParam().id);
  if (it != expected_failures().end()) {
    for (const auto& name : it->second) {
      EXPECT_NE(r.err.find("FAILED " + name + ":"), std::string::npos) << name << " not named in:\n" << r.err;
    }
  } else {
    EXPECT_NE(r.err.find("FAILED "), std::string::npos) << r.err;
  }
}

TEST_P(ReportVector, Cli_VerifyNow_AgreesWithTheLibrary) {
  const auto& j = GetParam().j;
  const auto r = run_cli(verify_args(j));
  const auto v = verify_report(raw_, *leaf_, chain_, now_seconds());

  EXPECT_EQ(r.rc, v.ok() ? 0 : 1) << r.out << r.err;
  EXPECT_NE(r.out.find("(now)"), std::string::npos);
  if (GetParam().id == "trustee/milan-vlek") {
    EXPECT_EQ(r.rc, 1);
    EXPECT_NE(r.err.find("FAILED validity.vlek: VLEK 'SEV-VLEK' expired at 2025-12-10 22:14:21 UTC"),
              std::string::npos)
        << r.err;
  }
}

std::string at_inside(UnixTime t) { return fmt::format("{}Z", format_utc(t)).replace(10, 1, "T"); }

TEST_P(ReportVector, Cli_VerifyPolicy_PassesTheReportsOwnFacts_FailsAnotherMeasurement) {
  if (!expected_good()) GTEST_SKIP() << "a report that fails verification fails with any policy";
  const auto& j = GetParam().j;
  auto args = verify_args(j);
  args.insert(args.end(), {"--at", at_inside(inside_), "--measurement", fact("measurement"), "--report-data",
                           fact("report_data"), "--vmpl", std::to_string(j.at("vmpl").get<int>()), "--policy",
                           fact("policy"), "--policy-require", fact("policy"), "--min-tcb", fact("reported_tcb")});
  const auto ok = run_cli(args);
  EXPECT_EQ(ok.rc, 0) << ok.out << ok.err;
  for (const char* name : {"policy.measurement", "policy.report_data", "policy.vmpl", "policy.guest_policy",
                           "policy.min_tcb"}) {
    EXPECT_NE(ok.out.find(fmt::format("PASS {}:", name)), std::string::npos) << name << "\n" << ok.out;
  }
  std::string other = fact("measurement");
  other[0] = other[0] == '0' ? '1' : '0';
  auto bad = verify_args(j);
  bad.insert(bad.end(), {"--at", at_inside(inside_), "--measurement", other, "--vmpl", "3"});
  const auto no = run_cli(bad);
  EXPECT_EQ(no.rc, 1);
  EXPECT_NE(no.err.find("FAILED policy.measurement: MEASUREMENT is " + fact("measurement") + ", expected " + other),
            std::string::npos)
      << no.err;
  EXPECT_NE(no.err.find("FAILED policy.vmpl"), std::string::npos) << no.err;
  EXPECT_NE(no.out.find("PASS report.signature"), std::string::npos) << "the report itself still verifies";
}

TEST_P(ReportVector, Cli_ShowJson_HoldsTheFacts) {
  const auto& j = GetParam().j;
  const auto r = run_cli({"show", reports_dir() + "/" + j.at("report").get<std::string>(), "--json"});
  ASSERT_EQ(r.rc, 0) << r.err;
  const auto doc = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_TRUE(doc.is_object()) << r.out;
  EXPECT_EQ(doc.at("schema"), "snplab.report.show/1");
  const auto& f = doc.at("fields");
  EXPECT_EQ(f.at("MEASUREMENT"), fact("measurement"));
  EXPECT_EQ(f.at("REPORT_DATA"), fact("report_data"));
  EXPECT_EQ(f.at("VMPL"), j.at("vmpl").get<int>());
  EXPECT_EQ(f.at("VERSION"), j.at("report_version").get<int>());
  EXPECT_EQ(fmt::format("0x{:x}", f.at("POLICY").at("value").get<std::uint64_t>()), fact("policy"));
  EXPECT_EQ(f.at("REPORTED_TCB").at("hex"), fact("reported_tcb"));
  EXPECT_EQ(f.at("KEY_INFO").at("signing_key"), fact("signing_key"));
}

TEST_P(ReportVector, Cli_VerifyJson_GivesTheVerdictAndEveryCheck) {
  auto args = verify_args(GetParam().j);
  args.insert(args.end(), {"--at", at_inside(inside_), "--json"});
  const auto r = run_cli(args);
  EXPECT_EQ(r.rc, expected_good() ? 0 : 1);
  const auto doc = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_TRUE(doc.is_object()) << r.out;
  EXPECT_EQ(doc.at("schema"), "snplab.report.verify/1");
  EXPECT_EQ(doc.at("verdict"), expected_good() ? "VALID" : "INVALID");
  std::set<std::string> names;
  for (const auto& c : doc.at("checks")) {
    names.insert(c.at("name").get<std::string>());
    EXPECT_TRUE(c.at("status") == "PASS" || c.at("status") == "FAIL" || c.at("status") == "SKIP") << c;
  }
  for (const char* n : {"report.format", "chain.ark_trusted", "report.signature", "report.reported_tcb"}) {
    EXPECT_EQ(names.count(n), 1U) << n;
  }
  if (expected_good()) {
    EXPECT_TRUE(doc.at("root").is_object()) << doc.dump();
  }
  EXPECT_EQ(doc.at("time_from"), "--at");
}

TEST_P(ReportVector, Cli_FetchUrl_NamesTheVcekThatSignsTheReport) {
  const auto& j = GetParam().j;
  const std::string report = reports_dir() + "/" + j.at("report").get<std::string>();
  const std::string product = fact("product_from_vek").substr(0, fact("product_from_vek").find('-'));
  std::string lower = product;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const auto r = run_cli({"fetch-url", report, "--product", lower});
  if (fact("signing_key") != "VCEK") {
    EXPECT_EQ(r.rc, 1) << r.out;
    EXPECT_NE(r.err.find("not a VCEK"), std::string::npos) << r.err;
    return;
  }
  ASSERT_EQ(r.rc, 0) << r.err;
  // What KDS certified is in the VCEK itself: its hwID and TCB extensions.
  const auto ext = leaf_->amd_extensions();
  ASSERT_TRUE(ext.has_value());
  ASSERT_TRUE(ext->hwid.has_value());
  const TcbParts t = ext->tcb_parts();
  std::string want = fmt::format("https://kdsintf.amd.com/vcek/v1/{}/{}?", product, to_hex(*ext->hwid));
  if (product == "Turin") want += fmt::format("fmcSPL={:02}&", t.fmc);
  want += fmt::format("blSPL={:02}&teeSPL={:02}&snpSPL={:02}&ucodeSPL={:02}\n", t.boot_loader, t.tee, t.snp, t.microcode);
  if (!expected_good()) {
    // A tampered report may name another chip or TCB; the URL's form is still KDS's.
    EXPECT_EQ(r.out.rfind(fmt::format("https://kdsintf.amd.com/vcek/v1/{}/", product), 0), 0U) << r.out;
    EXPECT_NE(r.out.find("blSPL="), std::string::npos) << r.out;
    return;
  }
  EXPECT_EQ(r.out, want);
}

INSTANTIATE_TEST_SUITE_P(SetsJson, ReportVector, ::testing::ValuesIn(load_cases()),
                         [](const auto& param_info) { return test_name(param_info.param.id); });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(ReportVector);

TEST(ReportVectors, SetsJson_IsPresent_AndListsEveryFolder) {
  const auto cases = load_cases();
  ASSERT_FALSE(cases.empty()) << "no cases read from " << reports_dir() << "/sets.json (set SNPLAB_SHARED_DIR)";
  std::size_t good = 0;
  std::size_t bad = 0;
  for (const auto& c : cases) (c.j.at("expected_good").get<bool>() ? good : bad)++;
  EXPECT_GE(good, 8u);
  EXPECT_GE(bad, 7u);
}

// The one case README.md singles out: expired now, valid "at" a time inside its window, and
// `snplab report verify --at` accepts it.
TEST(ReportVectors, TrusteeVlek_AtInsideWindow_Accepted_AfterExpiry_RejectedAsExpired) {
  const std::string d = reports_dir() + "/trustee/";
  const std::vector<std::string> base{"verify", d + "test-vlek-report.bin", "--cert", d + "test-vlek.der", "--chain",
                                      d + "milan_ask_ark_asvk.pem"};
  auto inside = base;
  inside.insert(inside.end(), {"--at", "2025-06-01T00:00:00Z"});
  const auto ok = run_cli(inside);
  EXPECT_EQ(ok.rc, 0) << ok.out << ok.err;

  auto after = base;
  after.insert(after.end(), {"--at", "2025-12-10T22:14:22Z"});
  const auto expired = run_cli(after);
  EXPECT_EQ(expired.rc, 1);
  EXPECT_NE(expired.err.find("validity.vlek"), std::string::npos) << expired.err;
  EXPECT_NE(expired.err.find("expired"), std::string::npos) << expired.err;

  auto before = base;
  before.insert(before.end(), {"--at", "2024-12-10T22:14:20Z"});
  const auto early = run_cli(before);
  EXPECT_EQ(early.rc, 1);
  EXPECT_NE(early.err.find("not yet valid"), std::string::npos) << early.err;
}

// The pins in amd_roots() are AMD's ARK keys as the vectors' chains carry them.
TEST(ReportVectors, AmdRootPins_AreTheKeysOfTheRealArks) {
  for (const auto& [file, product] : {std::pair<const char*, Product>{"/oak/ark_milan.pem", Product::Milan},
                                      std::pair<const char*, Product>{"/oak/ark_genoa.pem", Product::Genoa}}) {
    const auto certs = Certificate::parse_all(read_bytes(reports_dir() + file));
    ASSERT_TRUE(certs.has_value()) << file;
    const auto key = sha256(certs->front().public_key_der());
    bool found = false;
    for (const auto& root : amd_roots()) {
      if (root.product != product) continue;
      EXPECT_EQ(to_hex(root.spki_sha256), to_hex(key)) << file;
      EXPECT_EQ(root.name, "AMD " + certs->front().subject_cn());
      found = true;
    }
    EXPECT_TRUE(found) << file;
  }
}

// A real chain is anchored in AMD's pinned Milan root and the output says so; an extra --ark
// adds a root without displacing AMD's; an --ark file that cannot be read is an error.
TEST(ReportVectors, Cli_RealChain_AnchoredInAmdMilan_ExtraArkAdded_MissingArkFileRefused) {
  const std::string d = reports_dir();
  const std::vector<std::string> base{"verify", d + "/trustee/test-report.bin", "--cert", d + "/trustee/test-vcek.der",
                                      "--chain", d + "/trustee/milan_ask_ark_asvk.pem", "--at",
                                      "2025-01-01T00:00:00Z"};
  const auto ok = run_cli(base);
  EXPECT_EQ(ok.rc, 0) << ok.err;
  EXPECT_NE(ok.out.find("PASS chain.ark_trusted: ARK key sha256 9f056bee44377e29... is AMD ARK-Milan"),
            std::string::npos)
      << ok.out;
  auto with_user_root = base;
  with_user_root.insert(with_user_root.end(), {"--ark", d + "/oak/ark_genoa.pem"});
  const auto still = run_cli(with_user_root);
  EXPECT_EQ(still.rc, 0) << "an extra root does not displace AMD's: " << still.err;
  const auto missing = run_cli({"verify", d + "/trustee/test-report.bin", "--cert", d + "/trustee/test-vcek.der",
                                "--chain", d + "/trustee/milan_ask_ark_asvk.pem", "--ark", d + "/no-such.pem"});
  EXPECT_EQ(missing.rc, 2) << "an input error decides nothing";
  EXPECT_NE(missing.err.find("cannot read"), std::string::npos) << missing.err;
}

TEST(ReportVectors, Cli_UsageErrors_ExitTwo) {
  const std::string d = reports_dir() + "/trustee/";
  EXPECT_EQ(run_cli({}).rc, 2);
  EXPECT_EQ(run_cli({"frob"}).rc, 2);
  EXPECT_EQ(run_cli({"show"}).rc, 2);
  EXPECT_EQ(run_cli({"show", "a", "b"}).rc, 2);
  EXPECT_EQ(run_cli({"show", d + "test-report.bin", "--product", "naples"}).rc, 2);
  EXPECT_EQ(run_cli({"verify", d + "test-report.bin"}).rc, 2);
  EXPECT_EQ(run_cli({"verify", d + "test-report.bin", "--cert", d + "test-vcek.der"}).rc, 2);
  EXPECT_EQ(run_cli({"verify", d + "test-report.bin", "--cert"}).rc, 2);
  const auto bad_time = run_cli({"verify", d + "test-report.bin", "--cert", d + "test-vcek.der", "--chain",
                                 d + "milan_ask_ark_asvk.pem", "--at", "yesterday"});
  EXPECT_EQ(bad_time.rc, 2);
  EXPECT_NE(bad_time.err.find("--at"), std::string::npos);
  EXPECT_EQ(run_cli({"verify", d + "test-report.bin", "--bogus"}).rc, 2);
  EXPECT_EQ(run_cli({"help"}).rc, 0);
}

TEST(ReportVectors, Cli_BadInputs_ExitTwoWithAReason) {
  const std::string d = reports_dir() + "/trustee/";
  const auto missing = run_cli({"show", d + "no-such-file.bin"});
  EXPECT_EQ(missing.rc, 2);
  EXPECT_NE(missing.err.find("cannot read"), std::string::npos);

  const auto wrong_size = run_cli({"show", d + "hcl-report.bin"});
  EXPECT_EQ(wrong_size.rc, 2);
  EXPECT_NE(wrong_size.err.find("FILE@OFFSET"), std::string::npos) << wrong_size.err;

  const auto past_end = run_cli({"show", d + "hcl-report.bin@2000"});
  EXPECT_EQ(past_end.rc, 2);
  EXPECT_NE(past_end.err.find("does not fit"), std::string::npos) << past_end.err;

  const auto hex_offset = run_cli({"show", d + "hcl-report.bin@0x20"});
  EXPECT_EQ(hex_offset.rc, 0) << hex_offset.err;

  const auto garbage_cert = run_cli({"verify", d + "test-report.bin", "--cert", d + "test-report.bin", "--chain",
                                     d + "milan_ask_ark_asvk.pem"});
  EXPECT_EQ(garbage_cert.rc, 2);
  EXPECT_NE(garbage_cert.err.find("not a DER certificate"), std::string::npos) << garbage_cert.err;

  // A chain without the ASK: the chain checks fail by name.
  const auto no_ask = run_cli({"verify", d + "test-report.bin", "--cert", d + "test-vcek.der", "--chain",
                               d + "test-vlek.der", "--at", "2025-01-01T00:00:00Z"});
  EXPECT_EQ(no_ask.rc, 1);
  EXPECT_NE(no_ask.err.find("FAILED chain.ask_signs_vcek"), std::string::npos) << no_ask.err;
}

TEST(ReportVectors, Cli_ShowProductOverride_DecodesTcbWithThatLayout) {
  const std::string f = reports_dir() + "/trustee/test-report.bin";
  const auto milan = run_cli({"show", f, "--product", "milan"});
  ASSERT_EQ(milan.rc, 0);
  EXPECT_EQ(field(milan.out, "REPORTED_TCB"), "0300000000000873 (BOOT_LOADER=3 TEE=0 SNP=8 MICROCODE=115)");
  EXPECT_EQ(field(milan.out, "PRODUCT"), "Milan (--product)");
  const auto turin = run_cli({"show", f, "--product", "turin"});
  ASSERT_EQ(turin.rc, 0);
  EXPECT_EQ(field(turin.out, "REPORTED_TCB"),
            "0300000000000873 (FMC=3 BOOT_LOADER=0 TEE=0 SNP=0 MICROCODE=115 reserved[spl_7]=8)");
}

}  // namespace
}  // namespace snplab::model
