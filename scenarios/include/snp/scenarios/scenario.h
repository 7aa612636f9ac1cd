// The scenario API: a race is a Scenario - what it says about itself (ScenarioInfo) and a
// set-up that builds the state every schedule starts from and returns the schedule body.
// The engine runs the body once per schedule; `explore()` (explore.h) and `scenario_main()`
// (catalogue.h) run any Scenario, the built-in ones and a user's own alike.
// docs/write-a-race.md walks through writing one.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "snp/api/backend.h"
#include "snp/api/kvm.h"
#include "snp/model/base/finding.h"
#include "snp/model/engine/engine.h"
#include "snp/model/guest/program.h"
#include "snp/model/host/profile.h"
#include "snp/model/kern/sched.h"

namespace snplab::scenarios {

/// A switch of the scenario's own VMM (userspace) behaviour, named in a profile after the
/// kernel profile: "v15-vmgexit-certs+vmm-cert-lock".
struct VmmSwitch {
  std::string name;     ///< without the '+'; letters, digits, '-', '_' and '.'
  std::string summary;  ///< what the VMM does differently
};

struct ScenarioInfo {
  std::string name;     ///< letters, digits, '-', '_' and '.' (it begins the replay string)
  std::string summary;  ///< the race in a few sentences
  std::string source;   ///< where it comes from: lore link (https://lore.kernel.org/r/<id>) or commit
  std::string agents;   ///< what runs on which agent
  std::string buggy_profile;  ///< the profile (kernel[+vmm switch...]) the finding must fire under
  std::string fixed_profile;  ///< the profile it must stay clean under
  model::FindingKind finding{};     ///< the finding kind the buggy profile must raise
  std::uint64_t buggy_budget = 1000;  ///< PCT schedules within which the buggy profile must find it
  std::uint64_t fixed_bound = 500;    ///< PCT schedules the fixed profile is explored clean over
  std::vector<VmmSwitch> vmm_switches;  ///< the '+switch'es its profiles may name
};

/// A profile a scenario runs under: the kernel profile (`snplab profiles`) and the VMM switches.
struct Profile {
  std::string text;  ///< as written: "upstream", "v15-vmgexit-certs+vmm-cert-lock"
  const model::kvm::KernelProfile* kernel = nullptr;
  std::vector<std::string> vmm;  ///< the switches, without '+'
  bool has(std::string_view vmm_switch) const;
};
/// Parses "KERNEL[+SWITCH]..." for `info`: nullopt with `*why` naming the unknown part.
std::optional<Profile> parse_profile(const ScenarioInfo& info, std::string_view text, std::string* why);

/// What the oracles of a scenario may read of the simulated host - never write. Everything
/// is read through the handles the scenario holds (no model object escapes).
class SimView {
 public:
  explicit SimView(api::Backend& b) : b_(b) {}
  /// The firmware's REPORTED_TCB (SNP_SET_CONFIG changes it).
  std::uint64_t reported_tcb() const;
  /// The simulated chip's certificates (DER): the VCEK for `tcb`, the ASK, the ARK.
  std::vector<std::uint8_t> vcek_cert(std::uint64_t tcb) const;
  std::vector<std::uint8_t> ask_cert() const;
  std::vector<std::uint8_t> ark_cert() const;
  /// The launch digest the firmware holds for `vm` so far; nullopt before LAUNCH_START.
  std::optional<std::array<std::uint8_t, 48>> launch_digest(const api::Vm& vm) const;
  /// The SEV_FEATURES the kernel put in `vm`'s VMSAs (KVM_SEV_INIT2's vmsa_features and what
  /// the kernel added).
  std::optional<std::uint64_t> vmsa_features(const api::Vm& vm) const;
  /// The CPUID signature the kernel writes into each VMSA (reset state, facts §5.3).
  std::uint32_t vcpu_signature() const;
  /// One line per operation of the simulated guest on `vcpu`; nullptr before it ran.
  const std::vector<std::string>* guest_log(const api::Vcpu& vcpu) const;
  /// The RMP entry of `pfn` as RMPREAD gives it (assigned, ASID, GPA, validated, size).
  struct RmpEntryView {
    bool assigned = false;
    bool validated = false;
    bool huge = false;
    bool immutable = false;
    std::uint32_t asid = 0;
    std::uint64_t gpa = 0;
  };
  std::optional<RmpEntryView> rmp_entry(std::uint64_t pfn) const;

 private:
  api::Backend& b_;
};

/// The set-up: a fresh simulated host under the scenario's profile. What the set-up makes
/// (VMs, memory, guest programs) is the state every schedule starts from; kern:: objects of
/// the VMM's own (a file lock, a completion) belong in the schedule body instead.
class Lab {
 public:
  Lab(api::Backend& b, const Profile& p) : b_(b), profile_(p), view_(b) {}
  api::Backend& backend() { return b_; }
  const Profile& profile() const { return profile_; }
  const model::kvm::KernelProfile& kernel() const { return *profile_.kernel; }
  const SimView& view() const { return view_; }
  /// The program of guest operations `vcpu` runs from its next KVM_RUN.
  api::Status load_guest(api::Vcpu& vcpu, std::vector<model::kvm::GuestOp> ops);

 private:
  api::Backend& b_;
  const Profile& profile_;
  SimView view_;
};

/// One schedule: the agents under the engine, and what the scenario's oracles add.
class ScheduleContext {
 public:
  /// Runs `agents` under the engine (call it once per schedule): every lock, firmware call,
  /// RMP instruction and marked access of theirs is a scheduling point.
  void run(std::vector<model::engine::Agent> agents);
  /// For the VMM's own kern:: objects (kern::Mutex, kern::Completion, kern::Shared), made in
  /// the body; their names are string literals (kept as std::string_view).
  model::kern::Sched& sched();
  const SimView& view() const { return view_; }
  api::Backend& backend() { return b_; }
  const Profile& profile() const { return profile_; }
  /// A line of what the guest or the VMM saw, printed with the run.
  void note(std::string line);
  /// An oracle's finding, raised at the current step (inside an agent) or after the run.
  void report(model::FindingKind kind, std::string message);
  /// The kernel's end-of-run audits (every reference back where it belongs); their findings
  /// join the run's.
  void audit();
  /// Names the steps of the first trace event matching each (object, point kind) in every
  /// `kind` finding: the accesses that made a race a detector reports later.
  void cite(model::FindingKind kind, std::initializer_list<std::pair<std::string_view, model::kern::PointKind>> events);
  /// Places every `kind` finding at the first (or last) event of (object, point kind) only.
  void place(model::FindingKind kind, std::string_view object, model::kern::PointKind point, bool last = false);
  /// The set-up or the schedule cannot go on: the run is an error, not a result.
  void fail(std::string why);

  /// Made by the runner (explore.h), not by scenarios.
  ScheduleContext(api::Backend& b, const Profile& p, const model::engine::Options& opts, model::engine::RunResult& run,
                  std::vector<std::string>& notes, std::string& error);

 private:
  api::Backend& b_;
  const Profile& profile_;
  SimView view_;
  const model::engine::Options& opts_;
  model::engine::RunResult& run_;
  std::vector<std::string>& notes_;
  std::string& error_;
  bool ran_ = false;
};

using ScheduleBody = std::function<void(ScheduleContext&)>;

class Scenario {
 public:
  virtual ~Scenario() = default;
  virtual const ScenarioInfo& info() const = 0;
  /// Builds the starting state on `lab` and returns the body of one schedule; an empty body
  /// with `*error` set when the profile does not fit or a step fails. Exploration calls it on
  /// several threads at once (one set-up per core), so it must not change shared state; `lab`
  /// lives only during the call - the body must not capture it. An exception is an error.
  virtual ScheduleBody set_up(Lab& lab, std::string* error) const = 0;
};

/// A Scenario from its information and a set-up function (tests, small programs).
std::unique_ptr<Scenario> make_scenario(ScenarioInfo info, std::function<ScheduleBody(Lab&, std::string*)> set_up);

}  // namespace snplab::scenarios
