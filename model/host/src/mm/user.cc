#include "snp/model/host/mm/user.h"

#include <algorithm>
#include <cstring>

#include "snp/model/base/types.h"

namespace snplab::model::kvm {

std::uint64_t UserSpace::map(std::uint64_t size) {
  if (size == 0) return 0;
  const std::uint64_t len = (size + kPageSize - 1) & ~(kPageSize - 1);
  const std::uint64_t addr = next_;
  next_ += len + kPageSize;  // a guard page between mappings
  maps_[addr].len = len;
  return addr;
}

bool UserSpace::unmap(std::uint64_t addr) { return maps_.erase(addr) == 1; }

const UserSpace::Mapping* UserSpace::find(std::uint64_t addr, std::uint64_t n, std::uint64_t* off) const {
  auto it = maps_.upper_bound(addr);
  if (it == maps_.begin()) return nullptr;
  --it;
  *off = addr - it->first;
  if (*off > it->second.len || n > it->second.len - *off) return nullptr;
  return &it->second;
}

template <class Fn>
bool UserSpace::for_each_page(std::uint64_t addr, std::size_t len, Fn&& fn) const {
  std::uint64_t off = 0;
  const Mapping* m = find(addr, len, &off);
  if (m == nullptr) return false;
  std::size_t done = 0;
  while (done < len) {
    const std::uint64_t at = off + done;
    const std::size_t in_page = static_cast<std::size_t>(at & (kPageSize - 1));
    const std::size_t n = std::min<std::size_t>(len - done, kPageSize - in_page);
    fn(const_cast<Mapping&>(*m), at >> kPageShift, in_page, done, n);
    done += n;
  }
  return true;
}

bool UserSpace::copy_from(std::uint64_t addr, std::span<std::uint8_t> out) const {
  return for_each_page(addr, out.size(), [&](Mapping& m, std::uint64_t page, std::size_t in_page, std::size_t at,
                                             std::size_t n) {
    auto it = m.pages.find(page);
    if (it == m.pages.end()) {
      std::memset(out.data() + at, 0, n);  // never written: anonymous memory reads zero
    } else {
      std::memcpy(out.data() + at, it->second->data.data() + in_page, n);
    }
  });
}

bool UserSpace::copy_to(std::uint64_t addr, std::span<const std::uint8_t> in) {
  return for_each_page(addr, in.size(), [&](Mapping& m, std::uint64_t page, std::size_t in_page, std::size_t at,
                                            std::size_t n) {
    auto& p = m.pages[page];
    if (!p) {
      p = std::make_shared<Page>();
    } else if (p.use_count() > 1) {
      p = std::make_shared<Page>(*p);  // a copy (snapshot) holds it too: write our own
    }
    p->gen = ++gen_;
    std::memcpy(p->data.data() + in_page, in.data() + at, n);
  });
}

std::uint64_t UserSpace::generation(std::uint64_t addr) const {
  std::uint64_t off = 0;
  const Mapping* m = find(addr, 1, &off);
  if (m == nullptr) return 0;
  auto it = m->pages.find(off >> kPageShift);
  return it == m->pages.end() ? 0 : it->second->gen;
}

}  // namespace snplab::model::kvm
