// The set-up the two double-assignment scenarios share: two guests after LAUNCH_START and one
// user buffer X; vmm-a and vmm-b each LAUNCH_UPDATE their guest's gfn 2 from X, vmm-b after
// vmm-a's call returned (`ordered`, a completion) or at the same time.
#pragma once

#include <memory>

#include "snp/scenarios/scenario.h"

namespace snplab::scenarios::builtin {

std::unique_ptr<Scenario> make_double_assignment(ScenarioInfo info, bool ordered);

}  // namespace snplab::scenarios::builtin
