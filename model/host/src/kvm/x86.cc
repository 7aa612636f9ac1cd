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
}  // namespace

int Vm::set_guest_program(unsigned long vcpu_id, std::vector<GuestOp> ops) {
  if (std::find(vcpu_ids_.begin(), vcpu_ids_.end(), vcpu_id) == vcpu_ids_.end()) return -EINVAL;
  VcpuRun& v = runs_[vcpu_id];
  const Pfn vmsa = v.vmsa;  // the vCPU's VMSA (AP creation) outlives the program
  const bool vmsa_invalid = v.vmsa_invalid;
  v = VcpuRun{};
  v.program = std::move(ops);
  v.vmsa = vmsa;
  v.vmsa_invalid = vmsa_invalid;
  return 0;
}

const GuestLog* Vm::guest_log(unsigned long vcpu_id) const {
  auto it = runs_.find(vcpu_id);
  return it == runs_.end() ? nullptr : &it->second.log;
}

int Vm::complete_vcpu(unsigned long vcpu_id, const UserCompletion& c) {
  auto it = runs_.find(vcpu_id);
  if (it == runs_.end() || it->second.pending == Pending::None) return -EINVAL;
  it->second.completion = c;
  return 0;
}

const std::vector<std::uint8_t>* Vm::guest_report(unsigned long vcpu_id) const {
  auto it = runs_.find(vcpu_id);
  return it == runs_.end() ? nullptr : &it->second.report;
}

Exit Vm::terminate(VcpuRun& v, std::string why, std::uint64_t ghcb_msr) {
  // The guest gives up: GHCB termination request, KVM_EXIT_SYSTEM_EVENT(SEV_TERM).
  v.log.push_back(std::move(why));
  v.terminated = true;
  Exit e;
  e.reason = kExitSystemEvent;
  e.system_event_type = kSystemEventSevTerm;
  // The GHCB MSR protocol's termination request (GHCBInfo 0x100): a guest program's own
  // GuestOp::terminate names its reason set and code; a guest that gives up on a failed
  // operation gives the general reason (set 0, code 0) and says the specific one in its log
  // (docs/kvm.md).
  e.system_event_data0 = ghcb_msr;
  return e;
}

std::optional<Exit> Vm::shared_access(VcpuRun& v, const GuestOp& op, const Memslot& slot) {
  // A shared page: the VMM's memory at the slot's userspace address.
  const Gpa gpa = op.gpa & ~(kPageSize - 1);
  const std::uint64_t uaddr = slot.userspace_addr + (((gpa >> kPageShift) - slot.base_gfn) << kPageShift);
  std::uint8_t b = 0;
  if (op.kind == GuestOpKind::Write) {
    std::vector<std::uint8_t> page(kPageSize, op.value);
    if (!host_->user().copy_to(uaddr, page)) return terminate(v, fmt::format("shared 0x{:x}: bad mapping", gpa));
    v.log.push_back(fmt::format("write 0x{:x} (shared): 0x{:02x}", gpa, op.value));
  } else {
    if (!host_->user().copy_from(uaddr, {&b, 1})) return terminate(v, fmt::format("shared 0x{:x}: bad mapping", gpa));
    v.log.push_back(fmt::format("read 0x{:x} (shared): 0x{:02x}", gpa, b));
  }
  ++v.pc;
  return std::nullopt;
}

std::optional<Exit> Vm::private_access(VcpuRun& v, const GuestOp& op, Pfn pfn) {
  const Gpa gpa = op.gpa & ~(kPageSize - 1);
  HostMemory& mem = host_->sev()->mem();
  if (op.kind == GuestOpKind::Write) {
    auto page = mem.page_mut(pfn);
    std::fill(page.begin(), page.end(), op.value);
    v.log.push_back(fmt::format("write 0x{:x} (private): 0x{:02x}", gpa, op.value));
  } else {
    v.log.push_back(fmt::format("read 0x{:x} (private): 0x{:02x}", gpa, mem.page(pfn)[0]));
  }
  ++v.pc;
  return std::nullopt;
}

std::optional<Exit> Vm::sw_protected_access(VcpuRun& v, const GuestOp& op) {
  const Gpa gpa = op.gpa & ~(kPageSize - 1);
  const Gpa gfn = gpa >> kPageShift;
  const auto slot = gfn_to_memslot(gfn);
  const bool is_private = (attributes(gfn) & kAttrPrivate) != 0;
  // kvm_faultin_pfn_private(): private by the attributes, but no slot, or one without
  // guest_memfd, can back it - a memory-fault exit to userspace.
  if (is_private && (!slot || (slot->flags & kMemGuestMemfd) == 0)) return memory_fault_exit(gpa, true);
  if (!slot) return terminate(v, fmt::format("access to unmapped GPA 0x{:x}", gpa));
  if (!is_private) return shared_access(v, op, *slot);
  const auto pfn = gmem_pfn(*slot, gfn);  // kvm_gmem_get_pfn(); no arch prepare hook
  if (!pfn) return terminate(v, fmt::format("private GPA 0x{:x} has no guest_memfd page", gpa));
  return private_access(v, op, *pfn);
}

std::optional<Exit> Vm::step(VcpuRun& v) {
  if (v.pc >= v.program.size()) {  // the program ran out: the guest idles
    Exit e;
    e.reason = kExitHlt;
    return e;
  }
  const GuestOp& op = v.program[v.pc];
  switch (op.kind) {  // these exit to KVM (HLT intercept, VMGEXIT), which handles them in host context
    case GuestOpKind::Halt:
    case GuestOpKind::MapGpaRange:
    case GuestOpKind::GuestRequest:
    case GuestOpKind::ExtGuestRequest:
    case GuestOpKind::GhcbPsc:
    case GuestOpKind::ApCreate:
    case GuestOpKind::Terminate: leave_guest(v); break;
    case GuestOpKind::Pvalidate:
    case GuestOpKind::Read:
    case GuestOpKind::Write:
    case GuestOpKind::Rmpadjust: break;
  }
  const Gpa gpa = op.gpa & ~(kPageSize - 1);
  const Gpa gfn = gpa >> kPageShift;
  SevPlatform* sev = host_->sev();
  const bool snp = is_snp() && sev != nullptr;
  switch (op.kind) {
    case GuestOpKind::Halt: {
      ++v.pc;
      Exit e;
      e.reason = kExitHlt;
      return e;
    }
    case GuestOpKind::MapGpaRange: {
      if ((hypercall_exit_mask_ & (1ULL << kHcMapGpaRange)) == 0) {
        return terminate(v, fmt::format("page-state change 0x{:x}+{}: refused (userspace has not enabled "
                                        "KVM_CAP_EXIT_HYPERCALL)", gpa, op.npages));
      }
      v.pending = Pending::Hypercall;
      v.completion = UserCompletion{};  // KVM pre-zeroes hypercall.ret (facts §8.5)
      Exit e;
      e.reason = kExitHypercall;
      e.hypercall_nr = kHcMapGpaRange;
      e.hypercall_args[0] = gpa;
      e.hypercall_args[1] = op.npages;
      e.hypercall_args[2] = op.to_private ? kMapGpaEncrypted : 0;  // PAGE_SZ_4K
      return e;
    }
    case GuestOpKind::GuestRequest:
    case GuestOpKind::ExtGuestRequest:
      return step_guest_request(v, op);
    case GuestOpKind::GhcbPsc:
      return step_psc(v, op);
    case GuestOpKind::ApCreate:
      return step_ap_create(v, op);
    case GuestOpKind::Terminate: {
      // sev_handle_vmgexit_msr_protocol(GHCB_MSR_TERM_REQ): KVM_EXIT_SYSTEM_EVENT(SEV_TERM) with
      // the GHCB MSR value as data[0].
      ++v.pc;
      const std::uint64_t ghcb = 0x100 | (std::uint64_t{op.reason_set} & 0xF) << 12 | std::uint64_t{op.reason_code} << 16;
      return terminate(v, fmt::format("GHCB termination request: reason set {}, code {}", op.reason_set, op.reason_code),
                       ghcb);
    }
    case GuestOpKind::Rmpadjust: {
      if (!snp) return terminate(v, fmt::format("RMPADJUST 0x{:x} in a VM without private memory", gpa));
      if ((attributes(gfn) & kAttrPrivate) == 0) {
        return terminate(v, fmt::format("RMPADJUST 0x{:x}: the page is shared", gpa));
      }
      bool retry = false;
      const auto pfn = guest_private_pfn(v, gpa, &retry);
      if (retry) return std::nullopt;
      if (!pfn) return terminate(v, fmt::format("RMPADJUST 0x{:x}: no guest_memfd page", gpa));
      // Target VMPL 1: the VMSA bit (Linux snp_set_vmsa) or read/write for VMPL1.
      const std::uint64_t rdx = op.vmsa ? (kRmpadjustVmsa | 1) : (1 | (3ULL << kRmpadjustPermShift));
      GuestInsnResult r = rmpadjust(sev->rmp(), GuestCpu{sev_.asid, 0}, gpa, pfn_to_spa(*pfn), 0, rdx,
                                    OpContext{"guest RMPADJUST", static_cast<VmId>(id_)});
      if (r.fault.raised()) {
        return terminate(v, fmt::format("RMPADJUST 0x{:x}: {} 0x{:x}", gpa, to_string(r.fault.kind), r.fault.code));
      }
      v.log.push_back(fmt::format("RMPADJUST 0x{:x}{}: {}", gpa, op.vmsa ? " (VMSA)" : "", to_string(r.status)));
      ++v.pc;
      return std::nullopt;
    }
    case GuestOpKind::Pvalidate:
    case GuestOpKind::Read:
    case GuestOpKind::Write: {
      if (type_ == kVmSwProtected && op.kind != GuestOpKind::Pvalidate) return sw_protected_access(v, op);
      const bool c_bit = op.kind == GuestOpKind::Pvalidate || op.c_bit;
      const auto slot = gfn_to_memslot(gfn);
      if (c_bit && !snp) return terminate(v, fmt::format("private access to 0x{:x} in a VM without private memory", gpa));
      const bool attr_private = (attributes(gfn) & kAttrPrivate) != 0;
      // kvm_faultin_pfn_private(): a private fault on a GPA with no memslot, or one whose slot
      // has no guest_memfd (!kvm_slot_can_be_private), exits to userspace as a memory fault.
      const bool cannot_be_private = !slot || (slot->flags & kMemGuestMemfd) == 0;
      if (snp && c_bit && attr_private && cannot_be_private) return memory_fault_exit(gpa, true);
      if (!slot) return terminate(v, fmt::format("access to unmapped GPA 0x{:x}", gpa));
      if (snp && c_bit != attr_private) {
        // An implicit conversion: userspace decides (facts §8.4). KVM_RUN fails with EFAULT
        // and the memory-fault exit; the guest retries the same access afterwards.
        return memory_fault_exit(gpa, c_bit);
      }
      if (!c_bit) return shared_access(v, op, *slot);
      bool retry = false;
      const auto pfn = guest_private_pfn(v, gpa, &retry);
      if (retry) return std::nullopt;
      if (!pfn) return terminate(v, fmt::format("private GPA 0x{:x} has no guest_memfd page", gpa));
      Rmp& rmp = sev->rmp();
      const GuestCpu cpu{sev_.asid, 0};
      if (op.kind == GuestOpKind::Pvalidate) {
        GuestInsnResult r = pvalidate(rmp, cpu, gpa, pfn_to_spa(*pfn), op.huge ? 1 : 0, op.validate ? 1 : 0,
                                      OpContext{"guest PVALIDATE", static_cast<VmId>(id_)});
        if (r.fault.raised() && (r.fault.code & kNpfGuestSizem) != 0 && v.fault_fixed_pc != v.pc) {
          // sev_handle_rmp_fault() after the #NPF's #VMEXIT: a 4K request on a 2M RMP entry -
          // PSMASH, and the guest re-executes PVALIDATE after the next VMRUN (§3.3).
          leave_guest(v);
          v.fault_fixed_pc = v.pc;
          v.fault_fix_smashed = psmash(rmp, pfn_to_spa(huge_base(*pfn)),
                                       OpContext{"sev_handle_rmp_fault", static_cast<VmId>(id_)}) == RmpStatus::Success;
          return std::nullopt;
        }
        const bool smashed = v.fault_fixed_pc == v.pc && v.fault_fix_smashed;
        if (r.fault.raised()) {
          return terminate(v, fmt::format("PVALIDATE 0x{:x}: {} 0x{:x} ({})", gpa, to_string(r.fault.kind), r.fault.code,
                                          r.fault.check));
        }
        v.log.push_back(fmt::format("PVALIDATE 0x{:x}{}: {}{}{}", gpa, op.huge ? " (2M)" : "", to_string(r.status),
                                    r.cf ? " (no change)" : "", smashed ? " (after RMP fault: PSMASH)" : ""));
        ++v.pc;
        return std::nullopt;
      }
      GuestAccess a;
      a.spa = pfn_to_spa(*pfn);
      a.gpa = gpa;
      a.asid = sev_.asid;
      a.kind = op.kind == GuestOpKind::Write ? AccessKind::Write : AccessKind::Read;
      // sev_private_max_mapping_level(): the NPT maps a private page at the RMP entry's level.
      PageSize rmp_level = PageSize::Size4K;
      (void)effective_entry(rmp, *pfn, &rmp_level);
      a.npt_level = rmp_level == PageSize::Size2M ? MapLevel::Size2M : MapLevel::Size4K;
      const Fault f = check_guest_access(rmp, a);
      if (f.kind == FaultKind::Npf && (f.code & kNpfGuestRmp) != 0 && rmp_level == PageSize::Size2M &&
          v.fault_fixed_pc != v.pc) {
        // sev_handle_rmp_fault() after the #NPF's #VMEXIT: PSMASH the 2M entry and zap; the
        // guest's retry after the next VMRUN maps at 4K (§3.3).
        leave_guest(v);
        v.fault_fixed_pc = v.pc;
        (void)psmash(rmp, pfn_to_spa(huge_base(*pfn)), OpContext{"sev_handle_rmp_fault", static_cast<VmId>(id_)});
        return std::nullopt;
      }
      if (f.kind == FaultKind::Vc) {
        return terminate(v, fmt::format("#VC 0x{:x} at 0x{:x} ({}): terminating", f.code, gpa, f.check));
      }
      if (f.raised()) {
        return terminate(v, fmt::format("#NPF 0x{:x} at 0x{:x} ({}): unresolved", f.code, gpa, f.check));
      }
      return private_access(v, op, *pfn);
    }
  }
  return std::nullopt;
}

Exit Vm::run_vcpu(unsigned long vcpu_id) {
  const kern::FunctionScope fs(host_->sched(), "kvm_arch_vcpu_ioctl_run");
  auto it = runs_.find(vcpu_id);
  if (std::find(vcpu_ids_.begin(), vcpu_ids_.end(), vcpu_id) == vcpu_ids_.end()) return Exit{-EINVAL};
  const kern::Guard vcpu_lock(vcpu_mutex(vcpu_id));
  if (is_snp() && !sev_.finished) return Exit{-EINVAL};  // no VMSA to run before LAUNCH_FINISH
  if (it == runs_.end()) it = runs_.emplace(vcpu_id, VcpuRun{}).first;
  VcpuRun& v = it->second;
  if (v.terminated) return terminate(v, "KVM_RUN after the guest asked to terminate");
  if (v.pending == Pending::PscHypercall) {  // a GHCB PSC run: userspace converted, or not
    v.pending = Pending::None;
    if (v.completion.ret != 0) {
      v.psc_started = false;
      return terminate(v, fmt::format("GHCB page-state change: userspace failed it (ret {}, SW_EXITINFO2 {:#x}): "
                                      "terminating",
                                      static_cast<std::int64_t>(v.completion.ret), 0x100ULL << 32));
    }
    v.psc_cur += v.psc_covered;
  }
  if (v.pending == Pending::SnpReqCerts || v.pending == Pending::VmgexitCerts || v.pending == Pending::VmgexitDone) {
    if (auto e = complete_cert_exit(v)) return *e;
  }
  if (v.pending == Pending::Hypercall) {  // complete the page-state change with userspace's answer
    v.pending = Pending::None;
    const GuestOp& op = v.program[v.pc];
    if (v.completion.ret != 0) {
      return terminate(v, fmt::format("page-state change 0x{:x}+{}: failed (ret {})", op.gpa, op.npages,
                                      static_cast<std::int64_t>(v.completion.ret)));
    }
    v.log.push_back(fmt::format("page-state change 0x{:x}+{} to {}: done", op.gpa, op.npages,
                                op.to_private ? "private" : "shared"));
    ++v.pc;
  }
  for (;;) {
    if (!v.in_guest) {
      if (auto e = enter_guest(vcpu_id, v)) return *e;
    }
    host_->sched().point(kern::PointKind::GuestInsn, &v, v.pc < v.program.size() ? to_string(v.program[v.pc].kind) : "idle");
    if (auto e = step(v)) {
      leave_guest(v);
      return *e;
    }
  }
}

}  // namespace snplab::model::kvm
