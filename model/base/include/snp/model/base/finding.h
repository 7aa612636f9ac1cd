// What snplab reports about the modelled kernel and hardware: one enum of finding kinds that
// the RMP detectors (model/hw) and the kernel primitives and objects (model/kern, model/host)
// share, so an oracle, a CI script and a trace name a finding the same way. The printed names
// are stable: they appear in traces, JSON results and replay output.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <fmt/format.h>

namespace snplab::model {

enum class FindingKind : std::uint8_t {
  // RMP detectors (DESIGN.md "Detectors")
  DoubleAssignment,          ///< a page assigned to a second guest while still the first's
  ErroneousRevert,           ///< an error path reverted RMP entries it never changed
  LeakedPage,                ///< a page the kernel gave up on (snp_leak_pages) or left assigned
  // host accesses and kernel state
  HostRmpFault,              ///< a kernel write to a page that is not the hypervisor's (an oops)
  FreedPrivatePage,          ///< guest_memfd freed a page the RMP still assigns
  KvmBug,                    ///< KVM_BUG(): the kernel gave up on the VM
  // locks (lockdep-like)
  LockdepCircularDependency, ///< two lock classes taken in both orders
  LockdepAssertHeld,         ///< a lockdep_assert_held() the caller does not satisfy
  RecursiveLock,             ///< a mutex taken again by its holder
  UnlockNotOwner,            ///< a mutex released by an agent that does not hold it
  WouldBlock,                ///< a wait no other agent can ever satisfy
  Deadlock,                  ///< every unfinished agent waits
  SrcuUnbalanced,            ///< srcu_read_unlock without its lock, or a reader left behind
  // reference counts
  KrefUnderflow,
  KrefUseAfterFree,
  KrefLeak,
  KrefFreedWhilePublished,
  KrefReloadedPointer,       ///< a reference taken on an object other than the one returned
  // data races (KCSAN-like)
  DataRace,
  // scenario oracles on what the guest or the VMM sees
  GuestRequestFalseSuccess,  ///< the guest was told a request it never had succeeded
  MeasurementMismatch,       ///< the launch digest differs from the expected one
  CertsOutOfSync,            ///< the certificates do not match the key that signed the report
};

inline constexpr std::size_t kFindingKinds = 22;

/// Where findings go: one sink for the RMP detectors and the kernel objects of a host (the
/// host's kern::Sched, which stamps each with the current agent and engine step).
class FindingSink {
 public:
  virtual void report_finding(FindingKind kind, std::string message) = 0;

 protected:
  ~FindingSink() = default;
};

/// The stable printed name ("double-assignment", "data-race", ...).
std::string_view to_string(FindingKind k);
/// Every kind, in declaration order.
std::span<const FindingKind> finding_kinds();
/// The kind printed as `name`; nullopt when there is none.
std::optional<FindingKind> finding_kind_from(std::string_view name);
/// Streams the stable name (test frameworks print it so).
std::ostream& operator<<(std::ostream& os, FindingKind k);

}  // namespace snplab::model

/// `fmt::format("{}", kind)` prints the stable name.
template <>
struct fmt::formatter<snplab::model::FindingKind> : fmt::formatter<std::string_view> {
  template <class Ctx>
  auto format(snplab::model::FindingKind k, Ctx& ctx) const {
    return fmt::formatter<std::string_view>::format(snplab::model::to_string(k), ctx);
  }
};
