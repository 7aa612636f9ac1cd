// RMP checks on memory access (facts §3.1, APM Table 15-39): what a host write, or a guest
// access of a given kind, C-bit, mapping size and VMPL raises.
#pragma once

#include "snp/model/hw/fault.h"
#include "snp/model/hw/rmp.h"

namespace snplab::model {

enum class AccessKind : std::uint8_t {
  Read,
  Write,
  FetchUser,        ///< instruction fetch at CPL3
  FetchSupervisor,  ///< instruction fetch at CPL<3
  PageTable,        ///< page-table walk access (A/D updates are writes, facts §3.1)
};
std::string_view to_string(AccessKind k);

/// Size of the translation that maps the access: host page tables for host accesses, the
/// NPT for guest accesses. 1G mappings are checked like 2M (facts §2.3).
enum class MapLevel : std::uint8_t { Size4K, Size2M, Size1G };
std::string_view to_string(MapLevel l);

/// A host access. Only writes and page-table accesses are RMP-checked (facts §3.1 notes).
/// Raises host #PF (PROT|WRITE|RMP) when a page it touches is not hypervisor-owned; with a
/// 2M/1G mapping every 4K page of the 2 MiB region must be (facts §2.3).
Fault check_host_access(Rmp& rmp, Spa spa, AccessKind kind, MapLevel level);

struct GuestAccess {
  Spa spa = 0;             ///< the SPA the NPT translates `gpa` to
  Gpa gpa = 0;
  Asid asid = 0;           ///< the running guest's ASID
  bool snp_active = true;  ///< SEV_FEATURES.SNP_ACTIVE of the running guest
  unsigned vmpl = 0;
  AccessKind kind = AccessKind::Read;
  bool c_bit = true;       ///< the guest page-table C-bit (fetch/page-table force C=1)
  bool user = false;       ///< CPL3 data access (sets the U bit of EXITINFO1)
  MapLevel npt_level = MapLevel::Size4K;
};

/// A guest access: #VMEXIT(NPF), #VC or nothing, checks in the APM's priority order
/// (Covered, Guest-Owned, Reverse-Map, Mutable, Page-Size -> NPF; then Validated -> #VC;
/// then VMPL -> NPF with the VMPL bit). Shared (C=0) data writes need a hypervisor-owned
/// page; shared reads are not checked (facts §3.1).
Fault check_guest_access(Rmp& rmp, const GuestAccess& a);

}  // namespace snplab::model
