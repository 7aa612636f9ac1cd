// Runs RMP command sequences on model/ and on the reference model side by side and reports
// the first disagreement: return codes, faults, RMPREAD views, entry attributes, the
// sub-page count, and the detectors' findings. Shared by the property tests and fuzz/.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "snp/model/hw/detectors.h"
#include "snp/model/hw/rmp.h"
#include "support/ref_rmp.h"
#include "support/rmp_codec.h"

namespace snplab::test {

class RmpDiff {
 public:
  /// A 5.25 MiB host: regions 0 and 1 fully covered, region 2 partly; SPAs up to 6 MiB
  /// exercise coverage edges.
  static constexpr std::uint64_t kCoveredBytes = 0x540000;

  explicit RmpDiff(std::uint64_t covered_bytes = kCoveredBytes);
  RmpDiff(const RmpDiff&) = delete;
  RmpDiff& operator=(const RmpDiff&) = delete;

  /// Runs one command on both models. Returns "" or what disagreed.
  std::string step(const RmpOp& op);
  /// Runs every command; "" or "step N (<command>): <what disagreed>".
  std::string run(const std::vector<RmpOp>& ops);

  model::Rmp& model() { return rmp_; }
  const model::Detectors& detectors() const { return det_; }
  const ref::RefRmp& ref() const { return ref_; }
  /// How many commands of each outcome class ran (for coverage statistics).
  std::map<std::string, std::uint64_t>& outcomes() { return outcomes_; }

 private:
  std::string compare_region(std::uint64_t base);
  std::string check_findings(const RmpOp& op, std::size_t first_new, const std::vector<std::uint64_t>& want_double,
                             const std::vector<std::uint64_t>& want_revert);
  void count(const std::string& what) { ++outcomes_[what]; }

  model::Rmp rmp_;
  model::Detectors det_;
  ref::RefRmp ref_;
  std::map<std::uint64_t, std::uint32_t> ref_owner_vm_;  // the reference's provenance
  std::map<std::string, std::uint64_t> outcomes_;
};

}  // namespace snplab::test
