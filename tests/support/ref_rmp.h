// A small reference model of the RMP, written from docs/rmp-model.md independently of
// model/: pages are plain structs, 2M entries live in their own map, the sub-page count is
// never stored but counted. It is slow and simple on purpose; the property tests and the
// fuzz targets hold model/ to it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "snp/model/hw/access.h"
#include "snp/model/psp/fw_status.h"
#include "snp/model/hw/rmp_entry.h"
#include "snp/model/hw/rmp_insn.h"
#include "snp/model/hw/rmp_status.h"

namespace snplab::test::ref {

using model::Fault;
using model::RmpStatus;

struct Page {
  bool assigned = false;
  bool immutable = false;
  bool validated = false;
  bool vmsa = false;
  std::uint64_t gpa = 0;
  std::uint32_t asid = 0;
  std::uint8_t perms[4] = {0, 0, 0, 0};
  bool operator==(const Page&) const = default;
};

struct GuestResult {
  Fault fault;
  RmpStatus status = RmpStatus::Success;
  bool cf = false;
};

class RefRmp {
 public:
  explicit RefRmp(std::uint64_t covered_pages) : covered_(covered_pages) {}

  RmpStatus rmpupdate(std::uint64_t spa, const model::RmpState& st);
  RmpStatus psmash(std::uint64_t spa);
  model::RmpreadResult rmpread(std::uint64_t spa) const;
  GuestResult pvalidate(std::uint32_t asid, unsigned vmpl, std::uint64_t gpa, std::uint64_t spa, std::uint64_t rcx,
                        std::uint64_t rdx);
  GuestResult rmpadjust(std::uint32_t asid, unsigned vmpl, std::uint64_t gpa, std::uint64_t spa, std::uint64_t rcx,
                        std::uint64_t rdx);
  Fault host_access(std::uint64_t spa, model::AccessKind kind, model::MapLevel level) const;
  Fault guest_access(const model::GuestAccess& a) const;
  model::FwStatus page_reclaim(std::uint64_t spa, bool size2m);
  void set_in_use(std::uint64_t pfn, bool on);

  bool covers(std::uint64_t pfn) const { return pfn < covered_; }
  /// Is the 4K page assigned (Linux snp_lookup_rmpentry's answer)?
  bool assigned(std::uint64_t pfn) const;
  /// The page's attributes and whether they come from a 2M entry.
  Page effective(std::uint64_t pfn, bool* large = nullptr) const;
  /// Assigned 4K pages among offsets 1..511 of the region (what the count must say).
  unsigned count_4k_assigned(std::uint64_t base) const;
  bool has_large(std::uint64_t base) const { return large_.contains(base); }

 private:
  Page small(std::uint64_t pfn) const;
  GuestResult guest_target(std::uint32_t asid, std::uint64_t gpa, std::uint64_t spa, bool want2m, Page* eff,
                           bool* large) const;

  std::uint64_t covered_;
  std::map<std::uint64_t, Page> small_;  // 4K entries
  std::map<std::uint64_t, Page> large_;  // 2M entries, keyed by the region's first PFN
  std::set<std::uint64_t> in_use_;
};

}  // namespace snplab::test::ref
