// The GHCB events besides guest requests, KVM's side: the Page State Change NAE (facts §7.2:
// KVM walks the descriptor, coalesces runs of entries into KVM_HC_MAP_GPA_RANGE exits, marks
// PSMASH/UNSMASH done without exiting) and AP Creation (facts §7.5). The GHCB itself is not modelled as guest memory:
// its contents are the guest operation's fields and the guest's Ghcb answer (model/guest).
#include <algorithm>
#include <cerrno>

#include <fmt/format.h>

#include "snp/model/host/kvm_host.h"
#include "snp/model/hw/rmp_insn.h"

namespace snplab::model::kvm {

namespace {

constexpr std::uint64_t kHcMapGpaRange = 12;
constexpr std::uint64_t kMapGpaEncrypted = 1ULL << 4;  // KVM_MAP_GPA_RANGE_ENCRYPTED
constexpr std::uint64_t kMapGpaPageSz2M = 1ULL << 0;   // KVM_MAP_GPA_RANGE_PAGE_SZ_2M
// PSC results in SW_EXITINFO2 (facts §7.2).
constexpr std::uint64_t kPscErrInvalidHdr = (1ULL << 32) | 1;
constexpr std::uint64_t kPscErrInvalidEntry = (1ULL << 32) | 2;
constexpr std::uint64_t kPscErrGeneric = 0x100ULL << 32;
constexpr std::uint64_t kGhcbErrInvalidInput = 5;
constexpr std::uint64_t kSnpActive = 1;

std::uint64_t pages_of(const PscEntry& e) { return e.huge ? kPagesPerHuge : 1; }

}  // namespace

InsnResult Vm::snp_begin_psc(VcpuMachine& m, const std::vector<PscEntry>& entries) {
  VcpuRun& v = m.run;
  leave_guest(v);
  // snp_begin_psc(): the header first (cur_entry <= end_entry < VMGEXIT_PSC_MAX_COUNT). A
  // refusal is SW_EXITINFO2's error code; the guest gives up on it.
  auto fail = [&](std::uint64_t code, std::string_view why) {
    v.psc_started = false;
    v.psc_cur = 0;
    return InsnResult::fatal(fmt::format("{} (SW_EXITINFO2 {:#x})", why, code));
  };
  if (!v.psc_started) {
    if (entries.empty() || entries.size() > kPscMaxEntries) return fail(kPscErrInvalidHdr, "invalid header");
    v.psc_started = true;
    v.psc_cur = 0;
  }
  if (!is_snp() || host_->sev() == nullptr) return fail(kPscErrGeneric, "not an SNP guest");
  while (v.psc_cur < entries.size()) {
    const PscEntry& e = entries[v.psc_cur];
    if (e.operation == kPscPsmash || e.operation == kPscUnsmash || e.cur_page == pages_of(e)) {
      // PSMASH/UNSMASH are marked done without an exit; a finished entry is skipped.
      ++v.psc_cur;
      continue;
    }
    if (e.operation != kPscPrivate && e.operation != kPscShared) return fail(kPscErrInvalidEntry, "invalid entry");
    if (e.cur_page > pages_of(e) || (e.huge && (e.gfn & (kPagesPerHuge - 1)) != 0)) {
      return fail(kPscErrInvalidEntry, "invalid entry");
    }
    if ((hypercall_exit_mask_ & (1ULL << kHcMapGpaRange)) == 0) {
      return fail(kPscErrGeneric, "userspace has not enabled KVM_CAP_EXIT_HYPERCALL");
    }
    // Coalesce the run of entries with the same operation and size that follow contiguously.
    const Gpa gfn = e.gfn + e.cur_page;
    std::uint64_t npages = pages_of(e) - e.cur_page;
    std::size_t covered = 1;
    while (v.psc_cur + covered < entries.size()) {
      const PscEntry& n = entries[v.psc_cur + covered];
      if (n.operation != e.operation || n.huge != e.huge || n.cur_page != 0 || n.gfn != gfn + npages) break;
      npages += pages_of(n);
      ++covered;
    }
    v.psc_covered = covered;
    v.pending = Pending::PscHypercall;
    v.completion = UserCompletion{};
    Exit x;
    x.reason = kExitHypercall;
    x.hypercall_nr = kHcMapGpaRange;
    x.hypercall_args[0] = gfn << kPageShift;
    x.hypercall_args[1] = npages;
    x.hypercall_args[2] = (e.operation == kPscPrivate ? kMapGpaEncrypted : 0) | (e.huge ? kMapGpaPageSz2M : 0);
    m.exit = x;
    return InsnResult::with(Outcome::Exited);
  }
  v.psc_started = false;
  v.psc_cur = 0;
  return InsnResult::with(Outcome::Retired);
}

std::string Vm::sev_snp_ap_creation(VcpuMachine& m, const GuestOp& op, Ghcb& ghcb) {
  leave_guest(m.run);
  // Bad input is answered as malformed input, INVALID_INPUT (our reading of the kernel's
  // error path; the guest sees SW_EXITINFO1 = 2).
  auto refuse = [&](std::string why) {
    ghcb.sw_exitinfo1 = kGhcbMalformedInput;
    ghcb.sw_exitinfo2 = kGhcbErrInvalidInput;
    return why;
  };
  ghcb.sw_exitinfo1 = 0;
  ghcb.sw_exitinfo2 = 0;
  if (!is_snp() || host_->sev() == nullptr) return refuse("not an SNP guest");
  if (std::find(vcpu_ids_.begin(), vcpu_ids_.end(), op.apic_id) == vcpu_ids_.end()) return refuse("no such vCPU");
  if (op.ap_request != kApCreateOnInit && op.ap_request != kApCreate && op.ap_request != kApDestroy) {
    return refuse("unknown request");
  }
  VcpuRun& target = runs_[op.apic_id];
  if (op.ap_request == kApDestroy) {
    target.vmsa = 0;
    target.vmsa_invalid = true;
    return {};
  }
  if ((op.gpa & (kPageSize - 1)) != 0) return refuse("VMSA GPA not page aligned");
  if (((op.gpa >> kPageShift) & (kPagesPerHuge - 1)) == 0) return refuse("VMSA GPA is 2 MiB aligned (erratum)");
  if ((op.sev_features | kSnpActive) != sev_.vmsa_features) {
    return refuse(fmt::format("SEV_FEATURES {:#x} differ from the VM's {:#x}", op.sev_features, sev_.vmsa_features));
  }
  const auto slot = gfn_to_memslot(op.gpa >> kPageShift);
  if (!slot || (attributes(op.gpa >> kPageShift) & kAttrPrivate) == 0) return refuse("VMSA GPA is not private");
  const auto pfn = gmem_pfn(*slot, op.gpa >> kPageShift);
  if (!pfn) return refuse("VMSA GPA has no guest_memfd page");
  // CREATE takes effect at once (KVM_REQ_UPDATE_PROTECTED_GUEST_STATE on the target);
  // CREATE_ON_INIT would wait for the next INIT, which the simulated guests never send, so
  // the model applies both at the target's next KVM_RUN.
  target.vmsa = *pfn;
  target.vmsa_invalid = false;
  return {};
}

}  // namespace snplab::model::kvm
