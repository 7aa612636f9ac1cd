// snplab: the command-line tool - the RMP walk-through (the README's main job), the hw probe,
// the kernel profiles, the scenario catalogue, launch measurement and report verification.
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#if SNPLAB_HAVE_HW
#include "snp/hw/probe.h"
#endif
#include "snp/model/host/profile.h"
#include "snp/scenarios/measure_cli.h"
#include "snp/scenarios/catalogue.h"
#include "snp/scenarios/report_cli.h"
#include "snp/scenarios/rmp_walkthrough.h"

namespace {

constexpr const char* kUsage =
    "usage: snplab <command> [options]\n"
    "\n"
    "commands:\n"
    "  demo [--kernel rfc-v4|fixed|both]\n"
    "        walk the RMP model through a double assignment and an erroneous revert under\n"
    "        the historical kernel (RFC v4 24/40) and show the fixed kernel stays clean;\n"
    "        exits 0 when the detectors report exactly what each kernel should produce\n"
    "  probe [--json]\n"
    "        ask /dev/kvm and /dev/sev what this host offers (read-only)\n"
    "  measure [sev-snp-measure arguments]\n"
    "        compute the expected launch measurement offline (`snplab measure --help`)\n"
    "  report show FILE | verify FILE (--cert CERT --chain PEM | --certs-dir DIR) [policy] | fetch-url FILE\n"
    "        print an attestation report's fields, verify it against a chain rooted in AMD's keys and a\n"
    "        policy, or name the KDS URL of its VCEK (`snplab report --help`)\n"
    "  scenario list | explain NAME | run NAME [options] | run --all | replay NAME/PROFILE/CHOICES\n"
    "        race scenarios on the simulation engine (`snplab scenario --help`); a race of\n"
    "        one's own: docs/write-a-race.md\n"
    "  profiles [--markdown | --json]\n"
    "        list the simulated host's kernel profiles and what each switches\n"
    "  help  this text; --version: the version\n";

int usage_error(const std::string& msg) {
  std::fprintf(stderr, "snplab: %s\n\n%s", msg.c_str(), kUsage);
  return 2;
}

int run_one(snplab::scenarios::WalkthroughKernel k, std::size_t expect_findings) {
  using snplab::scenarios::WalkthroughKernel;
  const char* name = k == WalkthroughKernel::RfcV4 ? "rfc-v4" : "fixed";
  const char* about = k == WalkthroughKernel::RfcV4
                          ? "RMPUPDATE without the already-assigned check; the LAUNCH_UPDATE error path "
                            "reverts every page of the range"
                          : "upstream: -EEXIST for an assigned page; only pages this call converted are reverted";
  const auto r = snplab::scenarios::run_rmp_walkthrough(k);
  fmt::print("== kernel {}: {}\n{}", name, about, r.log);
  fmt::print("\nfindings: {}\n", r.findings.size());
  for (const auto& f : r.findings) fmt::print("{}\n\n", f.describe());
  const bool ok = r.findings.size() == expect_findings;
  fmt::print("{}: kernel {} {} ({} expected)\n\n", ok ? "OK" : "UNEXPECTED", name,
             r.findings.empty() ? "is clean" : "has findings", expect_findings);
  return ok ? 0 : 1;
}

int cmd_demo(int argc, char** argv) {
  std::string which = "both";
  for (int i = 0; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--kernel" && i + 1 < argc) {
      which = argv[++i];
    } else if (a.rfind("--kernel=", 0) == 0) {
      which = std::string(a.substr(9));
    } else {
      return usage_error(fmt::format("demo: unknown argument '{}'", a));
    }
  }
  using snplab::scenarios::WalkthroughKernel;
  if (which != "rfc-v4" && which != "fixed" && which != "both") {
    return usage_error(fmt::format("demo: --kernel must be rfc-v4, fixed or both, not '{}'", which));
  }
  int rc = 0;
  if (which != "fixed") rc |= run_one(WalkthroughKernel::RfcV4, 2);
  if (which != "rfc-v4") rc |= run_one(WalkthroughKernel::Fixed, 0);
  return rc;
}

int cmd_probe(int argc, char** argv) {
  const bool json = argc == 1 && std::string_view(argv[0]) == "--json";
  if (argc != 0 && !json) return usage_error("probe takes only --json");
#if SNPLAB_HAVE_HW
  auto r = snplab::hw::probe();
  if (!r) {
    fmt::print(stderr, "snplab probe: {}\n", r.error().to_string());
    return 1;
  }
  if (json) {
    // Schema snplab.probe/1 (docs/hw-backend.md).
    nlohmann::json caps = nlohmann::json::array();
    for (const auto& cv : r->caps) {
      caps.push_back({{"name", cv.name}, {"number", cv.number}, {"value", cv.value}, {"errno", cv.errno_value}});
    }
    const auto& sv = r->sev;
    nlohmann::json sev = {{"present", sv.present},
                          {"open_errno", sv.open_errno},
                          {"status_error", sv.status_error ? nlohmann::json(sv.status_error->to_string())
                                                           : nlohmann::json(nullptr)},
                          {"platform_status", nullptr}};
    if (sv.have_status) {
      sev["platform_status"] = {{"api_major", sv.api_major},     {"api_minor", sv.api_minor},
                                {"state", sv.state},             {"build_id", sv.build_id},
                                {"guest_count", sv.guest_count}, {"rmp_initialized", sv.rmp_initialized},
                                {"current_tcb", sv.current_tcb}, {"reported_tcb", sv.reported_tcb}};
    }
    const std::string missing = r->snp_missing();
    const nlohmann::json doc = {
        {"schema", "snplab.probe/1"},
        {"api_version", r->api_version},
        {"vm_types", r->vm_types},
        {"snp_vm_type", r->snp_vm_type},
        {"sev_vmsa_features", r->sev_vmsa_features ? nlohmann::json(*r->sev_vmsa_features) : nlohmann::json(nullptr)},
        {"caps", caps},
        {"sev", sev},
        {"snp_missing", missing.empty() ? nlohmann::json(nullptr) : nlohmann::json(missing)}};
    fmt::print("{}\n", doc.dump(2));
    return 0;
  }
  fmt::print("{}", r->describe());
  return 0;
#else
  fmt::print(stderr, "snplab probe: this snplab was built without the hw backend (SNPLAB_BUILD_HWBACKEND=OFF)\n");
  return 1;
#endif
}

int cmd_profiles(int argc, char** argv) {
  bool markdown = false, json = false;
  for (int i = 0; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--markdown") {
      markdown = true;
    } else if (std::string_view(argv[i]) == "--json") {
      json = true;
    } else {
      return usage_error(fmt::format("profiles: unknown argument '{}'", argv[i]));
    }
  }
  if (markdown && json) return usage_error("profiles: --markdown or --json, not both");
  if (markdown) {
    fmt::print("{}", snplab::model::kvm::profiles_markdown());
    return 0;
  }
  namespace k = snplab::model::kvm;
  if (json) {
    // Schema snplab.profiles/1 (docs/kvm.md).
    nlohmann::json profiles = nlohmann::json::array(), switches = nlohmann::json::array();
    for (const auto& p : k::kernel_profiles()) {
      nlohmann::json on = nlohmann::json::array();
      for (const auto& s : k::kernel_switches()) {
        if (s.on(p)) on.push_back(std::string(s.name));
      }
      profiles.push_back({{"name", std::string(p.name)},
                          {"summary", std::string(p.summary)},
                          {"source", std::string(p.source)},
                          {"certificates", std::string(k::to_string(p.cert_exit))},
                          {"switches", on}});
    }
    for (const auto& s : k::kernel_switches()) {
      switches.push_back({{"name", std::string(s.name)},
                          {"flag", std::string(s.member)},
                          {"kernel_function", std::string(s.kernel_function)},
                          {"model_file", std::string(s.model_file)},
                          {"effect", std::string(s.effect)}});
    }
    const nlohmann::json doc = {{"schema", "snplab.profiles/1"}, {"profiles", profiles}, {"switches", switches}};
    fmt::print("{}\n", doc.dump(2));
    return 0;
  }
  for (const auto& p : k::kernel_profiles()) {
    const std::string on = k::switches_of(p);
    fmt::print("{:<34} {}\n{:<34} switches: {}; certificates: {}\n{:<34} from: {}\n", p.name, p.summary, "",
               on.empty() ? "none" : on, k::to_string(p.cert_exit), "", p.source);
  }
  fmt::print("\nswitches (a profile is a set of them; docs/write-a-race.md adds one):\n");
  for (const auto& s : k::kernel_switches()) {
    fmt::print("{:<34} {} - {} in {}\n", s.name, s.effect, s.kernel_function, s.model_file);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage_error("no command given");
  const std::string_view cmd = argv[1];
  if (cmd == "help" || cmd == "--help" || cmd == "-h") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (cmd == "--version" || cmd == "version") {
    std::printf("snplab %s\n", SNPLAB_VERSION);
    return 0;
  }
  if (cmd == "demo") return cmd_demo(argc - 2, argv + 2);
  if (cmd == "probe") return cmd_probe(argc - 2, argv + 2);
  if (cmd == "profiles") return cmd_profiles(argc - 2, argv + 2);
  if (cmd == "scenario") {
    return snplab::scenarios::scenario_cli(snplab::scenarios::Catalogue::builtin(), "snplab scenario", argc - 2,
                                           argv + 2, stdout, stderr);
  }
  if (cmd == "measure") return snplab::scenarios::measure_main(argc - 2, argv + 2, stdout, stderr);
  if (cmd == "report") return snplab::scenarios::report_main(argc - 2, argv + 2, stdout, stderr);
  return usage_error(fmt::format("unknown command '{}'", cmd));
}
