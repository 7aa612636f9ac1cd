// A race that is not in snplab's catalogue, written outside the tree: KVM_SEV_SNP_LAUNCH_FINISH
// against KVM_SET_REGS on the guest's vCPU. LAUNCH_FINISH copies each vCPU's registers into its
// VMSA (sev_es_sync_vmsa()) and measures it; 6.12 did that without taking the vCPUs' mutexes,
// so a VMM thread in KVM_SET_REGS writes the registers while the sync reads them. Upstream
// takes every vCPU's mutex first (commit cb923ee6a80f, "KVM: SEV: Lock all vCPUs when
// synchronzing VMSAs for SNP launch finish"): KVM_SET_REGS then runs wholly before the sync, or
// after it and fails with EINVAL because the state is protected.
//
// The kernel side is a switch in snplab's model: the profile launch-finish-unlocked-vcpus
// (`snplab profiles`). This program adds the scenario and hands the whole `snplab scenario`
// command line over it and the built-in catalogue to scenario_main():
//
//   out-of-tree-race run launch-finish-set-regs                      # buggy: found, exit 0
//   out-of-tree-race replay launch-finish-set-regs/launch-finish-unlocked-vcpus/...
//   out-of-tree-race run launch-finish-set-regs --profile upstream   # fixed: clean, exit 0
#include <memory>
#include <string>

#include <fmt/format.h>

#include <snp/scenarios/catalogue.h>
#include <snp/scenarios/vmm.h>

namespace {

namespace sc = snplab::scenarios;
namespace uapi = snplab::uapi;

class LaunchFinishSetRegs final : public sc::Scenario {
 public:
  const sc::ScenarioInfo& info() const override { return info_; }

  // Every schedule starts from a guest that is launched up to LAUNCH_FINISH: memory measured,
  // one vCPU created, no VMSA synced yet.
  sc::ScheduleBody set_up(sc::Lab& lab, std::string* error) const override {
    sc::SnpVmConfig cfg;
    cfg.finish = false;
    auto vm = sc::SnpVm::launch(lab.backend(), cfg);
    if (!vm) {
      *error = "launch: " + vm.error().to_string();
      return {};
    }
    std::shared_ptr<sc::SnpVm> guest = std::move(*vm);
    return [guest](sc::ScheduleContext& ctx) {
      auto result = [](const snplab::api::Status& st) { return st ? std::string("ok") : st.error().to_string(); };
      ctx.run({
          {"vmm-finish",
           [&] {
             uapi::kvm_sev_snp_launch_finish fin;
             ctx.note("vmm-finish: KVM_SEV_SNP_LAUNCH_FINISH " + result(guest->vm().snp_launch_finish(fin)));
           }},
          {"vmm-set-regs",
           [&] {
             uapi::kvm_regs regs;
             regs.rip = 0x1000;
             ctx.note("vmm-set-regs: KVM_SET_REGS " + result(guest->vcpu().set_regs(regs)));
           }},
      });
    };
  }

 private:
  sc::ScenarioInfo info_{
      .name = "launch-finish-set-regs",
      .summary = "KVM_SEV_SNP_LAUNCH_FINISH syncs and measures vCPU 0's VMSA while another VMM thread is in "
                 "KVM_SET_REGS on that vCPU: without the vCPU mutexes the sync reads registers the ioctl is writing",
      .source = "cb923ee6a80f KVM: SEV: Lock all vCPUs when synchronzing VMSAs for SNP launch finish, "
                "https://lore.kernel.org/r/20260310234829.2608037-6-seanjc@google.com",
      .agents = "vmm-finish: KVM_SEV_SNP_LAUNCH_FINISH; vmm-set-regs: KVM_SET_REGS on vCPU 0",
      .buggy_profile = "launch-finish-unlocked-vcpus",
      .fixed_profile = "upstream",
      .finding = snplab::model::FindingKind::DataRace,
      .buggy_budget = 200,
      .fixed_bound = 200,
      .vmm_switches = {},
  };
};

}  // namespace

int main(int argc, char** argv) {
  sc::Catalogue catalogue = sc::Catalogue::builtin();
  catalogue.add(std::make_unique<LaunchFinishSetRegs>());
  return sc::scenario_main(catalogue, argc, argv);
}
