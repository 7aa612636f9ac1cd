// The simulator backend: the KVM-shaped API over the simulated KVM host (model/kvm), the
// firmware and the RMP model. Deterministic: the same calls give the same results.
#pragma once

#include <memory>

#include "snp/api/backend.h"
#include "snp/model/kvm/host.h"

namespace snplab::api {

/// A simulated SNP-capable host (model::kvm::HostConfig defaults).
Result<std::unique_ptr<Backend>> make_sim_backend(model::kvm::HostConfig cfg = {});

}  // namespace snplab::api
