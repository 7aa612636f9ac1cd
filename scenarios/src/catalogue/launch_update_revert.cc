// launch-update-revert: the RFC v4 LAUNCH_UPDATE error path returns pages it never assigned.
#include <memory>
#include <vector>

#include "builtin.h"
#include "snp/scenarios/vmm.h"

namespace snplab::scenarios::builtin {

namespace {

class LaunchUpdateRevert final : public Scenario {
 public:
  const ScenarioInfo& info() const override { return info_; }

  ScheduleBody set_up(Lab& lab, std::string* error) const override {
    auto vm = SnpVm::launch(lab.backend(), launch_started());
    auto src_a = api::UserMemory::alloc(lab.backend(), model::kPageSize);
    auto src_b = api::UserMemory::alloc(lab.backend(), 3 * model::kPageSize);
    if (!vm || !src_a || !src_b) {
      *error = !vm ? vm.error().to_string() : !src_a ? src_a.error().to_string() : src_b.error().to_string();
      return {};
    }
    std::vector<std::uint8_t> bad(model::kPageSize, 0);
    bad[0] = 65;  // a CPUID table of 65 entries: the firmware refuses it (INVALID_PARAM)
    if (auto s = src_b->write(0, bad); !s) {
      *error = s.error().to_string();
      return {};
    }
    std::shared_ptr<SnpVm> guest = std::move(*vm);
    auto a = std::make_shared<api::UserMemory>(std::move(*src_a));
    auto b = std::make_shared<api::UserMemory>(std::move(*src_b));
    return [guest, a, b](ScheduleContext& ctx) {
      ctx.run({{"vmm-a", [&] { (void)launch_update(guest->vm(), 5, a->addr(), 1, uapi::KVM_SEV_SNP_PAGE_TYPE_NORMAL); }},
               {"vmm-b", [&] { (void)launch_update(guest->vm(), 3, b->addr(), 3, uapi::KVM_SEV_SNP_PAGE_TYPE_CPUID); }}});
    };
  }

 private:
  ScenarioInfo info_{
      .name = "launch-update-revert",
      .summary = "one SNP_LAUNCH_UPDATE measures a page while another, over a range that includes it, fails in the "
                 "firmware; the RFC v4 error path returns every page of its range to the hypervisor, the other "
                 "call's page too",
      .source = "[PATCH Part2 RFC v4 24/40] KVM: SVM: Add KVM_SEV_SNP_LAUNCH_UPDATE command, "
                "https://lore.kernel.org/r/20210707183616.5620-25-brijesh.singh@amd.com; review, "
                "https://lore.kernel.org/r/YPHlt4VCm6b2MZMs@google.com (facts §9(b))",
      .agents = "vmm-a: LAUNCH_UPDATE of gfn 5 (NORMAL); vmm-b: LAUNCH_UPDATE of gfns 3-5 as a CPUID page the "
                "firmware refuses",
      .buggy_profile = "launch-update-revert-all",
      .fixed_profile = "upstream",
      .finding = model::FindingKind::ErroneousRevert,
      .buggy_budget = 200,
      .fixed_bound = 200,
      .vmm_switches = {},
  };
};

}  // namespace

std::unique_ptr<Scenario> launch_update_revert() { return std::make_unique<LaunchUpdateRevert>(); }

}  // namespace snplab::scenarios::builtin
