// The GHCB events besides guest requests, both halves: the Page State Change NAE (facts §7.2:
// KVM walks the descriptor, coalesces runs of entries into KVM_HC_MAP_GPA_RANGE exits, marks
// PSMASH/UNSMASH done without exiting) and AP Creation (facts §7.5), plus the VMRUN checks
// on the VMSA a vCPU enters (facts §3.4). The GHCB itself is not modelled as guest memory:
// its contents are the guest operation's fields and the vCPU's in-flight state.
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

std::optional<Exit> Vm::step_psc(VcpuRun& v, const GuestOp& op) {
  // snp_begin_psc(): the header first (cur_entry <= end_entry < VMGEXIT_PSC_MAX_COUNT).
  auto fail = [&](std::uint64_t code, std::string_view why) -> std::optional<Exit> {
    v.psc_started = false;
    v.psc_cur = 0;
    return terminate(v, fmt::format("GHCB page-state change: {} (SW_EXITINFO2 {:#x}): terminating", why, code));
  };
  if (!v.psc_started) {
    if (op.psc.empty() || op.psc.size() > kPscMaxEntries) return fail(kPscErrInvalidHdr, "invalid header");
    v.psc_started = true;
    v.psc_cur = 0;
  }
  if (!is_snp() || host_->sev() == nullptr) return fail(kPscErrGeneric, "not an SNP guest");
  while (v.psc_cur < op.psc.size()) {
    const PscEntry& e = op.psc[v.psc_cur];
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
    while (v.psc_cur + covered < op.psc.size()) {
      const PscEntry& n = op.psc[v.psc_cur + covered];
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
    return x;
  }
  v.log.push_back(fmt::format("GHCB page-state change ({} entries): done", op.psc.size()));
  v.psc_started = false;
  v.psc_cur = 0;
  ++v.pc;
  return std::nullopt;
}

std::optional<Exit> Vm::step_ap_create(VcpuRun& v, const GuestOp& op) {
  // sev_snp_ap_creation(): bad input is answered as malformed input, INVALID_INPUT (our
  // reading of the kernel's error path; the guest sees SW_EXITINFO1 = 2).
  auto refuse = [&](std::string_view why) {
    v.log.push_back(fmt::format("AP creation for APIC {}: refused ({}; GHCB error {})", op.apic_id, why,
                                kGhcbErrInvalidInput));
    ++v.pc;
    return std::nullopt;
  };
  if (!is_snp() || host_->sev() == nullptr) return refuse("not an SNP guest");
  if (std::find(vcpu_ids_.begin(), vcpu_ids_.end(), op.apic_id) == vcpu_ids_.end()) return refuse("no such vCPU");
  if (op.ap_request != kApCreateOnInit && op.ap_request != kApCreate && op.ap_request != kApDestroy) {
    return refuse("unknown request");
  }
  VcpuRun& target = runs_[op.apic_id];
  if (op.ap_request == kApDestroy) {
    target.vmsa = 0;
    target.vmsa_invalid = true;
    v.log.push_back(fmt::format("AP destroy for APIC {}: done", op.apic_id));
    ++v.pc;
    return std::nullopt;
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
  v.log.push_back(fmt::format("AP creation for APIC {} with VMSA 0x{:x}: done", op.apic_id, op.gpa));
  ++v.pc;
  return std::nullopt;
}

}  // namespace snplab::model::kvm
