// The RMP instructions as operations on an Rmp (facts §2). Each reads and writes entries only
// through Rmp::load/store inside one Rmp::Frame, and returns what the hardware returns:
// EAX (RmpStatus), rFLAGS.CF for PVALIDATE, or the fault the instruction raises instead of
// retiring. Hardware does not refuse to reassign a guest page; neither does this code
// (facts §2.2): judging that is the detectors' job.
//
// Every UNCONFIRMED point of the facts is a documented choice; docs/rmp-model.md lists them
// and tests/unit/model pins each one.
#pragma once

#include <cstdint>

#include "snp/model/hw/fault.h"
#include "snp/model/hw/rmp.h"

namespace snplab::model {

/// RMPUPDATE (F2 0F 01 FE): RAX = `spa`, RCX -> `st` (facts §2, §2.1-§2.3).
///
/// Checks, first failure wins:
///  FAIL_INPUT      `spa` not 4K aligned / not covered / >= 2^52; st.rsvd != 0 or a flag
///                  byte > 1; ASID >= 0x3FF; GPA not 4K aligned or >= 2^51; an unassigned
///                  state with a non-zero ASID, GPA or Immutable; an assigned state with
///                  ASID 0 that is not Immutable; 2M: `spa` or GPA not 2M aligned, or the
///                  2 MiB region not wholly covered.
///  FAIL_PERMISSION an entry to be written is Immutable (facts §2.1, APM §15.36.5).
///  FAIL_INUSE      an entry to be written is marked in use (facts §2.1).
///  FAIL_OVERLAP    4K: the page lies in an assigned 2M entry. 2M: a 4K page of the region
///                  is assigned (sub-page count != 0 or the aligned entry is 4K-assigned).
/// Effect: the entry takes the new state with Validated, VMSA and VMPL1-3 permissions
/// cleared and VMPL0 given every permission when assigned (facts §1.1, §2.2); the
/// sub-page count is kept current (facts §1.2). A 2M update also writes the 511 sub-entries
/// (Assigned mirrored, nothing else) as ASPFW's UNSMASH does.
RmpStatus rmpupdate(Rmp& rmp, Spa spa, const RmpState& st, const OpContext& ctx);

/// PSMASH (F3 0F 01 FF): splits the 2M entry at `spa` into 512 4K entries with consecutive
/// GPAs and every other field, Validated included, copied (facts §2.3).
///  FAIL_INPUT      `spa` not 2M aligned or >= 2^52; the entry is not a 2M entry.
///  FAIL_BADADDR(4) the 2 MiB region is not wholly covered by the RMP.
///  FAIL_PERMISSION the 2M entry is Immutable.   FAIL_INUSE  a page of it is in use.
RmpStatus psmash(Rmp& rmp, Spa spa, const OpContext& ctx);

struct RmpreadResult {
  RmpStatus status = RmpStatus::Success;
  RmpReadEntry entry;
};

/// RMPREAD (F2 0F 01 FD): the architectural view of the entry of the page holding `spa`
/// (facts §1.3). FAIL_INPUT if `spa` is not covered. hpage_region_status is set when some
/// 4K page of the 2 MiB region other than the aligned one is assigned (the sub-page count
/// is non-zero) - a documented choice, see docs/rmp-model.md.
RmpreadResult rmpread(Rmp& rmp, Spa spa, const OpContext& ctx = {});

/// The guest executing PVALIDATE or RMPADJUST.
struct GuestCpu {
  Asid asid = 0;
  unsigned vmpl = 0;
};

/// Outcome of a guest RMP instruction: either a fault (the instruction did not retire) or
/// EAX plus rFLAGS.CF.
struct GuestInsnResult {
  Fault fault;                                ///< raised instead of retiring
  RmpStatus status = RmpStatus::Success;      ///< EAX, when no fault
  bool cf = false;                            ///< PVALIDATE: 1 = Validated already as asked
};

/// PVALIDATE (F2 0F 01 FF) by `cpu` on the page the guest maps at `gpa`, backed by `spa`
/// (the caller has done the GVA->GPA->SPA walk). `rcx` = page size, `rdx` = 1 validate /
/// 0 rescind (facts §2.4).
///  FAIL_INPUT        rcx > 1, rdx > 1, addresses not aligned to the page size.
///  FAIL_PERMISSION   executed at VMPL != 0 (UNCONFIRMED: #GP is the alternative).
///  #NPF (RMP bit)    Covered / Guest-Owned / Reverse-Map / Mutable fails; with SIZEM for
///                    a 4K request on a 2M entry (facts §2.3 table).
///  FAIL_SIZEMISMATCH 2M request over a 4K entry.
/// CF=1 with SUCCESS when Validated is already in the requested state (no RMP write).
GuestInsnResult pvalidate(Rmp& rmp, const GuestCpu& cpu, Gpa gpa, Spa spa, std::uint64_t rcx,
                          std::uint64_t rdx, const OpContext& ctx = {});

/// RMPADJUST attribute bits in RDX (facts §2.5).
inline constexpr std::uint64_t kRmpadjustTargetVmplMask = 0xFF;
inline constexpr unsigned kRmpadjustPermShift = 8;
inline constexpr std::uint64_t kRmpadjustVmsa = 1ULL << 16;
inline constexpr std::uint64_t kRmpadjustReservedMask = ~((1ULL << 17) - 1);

/// RMPADJUST (F3 0F 01 FE) by `cpu`: sets VMPL `rdx[7:0]`'s permission mask to `rdx[15:8]`
/// and, from VMPL0, the VMSA bit to `rdx[16]` (facts §1.1, §2.5).
///  FAIL_INPUT        rcx > 1, reserved RDX bits, target VMPL >= 4, reserved mask bits,
///                    misaligned addresses, VMSA on a 2M page.
///  #NPF              as PVALIDATE.    FAIL_SIZEMISMATCH  2M request over a 4K entry.
///  FAIL_PERMISSION   target VMPL not numerically higher than the caller's; the mask grants
///                    more than the caller's own; VMSA bit from VMPL != 0.
GuestInsnResult rmpadjust(Rmp& rmp, const GuestCpu& cpu, Gpa gpa, Spa spa, std::uint64_t rcx,
                          std::uint64_t rdx, const OpContext& ctx = {});

/// The entry that decides a 4K page's RMP attributes: the 2M-aligned entry when it is a
/// 2M entry, else the page's own (Linux `__snp_lookup_rmpentry`, facts §1.3). For a page in
/// a 2M entry the returned entry's GPA is adjusted to the page (2M GPA + offset).
/// Precondition: `pfn` covered. Reads through Rmp::load.
RmpEntryRaw effective_entry(Rmp& rmp, Pfn pfn, PageSize* rmp_size = nullptr);

}  // namespace snplab::model
