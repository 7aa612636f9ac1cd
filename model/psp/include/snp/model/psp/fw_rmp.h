// Firmware commands that act on single RMP entries. They write entries through the same
// door as the instructions (RmpInsn::Firmware frames), so detectors and the engine see the
// firmware's transitions too. The full firmware (platform and guest-context state
// machines) builds on these.
#pragma once

#include "snp/model/psp/fw_status.h"
#include "snp/model/hw/rmp.h"

namespace snplab::model {

/// SNP_PAGE_RECLAIM (0x0C7) on the page at `spa` of RMP size `size` (facts §4.5, ASPFW
/// sev_mcmd.c): makes an immutable page mutable so the hypervisor can RMPUPDATE it.
///  INVALID_PARAM       `spa` not aligned to `size` or beyond 2^52.
///  INVALID_PAGE_STATE  not covered (a Default page), or a state other than the four below.
///  INVALID_PAGE_SIZE   the RMP entry's page size differs from `size`.
/// Immutable=0 already: SUCCESS, no change. Firmware -> Reclaim, Metadata -> Reclaim,
/// Pre-Guest -> Guest-Invalid, Pre-Swap -> Guest-Valid (Immutable and lock cleared).
FwStatus snp_page_reclaim(Rmp& rmp, Spa spa, PageSize size, const OpContext& ctx = {"SNP_PAGE_RECLAIM", 0});

}  // namespace snplab::model
