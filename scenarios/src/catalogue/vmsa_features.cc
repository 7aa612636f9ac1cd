// vmsa-features: a kernel that forces DEBUG_SWAP into the VMSA makes the launch digest differ.
#include <array>
#include <memory>

#include <fmt/format.h>

#include "builtin.h"
#include "snp/model/measure/measure.h"
#include "snp/model/measure/vmsa.h"
#include "snp/scenarios/vmm.h"

namespace snplab::scenarios::builtin {

namespace {

/// What the VMM expects for SnpVm's launch with vmsa_features 0, as `snplab measure` computes
/// it: its NORMAL pages (page i filled with i + 1) and one VMSA with SEV_FEATURES = SNP_ACTIVE.
std::array<std::uint8_t, 48> expected_digest(const SimView& view, const SnpVmConfig& vc) {
  model::LaunchDigest ld;
  for (std::uint64_t i = 0; i < vc.launched; ++i) {
    std::array<std::uint8_t, model::kPageSize> page{};
    page.fill(static_cast<std::uint8_t>(i + 1));
    ld.update_page(model::PageType::Normal, i << model::kPageShift, page);
  }
  const auto vmsa = model::to_page(model::reset_save_area(0xFFFFFFF0U, 1, view.vcpu_signature(), model::VmmType::Qemu));
  ld.update_page(model::PageType::Vmsa, 0xFFFFFFFFF000ULL, vmsa);
  return ld.digest();
}

class VmsaFeatures final : public Scenario {
 public:
  const ScenarioInfo& info() const override { return info_; }

  // The whole launch is the schedule: nothing to set up but the host.
  ScheduleBody set_up(Lab&, std::string*) const override {
    return [](ScheduleContext& ctx) {
      std::unique_ptr<SnpVm> vm;
      ctx.run({{"vmm", [&] {
                  SnpVmConfig vc;
                  vc.secrets_gpa = 0;
                  auto launched = SnpVm::launch(ctx.backend(), vc);
                  if (!launched) {
                    ctx.fail("the launch failed: " + launched.error().to_string());
                    return;
                  }
                  vm = std::move(*launched);
                  const auto got = ctx.view().launch_digest(vm->vm());
                  if (!got) {
                    ctx.fail("the firmware holds no launch digest for the launched guest");
                    return;
                  }
                  if (*got != expected_digest(ctx.view(), vc)) {
                    ctx.report(model::FindingKind::MeasurementMismatch,
                               fmt::format("the launch digest is not the one the VMM computed for vmsa_features 0: "
                                           "the VMSA's SEV_FEATURES are {:#x}",
                                           ctx.view().vmsa_features(vm->vm()).value_or(0)));
                  }
                }}});
    };
  }

 private:
  ScenarioInfo info_{
      .name = "vmsa-features",
      .summary = "the VMM launches with vmsa_features 0 and computes the launch digest it expects; a kernel that "
                 "ORs DEBUG_SWAP into the VMSA features makes the firmware's digest differ",
      .source = "Paolo Bonzini, [PATCH v2 06/11] KVM: SEV: disable DEBUG_SWAP by default, "
                "https://lore.kernel.org/r/20240223104009.632194-7-pbonzini@redhat.com (facts §9(d))",
      .agents = "vmm: INIT2 (features 0), LAUNCH_START, LAUNCH_UPDATE of 4 pages, LAUNCH_FINISH, then the expected "
                "digest from the same pages and the VMSA for its features",
      .buggy_profile = "debug-swap-forced",
      .fixed_profile = "upstream",
      .finding = model::FindingKind::MeasurementMismatch,
      .buggy_budget = 10,
      .fixed_bound = 10,
      .vmm_switches = {},
  };
};

}  // namespace

std::unique_ptr<Scenario> vmsa_features() { return std::make_unique<VmsaFeatures>(); }

}  // namespace snplab::scenarios::builtin
