// Simulated guests (DESIGN.md "Guests"): a guest is a program of guest operations that a
// vCPU runs until it needs userspace, exactly as KVM_RUN returns. The operations are what an
// SNP guest kernel does to its memory: PVALIDATE, private (C=1) and shared (C=0) accesses,
// page-state changes through KVM_HC_MAP_GPA_RANGE, and halting.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "snp/model/base/types.h"

namespace snplab::model::kvm {

enum class GuestOpKind : std::uint8_t {
  Halt,        ///< HLT: KVM_EXIT_HLT
  Pvalidate,   ///< PVALIDATE gpa (size, validate)
  Read,        ///< a data read at gpa, private (C=1) or shared (C=0)
  Write,       ///< a data write at gpa
  MapGpaRange, ///< page-state change: KVM_HC_MAP_GPA_RANGE(gpa, npages, to_private)
  GuestRequest,     ///< SNP Guest Request (VMGEXIT 0x80000011): MSG_REPORT_REQ under VMPCK0
  ExtGuestRequest,  ///< SNP Extended Guest Request (VMGEXIT 0x80000012) with a certificate buffer
  GhcbPsc,          ///< Page State Change NAE (VMGEXIT 0x80000010) with a descriptor of entries
  Rmpadjust,        ///< RMPADJUST at VMPL0 (target VMPL 1, or the VMSA bit with `vmsa`)
  ApCreate,         ///< AP Creation NAE (VMGEXIT 0x80000013)
  Terminate,        ///< GHCB MSR protocol termination request (GHCBInfo 0x100) and VMGEXIT
};

/// The operation's name in traces ("PVALIDATE", "VMGEXIT(GUEST_REQUEST)", ...).
constexpr std::string_view to_string(GuestOpKind k) {
  switch (k) {
    case GuestOpKind::Halt: return "HLT";
    case GuestOpKind::Pvalidate: return "PVALIDATE";
    case GuestOpKind::Read: return "read";
    case GuestOpKind::Write: return "write";
    case GuestOpKind::MapGpaRange: return "VMMCALL(KVM_HC_MAP_GPA_RANGE)";
    case GuestOpKind::GuestRequest: return "VMGEXIT(GUEST_REQUEST)";
    case GuestOpKind::ExtGuestRequest: return "VMGEXIT(EXT_GUEST_REQUEST)";
    case GuestOpKind::GhcbPsc: return "VMGEXIT(PSC)";
    case GuestOpKind::Rmpadjust: return "RMPADJUST";
    case GuestOpKind::ApCreate: return "VMGEXIT(AP_CREATION)";
    case GuestOpKind::Terminate: return "VMGEXIT(GHCB_MSR_TERM_REQ)";
  }
  return "invalid";
}

/// One Page State Change entry (facts §7.2): {cur_page:12, gfn:40, operation:4, pagesize:1}.
struct PscEntry {
  std::uint64_t gfn = 0;
  std::uint8_t operation = 1;  ///< 1 private, 2 shared, 3 PSMASH, 4 UNSMASH
  bool huge = false;           ///< pagesize: 2M
  std::uint16_t cur_page = 0;
};
inline constexpr std::uint8_t kPscPrivate = 1, kPscShared = 2, kPscPsmash = 3, kPscUnsmash = 4;
inline constexpr std::size_t kPscMaxEntries = 253;  ///< VMGEXIT_PSC_MAX_COUNT

/// AP Creation request (facts §7.5): EXITINFO1[31:0].
inline constexpr std::uint32_t kApCreateOnInit = 0, kApCreate = 1, kApDestroy = 2;

/// The pages a guest request uses. The request, response and certificate pages must be
/// shared (the guest converts them first); the secrets page is the private page placed by
/// SNP_LAUNCH_UPDATE(SECRETS), whose VMPCK0 the guest seals the message with.
struct GuestRequestPages {
  Gpa secrets = 0;
  Gpa req = 0;
  Gpa resp = 0;
  Gpa certs = 0;                ///< ExtGuestRequest: RAX
  std::uint64_t cert_pages = 0; ///< ExtGuestRequest: RBX
  unsigned busy_retries = 3;    ///< how often the guest retries a BUSY answer
};

struct GuestOp {
  GuestOpKind kind = GuestOpKind::Halt;
  Gpa gpa = 0;
  bool c_bit = true;        ///< Read/Write: private access
  bool validate = true;     ///< Pvalidate: validate (true) or rescind
  bool huge = false;        ///< Pvalidate: 2M
  std::uint64_t npages = 1; ///< MapGpaRange
  bool to_private = false;  ///< MapGpaRange
  std::uint8_t value = 0;   ///< Write: the byte written (the page is filled with it); requests: REPORT_DATA fill
  GuestRequestPages req{};  ///< GuestRequest / ExtGuestRequest
  std::vector<PscEntry> psc;  ///< GhcbPsc: the descriptor's entries (cur_entry 0, end_entry size-1)
  bool vmsa = false;          ///< Rmpadjust: set the VMSA bit (else grant VMPL1 read/write)
  std::uint32_t ap_request = kApCreate;  ///< ApCreate: EXITINFO1[31:0]
  std::uint32_t apic_id = 0;             ///< ApCreate: EXITINFO1[63:32], the target vCPU id
  std::uint64_t sev_features = 1;        ///< ApCreate: RAX, the new VMSA's SEV_FEATURES
  std::uint8_t reason_set = 0;           ///< Terminate: GHCBData[15:12], the reason code set
  std::uint8_t reason_code = 0;          ///< Terminate: GHCBData[23:16], the reason

  static GuestOp halt() { return GuestOp{}; }
  static GuestOp pvalidate(Gpa gpa, bool validate = true, bool huge = false) {
    GuestOp o;
    o.kind = GuestOpKind::Pvalidate, o.gpa = gpa, o.validate = validate, o.huge = huge;
    return o;
  }
  static GuestOp read(Gpa gpa, bool c_bit) {
    GuestOp o;
    o.kind = GuestOpKind::Read, o.gpa = gpa, o.c_bit = c_bit;
    return o;
  }
  static GuestOp write(Gpa gpa, bool c_bit, std::uint8_t value) {
    GuestOp o;
    o.kind = GuestOpKind::Write, o.gpa = gpa, o.c_bit = c_bit, o.value = value;
    return o;
  }
  static GuestOp map_gpa_range(Gpa gpa, std::uint64_t npages, bool to_private) {
    GuestOp o;
    o.kind = GuestOpKind::MapGpaRange, o.gpa = gpa, o.npages = npages, o.to_private = to_private;
    return o;
  }
  static GuestOp ghcb_psc(std::vector<PscEntry> entries) {
    GuestOp o;
    o.kind = GuestOpKind::GhcbPsc, o.psc = std::move(entries);
    return o;
  }
  static GuestOp rmpadjust(Gpa gpa, bool vmsa) {
    GuestOp o;
    o.kind = GuestOpKind::Rmpadjust, o.gpa = gpa, o.vmsa = vmsa;
    return o;
  }
  /// The new VMSA page is `gpa` (EXITINFO2); it must be private, validated and carry the VMSA bit.
  static GuestOp ap_create(std::uint32_t apic_id, Gpa vmsa_gpa, std::uint32_t request = kApCreate,
                           std::uint64_t sev_features = 1) {
    GuestOp o;
    o.kind = GuestOpKind::ApCreate, o.apic_id = apic_id, o.gpa = vmsa_gpa, o.ap_request = request;
    o.sev_features = sev_features;
    return o;
  }
  /// The guest asks to be terminated, as the selftests' SEV-ES/SNP guests do: the GHCB MSR
  /// holds 0x100 | set << 12 | code << 16 (GHCB spec, MSR protocol), then VMGEXIT.
  static GuestOp terminate(std::uint8_t reason_set = 0, std::uint8_t reason_code = 0) {
    GuestOp o;
    o.kind = GuestOpKind::Terminate, o.reason_set = reason_set, o.reason_code = reason_code;
    return o;
  }
  static GuestOp guest_request(const GuestRequestPages& pages, std::uint8_t report_data) {
    GuestOp o;
    o.kind = GuestOpKind::GuestRequest, o.req = pages, o.value = report_data;
    return o;
  }
  static GuestOp ext_guest_request(const GuestRequestPages& pages, std::uint8_t report_data) {
    GuestOp o;
    o.kind = GuestOpKind::ExtGuestRequest, o.req = pages, o.value = report_data;
    return o;
  }
};

/// What the guest saw: one line per operation, in order ("PVALIDATE 0x1000: SUCCESS",
/// "read 0x2000 (private): 0x5a", "#VC 0x404 at 0x3000: terminating").
using GuestLog = std::vector<std::string>;

}  // namespace snplab::model::kvm
