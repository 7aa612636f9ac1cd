// double-assignment: one user buffer, two guests' LAUNCH_UPDATE one after the other (the RFC v4
// command pins the page behind the buffer). double_assignment_concurrent.cc runs the same set-up
// with both calls at once.
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "builtin.h"
#include "double_assignment.h"
#include "snp/model/kern/sync.h"
#include "snp/scenarios/vmm.h"

namespace snplab::scenarios::builtin {

namespace {

/// `ordered`: vmm-b starts once vmm-a's call has returned (a completion); otherwise both at once.
class DoubleAssignment final : public Scenario {
 public:
  DoubleAssignment(ScenarioInfo info, bool ordered) : info_(std::move(info)), ordered_(ordered) {}
  const ScenarioInfo& info() const override { return info_; }

  ScheduleBody set_up(Lab& lab, std::string* error) const override {
    if (ordered_ && !lab.kernel().launch_update_pins_uaddr) {
      *error = fmt::format("{} needs an RFC v4 pinned-memory profile (rfc-v4-pinned*), not '{}': with guest_memfd "
                           "each guest's pages are its own",
                           info_.name, lab.profile().text);
      return {};
    }
    auto a = SnpVm::launch(lab.backend(), launch_started());
    auto b = SnpVm::launch(lab.backend(), launch_started());
    auto buf = api::UserMemory::alloc(lab.backend(), model::kPageSize);
    if (!a || !b || !buf) {
      *error = !a ? a.error().to_string() : !b ? b.error().to_string() : buf.error().to_string();
      return {};
    }
    if (auto s = buf->write(0, std::vector<std::uint8_t>(model::kPageSize, 0x42)); !s) {
      *error = s.error().to_string();
      return {};
    }
    std::shared_ptr<SnpVm> va = std::move(*a), vb = std::move(*b);
    auto x = std::make_shared<api::UserMemory>(std::move(*buf));
    return [va, vb, x, ordered = ordered_](ScheduleContext& ctx) {
      auto update = [&](SnpVm& vm) {
        const api::Status st = launch_update(vm.vm(), 2, x->addr(), 1, uapi::KVM_SEV_SNP_PAGE_TYPE_NORMAL);
        return st ? std::string("ok") : st.error().to_string();
      };
      model::kern::Completion a_done(ctx.sched(), "vmm:a-done");
      ctx.run({{"vmm-a",
                [&] {
                  ctx.note("vmm-a: LAUNCH_UPDATE " + update(*va));
                  if (ordered) a_done.complete();
                }},
               {"vmm-b", [&] {
                  if (ordered) a_done.wait();
                  ctx.note("vmm-b: LAUNCH_UPDATE " + update(*vb));
                }}});
    };
  }

 private:
  ScenarioInfo info_;
  bool ordered_;
};

}  // namespace

std::unique_ptr<Scenario> make_double_assignment(ScenarioInfo info, bool ordered) {
  return std::make_unique<DoubleAssignment>(std::move(info), ordered);
}

std::unique_ptr<Scenario> double_assignment() {
  return make_double_assignment(
      ScenarioInfo{
          .name = "double-assignment",
          .summary = "the VMM hands the same user buffer to SNP_LAUNCH_UPDATE of two guests; the RFC v4 command pins "
                     "the page behind it and RMPUPDATE silently reassigns it from the first guest to the second",
          .source = "[PATCH Part2 RFC v4 24/40] KVM: SVM: Add KVM_SEV_SNP_LAUNCH_UPDATE command, "
                    "https://lore.kernel.org/r/20210707183616.5620-25-brijesh.singh@amd.com; review by Sean "
                    "Christopherson, https://lore.kernel.org/r/YPHlt4VCm6b2MZMs@google.com (facts §9(b)): check "
                    "the RMP entry before RMPUPDATE",
          .agents = "vmm-a: LAUNCH_UPDATE of guest A's gfn 2 from buffer X; vmm-b, once vmm-a's call has returned "
                    "(a completion): LAUNCH_UPDATE of guest B's gfn 2 from the same X",
          .buggy_profile = "rfc-v4-pinned-no-check",
          .fixed_profile = "rfc-v4-pinned",
          .finding = model::FindingKind::DoubleAssignment,
          .buggy_budget = 50,
          .fixed_bound = 100,
          .vmm_switches = {},
      },
      true);
}

}  // namespace snplab::scenarios::builtin
