// virt/kvm/kvm_main.c: /dev/kvm and VM ioctls - VM creation and references (kvm_get_kvm /
// kvm_put_kvm), capabilities, memslots published under SRCU, memory attributes, vCPU creation
// and registers, guest memory through the memslots (kvm_read_guest / kvm_write_guest).
#include "snp/model/host/kvm_host.h"

#include <algorithm>
#include <array>
#include <cerrno>

#include <fmt/format.h>

#include "snp/model/base/assert.h"

namespace snplab::model::kvm {

namespace {

constexpr std::uint64_t kPageMask = kPageSize - 1;
// Capability numbers (facts §8.4, §8.5; linux/kvm.h).
constexpr long kCapExitHypercall = 201, kCapUserMemory2 = 231, kCapMemoryFaultInfo = 232,
               kCapMemoryAttributes = 233, kCapGuestMemfd = 234, kCapVmTypes = 235, kCapGuestMemfdFlags = 244,
               kCapNrMemslots = 10, kCapMaxVcpus = 66, kCapMultiAddressSpace = 118;
constexpr std::uint64_t kHcMapGpaRange = 12;
constexpr std::uint32_t kMemSlotsNum = 32767;

}  // namespace

Host::Host(HostConfig cfg) : cfg_(cfg) {
  if (cfg_.snp_enabled) {
    sev_ = std::make_unique<SevPlatform>(cfg_.seed);
    sev_->detectors().set_sink(&sched_);  // one findings sink for the RMP detectors and the kernel
    // sev_do_cmd(): sev_cmd_mutex around each PSP command, whose start and end are
    // scheduling points (kern/sched.h); a caller that holds the mutex already (sev_ioctl) is
    // __sev_do_cmd_locked() and takes nothing. Each agent keeps a stack (a firmware command
    // may issue another) of which of its commands took the mutex.
    sev_->fw().set_command_hook([this](FwCmd c, bool done) {
      std::vector<bool>& taken = sev_cmd_taken_[sched_.current()];
      if (!done) {
        const bool take = sev_cmd_mutex_.owner() != sched_.current();
        taken.push_back(take);
        sched_.enter(take ? "sev_do_cmd" : "__sev_do_cmd_locked");  // left when the command is done
        if (take) sev_cmd_mutex_.lock();
        sched_.point(kern::PointKind::FirmwareCall, &sev_->fw(), to_string(c));
        return;
      }
      sched_.point(kern::PointKind::FirmwareDone, &sev_->fw(), to_string(c));
      const bool took = !taken.empty() && taken.back();
      if (!taken.empty()) taken.pop_back();
      if (took) sev_cmd_mutex_.unlock();
      sched_.leave();
    });
  }
}
Host::~Host() { vms_.clear(); }

int Host::check_extension(const Vm* vm, long cap) const {
  switch (cap) {
    case kCapVmTypes:
      return static_cast<int>((1U << kVmDefault) | (sev_ && cfg_.sw_protected_vm ? 1U << kVmSwProtected : 0U) |
                              (sev_ && cfg_.sev_enabled ? 1U << kVmSev : 0U) |
                              (sev_ && cfg_.sev_es_enabled ? 1U << kVmSevEs : 0U) |
                              (cfg_.snp_enabled ? 1U << kVmSnp : 0U));
    case kCapUserMemory2:
    case kCapMemoryFaultInfo:
      return 1;
    case kCapGuestMemfd:
      return cfg_.guest_memfd ? 1 : 0;
    case kCapMemoryAttributes:
      // kvm_supported_mem_attributes(): PRIVATE for /dev/kvm or a VM with private memory.
      if (vm == nullptr) return cfg_.snp_enabled ? static_cast<int>(kAttrPrivate) : 0;
      return vm->has_private_mem() ? static_cast<int>(kAttrPrivate) : 0;
    case kCapGuestMemfdFlags:
      // INIT_SHARED is not offered for VMs with private memory (facts §8.4); the model also
      // refuses MMAP there (docs/kvm.md).
      if (!cfg_.guest_memfd || (vm != nullptr && vm->has_private_mem())) return 0;
      return static_cast<int>(cfg_.gmem_flags);
    case kCapExitHypercall:
      return static_cast<int>(1ULL << kHcMapGpaRange);
    case kCapNrMemslots:
      return static_cast<int>(cfg_.user_mem_slots);
    case kCapMaxVcpus:
      return static_cast<int>(cfg_.max_vcpus);
    case kCapMultiAddressSpace:
      // kvm_arch_nr_memslot_as_ids(): one address space for VMs with private memory.
      if (vm != nullptr && vm->has_private_mem()) return 1;
      return static_cast<int>(cfg_.address_spaces);
    default:
      return 0;
  }
}

long Host::create_vm(unsigned long type) {
  // kvm_arch_init_vm(): a type KVM_CAP_VM_TYPES does not offer is -EINVAL.
  const auto offered = static_cast<unsigned long>(check_extension(nullptr, kCapVmTypes));
  if (type > 31 || (offered & (1UL << type)) == 0) return -EINVAL;
  const std::uint64_t id = next_id_++;
  vms_[id] = std::make_unique<Vm>(*this, id, type);
  return static_cast<long>(id);
}

Vm* Host::vm(std::uint64_t id) {
  auto it = vms_.find(id);
  return it == vms_.end() ? nullptr : it->second.get();
}

void Host::destroy_vm(std::uint64_t id) { vms_.erase(id); }

void Host::get_vm(std::uint64_t id) {
  if (Vm* v = vm(id)) v->users_count().get();
}

void Host::put_vm(std::uint64_t id) {
  Vm* v = vm(id);
  if (v == nullptr) return;
  bool last = false;
  (void)v->users_count().put([&last] { last = true; });
  if (last) destroy_vm(id);
}

std::unique_ptr<const HostSnapshot> Host::snapshot() const {
  auto s = std::make_unique<HostSnapshot>();
  s->sched = sched_;
  s->user = user_;
  s->pinned = pinned_;
  if (sev_) s->sev = std::make_unique<SevPlatform>(*sev_);
  s->next_id = next_id_;
  s->calls = calls_;
  for (const auto& [id, vm] : vms_) {
    auto copy = std::unique_ptr<Vm>(new Vm(*vm));
    copy->detached_ = true;
    s->vms.emplace(id, std::move(copy));
  }
  s->from = this;
  return s;
}

void Host::restore(const HostSnapshot& snap) {
  SNPLAB_ASSERT(snap.from == this, "a host snapshot restored into another host");
  sched_.restore(snap.sched);
  user_ = snap.user;
  pinned_ = snap.pinned;
  if (sev_) sev_->restore(*snap.sev);
  next_id_ = snap.next_id;
  calls_ = snap.calls;
  // VMs created since: gone without teardown (the platform state they changed is back).
  for (auto it = vms_.begin(); it != vms_.end();) {
    if (snap.vms.contains(it->first)) {
      ++it;
      continue;
    }
    it->second->detached_ = true;
    it = vms_.erase(it);
  }
  for (const auto& [id, saved] : snap.vms) {
    auto& live = vms_[id];
    if (live) {
      *live = *saved;
    } else {
      live = std::unique_ptr<Vm>(new Vm(*saved));  // destroyed since: back
    }
    live->detached_ = false;
  }
}

Vm::~Vm() {
  if (!detached_) sev_vm_destroy(*this);
}

Vm::Vm(Host& host, std::uint64_t id, unsigned long type)
    : host_(&host),
      id_(id),
      type_(type),
      slots_lock_(host.sched(), "kvm->slots_lock"),
      kvm_lock_(host.sched(), "kvm->lock"),
      users_count_(host.sched(), "kvm->users_count"),
      srcu_(host.sched(), "kvm->srcu"),
      slots_(host.sched(), "kvm->memslots", std::make_shared<const std::vector<Memslot>>()),
      guest_req_mutex_(host.sched(), "sev->guest_req_mutex") {}

int Vm::check_region(const MemoryRegion2& r, const Memslot* old) const {
  // check_memory_region_flags(): LOG_DIRTY_PAGES; GUEST_MEMFD for a VM with private memory,
  // and then without dirty logging; READONLY (x86 has read-only memory) but not for a
  // guest_memfd slot.
  std::uint32_t valid = kMemLogDirtyPages;
  if (has_private_mem() && host_->config().guest_memfd) valid |= kMemGuestMemfd;
  if ((r.flags & kMemGuestMemfd) != 0) valid &= ~kMemLogDirtyPages;
  if ((r.flags & kMemGuestMemfd) == 0) valid |= kMemReadonly;
  if ((r.flags & ~valid) != 0) return -EINVAL;
  const std::uint32_t as_id = r.slot >> 16, id = r.slot & 0xFFFF;
  if (as_id >= address_spaces() || id >= kMemSlotsNum) return -EINVAL;
  if ((r.memory_size & kPageMask) != 0 || (r.guest_phys_addr & kPageMask) != 0) return -EINVAL;
  if (id < host_->config().user_mem_slots) {
    // access_ok(): a page-aligned user range below TASK_SIZE_MAX (47-bit user space).
    constexpr std::uint64_t kTaskSizeMax = (1ULL << 47) - kPageSize;
    if ((r.userspace_addr & kPageMask) != 0 || r.userspace_addr + r.memory_size < r.userspace_addr ||
        r.userspace_addr + r.memory_size > kTaskSizeMax) {
      return -EINVAL;
    }
  }
  if (r.guest_phys_addr + r.memory_size < r.guest_phys_addr) return -EINVAL;
  if ((r.memory_size >> kPageShift) > (1ULL << 31) - 1) return -EINVAL;  // KVM_MEM_MAX_NR_PAGES
  if ((r.flags & kMemGuestMemfd) != 0) {
    if ((r.guest_memfd_offset & kPageMask) != 0 || r.guest_memfd_offset + r.memory_size < r.guest_memfd_offset) {
      return -EINVAL;
    }
  }
  if (r.memory_size == 0) return old == nullptr ? -EINVAL : 0;  // delete
  if (old != nullptr) {
    // Modifying an existing slot (kvm_set_memory_region): guest_memfd slots are immutable;
    // the user address, the size and READONLY cannot change - only a move or LOG_DIRTY.
    if ((r.flags & kMemGuestMemfd) != 0) return -EINVAL;
    if (r.userspace_addr != old->userspace_addr || r.memory_size >> kPageShift != old->npages ||
        ((r.flags ^ old->flags) & kMemReadonly) != 0) {
      return -EINVAL;
    }
  }
  return 0;
}

std::uint32_t Vm::address_spaces() const {
  return static_cast<std::uint32_t>(host_->check_extension(this, kCapMultiAddressSpace));
}

int Vm::set_user_memory_region2(const MemoryRegion2& r) {
  const kern::FunctionScope fs(host_->sched(), "kvm_set_memory_region");
  // kvm_vm_ioctl_set_memory_region(): userspace names slot ids below KVM_USER_MEM_SLOTS only
  // (the ones above are KVM's internal memslots).
  if ((r.slot & 0xFFFF) >= host_->config().user_mem_slots) return -EINVAL;
  kern::Guard g(slots_lock_);
  const std::shared_ptr<const std::vector<Memslot>> published = slots_.load();
  const std::vector<Memslot>& cur = *published;
  const std::uint32_t as_id = r.slot >> 16, id = r.slot & 0xFFFF;
  const auto it = std::find_if(cur.begin(), cur.end(), [&](const Memslot& s) { return s.as_id == as_id && s.id == id; });
  const Memslot* old = it == cur.end() ? nullptr : &*it;
  if (int e = check_region(r, old); e != 0) return e;

  std::vector<Memslot> next = cur;
  if (r.memory_size == 0) {
    next.erase(next.begin() + (it - cur.begin()));
  } else {
    Memslot s;
    s.id = id;
    s.as_id = as_id;
    s.flags = r.flags;
    s.base_gfn = r.guest_phys_addr >> kPageShift;
    s.npages = r.memory_size >> kPageShift;
    s.userspace_addr = r.userspace_addr;
    // Overlap with another slot of the same address space on create or move: EEXIST
    // (kvm_check_memslot_overlap); a flags-only change checks nothing.
    const bool moved_or_new = old == nullptr || old->base_gfn != s.base_gfn;
    for (const Memslot& o : cur) {
      if (!moved_or_new) break;
      if (o.as_id != as_id || (old != nullptr && o.id == id)) continue;
      if (s.base_gfn < o.base_gfn + o.npages && o.base_gfn < s.base_gfn + s.npages) return -EEXIST;
    }
    if ((r.flags & kMemGuestMemfd) != 0) {
      auto gm = gmems_.find(r.guest_memfd);
      if (gm == gmems_.end()) return -EINVAL;  // not a guest_memfd of this VM
      if (r.guest_memfd_offset + r.memory_size > gm->second.size) return -EINVAL;
      for (const Memslot& o : cur) {  // a file range binds to one slot at a time
        if (o.gmem_id != r.guest_memfd) continue;
        const std::uint64_t o_end = o.gmem_offset + (o.npages << kPageShift);
        if (r.guest_memfd_offset < o_end && o.gmem_offset < r.guest_memfd_offset + r.memory_size) return -EEXIST;
      }
      s.gmem_id = r.guest_memfd;
      s.gmem_offset = r.guest_memfd_offset;
    }
    if (old != nullptr) {
      next[static_cast<std::size_t>(it - cur.begin())] = s;
    } else {
      next.push_back(s);
    }
  }
  // --- point of no return: publish, then wait out readers of the old array ---
  slots_.write_once(std::make_shared<const std::vector<Memslot>>(std::move(next)));
  srcu_.synchronize();
  return 0;
}

std::optional<Memslot> Vm::gfn_to_memslot(Gpa gfn) {
  const int idx = srcu_.read_lock();
  const std::shared_ptr<const std::vector<Memslot>> slots = slots_.read_once();
  std::optional<Memslot> found;
  for (const Memslot& s : *slots) {
    if (s.as_id == 0 && gfn >= s.base_gfn && gfn < s.base_gfn + s.npages) found = s;
  }
  srcu_.read_unlock(idx);
  return found;
}

std::optional<Gpa> Vm::hva_to_gfn_unlocked(std::uint64_t hva) {
  const std::shared_ptr<const std::vector<Memslot>> slots = slots_.load();  // plain, outside kvm->srcu (RFC v4)
  for (const Memslot& s : *slots) {
    if (s.as_id == 0 && hva >= s.userspace_addr && hva - s.userspace_addr < (s.npages << kPageShift)) {
      return s.base_gfn + ((hva - s.userspace_addr) >> kPageShift);
    }
  }
  return std::nullopt;
}

template <class Fn>
bool Vm::for_each_guest_chunk(Gpa gpa, std::size_t len, bool write, Fn&& fn) {
  // kvm_read_guest()/kvm_write_guest(): page by page through each slot's userspace mapping.
  std::size_t done = 0;
  while (done < len) {
    const Gpa cur = gpa + done;
    const auto slot = gfn_to_memslot(cur >> kPageShift);
    if (!slot || (write && (slot->flags & kMemReadonly) != 0)) return false;
    const std::size_t n = std::min(static_cast<std::size_t>(kPageSize - (cur & kPageMask)), len - done);
    if (!fn(slot->userspace_addr + (cur - (slot->base_gfn << kPageShift)), done, n)) return false;
    done += n;
  }
  return true;
}

bool Vm::read_guest(Gpa gpa, std::span<std::uint8_t> out) {
  return for_each_guest_chunk(gpa, out.size(), false, [&](std::uint64_t uaddr, std::size_t at, std::size_t n) {
    return host_->user().copy_from(uaddr, out.subspan(at, n));
  });
}

bool Vm::write_guest(Gpa gpa, std::span<const std::uint8_t> in) {
  return for_each_guest_chunk(gpa, in.size(), true, [&](std::uint64_t uaddr, std::size_t at, std::size_t n) {
    return host_->user().copy_to(uaddr, in.subspan(at, n));
  });
}

std::optional<Pfn> Host::pin_user_page(std::uint64_t uaddr) {
  const std::uint64_t page = uaddr & ~static_cast<std::uint64_t>(kPageMask);
  if (const auto it = pinned_.find(page); it != pinned_.end()) return it->second;
  std::array<std::uint8_t, kPageSize> buf{};
  if (sev_ == nullptr || !user_.copy_from(page, buf)) return std::nullopt;
  const Pfn pfn = sev_->alloc_page();
  if (pfn == 0) return std::nullopt;
  sev_->mem().write(pfn_to_spa(pfn), buf);
  pinned_.emplace(page, pfn);
  return pfn;
}

int Vm::set_memory_attributes(std::uint64_t address, std::uint64_t size, std::uint64_t attributes,
                              std::uint64_t flags) {
  const kern::FunctionScope fs(host_->sched(), "kvm_vm_set_mem_attributes");
  const std::uint64_t supported = static_cast<std::uint64_t>(host_->check_extension(this, 233));
  if (supported == 0) return -ENOTTY;  // the ioctl is not offered for this VM (docs/kvm.md)
  if (flags != 0 || (attributes & ~supported) != 0) return -EINVAL;
  if (size == 0 || address + size < address) return -EINVAL;
  if ((address & kPageMask) != 0 || (size & kPageMask) != 0) return -EINVAL;
  kern::Guard g(slots_lock_);
  const Gpa first = address >> kPageShift;
  const Gpa end = (address + size) >> kPageShift;
  // A range that starts before `first` and reaches into [first, end) keeps its head, and
  // its tail beyond `end`.
  auto it = attrs_.lower_bound(first);
  if (it != attrs_.begin()) {
    auto prev = std::prev(it);
    if (prev->second.end > first) {
      const AttrRange whole = prev->second;
      prev->second.end = first;
      if (whole.end > end) attrs_.emplace(end, whole);
    }
  }
  // Ranges that start inside [first, end) go; the part of the last one beyond `end` stays.
  it = attrs_.lower_bound(first);
  while (it != attrs_.end() && it->first < end) {
    const AttrRange r = it->second;
    it = attrs_.erase(it);
    if (r.end > end) {
      attrs_.emplace(end, r);
      break;
    }
  }
  if (attributes == 0) return 0;
  // The new range, merged with neighbours that hold the same attributes.
  Gpa lo = first, hi = end;
  it = attrs_.lower_bound(first);
  if (it != attrs_.begin()) {
    auto prev = std::prev(it);
    if (prev->second.end == first && prev->second.attrs == attributes) {
      lo = prev->first;
      attrs_.erase(prev);
    }
  }
  if (it != attrs_.end() && it->first == end && it->second.attrs == attributes) {
    hi = it->second.end;
    attrs_.erase(it);
  }
  attrs_.emplace(lo, AttrRange{hi, attributes});
  return 0;
}

std::uint64_t Vm::attributes(Gpa gfn) const {
  auto it = attrs_.upper_bound(gfn);
  if (it == attrs_.begin()) return 0;
  --it;
  return gfn < it->second.end ? it->second.attrs : 0;
}

int Vm::enable_cap(std::uint32_t cap, std::uint32_t flags, const std::uint64_t (&args)[4]) {
  if (cap != kCapExitHypercall) return -EINVAL;
  if (flags != 0) return -EINVAL;
  const std::uint64_t supported = static_cast<std::uint64_t>(host_->check_extension(this, kCapExitHypercall));
  if ((args[0] & ~supported) != 0) return -EINVAL;
  hypercall_exit_mask_ = args[0];
  return 0;
}

bool Vm::guest_state_protected(unsigned long vcpu_id) const {
  const auto it = std::find(vcpu_ids_.begin(), vcpu_ids_.end(), vcpu_id);
  const auto index = static_cast<std::size_t>(it - vcpu_ids_.begin());
  return index < sev_.guest_state_protected.size() && sev_.guest_state_protected[index];
}

void Vm::kvm_vm_bugged(std::string_view where, const std::string& why) {
  host_->sched().report(FindingKind::KvmBug, fmt::format("WARNING: KVM_BUG in {}(): {}; VM {} is dead (every ioctl now EIO)",
                                               where, why, id_));
  vm_dead_ = true;
}

kern::Mutex& Vm::vcpu_mutex(unsigned long vcpu_id) const {
  auto it = vcpu_mutex_.find(vcpu_id);
  SNPLAB_ASSERT(it != vcpu_mutex_.end(), "vcpu->mutex of a vCPU that was never created");
  return it->second;
}

int Vm::vcpu_regs(unsigned long vcpu_id, bool sregs, std::vector<std::uint8_t>* out) const {
  const kern::FunctionScope fs(host_->sched(), sregs ? "kvm_arch_vcpu_ioctl_get_sregs" : "kvm_arch_vcpu_ioctl_get_regs");
  if (std::find(vcpu_ids_.begin(), vcpu_ids_.end(), vcpu_id) == vcpu_ids_.end()) return -EINVAL;
  const kern::Guard vcpu_lock(vcpu_mutex(vcpu_id));  // kvm_vcpu_ioctl(KVM_GET_REGS/SREGS)
  if (guest_state_protected(vcpu_id)) return -EINVAL;
  out->clear();
  auto it = arch_.find(vcpu_id);
  if (it != arch_.end()) *out = sregs ? it->second.sregs : it->second.regs;
  return 0;
}

int Vm::set_vcpu_regs(unsigned long vcpu_id, bool sregs, std::span<const std::uint8_t> bytes, std::uint64_t entry) {
  const kern::FunctionScope fs(host_->sched(), sregs ? "kvm_arch_vcpu_ioctl_set_sregs" : "kvm_arch_vcpu_ioctl_set_regs");
  if (std::find(vcpu_ids_.begin(), vcpu_ids_.end(), vcpu_id) == vcpu_ids_.end()) return -EINVAL;
  const kern::Guard vcpu_lock(vcpu_mutex(vcpu_id));  // kvm_vcpu_ioctl(KVM_SET_REGS/SREGS)
  if (guest_state_protected(vcpu_id)) return -EINVAL;
  VcpuArch& a = arch_.at(vcpu_id);
  (sregs ? a.sregs : a.regs).assign(bytes.begin(), bytes.end());
  a.entry.store(entry);
  return 0;
}

std::uint64_t Vm::vcpu_entry(unsigned long vcpu_id) const { return arch_.at(vcpu_id).entry.load(); }

int Vm::kvm_lock_all_vcpus() {
  const kern::FunctionScope fs(host_->sched(), "kvm_lock_all_vcpus");
  for (const unsigned long id : vcpu_ids_) vcpu_mutex(id).lock();
  return 0;
}

void Vm::kvm_unlock_all_vcpus() {
  for (auto it = vcpu_ids_.rbegin(); it != vcpu_ids_.rend(); ++it) vcpu_mutex(*it).unlock();
}

int Vm::create_vcpu(unsigned long vcpu_id) {
  const kern::FunctionScope fs(host_->sched(), "kvm_vm_ioctl_create_vcpu");
  if (vcpu_id >= host_->config().max_vcpus) return -EINVAL;
  if (vcpu_ids_.size() >= host_->config().max_vcpus) return -EINVAL;
  if (std::find(vcpu_ids_.begin(), vcpu_ids_.end(), vcpu_id) != vcpu_ids_.end()) return -EEXIST;
  vcpu_ids_.push_back(vcpu_id);
  if (SevPlatform* sev = host_->sev(); sev != nullptr && is_snp() && sev_.active) {
    // sev_es_vcpu_create(): the VMSA page (snp_safe_alloc_page). A vCPU created after
    // LAUNCH_FINISH keeps a hypervisor-owned VMSA, so VMRUN refuses it until an AP Creation
    // gives it one of the guest's.
    sev_.vmsas.push_back(sev->alloc_safe_page());
    sev_.guest_state_protected.push_back(false);
  }
  vcpu_mutex_.try_emplace(vcpu_id, host_->sched(), "vcpu->mutex");
  VcpuArch& arch = arch_.try_emplace(vcpu_id, host_->sched()).first->second;
  // svm_vcpu_create(): an SEV-ES guest's vCPU (the VM initialised for SEV-ES or SNP) keeps
  // its FPU state in the encrypted VMSA: fpstate_set_confidential().
  arch.fpu_confidential = (type_ == kVmSevEs || type_ == kVmSnp) && sev_.active;
  return 0;
}

}  // namespace snplab::model::kvm
