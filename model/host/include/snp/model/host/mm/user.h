// The VMM's user address space as the simulated kernel sees it: mappings that
// copy_from_user()/copy_to_user() read and write. Addresses are user virtual addresses.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <unordered_map>

namespace snplab::model::kvm {

/// The VMM's address space. Copyable: a copy shares the written pages until either side
/// writes one (Host::snapshot).
class UserSpace {
 public:
  /// mmap(): a page-aligned mapping of `size` bytes (zeroed), or 0 when size is 0. Pages
  /// are allocated when first written, as anonymous memory is: an untouched page reads 0.
  std::uint64_t map(std::uint64_t size);
  /// munmap() of a whole mapping: false if `addr` does not start one.
  bool unmap(std::uint64_t addr);
  /// copy_from_user / copy_to_user: false (EFAULT) when any byte is not mapped.
  bool copy_from(std::uint64_t addr, std::span<std::uint8_t> out) const;
  bool copy_to(std::uint64_t addr, std::span<const std::uint8_t> in);
  /// Changes whenever the page holding `addr` is written (see HostMemory::generation);
  /// 0 for a page never written.
  std::uint64_t generation(std::uint64_t addr) const;

 private:
  struct Page {
    std::array<std::uint8_t, 4096> data{};
    std::uint64_t gen = 0;
  };
  struct Mapping {
    std::uint64_t len = 0;
    /// page index -> bytes, shared with copies of the UserSpace until written (copy on write)
    std::unordered_map<std::uint64_t, std::shared_ptr<Page>> pages;
  };
  std::uint64_t gen_ = 0;
  /// Calls fn(mapping, page index, offset in page, offset in the buffer, n) for each
  /// page-bounded chunk of [addr, addr + len); false when the range is not mapped.
  template <class Fn>
  bool for_each_page(std::uint64_t addr, std::size_t len, Fn&& fn) const;
  /// The mapping holding [addr, addr + n), or nullptr.
  const Mapping* find(std::uint64_t addr, std::uint64_t n, std::uint64_t* off) const;
  std::map<std::uint64_t, Mapping> maps_;
  std::uint64_t next_ = 0x7f0000000000ULL;
};

}  // namespace snplab::model::kvm
