// The simulator backend: the KVM-shaped API over the simulated KVM host (model/kvm), the
// firmware and the RMP model. Deterministic: the same calls give the same results.
#pragma once

#include <memory>
#include <vector>

#include "snp/api/backend.h"
#include "snp/model/host/kvm_host.h"

namespace snplab::api {

/// A simulated SNP-capable host (model::kvm::HostConfig defaults).
Result<std::unique_ptr<Backend>> make_sim_backend(model::kvm::HostConfig cfg = {});

// ---- sim-only: what a real host has no ioctl for ----------------------------------------
/// Loads the guest program a simulated vCPU runs from its next KVM_RUN (model/kvm/guest.h).
/// EOPNOTSUPP on any other backend; EBADF for a handle that is not a vCPU.
Status sim_load_guest(Backend& b, Handle vcpu, std::vector<model::kvm::GuestOp> ops);
/// What the simulated guest on `vcpu` saw, one line per operation; nullptr off the sim.
const model::kvm::GuestLog* sim_guest_log(Backend& b, Handle vcpu);
/// The last attestation report (0x4A0 bytes) the guest on `vcpu` received; nullptr off the sim.
const std::vector<std::uint8_t>* sim_guest_report(Backend& b, Handle vcpu);
/// The whole simulated backend as it is now: the host (model::kvm::Host::snapshot) and the
/// open handles. nullptr off the sim. Not while an engine runs agents on the backend.
struct SimSnapshot;
std::shared_ptr<const SimSnapshot> sim_snapshot(Backend& b);
/// Puts the backend back to `snap` in place: handles open then are open again and name the
/// same objects; handles opened since are gone, and their numbers are handed out again, so
/// drop the api objects that own them first. EINVAL for a snapshot of another backend,
/// EOPNOTSUPP off the sim.
Status sim_restore(Backend& b, const SimSnapshot& snap);
/// The simulated host behind a sim backend (RMP, firmware, detectors); nullptr off the sim.
model::kvm::Host* sim_host(Backend& b);
/// The simulated VM a VM handle names (its vCPU and guest_memfd handles do not); nullptr off
/// the sim or for another handle.
const model::kvm::Vm* sim_vm(Backend& b, Handle vm);

}  // namespace snplab::api
