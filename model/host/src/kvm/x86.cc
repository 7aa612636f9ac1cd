// arch/x86/kvm/x86.c: KVM_RUN (kvm_arch_vcpu_ioctl_run) under vcpu->mutex, and the simulated
// guest it runs: the program of guest operations, executed between VMRUN and #VMEXIT (svm/svm.cc)
// with private accesses through the NPT to guest_memfd pages checked against the RMP, implicit
// conversions as KVM_EXIT_MEMORY_FAULT and page-state changes as KVM_HC_MAP_GPA_RANGE exits.
#include <algorithm>
#include <cerrno>

#include <fmt/format.h>

#include "snp/model/hw/access.h"
#include "snp/model/host/x86/sev.h"
#include "snp/model/host/kvm_host.h"
#include "snp/model/hw/rmp_insn.h"

namespace snplab::model::kvm {

namespace {
constexpr std::uint64_t kHcMapGpaRange = 12;
constexpr std::uint64_t kMapGpaEncrypted = 1ULL << 4;  // KVM_MAP_GPA_RANGE_ENCRYPTED

/// kvm_prepare_memory_fault_exit(): KVM_RUN fails EFAULT with KVM_EXIT_MEMORY_FAULT for one page.
Exit memory_fault_exit(Gpa gpa, bool is_private) {
  Exit e;
  e.ret = -EFAULT;
  e.reason = kExitMemoryFault;
  e.memory_fault_flags = is_private ? kMemoryExitFlagPrivate : 0;
  e.memory_fault_gpa = gpa;
  e.memory_fault_size = kPageSize;
  return e;
}

/// kvm_faultin_pfn_private(): a private fault on a GPA with no memslot, or one whose slot has
/// no guest_memfd (!kvm_slot_can_be_private), exits to userspace as a memory fault.
bool kvm_faultin_pfn_private_exits(const std::optional<Memslot>& slot, Gpa gpa, std::optional<Exit>& exit) {
  if (slot && (slot->flags & kMemGuestMemfd) != 0) return false;
  exit = memory_fault_exit(gpa, true);
  return true;
}
}  // namespace

int Host::dev_get_attr(std::uint32_t group, std::uint64_t attr, std::uint64_t* value) const {
  if (group == uapi::KVM_X86_GRP_SYSTEM) {
    if (attr != uapi::KVM_X86_XCOMP_GUEST_SUPP) return -ENXIO;
    *value = config().supported_xcr0;
    return 0;
  }
  // kvm_amd's dev_get_attr, sev_dev_get_attr(): the SEV group only; sev_hardware_setup() puts
  // DEBUG_SWAP in sev_supported_vmsa_features only with SEV-ES.
  // The certificate series adds KVM_X86_SEV_SNP_REQ_CERTS where the kernel has
  // KVM_SEV_SNP_ENABLE_REQ_CERTS (profiles with CertExit::SnpReqCerts); its value is not in
  // the facts: 1 here, a documented choice (docs/kvm.md).
  if (group == uapi::KVM_X86_GRP_SEV && attr == uapi::KVM_X86_SEV_SNP_REQ_CERTS &&
      config().profile.cert_exit == CertExit::SnpReqCerts && sev_ != nullptr) {
    *value = 1;
    return 0;
  }
  if (group != uapi::KVM_X86_GRP_SEV || attr != uapi::KVM_X86_SEV_VMSA_FEATURES) return -ENXIO;
  *value = config().sev_es_enabled ? SevPlatform::kSupportedVmsaFeatures : 0;
  return 0;
}

int Vm::set_nr_mmu_pages(std::uint64_t pages) {
  const kern::FunctionScope fs(host_->sched(), "kvm_vm_ioctl_set_nr_mmu_pages");
  if (pages < uapi::KVM_MIN_ALLOC_MMU_PAGES) return -EINVAL;
  kern::Guard g(slots_lock_);
  n_requested_mmu_pages_ = pages;
  return 0;
}

int Vm::set_guest_program(unsigned long vcpu_id, std::vector<GuestOp> ops) {
  if (std::find(vcpu_ids_.begin(), vcpu_ids_.end(), vcpu_id) == vcpu_ids_.end()) return -EINVAL;
  VcpuRun& v = runs_[vcpu_id];
  const Pfn vmsa = v.vmsa;  // the vCPU's VMSA (AP creation) outlives the program
  const bool vmsa_invalid = v.vmsa_invalid;
  v = VcpuRun{};
  v.guest = GuestVcpu(std::move(ops));
  v.program = true;
  v.vmsa = vmsa;
  v.vmsa_invalid = vmsa_invalid;
  return 0;
}

const GuestLog* Vm::guest_log(unsigned long vcpu_id) const {
  auto it = runs_.find(vcpu_id);
  return it == runs_.end() ? nullptr : &it->second.guest.log();
}

int Vm::complete_vcpu(unsigned long vcpu_id, const UserCompletion& c) {
  auto it = runs_.find(vcpu_id);
  if (it == runs_.end() || it->second.pending == Pending::None) return -EINVAL;
  it->second.completion = c;
  return 0;
}

const std::vector<std::uint8_t>* Vm::guest_report(unsigned long vcpu_id) const {
  auto it = runs_.find(vcpu_id);
  return it == runs_.end() ? nullptr : &it->second.guest.report();
}

void Vm::sev_handle_vmgexit_msr_protocol(VcpuMachine& m, std::uint64_t ghcb_msr) {
  // GHCB_MSR_TERM_REQ: the guest asks to be terminated; KVM_EXIT_SYSTEM_EVENT(SEV_TERM) with
  // the GHCB MSR value as data[0].
  leave_guest(m.run);
  Exit e;
  e.reason = kExitSystemEvent;
  e.system_event_type = kSystemEventSevTerm;
  e.system_event_data0 = ghcb_msr;
  m.exit = e;
}

void Vm::kvm_emulate_halt(VcpuMachine& m) {
  leave_guest(m.run);
  Exit e;
  e.reason = kExitHlt;
  m.exit = e;
}

InsnResult Vm::kvm_hc_map_gpa_range(VcpuMachine& m, Gpa gpa, std::uint64_t npages, bool to_private) {
  leave_guest(m.run);
  if ((hypercall_exit_mask_ & (1ULL << kHcMapGpaRange)) == 0) {
    return InsnResult::fatal("userspace has not enabled KVM_CAP_EXIT_HYPERCALL");
  }
  m.run.pending = Pending::Hypercall;
  m.run.completion = UserCompletion{};  // KVM pre-zeroes hypercall.ret (facts §8.5)
  Exit e;
  e.reason = kExitHypercall;
  e.hypercall_nr = kHcMapGpaRange;
  e.hypercall_args[0] = gpa;
  e.hypercall_args[1] = npages;
  e.hypercall_args[2] = to_private ? kMapGpaEncrypted : 0;  // PAGE_SZ_4K
  m.exit = e;
  return InsnResult::with(Outcome::Exited);
}

InsnResult Vm::shared_access(const Memslot& slot, Gpa gpa, bool write, std::uint8_t value) {
  // A shared page: the VMM's memory at the slot's userspace address.
  const std::uint64_t uaddr = slot.userspace_addr + (((gpa >> kPageShift) - slot.base_gfn) << kPageShift);
  InsnResult r;
  if (write) {
    std::vector<std::uint8_t> page(kPageSize, value);
    if (!host_->user().copy_to(uaddr, page)) return InsnResult::fatal(fmt::format("shared 0x{:x}: bad mapping", gpa));
  } else if (!host_->user().copy_from(uaddr, {&r.value, 1})) {
    return InsnResult::fatal(fmt::format("shared 0x{:x}: bad mapping", gpa));
  }
  return r;
}

InsnResult Vm::private_access(Pfn pfn, bool write, std::uint8_t value) {
  HostMemory& mem = host_->sev()->mem();
  InsnResult r;
  r.is_private = true;
  if (write) {
    auto page = mem.page_mut(pfn);
    std::fill(page.begin(), page.end(), value);
  } else {
    r.value = mem.page(pfn)[0];
  }
  return r;
}

InsnResult Vm::sw_protected_access(VcpuMachine& m, Gpa gpa, bool write, std::uint8_t value) {
  const Gpa gfn = gpa >> kPageShift;
  const auto slot = gfn_to_memslot(gfn);
  const bool is_private = (attributes(gfn) & kAttrPrivate) != 0;
  if (is_private && kvm_faultin_pfn_private_exits(slot, gpa, m.exit)) return InsnResult::with(Outcome::Exited);
  if (!slot) return InsnResult::fatal(fmt::format("access to unmapped GPA 0x{:x}", gpa));
  if (!is_private) return shared_access(*slot, gpa, write, value);
  const auto pfn = gmem_pfn(*slot, gfn);  // kvm_gmem_get_pfn(); no arch prepare hook
  if (!pfn) return InsnResult::fatal(fmt::format("private GPA 0x{:x} has no guest_memfd page", gpa));
  return private_access(*pfn, write, value);
}

std::optional<std::string> Vm::guest_read_private(Gpa gpa, std::span<std::uint8_t> out) {
  SevPlatform* sev = host_->sev();
  const auto pfn = private_pfn(gpa);
  if (!pfn || sev == nullptr) return fmt::format("no secrets page at 0x{:x}", gpa);
  GuestAccess a;
  a.spa = pfn_to_spa(*pfn);
  a.gpa = gpa;
  a.asid = sev_.asid;
  a.kind = AccessKind::Read;
  if (const Fault f = check_guest_access(sev->rmp(), a); f.raised()) {
    return fmt::format("secrets page 0x{:x}: {} 0x{:x}", gpa, to_string(f.kind), f.code);
  }
  const auto page = sev->mem().page(*pfn);
  std::copy_n(page.begin(), std::min(out.size(), page.size()), out.begin());
  return std::nullopt;
}

InsnResult Vm::guest_rmpadjust(VcpuMachine& m, Gpa gpa, bool vmsa) {
  VcpuRun& v = m.run;
  SevPlatform* sev = host_->sev();
  if (!is_snp() || sev == nullptr) return InsnResult::fatal(fmt::format("RMPADJUST 0x{:x} in a VM without private memory", gpa));
  if ((attributes(gpa >> kPageShift) & kAttrPrivate) == 0) {
    return InsnResult::fatal(fmt::format("RMPADJUST 0x{:x}: the page is shared", gpa));
  }
  bool retry = false;
  const auto pfn = guest_private_pfn(v, gpa, &retry);
  if (retry) return InsnResult::with(Outcome::Again);
  if (!pfn) return InsnResult::fatal(fmt::format("RMPADJUST 0x{:x}: no guest_memfd page", gpa));
  // Target VMPL 1: the VMSA bit (Linux snp_set_vmsa) or read/write for VMPL1.
  const std::uint64_t rdx = vmsa ? (kRmpadjustVmsa | 1) : (1 | (3ULL << kRmpadjustPermShift));
  const GuestInsnResult r = rmpadjust(sev->rmp(), GuestCpu{sev_.asid, 0}, gpa, pfn_to_spa(*pfn), 0, rdx,
                                      OpContext{"guest RMPADJUST", static_cast<VmId>(id_)});
  if (r.fault.raised()) {
    return InsnResult::fatal(fmt::format("RMPADJUST 0x{:x}: {} 0x{:x}", gpa, to_string(r.fault.kind), r.fault.code));
  }
  InsnResult out;
  out.status = r.status;
  return out;
}

InsnResult Vm::guest_pvalidate(VcpuMachine& m, Gpa gpa, bool huge, bool validate) {
  VcpuRun& v = m.run;
  SevPlatform* sev = host_->sev();
  if (!is_snp() || sev == nullptr) {
    return InsnResult::fatal(fmt::format("private access to 0x{:x} in a VM without private memory", gpa));
  }
  const Gpa gfn = gpa >> kPageShift;
  const auto slot = gfn_to_memslot(gfn);
  const bool attr_private = (attributes(gfn) & kAttrPrivate) != 0;
  if (attr_private && kvm_faultin_pfn_private_exits(slot, gpa, m.exit)) return InsnResult::with(Outcome::Exited);
  if (!slot) return InsnResult::fatal(fmt::format("access to unmapped GPA 0x{:x}", gpa));
  if (!attr_private) {  // an implicit conversion: userspace decides (facts §8.4)
    m.exit = memory_fault_exit(gpa, true);
    return InsnResult::with(Outcome::Exited);
  }
  bool retry = false;
  const auto pfn = guest_private_pfn(v, gpa, &retry);
  if (retry) return InsnResult::with(Outcome::Again);
  if (!pfn) return InsnResult::fatal(fmt::format("private GPA 0x{:x} has no guest_memfd page", gpa));
  Rmp& rmp = sev->rmp();
  const std::size_t pc = v.guest.pc();
  const GuestInsnResult r = pvalidate(rmp, GuestCpu{sev_.asid, 0}, gpa, pfn_to_spa(*pfn), huge ? 1 : 0, validate ? 1 : 0,
                                      OpContext{"guest PVALIDATE", static_cast<VmId>(id_)});
  if (r.fault.raised() && (r.fault.code & kNpfGuestSizem) != 0 && v.fault_fixed_pc != pc) {
    // sev_handle_rmp_fault() after the #NPF's #VMEXIT: a 4K request on a 2M RMP entry -
    // PSMASH, and the guest re-executes PVALIDATE after the next VMRUN (§3.3).
    leave_guest(v);
    v.fault_fixed_pc = pc;
    v.fault_fix_smashed = psmash(rmp, pfn_to_spa(huge_base(*pfn)), OpContext{"sev_handle_rmp_fault", static_cast<VmId>(id_)}) ==
                          RmpStatus::Success;
    return InsnResult::with(Outcome::Again);
  }
  if (r.fault.raised()) {
    return InsnResult::fatal(
        fmt::format("PVALIDATE 0x{:x}: {} 0x{:x} ({})", gpa, to_string(r.fault.kind), r.fault.code, r.fault.check));
  }
  InsnResult out;
  out.status = r.status;
  out.cf = r.cf;
  out.after_psmash = v.fault_fixed_pc == pc && v.fault_fix_smashed;
  return out;
}

InsnResult Vm::guest_access(VcpuMachine& m, Gpa gpa, bool c_bit, bool write, std::uint8_t value) {
  if (type_ == kVmSwProtected) return sw_protected_access(m, gpa, write, value);
  VcpuRun& v = m.run;
  SevPlatform* sev = host_->sev();
  const bool snp = is_snp() && sev != nullptr;
  const Gpa gfn = gpa >> kPageShift;
  const auto slot = gfn_to_memslot(gfn);
  if (c_bit && !snp) return InsnResult::fatal(fmt::format("private access to 0x{:x} in a VM without private memory", gpa));
  const bool attr_private = (attributes(gfn) & kAttrPrivate) != 0;
  if (snp && c_bit && attr_private && kvm_faultin_pfn_private_exits(slot, gpa, m.exit)) {
    return InsnResult::with(Outcome::Exited);
  }
  if (!slot) return InsnResult::fatal(fmt::format("access to unmapped GPA 0x{:x}", gpa));
  if (snp && c_bit != attr_private) {
    // An implicit conversion: userspace decides (facts §8.4). KVM_RUN fails with EFAULT
    // and the memory-fault exit; the guest retries the same access afterwards.
    m.exit = memory_fault_exit(gpa, c_bit);
    return InsnResult::with(Outcome::Exited);
  }
  if (!c_bit) return shared_access(*slot, gpa, write, value);
  bool retry = false;
  const auto pfn = guest_private_pfn(v, gpa, &retry);
  if (retry) return InsnResult::with(Outcome::Again);
  if (!pfn) return InsnResult::fatal(fmt::format("private GPA 0x{:x} has no guest_memfd page", gpa));
  Rmp& rmp = sev->rmp();
  GuestAccess a;
  a.spa = pfn_to_spa(*pfn);
  a.gpa = gpa;
  a.asid = sev_.asid;
  a.kind = write ? AccessKind::Write : AccessKind::Read;
  // sev_private_max_mapping_level(): the NPT maps a private page at the RMP entry's level.
  PageSize rmp_level = PageSize::Size4K;
  (void)effective_entry(rmp, *pfn, &rmp_level);
  a.npt_level = rmp_level == PageSize::Size2M ? MapLevel::Size2M : MapLevel::Size4K;
  const Fault f = check_guest_access(rmp, a);
  const std::size_t pc = v.guest.pc();
  if (f.kind == FaultKind::Npf && (f.code & kNpfGuestRmp) != 0 && rmp_level == PageSize::Size2M && v.fault_fixed_pc != pc) {
    // sev_handle_rmp_fault() after the #NPF's #VMEXIT: PSMASH the 2M entry and zap; the
    // guest's retry after the next VMRUN maps at 4K (§3.3).
    leave_guest(v);
    v.fault_fixed_pc = pc;
    (void)psmash(rmp, pfn_to_spa(huge_base(*pfn)), OpContext{"sev_handle_rmp_fault", static_cast<VmId>(id_)});
    return InsnResult::with(Outcome::Again);
  }
  if (f.kind == FaultKind::Vc) return InsnResult::fatal(fmt::format("#VC 0x{:x} at 0x{:x} ({}): terminating", f.code, gpa, f.check));
  if (f.raised()) return InsnResult::fatal(fmt::format("#NPF 0x{:x} at 0x{:x} ({}): unresolved", f.code, gpa, f.check));
  return private_access(*pfn, write, value);
}

Exit Vm::run_vcpu(unsigned long vcpu_id) {
  const kern::FunctionScope fs(host_->sched(), "kvm_arch_vcpu_ioctl_run");
  auto it = runs_.find(vcpu_id);
  if (std::find(vcpu_ids_.begin(), vcpu_ids_.end(), vcpu_id) == vcpu_ids_.end()) return Exit{-EINVAL};
  const kern::Guard vcpu_lock(vcpu_mutex(vcpu_id));
  if (is_snp() && !sev_.finished) return Exit{-EINVAL};  // no VMSA to run before LAUNCH_FINISH
  if (it == runs_.end()) it = runs_.emplace(vcpu_id, VcpuRun{}).first;
  VcpuRun& v = it->second;
  if (!v.program && !is_sev_type() && type_ != kVmSwProtected) {
    arch_.at(vcpu_id).has_run = true;  // vcpu->arch.last_vmentry_cpu
    return run_x86(vcpu_id);
  }
  VcpuMachine m(*this, v);
  if (v.guest.terminated()) {
    v.guest.give_up(m, "KVM_RUN after the guest asked to terminate");
    return *m.exit;
  }
  if (v.pending == Pending::PscHypercall) {  // a GHCB PSC run: userspace converted, or not
    v.pending = Pending::None;
    if (v.completion.ret != 0) {
      // snp_complete_psc(): the guest sees SW_EXITINFO2 = PSC_ERROR_GENERIC and gives up.
      v.psc_started = false;
      v.guest.give_up(m, fmt::format("GHCB page-state change: userspace failed it (ret {}, SW_EXITINFO2 {:#x}): "
                                     "terminating",
                                     static_cast<std::int64_t>(v.completion.ret), 0x100ULL << 32));
      return *m.exit;
    }
    v.psc_cur += v.psc_covered;
  }
  if (v.pending == Pending::SnpReqCerts || v.pending == Pending::VmgexitCerts || v.pending == Pending::VmgexitDone) {
    if (auto e = snp_complete_req_certs(v)) return *e;
  }
  if (v.pending == Pending::Hypercall) {  // complete_hypercall_exit(): RAX = userspace's hypercall.ret
    v.pending = Pending::None;
    v.guest.complete_hypercall(m, v.completion.ret);
    if (m.exit) return *m.exit;
  }
  for (;;) {
    if (!v.in_guest) {
      if (auto e = enter_guest(vcpu_id, v)) return *e;
      arch_.at(vcpu_id).has_run = true;  // vcpu->arch.last_vmentry_cpu
    }
    host_->sched().point(kern::PointKind::GuestInsn, &v, v.guest.next_name());
    v.guest.step(m);
    if (m.exit) {
      leave_guest(v);
      return *m.exit;
    }
  }
}

}  // namespace snplab::model::kvm
