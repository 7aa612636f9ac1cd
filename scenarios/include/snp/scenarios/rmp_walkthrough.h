// The RMP walk-through behind `snplab demo`.
// A small host kernel, written in the shape of KVM's code, launches three SNP guests on the
// RMP model. Under the historical kernel (RFC v4 24/40, facts §9(b)) userspace's mistakes
// become a double assignment and an erroneous revert that hardware accepts silently and the
// detectors report; under the fixed kernel the same requests are refused and nothing fires.
#pragma once

#include <string>
#include <vector>

#include "snp/model/hw/detectors.h"

namespace snplab::scenarios {

enum class WalkthroughKernel { RfcV4, Fixed };

struct WalkthroughResult {
  std::vector<model::Finding> findings;
  std::string log;  ///< the per-instruction trace and what each step shows
};

WalkthroughResult run_rmp_walkthrough(WalkthroughKernel kernel);

}  // namespace snplab::scenarios
