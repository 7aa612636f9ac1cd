#include "snp/model/hw/access.h"

#include "snp/model/base/assert.h"
#include "snp/model/hw/rmp_insn.h"

namespace snplab::model {

std::string_view to_string(FaultKind k) {
  switch (k) {
    case FaultKind::None: return "none";
    case FaultKind::HostPageFault: return "#PF";
    case FaultKind::Vc: return "#VC";
    case FaultKind::Npf: return "#NPF";
  }
  SNPLAB_UNREACHABLE("corrupt FaultKind");
}

std::string_view to_string(AccessKind k) {
  switch (k) {
    case AccessKind::Read: return "read";
    case AccessKind::Write: return "write";
    case AccessKind::FetchUser: return "fetch-user";
    case AccessKind::FetchSupervisor: return "fetch-supervisor";
    case AccessKind::PageTable: return "page-table";
  }
  SNPLAB_UNREACHABLE("corrupt AccessKind");
}

std::string_view to_string(MapLevel l) {
  switch (l) {
    case MapLevel::Size4K: return "4K";
    case MapLevel::Size2M: return "2M";
    case MapLevel::Size1G: return "1G";
  }
  SNPLAB_UNREACHABLE("corrupt MapLevel");
}

namespace {

/// The Hypervisor-Owned check (facts §3.1): the 4K page is unassigned, or for a 2M/1G
/// mapping every 4K page of the 2 MiB region is. The region test reads only the aligned
/// entry: it is unassigned and its sub-page count is zero exactly when no 4K page of the
/// region is assigned (a 2M assignment sets the aligned entry's Assigned; 4K assignments of
/// the other 511 pages are what the count counts - facts §1.2). Uncovered memory is
/// hypervisor-owned.
bool hypervisor_owned(Rmp& rmp, Spa spa, MapLevel level) {
  const Pfn pfn = spa_to_pfn(spa);
  if (level == MapLevel::Size4K) return !rmp.covers(pfn) || !effective_entry(rmp, pfn).assigned();
  // A large mapping covers the whole 2 MiB region, even where `spa` itself is past the
  // end of the RMP: the covered part of the region decides.
  const Pfn base = huge_base(pfn);
  if (!rmp.covers(base)) return true;
  const RmpEntryRaw e0 = rmp.load(base);
  return !e0.assigned() && e0.subpage_count() == 0;
}

bool is_write_like(AccessKind k) { return k == AccessKind::Write || k == AccessKind::PageTable; }

std::uint64_t npf_access_bits(const GuestAccess& a) {
  std::uint64_t bits = kNpfPresent;
  if (a.kind == AccessKind::Write) bits |= kNpfWrite;
  if (a.user || a.kind == AccessKind::FetchUser) bits |= kNpfUser;
  if (a.kind == AccessKind::FetchUser || a.kind == AccessKind::FetchSupervisor) bits |= kNpfFetch;
  bits |= a.kind == AccessKind::PageTable ? kNpfGuestPage : kNpfGuestFinal;
  return bits;
}

/// What the VMPL permission mask must grant for an access (facts §1.1: write needs read too).
std::uint8_t required_perms(AccessKind k) {
  switch (k) {
    case AccessKind::Read: return kPermRead;
    case AccessKind::Write: return kPermRead | kPermWrite;
    case AccessKind::FetchUser: return kPermExecUser;
    case AccessKind::FetchSupervisor: return kPermExecSupervisor;
    case AccessKind::PageTable: return kPermRead;
  }
  SNPLAB_UNREACHABLE("corrupt AccessKind");
}

}  // namespace

Fault check_host_access(Rmp& rmp, Spa spa, AccessKind kind, MapLevel level) {
  if (!is_write_like(kind) || spa >= kMaxPhysAddr) return {};
  if (hypervisor_owned(rmp, spa, level)) return {};
  return Fault{FaultKind::HostPageFault, kPfProt | kPfWrite | kPfRmp, "Hypervisor-Owned"};
}

Fault check_guest_access(Rmp& rmp, const GuestAccess& a) {
  const bool fetch_or_walk = a.kind == AccessKind::FetchUser || a.kind == AccessKind::FetchSupervisor ||
                             a.kind == AccessKind::PageTable;
  const std::uint64_t bits = npf_access_bits(a);

  if (!a.snp_active || !(a.c_bit || fetch_or_walk)) {
    // Not SNP-active, or an SNP guest's shared (C=0) data access: only writes are checked,
    // and they need a hypervisor-owned page (facts §3.1 rows 2 and 5).
    if (!is_write_like(a.kind)) return {};
    if (hypervisor_owned(rmp, a.spa, a.npt_level)) return {};
    return Fault{FaultKind::Npf, bits | kNpfGuestRmp, "Hypervisor-Owned"};
  }

  // SNP-active, effective C=1: fetches and page-table walks always, data with C=1.
  const std::uint64_t enc = bits | kNpfGuestRmp | kNpfGuestEnc;
  const Pfn pfn = spa_to_pfn(a.spa);
  if (a.spa >= kMaxPhysAddr || !rmp.covers(pfn)) return Fault{FaultKind::Npf, enc, "Covered"};
  PageSize rmp_size = PageSize::Size4K;
  const RmpEntryRaw e = effective_entry(rmp, pfn, &rmp_size);
  if (!e.assigned() || e.asid() != a.asid) return Fault{FaultKind::Npf, enc, "Guest-Owned"};
  if (e.gpa() != (a.gpa & ~(kPageSize - 1))) return Fault{FaultKind::Npf, enc, "Reverse-Map"};
  if (e.immutable()) return Fault{FaultKind::Npf, enc, "Mutable"};
  const bool npt_large = a.npt_level != MapLevel::Size4K;
  if (npt_large != (rmp_size == PageSize::Size2M)) return Fault{FaultKind::Npf, enc, "Page-Size"};
  if (!e.validated()) return Fault{FaultKind::Vc, kVcPageNotValidated, "Validated"};
  const std::uint8_t need = required_perms(a.kind);
  if (a.vmpl >= kNumVmpls || (e.vmpl_perms(a.vmpl) & need) != need) {
    return Fault{FaultKind::Npf, enc | kNpfGuestVmpl, "VMPL"};
  }
  return {};
}

}  // namespace snplab::model
