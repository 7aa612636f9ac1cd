// The host kernel's RMP helpers (arch/x86/virt/svm/sev.c), written over the instructions:
// what KVM calls to move a page between the hypervisor and a guest or the firmware.
// Unlike the kernel, which retries RMPUPDATE while it returns FAIL_OVERLAP (facts §2.1:
// "transient" overlap caused by a concurrent updater), these return the status: in a
// deterministic model an overlap that no other agent will clear would retry forever.
#pragma once

#include "snp/model/hw/rmp_insn.h"

namespace snplab::model {

/// The `struct rmp_state` rmp_make_private() builds: assigned to `asid` at `gpa`.
constexpr RmpState private_rmp_state(Gpa gpa, PageSize level, Asid asid, bool immutable) {
  RmpState st;
  st.gpa = gpa;
  st.assigned = 1;
  st.pagesize = level == PageSize::Size2M ? 1 : 0;
  st.immutable = immutable ? 1 : 0;
  st.asid = asid;
  return st;
}

/// The `struct rmp_state` rmp_make_shared() builds: every field zero but the page size.
constexpr RmpState shared_rmp_state(PageSize level) {
  RmpState st;
  st.pagesize = level == PageSize::Size2M ? 1 : 0;
  return st;
}

/// rmp_make_private(pfn, gpa, level, asid, immutable): assign the page to `asid`
/// (0 with immutable = a firmware page, facts §4.3).
inline RmpStatus rmp_make_private(Rmp& rmp, Pfn pfn, Gpa gpa, PageSize level, Asid asid, bool immutable,
                                  const OpContext& ctx) {
  return rmpupdate(rmp, pfn_to_spa(pfn), private_rmp_state(gpa, level, asid, immutable), ctx);
}

/// rmp_make_shared(pfn, level): return the page to the hypervisor.
inline RmpStatus rmp_make_shared(Rmp& rmp, Pfn pfn, PageSize level, const OpContext& ctx) {
  return rmpupdate(rmp, pfn_to_spa(pfn), shared_rmp_state(level), ctx);
}

}  // namespace snplab::model
