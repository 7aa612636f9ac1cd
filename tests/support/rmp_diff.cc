#include "support/rmp_diff.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "snp/model/hw/access.h"
#include "snp/model/psp/fw_rmp.h"
#include "snp/model/hw/rmp_insn.h"

namespace snplab::test {

using model::kPagesPerHuge;
using model::Pfn;
using model::RmpEntryRaw;
using model::RmpStatus;

namespace {

model::RmpLayout layout_for(std::uint64_t bytes) { return *model::RmpLayout::covering(bytes); }

std::string fault_str(const model::Fault& f) {
  return fmt::format("{}(0x{:x} {})", model::to_string(f.kind), f.code, f.check);
}

bool same_read(const model::RmpReadEntry& a, const model::RmpReadEntry& b) { return a == b; }

std::string read_str(const model::RmpReadEntry& r) {
  return fmt::format("{{gpa=0x{:x} assigned={} flags={} immutable={} asid={}}}", r.gpa, r.assigned, r.size_flags,
                     r.immutable, r.asid);
}

// Names of the RMPUPDATE target pages of `op` (one, or the 512 of a 2M update).
std::vector<Pfn> targets(const RmpOp& op) {
  const Pfn first = op.spa >> model::kPageShift;
  std::vector<Pfn> t;
  const unsigned n = op.st.pagesize == 1 ? kPagesPerHuge : 1;
  for (unsigned i = 0; i < n; ++i) t.push_back(first + i);
  return t;
}

}  // namespace

RmpDiff::RmpDiff(std::uint64_t covered_bytes)
    : rmp_(layout_for(covered_bytes)), ref_(covered_bytes >> model::kPageShift) {
  rmp_.add_observer(&det_);
}

std::string RmpDiff::run(const std::vector<RmpOp>& ops) {
  for (std::size_t i = 0; i < ops.size(); ++i) {
    std::string err = step(ops[i]);
    if (!err.empty()) return fmt::format("step {} ({}): {}", i, show(ops[i]), err);
  }
  return {};
}

std::string RmpDiff::compare_region(std::uint64_t base) {
  if (!rmp_.covers(base)) return {};
  // The sub-page count, read from the model's raw entries and counted three ways.
  const RmpEntryRaw e0 = rmp_.inspect(base);
  unsigned raw_count = 0;
  for (unsigned i = 1; i < kPagesPerHuge; ++i) raw_count += rmp_.inspect(base + i).assigned() ? 1U : 0U;
  const unsigned want = ref_.count_4k_assigned(base);
  if (e0.page_size() == model::PageSize::Size2M) {
    if (e0.subpage_count() != 0) return fmt::format("2M entry 0x{:x} has sub-page count {}", base, e0.subpage_count());
    if (!ref_.has_large(base)) return fmt::format("model has a 2M entry at 0x{:x}, reference does not", base);
  } else {
    if (ref_.has_large(base)) return fmt::format("reference has a 2M entry at 0x{:x}, model does not", base);
    if (e0.subpage_count() != raw_count) {
      return fmt::format("sub-page count of 0x{:x} is {} but {} of its 4K pages are assigned", base,
                         e0.subpage_count(), raw_count);
    }
  }
  if (e0.subpage_count() != want) {
    return fmt::format("sub-page count of 0x{:x} is {}, reference counts {}", base, e0.subpage_count(), want);
  }
  for (unsigned i = 0; i < kPagesPerHuge; ++i) {
    const Pfn pfn = base + i;
    if (!rmp_.covers(pfn)) break;
    model::PageSize size = model::PageSize::Size4K;
    const RmpEntryRaw m = model::effective_entry(rmp_, pfn, &size);
    bool large = false;
    const ref::Page r = ref_.effective(pfn, &large);
    const bool m_large = size == model::PageSize::Size2M;
    if (m.assigned() != r.assigned || m.immutable() != r.immutable || m.validated() != r.validated ||
        m.vmsa() != r.vmsa || m.asid() != r.asid || m.gpa() != r.gpa || m_large != large ||
        m.vmpl_perms(0) != r.perms[0] || m.vmpl_perms(1) != r.perms[1] || m.vmpl_perms(2) != r.perms[2] ||
        m.vmpl_perms(3) != r.perms[3]) {
      return fmt::format("PFN 0x{:x}: model {} ({}), reference assigned={} immutable={} validated={} vmsa={} asid={} "
                         "gpa=0x{:x} large={} perms={:02x}/{:02x}/{:02x}/{:02x}",
                         pfn, model::describe(m), m_large ? "2M" : "4K", r.assigned, r.immutable, r.validated, r.vmsa,
                         r.asid, r.gpa, large, r.perms[0], r.perms[1], r.perms[2], r.perms[3]);
    }
  }
  return {};
}

std::string RmpDiff::check_findings(const RmpOp& op, std::size_t first_new, const std::vector<std::uint64_t>& want_double,
                                    const std::vector<std::uint64_t>& want_revert) {
  std::vector<std::uint64_t> got_double, got_revert;
  const auto& f = det_.findings();
  for (std::size_t i = first_new; i < f.size(); ++i) {
    auto& dst = f[i].kind == model::FindingKind::DoubleAssignment ? got_double : got_revert;
    if (f[i].kind == model::FindingKind::LeakedPage) return "leaked-page finding outside a teardown";
    for (const auto& p : f[i].pages) dst.push_back(p.pfn);
    if (f[i].ctx.vm != op.vm) return "finding names the wrong VM";
  }
  std::sort(got_double.begin(), got_double.end());
  std::sort(got_revert.begin(), got_revert.end());
  if (got_double != want_double) {
    return fmt::format("double-assignment reported {} pages, expected {}", got_double.size(), want_double.size());
  }
  if (got_revert != want_revert) {
    return fmt::format("erroneous-revert reported {} pages, expected {}", got_revert.size(), want_revert.size());
  }
  return {};
}

std::string RmpDiff::step(const RmpOp& op) {
  using model::OpContext;
  const OpContext ctx{"rmp-diff", op.vm};
  const std::size_t first_new = det_.findings().size();
  std::string err;
  switch (op.tag) {
    case OpTag::Rmpupdate: {
      // What the detectors must say, from the reference's state before the update.
      std::vector<std::uint64_t> want_double, want_revert;
      const std::vector<Pfn> t = targets(op);
      std::vector<bool> before;
      for (Pfn p : t) before.push_back(ref_.covers(p) && ref_.assigned(p));
      const RmpStatus m = model::rmpupdate(rmp_, op.spa, op.st, ctx);
      const RmpStatus r = ref_.rmpupdate(op.spa, op.st);
      count(fmt::format("RMPUPDATE {}", model::to_string(r)));
      if (m != r) return fmt::format("model {} reference {}", model::to_string(m), model::to_string(r));
      if (m == RmpStatus::Success) {
        for (std::size_t i = 0; i < t.size(); ++i) {
          if (model::effective_entry(rmp_, t[i]).validated()) return "RMPUPDATE left Validated set";
          auto owner = ref_owner_vm_.find(t[i]);
          if (op.st.assigned == 1) {
            if (before[i]) want_double.push_back(t[i]);
            ref_owner_vm_[t[i]] = op.vm;
          } else if (before[i]) {
            if (owner == ref_owner_vm_.end() || owner->second != op.vm) want_revert.push_back(t[i]);
            if (owner != ref_owner_vm_.end()) ref_owner_vm_.erase(owner);
          }
        }
      }
      err = check_findings(op, first_new, want_double, want_revert);
      break;
    }
    case OpTag::Psmash: {
      const Pfn base = op.spa >> model::kPageShift;
      const RmpEntryRaw e0 = rmp_.covers(base) ? rmp_.inspect(base) : RmpEntryRaw{};
      const RmpStatus m = model::psmash(rmp_, op.spa, ctx);
      const RmpStatus r = ref_.psmash(op.spa);
      count(fmt::format("PSMASH {}", model::to_string(r)));
      if (m != r) return fmt::format("model {} reference {}", model::to_string(m), model::to_string(r));
      if (m == RmpStatus::Success) {
        for (unsigned i = 0; i < kPagesPerHuge; ++i) {
          const RmpEntryRaw e = rmp_.inspect(base + i);
          if (e.assigned() != e0.assigned() || e.immutable() != e0.immutable() || e.validated() != e0.validated() ||
              e.asid() != e0.asid() || e.vmsa() != e0.vmsa() || e.hi != e0.hi ||
              e.page_size() != model::PageSize::Size4K ||
              e.gpa() != (e0.assigned() ? e0.gpa() + (std::uint64_t{i} << model::kPageShift) : 0)) {
            return fmt::format("PSMASH did not preserve the fields of entry {}: {} from {}", i, model::describe(e),
                               model::describe(e0));
          }
        }
      }
      err = check_findings(op, first_new, {}, {});
      break;
    }
    case OpTag::Rmpread: {
      const auto m = model::rmpread(rmp_, op.spa);
      const auto r = ref_.rmpread(op.spa);
      count(fmt::format("RMPREAD {}", model::to_string(r.status)));
      if (m.status != r.status) return fmt::format("model {} reference {}", model::to_string(m.status), model::to_string(r.status));
      if (!same_read(m.entry, r.entry)) return fmt::format("model {} reference {}", read_str(m.entry), read_str(r.entry));
      break;
    }
    case OpTag::Pvalidate:
    case OpTag::Rmpadjust: {
      const bool pv = op.tag == OpTag::Pvalidate;
      const model::GuestCpu cpu{op.asid, op.vmpl};
      const auto m = pv ? model::pvalidate(rmp_, cpu, op.gpa, op.spa, op.rcx, op.rdx, ctx)
                        : model::rmpadjust(rmp_, cpu, op.gpa, op.spa, op.rcx, op.rdx, ctx);
      const auto r = pv ? ref_.pvalidate(op.asid, op.vmpl, op.gpa, op.spa, op.rcx, op.rdx)
                        : ref_.rmpadjust(op.asid, op.vmpl, op.gpa, op.spa, op.rcx, op.rdx);
      count(fmt::format("{} {}", pv ? "PVALIDATE" : "RMPADJUST",
                        r.fault.raised() ? std::string(r.fault.check) : std::string(model::to_string(r.status))));
      if (!(m.fault == r.fault) || m.status != r.status || m.cf != r.cf) {
        return fmt::format("model {}/{}/cf={} reference {}/{}/cf={}", fault_str(m.fault), model::to_string(m.status),
                           m.cf, fault_str(r.fault), model::to_string(r.status), r.cf);
      }
      if (pv && !m.fault.raised() && m.status == RmpStatus::Success && !m.cf) {
        // PVALIDATE twice: the second reports "no change" (CF=1).
        const auto m2 = model::pvalidate(rmp_, cpu, op.gpa, op.spa, op.rcx, op.rdx, ctx);
        const auto r2 = ref_.pvalidate(op.asid, op.vmpl, op.gpa, op.spa, op.rcx, op.rdx);
        if (!m2.cf || m2.status != RmpStatus::Success || m2.fault.raised() || !r2.cf) {
          return "a repeated PVALIDATE did not report no change";
        }
      }
      err = check_findings(op, first_new, {}, {});
      break;
    }
    case OpTag::HostAccess: {
      const auto m = model::check_host_access(rmp_, op.spa, op.kind, op.level);
      const auto r = ref_.host_access(op.spa, op.kind, op.level);
      count(fmt::format("HOST {}", model::to_string(r.kind)));
      if (!(m == r)) return fmt::format("model {} reference {}", fault_str(m), fault_str(r));
      break;
    }
    case OpTag::GuestAccess: {
      model::GuestAccess a;
      a.spa = op.spa, a.gpa = op.gpa, a.asid = op.asid, a.snp_active = op.snp, a.vmpl = op.vmpl;
      a.kind = op.kind, a.c_bit = op.c_bit, a.user = op.user, a.npt_level = op.level;
      const auto m = model::check_guest_access(rmp_, a);
      const auto r = ref_.guest_access(a);
      count(fmt::format("GUEST {}", r.raised() ? std::string(r.check) : std::string("ok")));
      if (!(m == r)) return fmt::format("model {} reference {}", fault_str(m), fault_str(r));
      break;
    }
    case OpTag::SetInUse: {
      const Pfn pfn = op.spa >> model::kPageShift;
      if (op.spa >= model::kMaxPhysAddr || !rmp_.covers(pfn)) break;  // in-use marks exist only for RMP pages
      rmp_.set_in_use(pfn, op.flag);
      ref_.set_in_use(pfn, op.flag);
      break;
    }
    case OpTag::PageReclaim: {
      const auto size = op.rcx == 1 ? model::PageSize::Size2M : model::PageSize::Size4K;
      const auto m = model::snp_page_reclaim(rmp_, op.spa, size, ctx);
      const auto r = ref_.page_reclaim(op.spa, op.rcx == 1);
      count(fmt::format("SNP_PAGE_RECLAIM {}", model::to_string(r)));
      if (m != r) return fmt::format("model {} reference {}", model::to_string(m), model::to_string(r));
      err = check_findings(op, first_new, {}, {});
      break;
    }
    case OpTag::Teardown: {
      det_.owner_torn_down(rmp_, op.vm, op.asid, {"TEARDOWN", op.vm});
      std::set<std::uint64_t> want;
      for (const auto& [pfn, vm] : ref_owner_vm_) {
        if (vm == op.vm && ref_.assigned(pfn)) want.insert(pfn);
      }
      if (op.asid != 0) {
        for (Pfn pfn = 0; ref_.covers(pfn); ++pfn) {
          const ref::Page p = ref_.effective(pfn);
          if (p.assigned && p.asid == op.asid) want.insert(pfn);
        }
      }
      std::set<std::uint64_t> got;
      const auto& f = det_.findings();
      for (std::size_t i = first_new; i < f.size(); ++i) {
        if (f[i].kind != model::FindingKind::LeakedPage) return "a teardown produced a non-leak finding";
        for (const auto& p : f[i].pages) got.insert(p.pfn);
      }
      count(want.empty() ? "TEARDOWN clean" : "TEARDOWN leak");
      if (got != want) return fmt::format("leaked-page reported {} pages, expected {}", got.size(), want.size());
      break;
    }
  }
  if (!err.empty()) return err;
  if (op.spa < model::kMaxPhysAddr) return compare_region(model::huge_base(op.spa >> model::kPageShift));
  return {};
}

}  // namespace snplab::test
