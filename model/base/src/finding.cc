#include "snp/model/base/finding.h"

#include <array>
#include <ostream>

#include "snp/model/base/assert.h"

namespace snplab::model {

namespace {

constexpr std::array kKinds{
    FindingKind::DoubleAssignment, FindingKind::ErroneousRevert, FindingKind::LeakedPage,
    FindingKind::HostRmpFault, FindingKind::FreedPrivatePage, FindingKind::KvmBug,
    FindingKind::LockdepCircularDependency, FindingKind::LockdepAssertHeld, FindingKind::RecursiveLock,
    FindingKind::UnlockNotOwner, FindingKind::WouldBlock, FindingKind::Deadlock, FindingKind::SrcuUnbalanced,
    FindingKind::KrefUnderflow, FindingKind::KrefUseAfterFree, FindingKind::KrefLeak,
    FindingKind::KrefFreedWhilePublished, FindingKind::KrefReloadedPointer, FindingKind::DataRace,
    FindingKind::GuestRequestFalseSuccess, FindingKind::MeasurementMismatch, FindingKind::CertsOutOfSync,
};

static_assert(kKinds.size() == kFindingKinds);

}  // namespace

std::string_view to_string(FindingKind k) {
  switch (k) {
    case FindingKind::DoubleAssignment: return "double-assignment";
    case FindingKind::ErroneousRevert: return "erroneous-revert";
    case FindingKind::LeakedPage: return "leaked-page";
    case FindingKind::HostRmpFault: return "host-rmp-fault";
    case FindingKind::FreedPrivatePage: return "freed-private-page";
    case FindingKind::KvmBug: return "kvm-bug";
    case FindingKind::LockdepCircularDependency: return "lockdep-circular-dependency";
    case FindingKind::LockdepAssertHeld: return "lockdep-assert-held";
    case FindingKind::RecursiveLock: return "recursive-lock";
    case FindingKind::UnlockNotOwner: return "unlock-not-owner";
    case FindingKind::WouldBlock: return "would-block";
    case FindingKind::Deadlock: return "deadlock";
    case FindingKind::SrcuUnbalanced: return "srcu-unbalanced";
    case FindingKind::KrefUnderflow: return "kref-underflow";
    case FindingKind::KrefUseAfterFree: return "kref-use-after-free";
    case FindingKind::KrefLeak: return "kref-leak";
    case FindingKind::KrefFreedWhilePublished: return "kref-freed-while-published";
    case FindingKind::KrefReloadedPointer: return "kref-reloaded-pointer";
    case FindingKind::DataRace: return "data-race";
    case FindingKind::GuestRequestFalseSuccess: return "guest-request-false-success";
    case FindingKind::MeasurementMismatch: return "measurement-mismatch";
    case FindingKind::CertsOutOfSync: return "certs-out-of-sync";
  }
  SNPLAB_UNREACHABLE("corrupt FindingKind");
}

std::span<const FindingKind> finding_kinds() { return kKinds; }

std::ostream& operator<<(std::ostream& os, FindingKind k) { return os << to_string(k); }

std::optional<FindingKind> finding_kind_from(std::string_view name) {
  for (const FindingKind k : kKinds) {
    if (to_string(k) == name) return k;
  }
  return std::nullopt;
}

}  // namespace snplab::model
