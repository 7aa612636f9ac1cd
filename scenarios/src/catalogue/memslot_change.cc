// memslot-change: the RFC v4 LAUNCH_UPDATE's hva->gpa lookup races with a memslot update.
#include <memory>

#include "builtin.h"
#include "snp/scenarios/vmm.h"

namespace snplab::scenarios::builtin {

namespace {

class MemslotChange final : public Scenario {
 public:
  const ScenarioInfo& info() const override { return info_; }

  ScheduleBody set_up(Lab& lab, std::string* error) const override {
    auto vm = SnpVm::launch(lab.backend(), launch_started());
    auto src = api::UserMemory::alloc(lab.backend(), model::kPageSize);
    auto extra = api::UserMemory::alloc(lab.backend(), 1 << 20);
    if (!vm || !src || !extra) {
      *error = !vm ? vm.error().to_string() : !src ? src.error().to_string() : extra.error().to_string();
      return {};
    }
    // RFC v4 finds the guest page by its address in the shared mapping; upstream takes a gfn
    // and a separate source buffer.
    const bool by_hva = lab.kernel().launch_update_hva_lookup;
    const std::uint64_t uaddr = by_hva ? (*vm)->shared().addr() + 7 * model::kPageSize : src->addr();
    std::shared_ptr<SnpVm> guest = std::move(*vm);
    auto s = std::make_shared<api::UserMemory>(std::move(*src));
    auto x = std::make_shared<api::UserMemory>(std::move(*extra));
    return [guest, s, x, uaddr](ScheduleContext& ctx) {
      ctx.run({{"vmm-launch", [&] { (void)launch_update(guest->vm(), 7, uaddr, 1, uapi::KVM_SEV_SNP_PAGE_TYPE_NORMAL); }},
               {"vmm-memslot", [&] {
                  uapi::kvm_userspace_memory_region2 r;
                  r.slot = 1;
                  r.guest_phys_addr = 1ULL << 32;
                  r.memory_size = 1 << 20;
                  r.userspace_addr = x->addr();
                  (void)guest->vm().set_user_memory_region2(r);
                }}});
    };
  }

 private:
  ScenarioInfo info_{
      .name = "memslot-change",
      .summary = "SNP_LAUNCH_UPDATE finds the guest page from the source address through the memslots (hva->gpa) "
                 "with a plain load of kvm->memslots outside SRCU and without kvm->slots_lock, while another thread "
                 "adds a memslot: the lookup races with the publication of the new array (and may use one "
                 "synchronize_srcu() has freed)",
      .source = "[PATCH Part2 RFC v4 24/40] KVM: SVM: Add KVM_SEV_SNP_LAUNCH_UPDATE command, "
                "https://lore.kernel.org/r/20210707183616.5620-25-brijesh.singh@amd.com; review (\"needs srcu for "
                "the hva->gpa lookup\"), https://lore.kernel.org/r/YPHlt4VCm6b2MZMs@google.com (facts §9(b)); "
                "fixed upstream: userspace passes gfn_start, lookups under SRCU",
      .agents = "vmm-launch: LAUNCH_UPDATE of one NORMAL page (RFC v4: by its hva in the shared mapping; upstream: "
                "gfn 7); vmm-memslot: KVM_SET_USER_MEMORY_REGION2 adds slot 1 at 4 GiB",
      .buggy_profile = "launch-update-hva-lookup",
      .fixed_profile = "upstream",
      .finding = model::FindingKind::DataRace,
      .buggy_budget = 200,
      .fixed_bound = 200,
      .vmm_switches = {},
  };
};

}  // namespace

std::unique_ptr<Scenario> memslot_change() { return std::make_unique<MemslotChange>(); }

}  // namespace snplab::scenarios::builtin
