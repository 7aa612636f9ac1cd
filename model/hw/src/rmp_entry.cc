#include "snp/model/hw/rmp_entry.h"

#include "snp/model/hw/rmp_status.h"

namespace snplab::model {

std::string_view to_string(PageState s) {
  switch (s) {
    case PageState::Invalid: return "INVALID";
    case PageState::Default: return "DEFAULT";
    case PageState::Hypervisor: return "HYPERVISOR";
    case PageState::HvFixed: return "HV_FIXED";
    case PageState::Firmware: return "FIRMWARE";
    case PageState::FirmwareIommu: return "FIRMWARE_IOMMU";
    case PageState::Reclaim: return "RECLAIM";
    case PageState::Context: return "CONTEXT";
    case PageState::Metadata: return "METADATA";
    case PageState::PreGuest: return "PRE_GUEST";
    case PageState::PreSwap: return "PRE_SWAP";
    case PageState::GuestInvalid: return "GUEST_INVALID";
    case PageState::GuestValid: return "GUEST_VALID";
  }
  SNPLAB_UNREACHABLE("corrupt PageState");
}

PageState page_state(const RmpEntryRaw& e, bool covered) {
  if (!covered) return PageState::Default;
  // Same tests in the same order as ASPFW sev_rmp.c rmp_entry_get_state() (facts §4.3):
  // the first match wins, so e.g. an entry matching both Firmware and Reclaim is Firmware.
  const bool a = e.assigned(), v = e.validated(), im = e.immutable();
  const Asid asid = e.asid();
  using GS = RmpEntryRaw::GpaState;
  if (!a && !v && asid == 0 && !im) return PageState::Hypervisor;
  if (!a && !v && asid == 0 && im) return PageState::HvFixed;
  if (a && !v && asid == 0 && im && e.gpa_field() == 0 && !e.vmsa()) return PageState::Firmware;
  if (a && !v && asid == 0 && !im && !e.lock()) return PageState::Reclaim;
  if (a && !v && asid == 0 && im && e.gpa_field() == 0 && e.vmsa()) return PageState::Context;
  if (a && !v && asid == 0 && im && e.gpa_field_without_state() > 0 &&
      e.gpa_state() == static_cast<std::uint64_t>(GS::Metadata)) {
    return PageState::Metadata;
  }
  if (a && !v && asid > 0 && im) return PageState::PreGuest;
  if (a && v && asid > 0 && im) return PageState::PreSwap;
  if (a && !v && asid > 0 && !im) return PageState::GuestInvalid;
  if (a && v && asid > 0 && !im) return PageState::GuestValid;
  if (a && !v && asid == 0 && im && e.gpa_field_without_state() == 1 &&
      e.gpa_state() == static_cast<std::uint64_t>(GS::FwIommu) && !e.vmsa()) {
    return PageState::FirmwareIommu;
  }
  return PageState::Invalid;
}

std::string_view to_string(RmpStatus s) {
  switch (s) {
    case RmpStatus::Success: return "SUCCESS";
    case RmpStatus::FailInput: return "FAIL_INPUT";
    case RmpStatus::FailPermission: return "FAIL_PERMISSION";
    case RmpStatus::FailInUse: return "FAIL_INUSE";
    case RmpStatus::FailOverlap: return "FAIL_OVERLAP";
    case RmpStatus::FailSizeMismatch: return "FAIL_SIZEMISMATCH";
  }
  return "FAIL_UNKNOWN";  // not an enumerator: a corrupted value read from outside
}

}  // namespace snplab::model
