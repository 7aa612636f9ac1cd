// arch/x86/kvm/svm/svm.c: VMRUN and #VMEXIT of an SEV-ES/SNP vCPU - the checks VMRUN makes on
// the VMSA (facts §3.4) and the VMSA page in use between VMRUN and #VMEXIT (facts §2.1).
#include <algorithm>
#include <cerrno>

#include <fmt/format.h>

#include "snp/model/host/kvm_host.h"
#include "snp/model/hw/rmp_insn.h"

namespace snplab::model::kvm {

std::optional<Exit> Vm::vmrun_checks(unsigned long vcpu_id, VcpuRun& v) {
  if (!is_snp()) return std::nullopt;
  if (v.vmsa_invalid) return Exit{-EINVAL};  // AP DESTROY: no VMSA to run (facts §7.5)
  Pfn vmsa = v.vmsa;
  if (vmsa == 0) {
    const auto it = std::find(vcpu_ids_.begin(), vcpu_ids_.end(), vcpu_id);
    const auto index = static_cast<std::size_t>(it - vcpu_ids_.begin());
    if (index >= sev_.vmsas.size()) return Exit{-EINVAL};
    vmsa = sev_.vmsas[index];
  }
  SevPlatform* sev = host_->sev();
  const RmpEntryRaw e = effective_entry(sev->rmp(), vmsa);
  // Covered, Guest-Owned by this ASID, Mutable, VMSA=1 (the GPA check is not modelled).
  if (!e.assigned() || e.asid() != sev_.asid || e.immutable() || !e.vmsa()) {
    v.guest.note(fmt::format("VMRUN: VMSA page 0x{:x} fails the RMP checks (VMEXIT_INVALID)", vmsa));
    Exit x;
    x.reason = kExitFailEntry;
    x.fail_entry_reason = kSvmExitErr;
    return x;
  }
  v.running_vmsa = vmsa;
  return std::nullopt;
}

std::optional<Exit> Vm::enter_guest(unsigned long vcpu_id, VcpuRun& v) {
  host_->sched().point(kern::PointKind::VmEntry, &v, "VMRUN");
  if (auto e = vmrun_checks(vcpu_id, v)) return e;
  if (v.running_vmsa != 0) host_->sev()->rmp().set_in_use(v.running_vmsa, true);
  v.in_guest = true;
  return std::nullopt;
}

void Vm::leave_guest(VcpuRun& v) {
  if (!v.in_guest) return;
  host_->sched().point(kern::PointKind::VmExit, &v, "#VMEXIT");
  if (v.running_vmsa != 0) host_->sev()->rmp().set_in_use(v.running_vmsa, false);
  v.in_guest = false;
}

}  // namespace snplab::model::kvm
