// snplab: the command-line tool - the RMP walk-through (the README's main job), the hw probe,
// the kernel profiles, the scenario catalogue, launch measurement and report verification.
// Invoked through a symlink named sev-snp-measure, it is `snplab measure`.
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>
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

#include "cli.h"
#if SNPLAB_HAVE_VALIDATE
#include "validate_cli.h"
#endif

namespace {

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

int cmd_demo(const std::string& which) {
  using snplab::scenarios::WalkthroughKernel;
  int rc = 0;
  if (which != "fixed") rc |= run_one(WalkthroughKernel::RfcV4, 2);
  if (which != "rfc-v4") rc |= run_one(WalkthroughKernel::Fixed, 0);
  return rc;
}

int cmd_probe(bool json) {
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
    const auto& cpu = r->cpu;
    nlohmann::json cpu_json = {{"vendor", cpu.vendor},
                               {"signature", cpu.signature},
                               {"hypervisor", cpu.hypervisor ? nlohmann::json(cpu.hypervisor_vendor) : nlohmann::json(nullptr)},
                               {"fn8000_001f", nullptr}};
    if (cpu.has_8000001f) {
      cpu_json["fn8000_001f"] = {{"eax", cpu.eax_8000001f}, {"ebx", cpu.ebx_8000001f}, {"ecx", cpu.ecx_8000001f},
                                 {"edx", cpu.edx_8000001f}, {"sme", cpu.sme()},        {"sev", cpu.sev()},
                                 {"sev_es", cpu.sev_es()},  {"snp", cpu.snp()},        {"c_bit", cpu.c_bit()},
                                 {"vmpls", cpu.vmpls()}};
    }
    nlohmann::json features = nlohmann::json::array();
    for (const auto& f : r->features()) {
      features.push_back({{"name", f.name}, {"available", f.available}, {"detail", f.detail}});
    }
    const nlohmann::json doc = {
        {"schema", "snplab.probe/1"},
        {"cpu", cpu_json},
        {"kvm_modules", r->modules.loaded},
        {"kvm_amd_parameters", r->modules.kvm_amd},
        {"features", features},
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

int cmd_profiles(bool markdown, bool json) {
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
  namespace sc = snplab::scenarios;
  // Invoked as sev-snp-measure (a symlink to snplab): sev-snp-measure's command line as is.
  const std::string_view self = argc > 0 && argv[0] != nullptr ? std::string_view(argv[0]) : std::string_view();
  if (self.substr(self.rfind('/') == std::string_view::npos ? 0 : self.rfind('/') + 1) == "sev-snp-measure") {
    return sc::measure_main(argc - 1, argv + 1, stdout, stderr);
  }
  // Commands with a parser of their own get their arguments as typed.
  if (argc >= 2) {
    const std::string_view cmd = argv[1];
    if (cmd == "scenario") return sc::scenario_cli(sc::Catalogue::builtin(), "snplab scenario", argc - 2, argv + 2, stdout, stderr);
    if (cmd == "measure") return sc::measure_main(argc - 2, argv + 2, stdout, stderr);
    if (cmd == "report") return sc::report_main(argc - 2, argv + 2, stdout, stderr);
#if SNPLAB_HAVE_VALIDATE
    if (cmd == "validate") return snplab::validate::validate_main(argc - 2, argv + 2, stdout, stderr);
#endif
  }
  CLI::App app{"snplab: a laboratory for AMD SEV-SNP host software - the RMP, the PSP firmware and KVM's SNP host "
               "side modelled, race scenarios explored on the simulator, the real ioctls on /dev/kvm and /dev/sev.",
               "snplab"};
  app.set_version_flag("--version", std::string("snplab ") + SNPLAB_VERSION, "print the version and exit");
  app.require_subcommand(1);
  app.footer("Exit codes (docs/cli.md): 0 done and the expectation held, 1 the answer is no, 2 bad usage or input, "
             "3 (scenario) nondeterminism. `snplab COMMAND --help` for a command's options.");

  std::string kernel = "both";
  auto* demo = app.add_subcommand("demo", "walk the RMP model through a double assignment and an erroneous revert under "
                                          "the historical kernel (RFC v4 24/40) and the fixed one; exits 0 when the "
                                          "detectors report exactly what each kernel should produce");
  demo->add_option("--kernel", kernel, "which kernel to walk through")
      ->check(CLI::IsMember({"rfc-v4", "fixed", "both"}))
      ->type_name("rfc-v4|fixed|both");
  bool probe_json = false;
  auto* probe = app.add_subcommand("probe", "ask /dev/kvm and /dev/sev what this host offers (read-only)");
  probe->add_flag("--json", probe_json, "one JSON document (schema snplab.probe/1)");
  bool markdown = false, profiles_json = false;
  auto* profiles = app.add_subcommand("profiles", "list the simulated host's kernel profiles and what each switches");
  auto* md = profiles->add_flag("--markdown", markdown, "the table docs/kvm.md embeds");
  profiles->add_flag("--json", profiles_json, "one JSON document (schema snplab.profiles/1)")->excludes(md);
  // Listed for the help text; parsed by their own parsers above.
  app.add_subcommand("scenario", "race scenarios on the simulation engine: list, explain, run, replay "
                                 "(`snplab scenario --help`; a race of one's own: docs/write-a-race.md)")
      ->allow_extras();
  app.add_subcommand("measure", "the expected launch measurement, offline, with sev-snp-measure's arguments "
                                "(`snplab measure --help`)")
      ->allow_extras();
  app.add_subcommand("report", "attestation reports: show, verify against AMD's roots and a policy, fetch-url, "
                               "simulate (`snplab report --help`)")
      ->allow_extras();
#if SNPLAB_HAVE_VALIDATE
  app.add_subcommand("validate", "run the property suite against the real /dev/kvm and /dev/sev or the simulator; a "
                                 "table, --json or --junit FILE (`snplab validate --help`)")
      ->allow_extras();
#endif

  if (argc >= 2 && argv[1][0] != '-' && std::string_view(argv[1]) != "help" && std::string_view(argv[1]) != "version") {
    try {
      (void)app.get_subcommand(argv[1]);
    } catch (const CLI::OptionNotFound&) {
      fmt::print(stderr, "snplab: unknown command '{}'\nRun 'snplab --help' for the commands.\n", argv[1]);
      return sc::cli::kExitUsage;
    }
  }
  if (const auto rc = sc::cli::parse(app, "snplab", argc - 1, argv + 1, stdout, stderr)) return *rc;
  if (demo->parsed()) return cmd_demo(kernel);
  if (probe->parsed()) return cmd_probe(probe_json);
  return cmd_profiles(markdown, profiles_json);
}
