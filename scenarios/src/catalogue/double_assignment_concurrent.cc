// double-assignment-concurrent: the same user buffer to two guests' SNP_LAUNCH_UPDATE at once -
// the already-assigned check of the RFC v4 review's fix is a TOCTOU across VMs. The set-up is
// double-assignment's (double_assignment.h).
#include <memory>

#include "builtin.h"
#include "double_assignment.h"

namespace snplab::scenarios::builtin {

std::unique_ptr<Scenario> double_assignment_concurrent() {
  return make_double_assignment(
      ScenarioInfo{
          .name = "double-assignment-concurrent",
          .summary = "the same user buffer to two guests' SNP_LAUNCH_UPDATE at the same time: the already-assigned "
                     "check and the RMPUPDATE are two steps, so both calls can pass the check before either "
                     "assigns - the check is a TOCTOU across VMs; guest_memfd (upstream) gives each guest pages of "
                     "its own",
          .source = "found by this engine on top of the RFC v4 24/40 review's fix (facts §9(b)); upstream: "
                    "guest_memfd, sev_gmem_post_populate() (SNP_LAUNCH_UPDATE, "
                    "https://lore.kernel.org/r/20240501085210.2213060-7-michael.roth@amd.com)",
          .agents = "vmm-a and vmm-b: LAUNCH_UPDATE of their guest's gfn 2 from the same buffer X, concurrently",
          .buggy_profile = "rfc-v4-pinned",
          .fixed_profile = "upstream",
          .finding = model::FindingKind::DoubleAssignment,
          .buggy_budget = 200,
          .fixed_bound = 200,
          .vmm_switches = {},
      },
      false);
}

}  // namespace snplab::scenarios::builtin
