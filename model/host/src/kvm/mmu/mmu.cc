// arch/x86/kvm/mmu/mmu.c: the private side of a guest page fault - kvm_faultin_pfn_private()
// takes the page from guest_memfd, whose prepare hook (sev_gmem_prepare) assigns it.
#include "snp/model/host/kvm_host.h"
#include "snp/model/host/x86/sev.h"
#include "snp/model/hw/rmp_insn.h"

namespace snplab::model::kvm {

std::optional<Pfn> Vm::private_pfn(Gpa gpa) {
  const Gpa gfn = gpa >> kPageShift;
  const auto slot = gfn_to_memslot(gfn);
  if (!slot) return std::nullopt;
  const auto pfn = gmem_pfn(*slot, gfn);
  if (!pfn) return std::nullopt;
  if (is_snp()) sev_gmem_prepare(*this, *slot, gfn, *pfn);  // kvm_arch_gmem_prepare(): SNP only
  return pfn;
}

std::optional<Pfn> Vm::guest_private_pfn(VcpuRun& v, Gpa gpa, bool* retry) {
  const kern::FunctionScope fs(host_->sched(), "kvm_mmu_faultin_pfn_private");
  *retry = false;
  const Gpa gfn = gpa >> kPageShift;
  const auto slot = gfn_to_memslot(gfn);
  if (!slot) return std::nullopt;
  const auto pfn = gmem_pfn(*slot, gfn);
  if (!pfn) return std::nullopt;
  if (effective_entry(host_->sev()->rmp(), *pfn).assigned()) return pfn;
  // Not yet the guest's: the access takes a #NPF, KVM prepares the page in host context and
  // the guest re-executes the instruction after the next VMRUN.
  leave_guest(v);
  (void)private_pfn(gpa);
  *retry = effective_entry(host_->sev()->rmp(), *pfn).assigned();
  return std::nullopt;
}

}  // namespace snplab::model::kvm
