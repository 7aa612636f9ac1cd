// Host physical memory as the firmware and the simulated guests see it: sparse 4 KiB pages,
// zero until written. The model keeps plaintext; what encryption hides from the host is
// listed in docs/sim-vs-hw.md rather than simulated byte for byte.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <unordered_map>

#include "snp/model/base/types.h"

namespace snplab::model {

/// Copyable: a copy shares every page with the original until either writes it (copy on
/// write), so a snapshot of the host costs one pointer per page held (Host::snapshot).
class HostMemory {
 public:
  using Page = std::array<std::uint8_t, kPageSize>;

  /// The page at `pfn` for reading; an untouched page reads as zeros.
  std::span<const std::uint8_t, kPageSize> page(Pfn pfn) const;
  /// The page at `pfn` for writing (allocated on first use).
  std::span<std::uint8_t, kPageSize> page_mut(Pfn pfn);
  /// Copies bytes at `spa` (may cross pages).
  void read(Spa spa, std::span<std::uint8_t> out) const;
  void write(Spa spa, std::span<const std::uint8_t> in);
  void zero_page(Pfn pfn);
  std::size_t pages_held() const { return pages_.size(); }
  /// A number that changes whenever the page may have been written (page_mut, write,
  /// zero_page): equal generations mean equal contents. 0 for an untouched page.
  std::uint64_t generation(Pfn pfn) const;

 private:
  struct Slot {
    Page data;
    std::uint64_t gen = 0;
  };
  /// Shared with copies until written (page_mut clones a page another copy also holds).
  std::unordered_map<Pfn, std::shared_ptr<Slot>> pages_;
  std::uint64_t gen_ = 0;
};

}  // namespace snplab::model
