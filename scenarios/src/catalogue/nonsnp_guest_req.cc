// nonsnp-guest-req: the v10 handler tells a non-SNP guest its request succeeded.
#include <memory>

#include "builtin.h"
#include "snp/scenarios/vmm.h"

namespace snplab::scenarios::builtin {

namespace {

class NonSnpGuestReq final : public Scenario {
 public:
  const ScenarioInfo& info() const override { return info_; }

  ScheduleBody set_up(Lab& lab, std::string* error) const override {
    // The handles live as long as the schedule (the vCPU is closed first, as a VMM exits).
    struct Objects {
      api::Kvm kvm;
      api::Vm vm;
      api::UserMemory mem;
      api::Vcpu vcpu;
    };
    constexpr std::uint64_t kMem = 1 << 20;
    auto kvm = api::Kvm::open(lab.backend());
    if (!kvm) {
      *error = kvm.error().to_string();
      return {};
    }
    auto vm = kvm->create_vm(uapi::KVM_X86_DEFAULT_VM);  // stands in for the thread's SEV-ES guest
    auto mem = api::UserMemory::alloc(lab.backend(), kMem);
    if (!vm || !mem) {
      *error = !vm ? vm.error().to_string() : mem.error().to_string();
      return {};
    }
    uapi::kvm_userspace_memory_region2 r;
    r.memory_size = kMem;
    r.userspace_addr = mem->addr();
    if (auto s = vm->set_user_memory_region2(r); !s) {
      *error = s.error().to_string();
      return {};
    }
    auto vcpu = vm->create_vcpu(0);
    if (!vcpu) {
      *error = vcpu.error().to_string();
      return {};
    }
    model::kvm::GuestRequestPages pages = requester_pages();
    pages.secrets = 0;  // a non-SNP guest has none
    if (auto s = lab.load_guest(*vcpu, {model::kvm::GuestOp::ext_guest_request(pages, 1)}); !s) {
      *error = s.error().to_string();
      return {};
    }
    auto objs = std::make_shared<Objects>(Objects{std::move(*kvm), std::move(*vm), std::move(*mem), std::move(*vcpu)});
    return [objs](ScheduleContext& ctx) { ctx.run({{"vcpu0", [&] { (void)objs->vcpu.run(); }}}); };
  }

 private:
  ScenarioInfo info_{
      .name = "nonsnp-guest-req",
      .summary = "a non-SNP guest issues an extended guest request; the v10 handler sets rc instead of the exit "
                 "code, so the guest is told its request succeeded",
      .source = "[PATCH v10 48/50] snp_handle_ext_guest_request(), "
                "https://lore.kernel.org/r/20231016132819.1002933-49-michael.roth@amd.com (facts §9(c))",
      .agents = "vcpu0: a non-SNP guest's extended guest request",
      .buggy_profile = "v10-nonsnp-guest-req-rc",
      .fixed_profile = "v10-kernel-certs",
      .finding = model::FindingKind::GuestRequestFalseSuccess,
      .buggy_budget = 10,
      .fixed_bound = 10,
      .vmm_switches = {},
  };
};

}  // namespace

std::unique_ptr<Scenario> nonsnp_guest_req() { return std::make_unique<NonSnpGuestReq>(); }

}  // namespace snplab::scenarios::builtin
