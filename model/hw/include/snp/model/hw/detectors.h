// Detectors: they watch every RMP instruction (RmpObserver) and flag what hardware silently
// allows. Each finding names the detector, the entries, the owners and the operations.
//
//  double-assignment  RMPUPDATE assigns a page that is already assigned (to another ASID or
//                     the same one, or to the AMD-SP) without a return to the hypervisor in
//                     between. Hardware allows it and clears Validated (facts §2.2, §9(b)).
//  erroneous-revert   RMPUPDATE makes an assigned page hypervisor-owned on behalf of a VM
//                     (or the host) that never assigned it, or from an error path for a
//                     page another call assigned (facts §9(b): the RFC v4 LAUNCH_UPDATE
//                     error path).
//  leaked-page        an owner is torn down while pages assigned for it, or to its ASID, are
//                     still assigned or firmware-owned; or the kernel gives pages up
//                     (snp_leak_pages(), after a reclaim or a return to the hypervisor failed).
//
// Provenance: every assignment records the instruction number, the operation and the VM it
// acted for, per 4K page; a return to the hypervisor forgets it.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "snp/model/base/finding.h"
#include "snp/model/hw/rmp.h"

namespace snplab::model {


/// Who assigned a page, and how.
struct Provenance {
  std::uint64_t seq = 0;  ///< instruction number of the assignment
  RmpInsn insn = RmpInsn::Rmpupdate;
  std::string_view op;    ///< the operation it ran for (OpContext::op)
  VmId vm = 0;            ///< the VM it acted for (0 = host)
  Asid asid = 0;          ///< the ASID it assigned the page to (0 = AMD-SP / firmware)
  bool immutable = false;
  std::uint64_t call = 0;  ///< OpContext::call of the assignment
};

/// One page a finding is about, with its entry around the offending operation.
struct FindingPage {
  Pfn pfn = 0;
  RmpEntryRaw before;
  RmpEntryRaw after;
  std::optional<Provenance> owner;  ///< the assignment in force before the operation
};

struct Finding {
  FindingKind kind = FindingKind::DoubleAssignment;
  std::uint64_t seq = 0;     ///< instruction number that triggered it (teardown: last one)
  RmpInsn insn = RmpInsn::Rmpupdate;
  OpContext ctx;             ///< the offending operation
  Asid new_asid = 0;         ///< double-assignment: the ASID the page was given
  std::vector<FindingPage> pages;

  /// One paragraph: what happened, which entries, which owners, which operations.
  std::string describe() const;
};

class Detectors final : public RmpObserver {
 public:
  /// Also report every finding to `sink` (the host's scheduler), as it is raised; nullptr:
  /// keep them here only.
  void set_sink(FindingSink* sink) { sink_ = sink; }
  /// Every detector is on by default.
  void enable(FindingKind k, bool on);
  bool enabled(FindingKind k) const;

  void on_event(const Rmp& rmp, const RmpEvent& ev) override;

  /// Tells the leaked-page detector that `vm` (whose guest had `asid`, 0 if none) is gone:
  /// every page still assigned for it, or to its ASID, is a finding. `ctx` names the
  /// teardown operation (e.g. {"KVM_DESTROY_VM", vm}). Reads entries with Rmp::inspect.
  void owner_torn_down(const Rmp& rmp, VmId vm, Asid asid, const OpContext& ctx);
  /// snp_leak_pages(): the kernel gives up `npages` pages from `first` and never frees them.
  /// One leaked-page finding with each page's entry and provenance, `ctx` naming the path
  /// that failed; owner_torn_down() does not report these pages again.
  void pages_leaked(const Rmp& rmp, Pfn first, std::uint64_t npages, const OpContext& ctx);
  /// Pages given up by pages_leaked().
  const std::set<Pfn>& leaked() const { return leaked_; }

  const std::vector<Finding>& findings() const { return findings_; }
  std::size_t count(FindingKind k) const;
  void clear_findings() { findings_.clear(); }

  /// The assignment in force for `pfn`, if the detectors saw it happen.
  const Provenance* provenance(Pfn pfn) const;

 private:
  void on_rmpupdate(const RmpEvent& ev);
  void on_other(const RmpEvent& ev);

  std::array<bool, kFindingKinds> enabled_ = [] {
    std::array<bool, kFindingKinds> a{};
    a.fill(true);
    return a;
  }();
  std::unordered_map<Pfn, Provenance> owners_;
  std::set<Pfn> leaked_;
  std::vector<Finding> findings_;
  FindingSink* sink_ = nullptr;
  void add(Finding f);
};

}  // namespace snplab::model
