// virt/kvm/guest_memfd.c: guest_memfd files - creation, fallocate (allocate, punch hole),
// release, the page behind a gfn (kvm_gmem_get_pfn) and the arch invalidate hook on free.
#include <algorithm>
#include <cerrno>

#include <fmt/format.h>

#include "snp/model/base/assert.h"
#include "snp/model/host/kvm_host.h"

namespace snplab::model::kvm {

namespace {

constexpr std::uint64_t kPageMask = kPageSize - 1;
constexpr int kFallocKeepSize = 0x01, kFallocPunchHole = 0x02;

}  // namespace

long Vm::create_guest_memfd(std::uint64_t size, std::uint64_t flags) {
  // kvm_vm_ioctl(): a kernel without guest_memfd has no such ioctl.
  if (!host_->config().guest_memfd) return -ENOTTY;
  // kvm_gmem_create(): flags the VM supports, a non-zero page-aligned size.
  const std::uint64_t valid = static_cast<std::uint64_t>(host_->check_extension(this, 244));
  if ((flags & ~valid) != 0) return -EINVAL;
  if (size == 0 || (size & kPageMask) != 0 || size > (1ULL << 62)) return -EINVAL;
  const std::uint64_t id = next_gmem_++;
  gmems_[id] = Gmem{id, size, flags, {}, {}};
  gmem_invalidate_lock_.try_emplace(id, host_->sched(), "mapping->invalidate_lock");
  return static_cast<long>(id);
}

int Vm::gmem_fallocate(std::uint64_t gmem, int mode, std::uint64_t offset, std::uint64_t len) {
  const kern::FunctionScope fs(host_->sched(), "kvm_gmem_fallocate");
  auto it = gmems_.find(gmem);
  if (it == gmems_.end()) return -EBADF;
  // vfs_fallocate(): a negative offset or a length <= 0 is EINVAL, a range past the largest
  // file offset EFBIG (loff_t is signed).
  constexpr std::uint64_t kMaxLfs = ~0ULL >> 1;  // MAX_LFS_FILESIZE on 64-bit
  if (offset > kMaxLfs || len == 0 || len > kMaxLfs) return -EINVAL;
  if (offset + len > kMaxLfs) return -EFBIG;
  // kvm_gmem_fallocate(): KEEP_SIZE always, PUNCH_HOLE optional, nothing else; page-aligned.
  if ((mode & kFallocKeepSize) == 0) return -EOPNOTSUPP;
  if ((mode & ~(kFallocKeepSize | kFallocPunchHole)) != 0) return -EOPNOTSUPP;
  if ((offset & kPageMask) != 0 || (len & kPageMask) != 0) return -EINVAL;
  // kvm_gmem_allocate(): not past the file's size; a hole may be punched past it.
  if ((mode & kFallocPunchHole) == 0 && offset + len > it->second.size) return -EINVAL;
  const kern::Guard invalidate(gmem_invalidate_lock(gmem));  // filemap_invalidate_lock(_shared)
  if ((mode & kFallocPunchHole) != 0) {
    // kvm_gmem_punch_hole(): the pages go back, private ones through the RMP first
    // (sev_gmem_invalidate).
    auto& pages = it->second.pages;
    const auto first = pages.lower_bound(offset >> kPageShift), last = pages.lower_bound((offset + len) >> kPageShift);
    std::vector<Pfn> freed;
    for (auto p = first; p != last; ++p) freed.push_back(p->second);
    pages.erase(first, last);
    free_gmem_pages(freed);
    // truncate_inode_pages_range(): the user mapping's pages go too; the next access faults
    // in a zeroed one.
    auto& user = it->second.user_pages;
    user.erase(user.lower_bound(offset >> kPageShift), user.lower_bound((offset + len) >> kPageShift));
  }
  return 0;
}

int Vm::gmem_mmap(std::uint64_t gmem, std::uint64_t offset, std::uint64_t len) const {
  auto it = gmems_.find(gmem);
  if (it == gmems_.end()) return -EBADF;
  // do_mmap(): a zero length or unaligned offset is EINVAL before the file's mmap is asked;
  // kvm_gmem_mmap(): ENODEV for a file without the MMAP flag (6.12 has no mmap at all: no
  // such flag to create a file with).
  if (len == 0 || (offset & kPageMask) != 0) return -EINVAL;
  if ((it->second.flags & kGmemFlagMmap) == 0) return -ENODEV;
  return 0;
}

int Vm::gmem_user_copy(std::uint64_t gmem, std::uint64_t offset, std::span<std::uint8_t> buf, bool write) {
  auto it = gmems_.find(gmem);
  if (it == gmems_.end()) return -EFAULT;
  Gmem& g = it->second;
  std::size_t done = 0;
  while (done < buf.size()) {
    const std::uint64_t at = offset + done;
    const std::uint64_t index = at >> kPageShift, in_page = at & kPageMask;
    // kvm_gmem_fault_user_mapping(): SIGBUS past the file's size and for a file whose memory
    // does not start shared.
    if (at >= g.size || (g.flags & kGmemFlagInitShared) == 0) return -EFAULT;
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(kPageSize - in_page, buf.size() - done));
    auto p = g.user_pages.find(index);
    if (write) {
      if (p == g.user_pages.end()) p = g.user_pages.emplace(index, std::vector<std::uint8_t>(kPageSize, 0)).first;
      std::copy_n(buf.begin() + static_cast<long>(done), n, p->second.begin() + static_cast<long>(in_page));
    } else if (p == g.user_pages.end()) {
      std::fill_n(buf.begin() + static_cast<long>(done), n, std::uint8_t{0});
    } else {
      std::copy_n(p->second.begin() + static_cast<long>(in_page), n, buf.begin() + static_cast<long>(done));
    }
    done += n;
  }
  return 0;
}

/// kvm_gmem_free_folio(): the freed folios go through kvm_arch_gmem_invalidate() (SNP:
/// sev_gmem_invalidate(), back to shared) before the page allocator has them again.
void Vm::free_gmem_pages(const std::vector<Pfn>& freed) {
  const kern::FunctionScope fs(host_->sched(), "kvm_gmem_free_folio");
  SevPlatform* sev = host_->sev();
  if (sev == nullptr || !host_->config().profile.gmem_no_invalidate_hook) {
    sev_gmem_invalidate(*this, freed);
    return;
  }
  // No arch hook: the folios go straight back to the page allocator. A page still assigned
  // in the RMP is now a host page the guest owns: the next host write to it takes an RMP
  // #PF, and the allocator may hand it to anyone.
  for (const Pfn pfn : freed) {
    const RmpEntryRaw e = sev->rmp().inspect(pfn);
    if (e.assigned()) {
      host_->sched().report(FindingKind::FreedPrivatePage,
                           fmt::format("guest_memfd freed PFN 0x{:x} while the RMP still assigns it to ASID {} (GPA "
                                       "0x{:x}{}): no kvm_arch_gmem_invalidate() made it shared first",
                                       pfn, e.asid(), e.gpa(), e.validated() ? ", validated" : ""));
    }
    sev->free_page(pfn);
  }
}

void Vm::close_gmem(std::uint64_t gmem) {
  const kern::FunctionScope fs(host_->sched(), "kvm_gmem_release");
  auto it = gmems_.find(gmem);
  if (it == gmems_.end()) return;
  {
    // kvm_gmem_release(): kvm->slots_lock, then the mapping's invalidate lock.
    const kern::Guard slots(slots_lock_);
    const kern::Guard invalidate(gmem_invalidate_lock(gmem));
    std::vector<Pfn> freed;
    for (const auto& [idx, pfn] : it->second.pages) freed.push_back(pfn);
    gmems_.erase(it);
    free_gmem_pages(freed);
  }
  gmem_invalidate_lock_.erase(gmem);
}

kern::Mutex& Vm::gmem_invalidate_lock(std::uint64_t gmem) const {
  auto it = gmem_invalidate_lock_.find(gmem);
  SNPLAB_ASSERT(it != gmem_invalidate_lock_.end(), "invalidate lock of a guest_memfd that was never created");
  return it->second;
}

std::optional<Pfn> Vm::gmem_pfn(const Memslot& slot, Gpa gfn) {
  if (slot.gmem_id == 0) return std::nullopt;
  auto it = gmems_.find(slot.gmem_id);
  if (it == gmems_.end()) return std::nullopt;
  const std::uint64_t index = (slot.gmem_offset >> kPageShift) + (gfn - slot.base_gfn);
  auto& pages = it->second.pages;
  auto p = pages.find(index);
  if (p != pages.end()) return p->second;
  SevPlatform* sev = host_->sev();
  if (sev == nullptr) return std::nullopt;
  if (host_->config().gmem_huge_folios) {
    // A 2 MiB folio for the whole aligned range of the file, when none of it is allocated.
    const std::uint64_t first = index & ~(kPagesPerHuge - 1);
    const bool fits = (first + kPagesPerHuge) << kPageShift <= it->second.size;
    auto lo = pages.lower_bound(first);
    const bool empty = lo == pages.end() || lo->first >= first + kPagesPerHuge;
    if (fits && empty) {
      const Pfn base = sev->alloc_huge();
      for (std::uint64_t i = 0; i < kPagesPerHuge; ++i) pages.emplace_hint(pages.end(), first + i, base + i);
      return base + (index - first);
    }
  }
  const Pfn pfn = sev->alloc_page();
  pages[index] = pfn;
  return pfn;
}

std::vector<Pfn> Vm::gmem_pages() const {
  std::vector<Pfn> all;
  for (const auto& [id, g] : gmems_) {
    for (const auto& [idx, pfn] : g.pages) all.push_back(pfn);
  }
  return all;
}

long Vm::kvm_gmem_populate(Gpa start_gfn, std::optional<std::uint64_t> src, long npages,
                           const std::function<int(Gpa, Pfn, std::optional<std::uint64_t>, int)>& post_populate) {
  const kern::FunctionScope fs(host_->sched(), "kvm_gmem_populate");
  kern::lockdep_assert_held(slots_lock_, "kvm_gmem_populate");
  if (npages < 0) return -EINVAL;
  const auto slot = gfn_to_memslot(start_gfn);
  if (!slot || (slot->flags & kMemGuestMemfd) == 0) return -EINVAL;  // kvm_slot_can_be_private
  if (!is_gmem(slot->gmem_id)) return -EFAULT;                        // kvm_gmem_get_file
  const kern::Guard invalidate(gmem_invalidate_lock(slot->gmem_id));  // filemap_invalidate_lock
  const auto left = static_cast<long>(slot->npages - (start_gfn - slot->base_gfn));
  npages = std::min(left, npages);
  int ret = 0;
  long i = 0;
  for (; i < npages; ++i) {
    const Gpa gfn = start_gfn + static_cast<std::uint64_t>(i);
    const auto pfn = gmem_pfn(*slot, gfn);  // __kvm_gmem_get_pfn()
    if (!pfn) {
      ret = -EFAULT;
      break;
    }
    if ((attributes(gfn) & kAttrPrivate) == 0) {  // kvm_range_has_memory_attributes(PRIVATE)
      ret = -EINVAL;
      break;
    }
    const auto page_src = src ? std::optional<std::uint64_t>(*src + (static_cast<std::uint64_t>(i) << kPageShift))
                              : std::nullopt;
    ret = post_populate(gfn, *pfn, page_src, 0);
    if (ret != 0) break;
  }
  return ret != 0 && i == 0 ? ret : i;
}

}  // namespace snplab::model::kvm
