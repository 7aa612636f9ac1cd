// gmem-punch: a hole punched in guest_memfd under a page the guest uses as private.
#include <memory>

#include "builtin.h"
#include "snp/scenarios/vmm.h"

namespace snplab::scenarios::builtin {

namespace {

constexpr std::uint64_t kGpa = 0x10000;

class GmemPunch final : public Scenario {
 public:
  const ScenarioInfo& info() const override { return info_; }

  ScheduleBody set_up(Lab& lab, std::string* error) const override {
    auto vm = SnpVm::launch(lab.backend(), SnpVmConfig{});
    if (!vm) {
      *error = vm.error().to_string();
      return {};
    }
    using model::kvm::GuestOp;
    if (auto s = lab.load_guest((*vm)->vcpu(), {GuestOp::pvalidate(kGpa), GuestOp::write(kGpa, true, 0x5A),
                                                GuestOp::read(kGpa, true), GuestOp::read(kGpa, false), GuestOp::halt()});
        !s) {
      *error = s.error().to_string();
      return {};
    }
    std::shared_ptr<SnpVm> guest = std::move(*vm);
    return [guest](ScheduleContext& ctx) {
      ctx.run({{"vcpu0", [&] { (void)run_converting(*guest, ctx); }},
               {"vmm-punch", [&] { (void)guest->gmem().punch_hole(kGpa, model::kPageSize); }}});
      note_guest_log(ctx, guest->vcpu());
    };
  }

 private:
  ScenarioInfo info_{
      .name = "gmem-punch",
      .summary = "userspace punches a hole in guest_memfd over a page the guest has validated and uses as private: "
                 "without the arch invalidate hook the page returns to the allocator still assigned to the guest; "
                 "with it, the page is made shared first and the guest's next private access finds a fresh, "
                 "unvalidated page (#VC 0x404, termination), while a shared access to the private GPA is an "
                 "implicit conversion that exits as KVM_EXIT_MEMORY_FAULT",
      .source = "[PATCH v11 05/35] KVM: guest_memfd: Add hook for invalidating memory, "
                "https://lore.kernel.org/r/20231230172351.574091-6-michael.roth@amd.com (a90764f0e4ed, 6.11); "
                "facts §8.5 (sev_gmem_invalidate)",
      .agents = "vcpu0: guest PVALIDATE, private write, private read, shared read of GPA 0x10000, with the VMM "
                "converting on KVM_EXIT_MEMORY_FAULT; vmm-punch: fallocate(PUNCH_HOLE) of that page in the "
                "guest_memfd",
      .buggy_profile = "gmem-no-invalidate-hook",
      .fixed_profile = "upstream",
      .finding = model::FindingKind::FreedPrivatePage,
      .buggy_budget = 200,
      .fixed_bound = 200,
      .vmm_switches = {},
  };
};

}  // namespace

std::unique_ptr<Scenario> gmem_punch() { return std::make_unique<GmemPunch>(); }

}  // namespace snplab::scenarios::builtin
