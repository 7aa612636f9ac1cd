#include "snp/model/kvm/user.h"

#include <cstring>

#include "snp/model/types.h"

namespace snplab::model::kvm {

std::uint64_t UserSpace::map(std::uint64_t size) {
  if (size == 0) return 0;
  const std::uint64_t len = (size + kPageSize - 1) & ~(kPageSize - 1);
  const std::uint64_t addr = next_;
  next_ += len + kPageSize;  // a guard page between mappings
  maps_[addr] = std::vector<std::uint8_t>(len, 0);
  return addr;
}

bool UserSpace::unmap(std::uint64_t addr) { return maps_.erase(addr) == 1; }

bool UserSpace::copy_from(std::uint64_t addr, std::span<std::uint8_t> out) const {
  auto it = maps_.upper_bound(addr);
  if (it == maps_.begin()) return false;
  --it;
  const std::uint64_t off = addr - it->first;
  if (off > it->second.size() || out.size() > it->second.size() - off) return false;
  std::memcpy(out.data(), it->second.data() + off, out.size());
  return true;
}

bool UserSpace::copy_to(std::uint64_t addr, std::span<const std::uint8_t> in) {
  auto it = maps_.upper_bound(addr);
  if (it == maps_.begin()) return false;
  --it;
  const std::uint64_t off = addr - it->first;
  if (off > it->second.size() || in.size() > it->second.size() - off) return false;
  std::memcpy(it->second.data() + off, in.data(), in.size());
  return true;
}

}  // namespace snplab::model::kvm
