// A reference oracle for KVM_SET_USER_MEMORY_REGION2 on a VM without guest_memfd, written
// from the kernel's documented rules (Documentation/virt/kvm/api.rst, kvm_set_memory_region)
// independently of model/kvm: what errno a call gets, and the slots afterwards.
#pragma once

#include <cerrno>
#include <cstdint>
#include <map>

namespace snplab::validate {

class RefMemslots {
 public:
  /// `address_spaces`: what KVM_CAP_MULTI_ADDRESS_SPACE reports on the VM fd (2 with SMM).
  explicit RefMemslots(std::uint32_t address_spaces) : as_ids_(address_spaces) {}

  struct Slot {
    std::uint64_t gpa, size, uaddr;
    std::uint32_t flags;
  };

  /// Returns 0 or the positive errno the kernel gives.
  int set(std::uint32_t slot, std::uint32_t flags, std::uint64_t gpa, std::uint64_t size, std::uint64_t uaddr) {
    constexpr std::uint64_t kPage = 4096;
    constexpr std::uint64_t kTaskSizeMax = (1ULL << 47) - kPage;
    if ((flags & ~3U) != 0) return EINVAL;  // LOG_DIRTY_PAGES | READONLY
    if ((slot >> 16) >= as_ids_ || (slot & 0xFFFF) >= 32764) return EINVAL;
    if (size % kPage != 0 || gpa % kPage != 0 || uaddr % kPage != 0) return EINVAL;
    if (uaddr + size < uaddr || uaddr + size > kTaskSizeMax || gpa + size < gpa) return EINVAL;
    if (size / kPage > (1ULL << 31) - 1) return EINVAL;  // KVM_MEM_MAX_NR_PAGES
    auto it = slots_.find(slot);
    if (size == 0) {
      if (it == slots_.end()) return EINVAL;
      slots_.erase(it);
      return 0;
    }
    if (it != slots_.end()) {
      // Modify: only the GPA (move) or LOG_DIRTY_PAGES may change.
      if (size != it->second.size || uaddr != it->second.uaddr) return EINVAL;
      if (((flags ^ it->second.flags) & 2U) != 0) return EINVAL;
      if (gpa == it->second.gpa) {  // flags-only or nothing: no overlap check
        it->second.flags = flags;
        return 0;
      }
    }
    for (const auto& [id, s] : slots_) {
      if (id == slot || (id >> 16) != (slot >> 16)) continue;
      if (gpa < s.gpa + s.size && s.gpa < gpa + size) return EEXIST;
    }
    slots_[slot] = Slot{gpa, size, uaddr, flags};
    return 0;
  }

  const std::map<std::uint32_t, Slot>& slots() const { return slots_; }

 private:
  std::uint32_t as_ids_;
  std::map<std::uint32_t, Slot> slots_;
};

}  // namespace snplab::validate
