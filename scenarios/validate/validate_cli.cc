// `snplab validate`: the property suite (validate.h) against a backend, as a table, JSON
// (schema snplab.validate/1) or JUnit XML for CI systems. docs/hw-backend.md, "Validation".
#include "validate_cli.h"

#include <chrono>
#include <fstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli.h"
#include "snp/api/sim_backend.h"
#include "snp/scenarios/trace_out.h"
#include "validate.h"
#if SNPLAB_HAVE_HW
#include "snp/hw/kvm_backend.h"
#include "snp/hw/probe.h"
#include "snp/hw/psp_policy.h"
#endif

namespace snplab::validate {

namespace cli = scenarios::cli;
using scenarios::xml_escape;

namespace {

constexpr std::string_view kProg = "snplab validate";


struct Row {
  const Property* p;
  Outcome o;
};

std::string junit(const std::vector<Row>& rows, const std::string& backend, double seconds) {
  std::size_t failures = 0, skipped = 0;
  for (const Row& r : rows) {
    failures += r.o.status == Outcome::Status::Failed ? 1 : 0;
    skipped += r.o.status == Outcome::Status::Skipped ? 1 : 0;
  }
  std::string x = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  x += fmt::format("<testsuites name=\"snplab validate\" tests=\"{}\" failures=\"{}\" skipped=\"{}\" time=\"{:.3f}\">\n",
                   rows.size(), failures, skipped, seconds);
  x += fmt::format("  <testsuite name=\"snplab.validate.{}\" tests=\"{}\" failures=\"{}\" skipped=\"{}\" time=\"{:.3f}\">\n",
                   backend, rows.size(), failures, skipped, seconds);
  for (const Row& r : rows) {
    x += fmt::format("    <testcase classname=\"snplab.validate.{}\" name=\"{}\" time=\"{:.3f}\"", backend,
                     xml_escape(r.p->name), r.o.seconds);
    if (r.o.status == Outcome::Status::Passed) {
      x += "/>\n";
      continue;
    }
    const std::string first_line = r.o.detail.substr(0, r.o.detail.find('\n'));
    if (r.o.status == Outcome::Status::Skipped) {
      x += fmt::format(">\n      <skipped message=\"{}\"/>\n    </testcase>\n", xml_escape(first_line));
    } else {
      x += fmt::format(">\n      <failure message=\"{}\">{}</failure>\n    </testcase>\n", xml_escape(first_line),
                       xml_escape(r.o.detail));
    }
  }
  x += "  </testsuite>\n</testsuites>\n";
  return x;
}

}  // namespace

int validate_main(int argc, char** argv, std::FILE* out, std::FILE* err) {
  CLI::App app{"Run snplab's property suite against a backend: the real /dev/kvm and /dev/sev (hw), or the simulator "
               "(sim). Read-only on a real host unless --allow-destructive: the destructive /dev/sev commands stay "
               "refused, and the suite issues none of them.",
               std::string(kProg)};
  std::string backend = "hw", junit_file, filter;
  bool allow_destructive = false, json = false;
  std::uint64_t seed = 1, cases = 100;
  app.add_option("--backend", backend, "the backend to validate (default hw)")
      ->check(CLI::IsMember({"hw", "sim"}))
      ->type_name("BACKEND");
  app.add_flag("--allow-destructive", allow_destructive,
               "make the hw backend pass destructive /dev/sev commands (SNP_COMMIT, SNP_SET_CONFIG, ...); prints "
               "which; the suite itself issues none");
  app.add_option("--junit", junit_file, "write JUnit XML to FILE")->type_name("FILE");
  app.add_flag("--json", json, "one JSON document (schema snplab.validate/1)");
  app.add_option("--filter", filter, "run the properties whose name contains P")->type_name("P");
  cli::add_u64(app, "--seed", seed, 0, UINT64_MAX, "the random properties' seed (the same seed, the same cases)");
  cli::add_u64(app, "--cases", cases, 1, 100000, "cases per random property (default 100)");
  app.footer("Exit codes: 0 every property that ran passed (skipped ones name what is missing), 1 one failed, 2 bad "
             "usage. A failure prints its shrunk counter-example; `--filter NAME --seed S` runs it again.");
  if (const auto rc = cli::parse(app, kProg, argc, argv, out, err)) return *rc;

  Context ctx;
  ctx.backend = backend;
  ctx.cases = static_cast<int>(cases);
  ctx.seed = seed;
  ctx.allow_destructive = allow_destructive;
  if (backend == "sim") {
    ctx.make = [] { return api::make_sim_backend(); };
  } else {
#if SNPLAB_HAVE_HW
    hw::KvmBackendOptions options;
    options.allow_destructive = allow_destructive;
    ctx.make = [options] { return hw::make_kvm_backend(options); };
    if (allow_destructive) {
      std::string names;
      for (const auto& c : hw::psp_commands()) {
        if (c.effect == hw::PspEffect::Destructive) names += fmt::format("{}{}", names.empty() ? "" : ", ", c.name);
      }
      fmt::print(err, "{}: --allow-destructive: the hw backend will pass {} and unknown command numbers to /dev/sev; "
                      "this suite issues none of them\n", kProg, names);
    }
    if (auto p = hw::probe()) {
      ctx.snp_missing = p->snp_missing();
    } else {
      ctx.snp_missing = p.error().to_string();
    }
#else
    fmt::print(err, "{}: this snplab was built without the hw backend (SNPLAB_BUILD_HWBACKEND=OFF); use --backend sim\n",
               kProg);
    return cli::kExitUsage;
#endif
  }

  std::vector<Row> rows;
  const auto t0 = std::chrono::steady_clock::now();
  for (const Property& p : properties()) {
    if (!filter.empty() && p.name.find(filter) == std::string::npos) continue;
    const auto s0 = std::chrono::steady_clock::now();
    Outcome o = p.run(ctx);
    o.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - s0).count();
    rows.push_back(Row{&p, std::move(o)});
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (rows.empty()) {
    fmt::print(err, "{}: no property matches --filter '{}'\n", kProg, filter);
    return cli::kExitUsage;
  }
  std::size_t passed = 0, failed = 0, skipped = 0;
  for (const Row& r : rows) {
    passed += r.o.status == Outcome::Status::Passed ? 1 : 0;
    failed += r.o.status == Outcome::Status::Failed ? 1 : 0;
    skipped += r.o.status == Outcome::Status::Skipped ? 1 : 0;
  }
  const int code = failed == 0 ? cli::kExitOk : cli::kExitNo;
  if (!junit_file.empty()) {
    std::ofstream f(junit_file, std::ios::binary | std::ios::trunc);
    const std::string x = junit(rows, backend, seconds);
    if (!f || !f.write(x.data(), static_cast<std::streamsize>(x.size()))) {
      fmt::print(err, "{}: cannot write '{}'\n", kProg, junit_file);
      return cli::kExitUsage;
    }
  }
  if (json) {
    nlohmann::json list = nlohmann::json::array();
    for (const Row& r : rows) {
      list.push_back({{"name", r.p->name},
                      {"summary", r.p->summary},
                      {"status", std::string(to_string(r.o.status))},
                      {"detail", r.o.detail},
                      {"seconds", r.o.seconds},
                      {"replay", r.o.status == Outcome::Status::Failed
                                     ? nlohmann::json(fmt::format("snplab validate --backend {} --filter {} --seed {}",
                                                                  backend, r.p->name, seed))
                                     : nlohmann::json(nullptr)}});
    }
    const nlohmann::json doc = {{"schema", "snplab.validate/1"}, {"backend", backend},   {"seed", seed},
                                {"cases", cases},                {"properties", list},   {"passed", passed},
                                {"failed", failed},              {"skipped", skipped},   {"exit_code", code}};
    fmt::print(out, "{}\n", doc.dump(2));
    return code;
  }
  fmt::print(out, "{:<30} {:<8} {}\n", "property", backend, "detail");
  for (const Row& r : rows) {
    const std::string detail = r.o.status == Outcome::Status::Passed ? r.p->summary : r.o.detail;
    fmt::print(out, "{:<30} {:<8} {}\n", r.p->name, to_string(r.o.status), detail.substr(0, detail.find('\n')));
    if (r.o.status == Outcome::Status::Failed) {
      fmt::print(out, "{}\n  replay: snplab validate --backend {} --filter {} --seed {}\n", r.o.detail, backend,
                 r.p->name, seed);
    }
  }
  fmt::print(out, "\n{} passed, {} failed, {} skipped ({:.2f} s, seed {})\n", passed, failed, skipped, seconds, seed);
  return code;
}

}  // namespace snplab::validate
