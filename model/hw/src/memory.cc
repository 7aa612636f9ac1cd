#include "snp/model/hw/memory.h"

#include <algorithm>
#include <cstring>

namespace snplab::model {

namespace {
const HostMemory::Page kZeroPage{};
}  // namespace

std::span<const std::uint8_t, kPageSize> HostMemory::page(Pfn pfn) const {
  auto it = pages_.find(pfn);
  return it == pages_.end() ? std::span<const std::uint8_t, kPageSize>(kZeroPage)
                            : std::span<const std::uint8_t, kPageSize>(it->second->data);
}

std::span<std::uint8_t, kPageSize> HostMemory::page_mut(Pfn pfn) {
  auto& p = pages_[pfn];
  if (!p) {
    p = std::make_shared<Slot>();
  } else if (p.use_count() > 1) {
    p = std::make_shared<Slot>(*p);  // a copy (snapshot) holds it too: write our own
  }
  p->gen = ++gen_;
  return std::span<std::uint8_t, kPageSize>(p->data);
}

void HostMemory::read(Spa spa, std::span<std::uint8_t> out) const {
  std::size_t done = 0;
  while (done < out.size()) {
    const Spa a = spa + done;
    const std::size_t off = static_cast<std::size_t>(a & (kPageSize - 1));
    const std::size_t n = std::min<std::size_t>(out.size() - done, kPageSize - off);
    std::memcpy(out.data() + done, page(spa_to_pfn(a)).data() + off, n);
    done += n;
  }
}

void HostMemory::write(Spa spa, std::span<const std::uint8_t> in) {
  std::size_t done = 0;
  while (done < in.size()) {
    const Spa a = spa + done;
    const std::size_t off = static_cast<std::size_t>(a & (kPageSize - 1));
    const std::size_t n = std::min<std::size_t>(in.size() - done, kPageSize - off);
    std::memcpy(page_mut(spa_to_pfn(a)).data() + off, in.data() + done, n);
    done += n;
  }
}

void HostMemory::zero_page(Pfn pfn) { pages_.erase(pfn); }

std::uint64_t HostMemory::generation(Pfn pfn) const {
  auto it = pages_.find(pfn);
  return it == pages_.end() ? 0 : it->second->gen;
}

}  // namespace snplab::model
