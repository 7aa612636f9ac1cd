#include "snp/model/hw/detectors.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "snp/model/base/assert.h"

namespace snplab::model {

void Detectors::add(Finding f) {
  if (sink_ != nullptr) sink_->report_finding(f.kind, f.describe());
  findings_.push_back(std::move(f));
}

void Detectors::enable(FindingKind k, bool on) { enabled_[static_cast<unsigned>(k)] = on; }
bool Detectors::enabled(FindingKind k) const { return enabled_[static_cast<unsigned>(k)]; }

std::size_t Detectors::count(FindingKind k) const {
  return static_cast<std::size_t>(
      std::count_if(findings_.begin(), findings_.end(), [k](const Finding& f) { return f.kind == k; }));
}

const Provenance* Detectors::provenance(Pfn pfn) const {
  auto it = owners_.find(pfn);
  return it == owners_.end() ? nullptr : &it->second;
}

void Detectors::on_event(const Rmp& /*rmp*/, const RmpEvent& ev) {
  if (ev.status != RmpStatus::Success || ev.changes.empty()) return;
  if (ev.insn == RmpInsn::Rmpupdate) {
    on_rmpupdate(ev);
  } else {
    on_other(ev);
  }
}

void Detectors::on_rmpupdate(const RmpEvent& ev) {
  // The pages the instruction targets: one 4K page, or the 512 of a 2M update. Other
  // stores (the sub-page count in the aligned entry) are bookkeeping, not ownership.
  const Pfn first = spa_to_pfn(ev.spa);
  const Pfn end = first + (ev.size == PageSize::Size2M ? kPagesPerHuge : 1);
  Finding dbl{FindingKind::DoubleAssignment, ev.seq, ev.insn, ev.ctx, ev.requested.asid, {}};
  Finding rev{FindingKind::ErroneousRevert, ev.seq, ev.insn, ev.ctx, 0, {}};

  for (const EntryChange& c : ev.changes) {
    if (c.pfn < first || c.pfn >= end) continue;
    auto it = owners_.find(c.pfn);
    std::optional<Provenance> owner;
    if (it != owners_.end()) owner = it->second;
    if (c.after.assigned()) {
      if (c.before.assigned()) dbl.pages.push_back(FindingPage{c.pfn, c.before, c.after, owner});
      owners_[c.pfn] = Provenance{ev.seq, ev.insn, ev.ctx.op, ev.ctx.vm, ev.requested.asid,
                                  ev.requested.immutable != 0, ev.ctx.call};
    } else if (c.before.assigned()) {
      // A page nobody was seen assigning is, for this purpose, not the reverting VM's. An
      // error path may only undo its own call's work: reverting a page that an earlier call
      // for the same VM assigned is erroneous too (the RFC v4 LAUNCH_UPDATE bug, facts §9(b)).
      const bool foreign = !owner || owner->vm != ev.ctx.vm;
      const bool other_call = ev.ctx.error_path && ev.ctx.call != 0 && owner && owner->call != ev.ctx.call;
      if (foreign || other_call) rev.pages.push_back(FindingPage{c.pfn, c.before, c.after, owner});
      if (it != owners_.end()) owners_.erase(it);
    }
  }
  if (!dbl.pages.empty() && enabled(FindingKind::DoubleAssignment)) add(std::move(dbl));
  if (!rev.pages.empty() && enabled(FindingKind::ErroneousRevert)) add(std::move(rev));
}

void Detectors::on_other(const RmpEvent& ev) {
  // PSMASH and the guest instructions never change Assigned. The firmware may (later
  // issues): keep provenance in step without judging it.
  for (const EntryChange& c : ev.changes) {
    if (c.after.assigned() && !c.before.assigned()) {
      owners_[c.pfn] = Provenance{ev.seq, ev.insn, ev.ctx.op, ev.ctx.vm, c.after.asid(), c.after.immutable(), ev.ctx.call};
    } else if (!c.after.assigned() && c.before.assigned()) {
      owners_.erase(c.pfn);
    }
  }
}

void Detectors::owner_torn_down(const Rmp& rmp, VmId vm, Asid asid, const OpContext& ctx) {
  if (!enabled(FindingKind::LeakedPage)) return;
  std::set<Pfn> leaked;
  for (const auto& [pfn, p] : owners_) {
    if (p.vm == vm && rmp.inspect(pfn).assigned()) leaked.insert(pfn);
  }
  if (asid != 0) {
    rmp.entries().for_each_nonzero([&](Pfn pfn, const RmpEntryRaw& e) {
      if (!e.assigned() || e.asid() != asid) return;
      if (e.page_size() == PageSize::Size2M) {
        for (unsigned i = 0; i < kPagesPerHuge; ++i) leaked.insert(pfn + i);
      } else {
        leaked.insert(pfn);
      }
    });
  }
  for (Pfn pfn : leaked_) leaked.erase(pfn);  // reported when the kernel gave them up
  if (leaked.empty()) return;
  Finding f{FindingKind::LeakedPage, rmp.seq(), RmpInsn::Firmware, ctx, asid, {}};
  for (Pfn pfn : leaked) {
    const RmpEntryRaw e = rmp.inspect(pfn);
    std::optional<Provenance> owner;
    if (const Provenance* p = provenance(pfn); p != nullptr) owner = *p;
    f.pages.push_back(FindingPage{pfn, e, e, owner});
  }
  add(std::move(f));
}

void Detectors::pages_leaked(const Rmp& rmp, Pfn first, std::uint64_t npages, const OpContext& ctx) {
  Finding f{FindingKind::LeakedPage, rmp.seq(), RmpInsn::Firmware, ctx, 0, {}};
  for (Pfn pfn = first; pfn < first + npages; ++pfn) {
    if (!leaked_.insert(pfn).second) continue;
    const RmpEntryRaw e = rmp.inspect(pfn);
    std::optional<Provenance> owner;
    if (const Provenance* p = provenance(pfn); p != nullptr) owner = *p;
    f.pages.push_back(FindingPage{pfn, e, e, owner});
  }
  if (enabled(FindingKind::LeakedPage) && !f.pages.empty()) add(std::move(f));
}

namespace {

std::string who(const Provenance& p) {
  return fmt::format("{} #{} [{}, {}]", to_string(p.insn), p.seq, p.op,
                     p.vm == 0 ? std::string("host") : fmt::format("vm {}", p.vm));
}

std::string owner_name(const RmpEntryRaw& e) {
  if (!e.assigned()) return "the hypervisor";
  if (e.asid() == 0) return fmt::format("the AMD-SP ({})", to_string(page_state(e)));
  return fmt::format("ASID {} ({})", e.asid(), to_string(page_state(e)));
}

constexpr std::size_t kPagesShown = 8;

}  // namespace

std::string Finding::describe() const {
  const std::string op = fmt::format("{} #{} [{}, {}]", to_string(insn), seq, ctx.op,
                                     ctx.vm == 0 ? std::string("host") : fmt::format("vm {}", ctx.vm));
  std::string out;
  const std::size_t n = pages.size();
  const std::string what = n == 1 ? fmt::format("PFN 0x{:x}", pages[0].pfn)
                                  : fmt::format("{} pages (PFN 0x{:x}..0x{:x})", n, pages.front().pfn,
                                                pages.back().pfn);
  switch (kind) {
    case FindingKind::DoubleAssignment:
      out = fmt::format("{}: {} assigned {} to ASID {} while already assigned, with no return to the "
                        "hypervisor in between; hardware accepts this and clears Validated.",
                        to_string(kind), op, what, new_asid);
      break;
    case FindingKind::ErroneousRevert:
      if (ctx.error_path) {
        out = fmt::format("{}: {} made {} hypervisor-owned from its error path, which may only undo this call's "
                          "own conversions; another call (or another VM) assigned {}.",
                          to_string(kind), op, what, n == 1 ? "it" : "them");
      } else {
        out = fmt::format("{}: {} made {} hypervisor-owned although neither it nor the VM it acts for "
                          "assigned {}.",
                          to_string(kind), op, what, n == 1 ? "it" : "them");
      }
      break;
    case FindingKind::LeakedPage:
      out = fmt::format("{}: {} for {} left {} still assigned.", to_string(kind), ctx.op,
                        ctx.vm == 0 ? std::string("the host") : fmt::format("vm {}", ctx.vm), what);
      break;
    default:  // not an RMP detector's kind
      out = fmt::format("{}: {} on {}", to_string(kind), op, what);
      break;
  }
  for (std::size_t i = 0; i < n && i < kPagesShown; ++i) {
    const FindingPage& p = pages[i];
    out += fmt::format("\n  PFN 0x{:x}: owned by {}", p.pfn, owner_name(p.before));
    if (p.owner) {
      out += fmt::format(", assigned by {}", who(*p.owner));
    } else if (p.before.assigned()) {
      out += ", assigned before tracking began";
    }
    out += fmt::format("\n    before {}", model::describe(p.before));
    if (!(p.after == p.before)) out += fmt::format("\n    after  {}", model::describe(p.after));
  }
  if (n > kPagesShown) out += fmt::format("\n  ... and {} more pages", n - kPagesShown);
  return out;
}

}  // namespace snplab::model
