#include "snp/model/psp/fw_rmp.h"

namespace snplab::model {

FwStatus snp_page_reclaim(Rmp& rmp, Spa spa, PageSize size, const OpContext& ctx) {
  Rmp::Frame frame(rmp, RmpInsn::Firmware, spa, size, ctx);
  const std::uint64_t align = size == PageSize::Size2M ? kHugePageSize : kPageSize;
  if ((spa & (align - 1)) != 0 || spa >= kMaxPhysAddr) {
    frame.done(RmpStatus::FailInput);
    return FwStatus::InvalidParam;
  }
  const Pfn pfn = spa_to_pfn(spa);
  if (!rmp.covers(pfn)) {
    frame.done(RmpStatus::FailInput);
    return FwStatus::InvalidPageState;  // ASPFW: a Default page has no entry to reclaim
  }
  RmpEntryRaw e = rmp.load(pfn);
  if (e.page_size() != size) {
    frame.done(RmpStatus::FailInput);
    return FwStatus::InvalidPageSize;
  }
  if (!e.immutable()) {
    frame.done(RmpStatus::Success);
    return FwStatus::Success;
  }
  switch (page_state(e)) {
    case PageState::Firmware:
    case PageState::Metadata:
    case PageState::PreGuest:
    case PageState::PreSwap:
      break;
    case PageState::Invalid:
    case PageState::Default:
    case PageState::Hypervisor:
    case PageState::HvFixed:
    case PageState::FirmwareIommu:
    case PageState::Reclaim:
    case PageState::Context:
    case PageState::GuestInvalid:
    case PageState::GuestValid:
      frame.done(RmpStatus::FailInput);
      return FwStatus::InvalidPageState;
  }
  // --- point of no return -----------------------------------------------------------------
  e.set_immutable(false);  // clears lock too: Firmware/Metadata -> Reclaim, Pre-* -> Guest-*
  rmp.store(pfn, e);
  frame.done(RmpStatus::Success);
  return FwStatus::Success;
}

}  // namespace snplab::model
