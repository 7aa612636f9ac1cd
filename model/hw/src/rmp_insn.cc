#include "snp/model/hw/rmp_insn.h"

#include <optional>

#include "snp/model/base/assert.h"

namespace snplab::model {

namespace {

constexpr std::uint64_t kPageMask = kPageSize - 1;
constexpr std::uint64_t kHugeMask = kHugePageSize - 1;
/// ASPFW locks a 2M-aligned entry by writing this ASID (RMP_INVALID_ASID, facts §1.2);
/// the model refuses it as an RMPUPDATE input.
constexpr Asid kInvalidAsid = RmpEntryRaw::kMaxAsid;
constexpr Gpa kMaxGpa = 1ULL << (RmpEntryRaw::kGpaBits + kPageShift);  // 2^51

bool region_covered(const Rmp& rmp, Pfn base) {
  // Coverage is contiguous within a 2 MiB region in both layouts, so the ends suffice.
  return rmp.covers(base) && rmp.covers(base + kPagesPerHuge - 1);
}

/// The entry RMPUPDATE writes for `st` (Validated, VMSA, VMPL1-3 cleared; facts §1.1, §2.2).
RmpEntryRaw entry_from_state(const RmpState& st, PageSize size) {
  RmpEntryRaw e;
  e.set_assigned(st.assigned != 0).set_page_size(size).set_immutable(st.immutable != 0);
  e.set_gpa(st.gpa).set_asid(st.asid);
  if (st.assigned != 0) e.set_vmpl_perms(0, kPermAll);
  return e;
}

RmpStatus check_rmp_state(const RmpState& st) {
  if (st.rsvd != 0 || st.assigned > 1 || st.pagesize > 1 || st.immutable > 1) return RmpStatus::FailInput;
  if (st.asid >= kInvalidAsid) return RmpStatus::FailInput;
  if ((st.gpa & kPageMask) != 0 || st.gpa >= kMaxGpa) return RmpStatus::FailInput;
  if (st.assigned == 0 && (st.asid != 0 || st.gpa != 0 || st.immutable != 0)) return RmpStatus::FailInput;
  if (st.assigned != 0 && st.asid == 0 && st.immutable == 0) return RmpStatus::FailInput;
  if (st.pagesize == 1 && (st.gpa & kHugeMask) != 0) return RmpStatus::FailInput;
  return RmpStatus::Success;
}

bool any_in_use(const Rmp& rmp, Pfn first, unsigned n) {
  for (unsigned i = 0; i < n; ++i) {
    if (rmp.in_use(first + i)) return true;
  }
  return false;
}

}  // namespace

RmpEntryRaw effective_entry(Rmp& rmp, Pfn pfn, PageSize* rmp_size) {
  const Pfn base = huge_base(pfn);
  const RmpEntryRaw e0 = rmp.load(base);
  if (e0.page_size() == PageSize::Size2M) {
    if (rmp_size != nullptr) *rmp_size = PageSize::Size2M;
    RmpEntryRaw e = e0;
    if (e0.assigned()) e.set_gpa(e0.gpa() + pfn_to_spa(pfn - base));
    return e;
  }
  if (rmp_size != nullptr) *rmp_size = PageSize::Size4K;
  return pfn == base ? e0 : rmp.load(pfn);
}

// ---------------------------------------------------------------------------------------
// RMPUPDATE

RmpStatus rmpupdate(Rmp& rmp, Spa spa, const RmpState& st, const OpContext& ctx) {
  const PageSize size = st.pagesize == 1 ? PageSize::Size2M : PageSize::Size4K;
  Rmp::Frame frame(rmp, RmpInsn::Rmpupdate, spa, size, ctx, st);

  // --- check: may fail, changes nothing -------------------------------------------------
  if ((spa & kPageMask) != 0 || spa >= kMaxPhysAddr) return frame.done(RmpStatus::FailInput);
  if (RmpStatus s = check_rmp_state(st); s != RmpStatus::Success) return frame.done(s);
  const Pfn pfn = spa_to_pfn(spa);
  const Pfn base = huge_base(pfn);

  if (size == PageSize::Size4K) {
    if (!rmp.covers(pfn)) return frame.done(RmpStatus::FailInput);
    const RmpEntryRaw e0 = rmp.load(base);
    const bool in_2m = e0.page_size() == PageSize::Size2M;
    const RmpEntryRaw cur = pfn == base ? e0 : rmp.load(pfn);
    if (cur.immutable() || (in_2m && e0.immutable())) return frame.done(RmpStatus::FailPermission);
    if (rmp.in_use(pfn)) return frame.done(RmpStatus::FailInUse);
    if (in_2m && e0.assigned()) return frame.done(RmpStatus::FailOverlap);

    // --- point of no return ---------------------------------------------------------------
    RmpEntryRaw next = entry_from_state(st, PageSize::Size4K);
    if (pfn == base) {
      // The aligned entry carries the region's sub-page count; a 4K write keeps it. An
      // unassigned 2M entry becomes a 4K one (its sub-entries are all zero already).
      next.set_subpage_count(in_2m ? 0 : e0.subpage_count());
      rmp.store(pfn, next);
      return frame.done(RmpStatus::Success);
    }
    RmpEntryRaw head = e0;
    if (in_2m) head.set_page_size(PageSize::Size4K).set_subpage_count(0);  // demote, see above
    const bool was = in_2m ? false : cur.assigned();
    const bool now = st.assigned != 0;
    if (was != now) {
      const std::uint32_t n = head.subpage_count();
      SNPLAB_ASSERT(now ? n < RmpEntryRaw::kMaxSubpageCount : n > 0, "sub-page count out of step");
      head.set_subpage_count(now ? n + 1 : n - 1);
    }
    rmp.store(pfn, next);
    if (!(head == e0)) rmp.store(base, head);
    return frame.done(RmpStatus::Success);
  }

  // 2M.
  if ((spa & kHugeMask) != 0 || !region_covered(rmp, base)) return frame.done(RmpStatus::FailInput);
  const RmpEntryRaw e0 = rmp.load(base);
  for (unsigned i = 0; i < kPagesPerHuge; ++i) {
    const RmpEntryRaw e = i == 0 ? e0 : rmp.load(base + i);
    if (e.immutable()) return frame.done(RmpStatus::FailPermission);
  }
  if (any_in_use(rmp, base, kPagesPerHuge)) return frame.done(RmpStatus::FailInUse);
  const bool e0_4k_assigned = e0.page_size() == PageSize::Size4K && e0.assigned();
  if (e0.page_size() == PageSize::Size4K && (e0.subpage_count() != 0 || e0_4k_assigned)) {
    return frame.done(RmpStatus::FailOverlap);
  }

  // --- point of no return -----------------------------------------------------------------
  rmp.store(base, entry_from_state(st, PageSize::Size2M));  // sub-page count 0
  RmpEntryRaw sub;
  sub.set_assigned(st.assigned != 0);
  for (unsigned i = 1; i < kPagesPerHuge; ++i) rmp.store(base + i, sub);
  return frame.done(RmpStatus::Success);
}

// ---------------------------------------------------------------------------------------
// PSMASH

RmpStatus psmash(Rmp& rmp, Spa spa, const OpContext& ctx) {
  Rmp::Frame frame(rmp, RmpInsn::Psmash, spa, PageSize::Size2M, ctx);
  if ((spa & kHugeMask) != 0 || spa >= kMaxPhysAddr) return frame.done(RmpStatus::FailInput);
  const Pfn base = spa_to_pfn(spa);
  if (!region_covered(rmp, base)) return frame.done(kPsmashFailBadAddr);
  const RmpEntryRaw e0 = rmp.load(base);
  if (e0.page_size() != PageSize::Size2M) return frame.done(RmpStatus::FailInput);
  if (e0.immutable()) return frame.done(RmpStatus::FailPermission);
  if (any_in_use(rmp, base, kPagesPerHuge)) return frame.done(RmpStatus::FailInUse);

  // --- point of no return -----------------------------------------------------------------
  for (unsigned i = 0; i < kPagesPerHuge; ++i) {
    RmpEntryRaw e = e0;
    e.set_page_size(PageSize::Size4K).set_subpage_count(0);
    if (e0.assigned()) e.set_gpa(e0.gpa() + pfn_to_spa(i));
    if (i == 0 && e0.assigned()) e.set_subpage_count(kPagesPerHuge - 1);
    rmp.store(base + i, e);
  }
  return frame.done(RmpStatus::Success);
}

// ---------------------------------------------------------------------------------------
// RMPREAD

RmpreadResult rmpread(Rmp& rmp, Spa spa, const OpContext& ctx) {
  Rmp::Frame frame(rmp, RmpInsn::Rmpread, spa, PageSize::Size4K, ctx);
  const Pfn pfn = spa_to_pfn(spa);
  if (spa >= kMaxPhysAddr || !rmp.covers(pfn)) return {frame.done(RmpStatus::FailInput), {}};
  const Pfn base = huge_base(pfn);
  const RmpEntryRaw e0 = rmp.load(base);
  const RmpEntryRaw e = pfn == base ? e0 : rmp.load(pfn);
  const bool region_status = e0.page_size() == PageSize::Size4K && e0.subpage_count() != 0;
  return {frame.done(RmpStatus::Success), to_rmpread(e, region_status)};
}

// ---------------------------------------------------------------------------------------
// PVALIDATE and RMPADJUST share their RMP checks.

namespace {

Fault npf(std::uint64_t extra, std::string_view check) {
  return Fault{FaultKind::Npf,
               kNpfPresent | kNpfGuestRmp | kNpfGuestFinal | kNpfGuestEnc | extra, check};
}

/// The Covered / Guest-Owned / Reverse-Map / Mutable checks a guest RMP instruction makes
/// on its target, then the size rule of facts §2.3. On success `*eff` is the deciding entry
/// and `*rmp_size` its page size.
struct TargetCheck {
  Fault fault;
  RmpStatus status = RmpStatus::Success;
};

TargetCheck check_guest_target(Rmp& rmp, const GuestCpu& cpu, Gpa gpa, Spa spa, PageSize want,
                               RmpEntryRaw* eff, PageSize* rmp_size) {
  const Pfn pfn = spa_to_pfn(spa);
  if (!rmp.covers(pfn)) return {npf(0, "Covered"), {}};
  *eff = effective_entry(rmp, pfn, rmp_size);
  if (!eff->assigned() || eff->asid() != cpu.asid) return {npf(0, "Guest-Owned"), {}};
  if (eff->gpa() != gpa) return {npf(0, "Reverse-Map"), {}};
  if (eff->immutable()) return {npf(0, "Mutable"), {}};
  if (want == PageSize::Size4K && *rmp_size == PageSize::Size2M) return {npf(kNpfGuestSizem, "Page-Size"), {}};
  if (want == PageSize::Size2M && *rmp_size == PageSize::Size4K) return {{}, RmpStatus::FailSizeMismatch};
  return {};
}

bool aligned_for(PageSize size, Gpa gpa, Spa spa) {
  const std::uint64_t mask = size == PageSize::Size2M ? kHugeMask : kPageMask;
  return ((gpa | spa) & mask) == 0 && spa < kMaxPhysAddr;
}

/// The target checks PVALIDATE and RMPADJUST share: a fault or a failing status ends the
/// instruction with that result (returned); nullopt: go on with `*eff` and `*rmp_size`.
std::optional<GuestInsnResult> check_target_or_end(Rmp& rmp, Rmp::Frame& frame, const GuestCpu& cpu, Gpa gpa, Spa spa,
                                                   PageSize size, RmpEntryRaw* eff, PageSize* rmp_size) {
  const TargetCheck t = check_guest_target(rmp, cpu, gpa, spa, size, eff, rmp_size);
  GuestInsnResult r;
  if (t.fault.raised()) {
    r.fault = frame.raise(t.fault);
    return r;
  }
  if (t.status != RmpStatus::Success) {
    r.status = frame.done(t.status);
    return r;
  }
  return std::nullopt;
}

}  // namespace

GuestInsnResult pvalidate(Rmp& rmp, const GuestCpu& cpu, Gpa gpa, Spa spa, std::uint64_t rcx,
                          std::uint64_t rdx, const OpContext& ctx) {
  const PageSize size = rcx == 1 ? PageSize::Size2M : PageSize::Size4K;
  Rmp::Frame frame(rmp, RmpInsn::Pvalidate, spa, size, ctx);
  GuestInsnResult r;
  if (rcx > 1 || rdx > 1 || !aligned_for(size, gpa, spa)) {
    r.status = frame.done(RmpStatus::FailInput);
    return r;
  }
  if (cpu.vmpl != 0) {
    r.status = frame.done(RmpStatus::FailPermission);
    return r;
  }
  RmpEntryRaw eff;
  PageSize rmp_size = PageSize::Size4K;
  if (auto end = check_target_or_end(rmp, frame, cpu, gpa, spa, size, &eff, &rmp_size)) return *end;
  const bool want = rdx == 1;
  if (eff.validated() == want) {  // CF=1: nothing to change (facts §2.4)
    r.cf = true;
    r.status = frame.done(RmpStatus::Success);
    return r;
  }
  // --- point of no return -----------------------------------------------------------------
  // The deciding entry is the one written: the 2M entry for a 2M page, else the 4K entry.
  // A 4K entry was read whole by the checks; a 2M entry's view had its GPA adjusted.
  const Pfn target = rmp_size == PageSize::Size2M ? huge_base(spa_to_pfn(spa)) : spa_to_pfn(spa);
  RmpEntryRaw e = rmp_size == PageSize::Size2M ? rmp.load(target) : eff;
  e.set_validated(want);
  rmp.store(target, e);
  r.status = frame.done(RmpStatus::Success);
  return r;
}

GuestInsnResult rmpadjust(Rmp& rmp, const GuestCpu& cpu, Gpa gpa, Spa spa, std::uint64_t rcx,
                          std::uint64_t rdx, const OpContext& ctx) {
  const PageSize size = rcx == 1 ? PageSize::Size2M : PageSize::Size4K;
  Rmp::Frame frame(rmp, RmpInsn::Rmpadjust, spa, size, ctx);
  GuestInsnResult r;
  const unsigned target_vmpl = static_cast<unsigned>(rdx & kRmpadjustTargetVmplMask);
  const auto mask = static_cast<std::uint8_t>(rdx >> kRmpadjustPermShift);
  const bool vmsa = (rdx & kRmpadjustVmsa) != 0;
  if (rcx > 1 || (rdx & kRmpadjustReservedMask) != 0 || target_vmpl >= kNumVmpls ||
      (mask & kPermReservedMask) != 0 || !aligned_for(size, gpa, spa) ||
      (vmsa && size == PageSize::Size2M)) {
    r.status = frame.done(RmpStatus::FailInput);
    return r;
  }
  RmpEntryRaw eff;
  PageSize rmp_size = PageSize::Size4K;
  if (auto end = check_target_or_end(rmp, frame, cpu, gpa, spa, size, &eff, &rmp_size)) return *end;
  if (target_vmpl <= cpu.vmpl || (mask & ~eff.vmpl_perms(cpu.vmpl)) != 0 || (vmsa && cpu.vmpl != 0)) {
    r.status = frame.done(RmpStatus::FailPermission);
    return r;
  }
  // --- point of no return -----------------------------------------------------------------
  const Pfn target = rmp_size == PageSize::Size2M ? huge_base(spa_to_pfn(spa)) : spa_to_pfn(spa);
  RmpEntryRaw e = rmp_size == PageSize::Size2M ? rmp.load(target) : eff;
  e.set_vmpl_perms(target_vmpl, mask);
  if (cpu.vmpl == 0) e.set_vmsa(vmsa);
  rmp.store(target, e);
  r.status = frame.done(RmpStatus::Success);
  return r;
}

}  // namespace snplab::model
