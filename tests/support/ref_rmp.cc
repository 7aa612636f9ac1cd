#include "support/ref_rmp.h"

namespace snplab::test::ref {

namespace {

constexpr std::uint64_t k4K = 4096;
constexpr std::uint64_t k2M = 2ULL << 20;
constexpr std::uint64_t kSpaLimit = 1ULL << 52;
constexpr std::uint64_t kGpaLimit = 1ULL << 51;
constexpr std::uint64_t kN = 512;

std::uint64_t base_of(std::uint64_t pfn) { return pfn - pfn % kN; }

Fault npf(std::uint64_t bits, const char* check) {
  return Fault{model::FaultKind::Npf, bits, check};
}

// EXITINFO1 of a guest RMP instruction's fault: P | RMP | FINAL | ENC (+SIZEM).
constexpr std::uint64_t kInsnNpf = (1ULL << 0) | (1ULL << 31) | (1ULL << 32) | (1ULL << 34);

}  // namespace

Page RefRmp::small(std::uint64_t pfn) const {
  auto it = small_.find(pfn);
  return it == small_.end() ? Page{} : it->second;
}

bool RefRmp::assigned(std::uint64_t pfn) const {
  auto l = large_.find(base_of(pfn));
  if (l != large_.end()) return l->second.assigned;
  return small(pfn).assigned;
}

Page RefRmp::effective(std::uint64_t pfn, bool* large) const {
  auto l = large_.find(base_of(pfn));
  if (large != nullptr) *large = l != large_.end();
  if (l == large_.end()) return small(pfn);
  Page p = l->second;
  if (p.assigned) p.gpa += (pfn - base_of(pfn)) * k4K;
  return p;
}

unsigned RefRmp::count_4k_assigned(std::uint64_t base) const {
  if (large_.contains(base)) return 0;
  unsigned n = 0;
  for (std::uint64_t i = 1; i < kN; ++i) n += small(base + i).assigned ? 1U : 0U;
  return n;
}

void RefRmp::set_in_use(std::uint64_t pfn, bool on) {
  if (on) {
    in_use_.insert(pfn);
  } else {
    in_use_.erase(pfn);
  }
}

RmpStatus RefRmp::rmpupdate(std::uint64_t spa, const model::RmpState& st) {
  // Input checks (docs/rmp-model.md, RMPUPDATE).
  if (spa % k4K != 0 || spa >= kSpaLimit) return RmpStatus::FailInput;
  if (st.rsvd != 0 || st.assigned > 1 || st.pagesize > 1 || st.immutable > 1) return RmpStatus::FailInput;
  if (st.asid >= 0x3FF || st.gpa % k4K != 0 || st.gpa >= kGpaLimit) return RmpStatus::FailInput;
  if (st.assigned == 0 && (st.asid != 0 || st.gpa != 0 || st.immutable != 0)) return RmpStatus::FailInput;
  if (st.assigned == 1 && st.asid == 0 && st.immutable == 0) return RmpStatus::FailInput;
  const std::uint64_t pfn = spa / k4K;
  const std::uint64_t base = base_of(pfn);
  Page next;
  next.assigned = st.assigned == 1;
  next.immutable = st.immutable == 1;
  next.gpa = st.gpa;
  next.asid = st.asid;
  if (next.assigned) next.perms[0] = 0x1F;

  if (st.pagesize == 0) {
    if (!covers(pfn)) return RmpStatus::FailInput;
    auto l = large_.find(base);
    const bool immut = l != large_.end() ? l->second.immutable : small(pfn).immutable;
    if (immut) return RmpStatus::FailPermission;
    if (in_use_.contains(pfn)) return RmpStatus::FailInUse;
    if (l != large_.end() && l->second.assigned) return RmpStatus::FailOverlap;
    if (l != large_.end()) large_.erase(l);  // an unassigned 2M entry: 512 hypervisor pages
    small_[pfn] = next;
    return RmpStatus::Success;
  }
  if (st.gpa % k2M != 0 || spa % k2M != 0 || !covers(base) || !covers(base + kN - 1)) return RmpStatus::FailInput;
  auto l = large_.find(base);
  for (std::uint64_t i = 0; i < kN; ++i) {
    const bool immut = l != large_.end() ? l->second.immutable : small(base + i).immutable;
    if (immut) return RmpStatus::FailPermission;
  }
  for (std::uint64_t i = 0; i < kN; ++i) {
    if (in_use_.contains(base + i)) return RmpStatus::FailInUse;
  }
  if (l == large_.end()) {
    for (std::uint64_t i = 0; i < kN; ++i) {
      if (small(base + i).assigned) return RmpStatus::FailOverlap;
    }
  }
  for (std::uint64_t i = 0; i < kN; ++i) small_.erase(base + i);
  large_[base] = next;
  return RmpStatus::Success;
}

RmpStatus RefRmp::psmash(std::uint64_t spa) {
  if (spa % k2M != 0 || spa >= kSpaLimit) return RmpStatus::FailInput;
  const std::uint64_t base = spa / k4K;
  if (!covers(base) || !covers(base + kN - 1)) return model::kPsmashFailBadAddr;
  auto l = large_.find(base);
  if (l == large_.end()) return RmpStatus::FailInput;
  if (l->second.immutable) return RmpStatus::FailPermission;
  for (std::uint64_t i = 0; i < kN; ++i) {
    if (in_use_.contains(base + i)) return RmpStatus::FailInUse;
  }
  const Page p = l->second;
  large_.erase(l);
  for (std::uint64_t i = 0; i < kN; ++i) {
    Page q = p;
    if (p.assigned) q.gpa = p.gpa + i * k4K;
    small_[base + i] = q;
  }
  return RmpStatus::Success;
}

model::RmpreadResult RefRmp::rmpread(std::uint64_t spa) const {
  const std::uint64_t pfn = spa / k4K;
  if (spa >= kSpaLimit || !covers(pfn)) return {RmpStatus::FailInput, {}};
  const std::uint64_t base = base_of(pfn);
  model::RmpReadEntry r;
  auto l = large_.find(base);
  if (l != large_.end()) {
    // The 2M entry sits in the aligned PFN; the other 511 entries only mirror Assigned.
    r.assigned = l->second.assigned ? 1 : 0;
    if (pfn == base) {
      r.gpa = l->second.gpa;
      r.size_flags = model::RmpReadEntry::kPageSizeFlag;
      r.immutable = l->second.immutable ? 1 : 0;
      r.asid = l->second.asid;
    }
    return {RmpStatus::Success, r};
  }
  const Page p = small(pfn);
  r.gpa = p.gpa;
  r.assigned = p.assigned ? 1 : 0;
  r.immutable = p.immutable ? 1 : 0;
  r.asid = p.asid;
  if (count_4k_assigned(base) != 0) r.size_flags |= model::RmpReadEntry::kHpageRegionStatusFlag;
  return {RmpStatus::Success, r};
}

GuestResult RefRmp::guest_target(std::uint32_t asid, std::uint64_t gpa, std::uint64_t spa, bool want2m, Page* eff,
                                 bool* large) const {
  const std::uint64_t pfn = spa / k4K;
  if (!covers(pfn)) return {npf(kInsnNpf, "Covered"), {}, false};
  *eff = effective(pfn, large);
  if (!eff->assigned || eff->asid != asid) return {npf(kInsnNpf, "Guest-Owned"), {}, false};
  if (eff->gpa != gpa) return {npf(kInsnNpf, "Reverse-Map"), {}, false};
  if (eff->immutable) return {npf(kInsnNpf, "Mutable"), {}, false};
  if (!want2m && *large) return {npf(kInsnNpf | (1ULL << 35), "Page-Size"), {}, false};
  if (want2m && !*large) return {{}, RmpStatus::FailSizeMismatch, false};
  return {};
}

GuestResult RefRmp::pvalidate(std::uint32_t asid, unsigned vmpl, std::uint64_t gpa, std::uint64_t spa,
                              std::uint64_t rcx, std::uint64_t rdx) {
  const std::uint64_t align = rcx == 1 ? k2M : k4K;
  if (rcx > 1 || rdx > 1 || gpa % align != 0 || spa % align != 0 || spa >= kSpaLimit) {
    return {{}, RmpStatus::FailInput, false};
  }
  if (vmpl != 0) return {{}, RmpStatus::FailPermission, false};
  Page eff;
  bool large = false;
  GuestResult t = guest_target(asid, gpa, spa, rcx == 1, &eff, &large);
  if (t.fault.raised() || t.status != RmpStatus::Success) return t;
  const bool want = rdx == 1;
  if (eff.validated == want) return {{}, RmpStatus::Success, true};
  const std::uint64_t pfn = spa / k4K;
  if (large) {
    large_[base_of(pfn)].validated = want;
  } else {
    small_[pfn].validated = want;
  }
  return {};
}

GuestResult RefRmp::rmpadjust(std::uint32_t asid, unsigned vmpl, std::uint64_t gpa, std::uint64_t spa,
                              std::uint64_t rcx, std::uint64_t rdx) {
  const std::uint64_t align = rcx == 1 ? k2M : k4K;
  const unsigned target = static_cast<unsigned>(rdx & 0xFF);
  const unsigned mask = static_cast<unsigned>((rdx >> 8) & 0xFF);
  const bool vmsa = ((rdx >> 16) & 1U) != 0;
  if (rcx > 1 || (rdx >> 17) != 0 || target >= 4 || (mask & 0xE0U) != 0 || gpa % align != 0 || spa % align != 0 ||
      spa >= kSpaLimit || (vmsa && rcx == 1)) {
    return {{}, RmpStatus::FailInput, false};
  }
  Page eff;
  bool large = false;
  GuestResult t = guest_target(asid, gpa, spa, rcx == 1, &eff, &large);
  if (t.fault.raised() || t.status != RmpStatus::Success) return t;
  const unsigned own = vmpl < 4 ? eff.perms[vmpl] : 0U;
  if (target <= vmpl || (mask & ~own) != 0 || (vmsa && vmpl != 0)) return {{}, RmpStatus::FailPermission, false};
  const std::uint64_t pfn = spa / k4K;
  Page& p = large ? large_[base_of(pfn)] : small_[pfn];
  p.perms[target] = static_cast<std::uint8_t>(mask);
  if (vmpl == 0) p.vmsa = vmsa;
  return {};
}

Fault RefRmp::host_access(std::uint64_t spa, model::AccessKind kind, model::MapLevel level) const {
  using model::AccessKind;
  if (kind != AccessKind::Write && kind != AccessKind::PageTable) return {};
  const std::uint64_t pfn = spa / k4K;
  if (spa >= kSpaLimit) return {};
  bool owned_by_guest = false;
  if (level == model::MapLevel::Size4K) {
    owned_by_guest = covers(pfn) && assigned(pfn);
  } else {
    for (std::uint64_t i = 0; i < kN; ++i) {
      owned_by_guest = owned_by_guest || (covers(base_of(pfn) + i) && assigned(base_of(pfn) + i));
    }
  }
  if (!owned_by_guest) return {};
  return Fault{model::FaultKind::HostPageFault, (1ULL << 0) | (1ULL << 1) | (1ULL << 31), "Hypervisor-Owned"};
}

Fault RefRmp::guest_access(const model::GuestAccess& a) const {
  using model::AccessKind;
  const bool fetch = a.kind == AccessKind::FetchUser || a.kind == AccessKind::FetchSupervisor;
  const bool walk = a.kind == AccessKind::PageTable;
  std::uint64_t bits = 1;  // present
  if (a.kind == AccessKind::Write) bits |= 1ULL << 1;
  if (a.user || a.kind == AccessKind::FetchUser) bits |= 1ULL << 2;
  if (fetch) bits |= 1ULL << 4;
  bits |= walk ? (1ULL << 33) : (1ULL << 32);
  const bool private_access = a.snp_active && (a.c_bit || fetch || walk);
  if (!private_access) {
    if (a.kind != AccessKind::Write && !walk) return {};
    const Fault f = host_access(a.spa, AccessKind::Write, a.npt_level);
    if (!f.raised()) return {};
    return npf(bits | (1ULL << 31), "Hypervisor-Owned");
  }
  bits |= (1ULL << 31) | (1ULL << 34);
  const std::uint64_t pfn = a.spa / k4K;
  if (a.spa >= kSpaLimit || !covers(pfn)) return npf(bits, "Covered");
  bool large = false;
  const Page p = effective(pfn, &large);
  if (!p.assigned || p.asid != a.asid) return npf(bits, "Guest-Owned");
  if (p.gpa != a.gpa - a.gpa % k4K) return npf(bits, "Reverse-Map");
  if (p.immutable) return npf(bits, "Mutable");
  if ((a.npt_level != model::MapLevel::Size4K) != large) return npf(bits, "Page-Size");
  if (!p.validated) return Fault{model::FaultKind::Vc, 0x404, "Validated"};
  unsigned need = 0;
  switch (a.kind) {
    case AccessKind::Read: need = 1; break;
    case AccessKind::Write: need = 3; break;
    case AccessKind::FetchUser: need = 4; break;
    case AccessKind::FetchSupervisor: need = 8; break;
    case AccessKind::PageTable: need = 1; break;
  }
  if (a.vmpl >= 4 || (p.perms[a.vmpl] & need) != need) return npf(bits | (1ULL << 36), "VMPL");
  return {};
}

model::FwStatus RefRmp::page_reclaim(std::uint64_t spa, bool size2m) {
  using model::FwStatus;
  if (spa % (size2m ? k2M : k4K) != 0 || spa >= kSpaLimit) return FwStatus::InvalidParam;
  const std::uint64_t pfn = spa / k4K;
  if (!covers(pfn)) return FwStatus::InvalidPageState;
  const std::uint64_t base = base_of(pfn);
  const bool here_large = pfn == base && large_.contains(base);
  if (here_large != size2m) return FwStatus::InvalidPageSize;
  // The raw entry the firmware reads: a 2M entry at its base, a mirrored sub-entry inside
  // one (never immutable), else the 4K entry.
  Page* p = nullptr;
  if (here_large) {
    p = &large_[base];
  } else if (large_.contains(base)) {
    return FwStatus::Success;  // a sub-entry: Immutable=0
  } else {
    if (!small_.contains(pfn)) return FwStatus::Success;
    p = &small_[pfn];
  }
  if (!p->immutable) return FwStatus::Success;
  // Reclaimable: Firmware (ASID 0, GPA 0, not VMSA), Metadata (ASID 0, GPA-state bits
  // 50:48 = 1 with a non-zero GPA below them), Pre-Guest / Pre-Swap (ASID > 0).
  if (!p->assigned) return FwStatus::InvalidPageState;
  if (p->asid == 0) {
    const bool firmware = p->gpa == 0 && !p->vmsa;
    const bool metadata = (p->gpa >> 48) == 1 && ((p->gpa >> 12) & ((1ULL << 36) - 1)) != 0;
    if (!firmware && !metadata) return FwStatus::InvalidPageState;
  }
  p->immutable = false;
  return FwStatus::Success;
}

}  // namespace snplab::test::ref
