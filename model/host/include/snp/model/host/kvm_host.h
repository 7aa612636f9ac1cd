// The simulated KVM host (DESIGN.md "KVM host logic, in kernel style"): VMs, memslots read
// under SRCU, guest_memfd, memory attributes, vCPUs. Errors are negative errno values, as a
// kernel function returns them; the api layer turns them into api::Error.
//
// Locking, as in virt/kvm/kvm_main.c: kvm->slots_lock serialises memslot and attribute
// updates; readers of the memslot array hold kvm->srcu; memslot updates publish a new array
// and synchronize_srcu() before the old one goes away.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "snp/model/kern/sync.h"
#include "snp/model/guest/program.h"
#include "snp/model/guest/vcpu.h"
#include "snp/model/host/profile.h"
#include "snp/model/host/kvm/svm/sev.h"
#include "snp/model/host/mm/user.h"
#include "snp/model/base/types.h"
#include "snp/uapi/uapi.h"

namespace snplab::model::kvm {

/// What the simulated host offers (a Milan/Genoa host with SNP enabled, by default).
inline constexpr std::uint64_t kGmemFlagMmapInitShared = uapi::GUEST_MEMFD_FLAG_MMAP | uapi::GUEST_MEMFD_FLAG_INIT_SHARED;

struct HostConfig {
  bool snp_enabled = true;
  /// kvm_amd's sev= and sev_es= (the SEV and SEV-ES VM types); on with SNP by default.
  bool sev_enabled = true;
  bool sev_es_enabled = true;
  std::uint32_t max_vcpus = 1024;
  std::uint32_t user_mem_slots = 32764;  ///< KVM_USER_MEM_SLOTS on x86
  /// Memslot address spaces of a VM without private memory: 2 with CONFIG_KVM_SMM (SMM has
  /// its own), 1 without. VMs with private memory (SNP) always have 1.
  std::uint32_t address_spaces = 2;
  std::uint64_t seed = 1;  ///< the simulated chip's seed (firmware, keys)
  /// guest_memfd backs 2 MiB-aligned ranges with 2 MiB folios (contiguous, aligned host
  /// pages), so sev_gmem_prepare() can assign a 2M RMP entry and 4K PVALIDATEs take the
  /// RMP-fault/PSMASH path (facts §3.3, §8.5). Off by default: upstream guest_memfd hands
  /// out 4K pages (docs/kvm.md).
  bool gmem_huge_folios = false;
  /// KVM_X86_SW_PROTECTED_VM (CONFIG_KVM_SW_PROTECTED_VM with the TDP MMU): guest_memfd
  /// private memory without RMP or firmware. Offered by default (the kernels the KVM
  /// selftests run on have it); its pages come from the SEV platform's host memory, so a host
  /// with snp_enabled = false does not offer it (docs/kvm.md).
  bool sw_protected_vm = true;
  /// The kernel's behaviour (profile.h); upstream unless a scenario picks another.
  KernelProfile profile = default_profile();
  /// kvm_caps.supported_xcr0: x87, SSE, AVX and PKRU, as on an EPYC Milan (no AVX-512); a
  /// documented choice (docs/kvm.md). KVM_GET_DEVICE_ATTR(XCOMP_GUEST_SUPP) reports it, CPUID
  /// leaf 0xD enumerates it, KVM_SET_XSAVE takes no other component.
  std::uint64_t supported_xcr0 = 0x207;
  /// guest_memfd (CONFIG_KVM_PRIVATE_MEM, Linux 6.8 on): without it KVM_CAP_GUEST_MEMFD is 0
  /// and KVM_CREATE_GUEST_MEMFD is not a VM ioctl (ENOTTY), as on a PVM-based host.
  bool guest_memfd = true;
  /// KVM_CAP_GUEST_MEMFD_FLAGS of a VM without private memory: MMAP | INIT_SHARED as in 6.18
  /// (0 on 6.12, which has neither flag).
  std::uint64_t gmem_flags = kGmemFlagMmapInitShared;
  /// mxcsr_feature_mask (the FXSAVE MXCSR_MASK): every MXCSR bit but the reserved ones; AMD
  /// Zen has the misaligned-exception mask (bit 17) too.
  std::uint32_t mxcsr_feature_mask = 0x2FFFF;
  /// Where each extended XSAVE component lives in the standard format (CPUID 0xD.i EBX and
  /// EAX): component -> {offset, size}. Zen 3's: AVX at 576, PKRU at 2432.
  std::map<unsigned, std::pair<std::uint32_t, std::uint32_t>> xstate_layout = {{2, {576, 256}}, {9, {2432, 8}}};
};

// The uAPI constants the host logic uses, by the model's names (defined once, in snp/uapi).
inline constexpr std::uint32_t kMemLogDirtyPages = uapi::KVM_MEM_LOG_DIRTY_PAGES;
inline constexpr std::uint32_t kMemReadonly = uapi::KVM_MEM_READONLY;
inline constexpr std::uint32_t kMemGuestMemfd = uapi::KVM_MEM_GUEST_MEMFD;
inline constexpr std::uint64_t kGmemFlagMmap = uapi::GUEST_MEMFD_FLAG_MMAP;
inline constexpr std::uint64_t kGmemFlagInitShared = uapi::GUEST_MEMFD_FLAG_INIT_SHARED;
inline constexpr std::uint64_t kAttrPrivate = uapi::KVM_MEMORY_ATTRIBUTE_PRIVATE;
inline constexpr unsigned long kVmDefault = uapi::KVM_X86_DEFAULT_VM;
inline constexpr unsigned long kVmSwProtected = uapi::KVM_X86_SW_PROTECTED_VM;
inline constexpr unsigned long kVmSev = uapi::KVM_X86_SEV_VM;
inline constexpr unsigned long kVmSevEs = uapi::KVM_X86_SEV_ES_VM;
inline constexpr unsigned long kVmSnp = uapi::KVM_X86_SNP_VM;

struct Memslot {
  std::uint32_t id = 0;           ///< slot & 0xffff
  std::uint32_t as_id = 0;        ///< slot >> 16
  std::uint32_t flags = 0;
  Gpa base_gfn = 0;
  std::uint64_t npages = 0;
  std::uint64_t userspace_addr = 0;
  std::uint64_t gmem_id = 0;      ///< 0 when not bound to a guest_memfd
  std::uint64_t gmem_offset = 0;  ///< in bytes
};

/// A guest_memfd: a file of `size` bytes whose pages are private guest memory.
struct Gmem {
  std::uint64_t id = 0;
  std::uint64_t size = 0;
  std::uint64_t flags = 0;
  /// Backing pages allocated so far: file page index -> host PFN.
  std::map<std::uint64_t, Pfn> pages;
  /// What userspace's mmap of the file (GUEST_MEMFD_FLAG_MMAP) has written: file page index
  /// -> the page's bytes; a page not here reads as zero (kvm_gmem_fault_user_mapping() clears
  /// a new folio). Shared memory only: no VM type with private memory may mmap.
  std::map<std::uint64_t, std::vector<std::uint8_t>> user_pages;
};

/// The arguments of KVM_SET_USER_MEMORY_REGION2, as the uAPI has them. `guest_memfd` names the
/// guest_memfd by its id on this VM (what the fd resolves to; 0: none): the caller's fd table
/// (the sim adapter) does the kernel's fget().
using MemoryRegion2 = uapi::kvm_userspace_memory_region2;

class Vm;
struct HostSnapshot;

/// What KVM_RUN leaves for userspace (the exits the simulated host produces).
struct Exit {
  int ret = 0;  ///< KVM_RUN's own return: 0, or -EFAULT with a memory fault, or -errno
  std::uint32_t reason = 0;
  std::uint64_t hypercall_nr = 0;
  std::uint64_t hypercall_args[3] = {};
  std::uint64_t memory_fault_flags = 0;
  std::uint64_t memory_fault_gpa = 0;
  std::uint64_t memory_fault_size = 0;
  std::uint32_t system_event_type = 0;
  std::uint64_t system_event_data0 = 0;  ///< SEV_TERM: the guest's GHCB MSR termination request
  std::uint64_t certs_gpa = 0;           ///< KVM_EXIT_SNP_REQ_CERTS: the guest's certificate buffer
  std::uint64_t certs_npages = 0;
  /// KVM_EXIT_VMGEXIT (seed shape, profile v15-vmgexit-certs): kvm_user_vmgexit.req_certs.
  std::uint32_t vmgexit_type = 0;
  std::uint8_t vmgexit_flags = 0;
  std::uint8_t vmgexit_status = 0;
  std::uint64_t fail_entry_reason = 0;  ///< KVM_EXIT_FAIL_ENTRY: hardware_entry_failure_reason
  /// KVM_EXIT_IO (real guest code, emulate.cc): direction (1 out), size, port, count, data.
  std::uint8_t io_direction = 0, io_size = 0;
  std::uint16_t io_port = 0;
  std::uint32_t io_count = 0;
  std::uint8_t io_data = 0;
  std::uint32_t internal_suberror = 0;  ///< KVM_EXIT_INTERNAL_ERROR: KVM_INTERNAL_ERROR_*
};

/// What userspace writes into kvm_run before the next KVM_RUN (hypercall.ret,
/// snp_req_certs.{ret,npages}, vmgexit.req_certs.{ret,data_npages,flags}).
struct UserCompletion {
  std::uint64_t ret = 0;
  bool set_npages = false;
  std::uint64_t npages = 0;
  std::uint8_t flags = 0;
};
inline constexpr std::uint32_t kExitFailEntry = uapi::KVM_EXIT_FAIL_ENTRY;
inline constexpr std::uint64_t kSvmExitErr = ~0ULL;  ///< SVM_EXIT_ERR (VMEXIT_INVALID), -1
inline constexpr std::uint32_t kExitHypercall = uapi::KVM_EXIT_HYPERCALL, kExitHlt = uapi::KVM_EXIT_HLT,
                               kExitInternalError = uapi::KVM_EXIT_INTERNAL_ERROR,
                               kExitSystemEvent = uapi::KVM_EXIT_SYSTEM_EVENT,
                               kExitMemoryFault = uapi::KVM_EXIT_MEMORY_FAULT, kExitVmgexit = uapi::KVM_EXIT_VMGEXIT_SEED,
                               kExitSnpReqCerts = uapi::KVM_EXIT_SNP_REQ_CERTS;
inline constexpr std::uint32_t kUserVmgexitReqCerts = uapi::KVM_USER_VMGEXIT_REQ_CERTS;
inline constexpr std::uint8_t kReqCertsFlagNotifyDone = uapi::KVM_USER_VMGEXIT_REQ_CERTS_FLAGS_NOTIFY_DONE;
inline constexpr std::uint8_t kReqCertsStatusPending = uapi::KVM_USER_VMGEXIT_REQ_CERTS_STATUS_PENDING,
                              kReqCertsStatusDone = uapi::KVM_USER_VMGEXIT_REQ_CERTS_STATUS_DONE;
inline constexpr std::uint64_t kMemoryExitFlagPrivate = uapi::KVM_MEMORY_EXIT_FLAG_PRIVATE;
inline constexpr std::uint32_t kSystemEventSevTerm = uapi::KVM_SYSTEM_EVENT_SEV_TERM;

class Host {
 public:
  explicit Host(HostConfig cfg = {});
  ~Host();
  const HostConfig& config() const { return cfg_; }
  kern::Sched& sched() { return sched_; }
  UserSpace& user() { return user_; }
  /// get_user_pages() + pin, as RFC v4's SNP_LAUNCH_UPDATE did (profile rfc-v4-pinned*):
  /// the host page behind the user page at `uaddr`, the same one for every caller. The first
  /// pin copies the user bytes into a host page; later writes through the VMM's mapping are
  /// not carried over (the firmware encrypts the page in place). nullopt if not mapped.
  std::optional<Pfn> pin_user_page(std::uint64_t uaddr);
  /// The SEV-SNP platform; nullptr when SNP is disabled.
  SevPlatform* sev() { return sev_.get(); }
  /// drivers/crypto/ccp/sev-dev.c's sev_cmd_mutex: sev_do_cmd() holds it around every PSP
  /// command; sev_ioctl() holds it around a whole /dev/sev command (its firmware calls are
  /// __sev_do_cmd_locked()).
  kern::Mutex& sev_cmd_mutex() { return sev_cmd_mutex_; }

  /// KVM_CHECK_EXTENSION on /dev/kvm (`vm` = nullptr) or on a VM fd.
  int check_extension(const Vm* vm, long cap) const;
  /// KVM_GET_DEVICE_ATTR / KVM_HAS_DEVICE_ATTR on /dev/kvm (__kvm_x86_dev_get_attr): the
  /// system group's XCOMP_GUEST_SUPP (HostConfig::supported_xcr0), the SEV group's
  /// VMSA_FEATURES (sev_dev_get_attr: the supported VMSA features, 0 without SEV-ES); -ENXIO
  /// for the rest.
  int dev_get_attr(std::uint32_t group, std::uint64_t attr, std::uint64_t* value) const;
  /// KVM_GET_SUPPORTED_CPUID (kvm_dev_ioctl_get_cpuid): the simulated host's table (cpuid.cc)
  /// into `out` when `nent` (at most KVM_MAX_CPUID_ENTRIES counted) holds it; -E2BIG otherwise.
  int get_supported_cpuid(std::uint32_t nent, std::vector<uapi::kvm_cpuid_entry2>* out) const;
  /// KVM_CREATE_VM: a VM id, or -EINVAL for an unsupported type.
  long create_vm(unsigned long type);
  Vm* vm(std::uint64_t id);
  /// kvm_get_kvm(): a vCPU or guest_memfd file takes a reference on its VM.
  void get_vm(std::uint64_t id);
  /// kvm_put_kvm(): drops a reference (the VM fd's, a vCPU's or a guest_memfd's); the last
  /// one destroys the VM (kvm_destroy_vm).
  void put_vm(std::uint64_t id);
  /// kvm_destroy_vm() now, whatever the references (the host's own teardown).
  void destroy_vm(std::uint64_t id);
  /// A fresh id for one call of a host operation (OpContext::call).
  std::uint64_t new_call_id() { return ++calls_; }
  /// The live VMs' ids, oldest first.
  std::vector<std::uint64_t> vm_ids() const {
    std::vector<std::uint64_t> ids;
    for (const auto& [id, vm] : vms_) ids.push_back(id);
    return ids;
  }

  /// The whole host as it is now - VMs, vCPUs and their guests, memslots, guest_memfd,
  /// user memory, RMP, host memory, firmware, detectors, kernel objects - for restore(). A
  /// simulator facility with no hardware counterpart: an exploration sets a scenario up once
  /// and starts every schedule from the snapshot instead of launching the guest again
  /// (docs/engine.md, "Snapshots"). Pages are shared with the live host until written. Not
  /// while an engine runs agents on this host.
  std::unique_ptr<const HostSnapshot> snapshot() const;
  /// Puts the host back to `snap` (taken from this host) in place: every object that existed
  /// then keeps its address, so pointers into the host (api handles, engine watches, Vm*)
  /// stay valid. A VM created since is dropped without teardown (its pages come back with
  /// the RMP and memory); one destroyed since comes back.
  void restore(const HostSnapshot& snap);

 private:
  HostConfig cfg_;
  kern::Sched sched_;
  kern::Mutex sev_cmd_mutex_{sched_, "sev_cmd_mutex"};
  /// Per agent, per command it has in flight (innermost last): whether the command took
  /// sev_cmd_mutex (false: a call made with the mutex held, __sev_do_cmd_locked()).
  std::map<kern::AgentId, std::vector<bool>> sev_cmd_taken_;
  UserSpace user_;
  std::map<std::uint64_t, Pfn> pinned_;  ///< user page address -> host page
  std::unique_ptr<SevPlatform> sev_;
  std::uint64_t next_id_ = 1;
  std::uint64_t calls_ = 0;
  std::map<std::uint64_t, std::unique_ptr<Vm>> vms_;
};

class Vm {
 public:
  Vm(Host& host, std::uint64_t id, unsigned long type);
  ~Vm();
  Host& host() { return *host_; }
  SevVmState& sev() { return sev_; }
  const SevVmState& sev() const { return sev_; }
  kern::Mutex& slots_lock() { return slots_lock_; }
  /// KVM_BUG() / KVM_BUG_ON(): the kernel gives up on the VM (kvm_vm_bugged: vm_bugged and
  /// vm_dead); every later VM and vCPU ioctl fails EIO. Reported as a "kvm-bug" finding naming
  /// `where` and `why` (the kernel's WARN).
  void kvm_vm_bugged(std::string_view where, const std::string& why);
  bool vm_dead() const { return vm_dead_; }
  /// kvm->users_count: the VM fd, and every vCPU and guest_memfd file made from it.
  kern::Kref& users_count() { return users_count_; }
  /// kvm->lock: sev_mem_enc_ioctl() holds it around every KVM_MEMORY_ENCRYPT_OP command.
  kern::Mutex& kvm_lock() { return kvm_lock_; }
  std::uint64_t id() const { return id_; }
  unsigned long type() const { return type_; }
  /// kvm->arch.has_private_mem: SNP and software-protected VMs (guest_memfd, attributes).
  bool has_private_mem() const { return type_ == kVmSnp || type_ == kVmSwProtected; }
  bool is_snp() const { return type_ == kVmSnp; }
  /// An SEV, SEV-ES or SNP VM type (sev_guest_init2 accepts it).
  bool is_sev_type() const { return type_ == kVmSev || type_ == kVmSevEs || type_ == kVmSnp; }

  /// KVM_SET_USER_MEMORY_REGION2 (kvm_set_memory_region): 0 or -errno.
  int set_user_memory_region2(const MemoryRegion2& r);
  /// KVM_CREATE_GUEST_MEMFD: a gmem id (> 0) or -errno.
  long create_guest_memfd(std::uint64_t size, std::uint64_t flags);
  bool is_gmem(std::uint64_t id) const { return gmems_.contains(id); }
  /// The guest_memfd inode's mapping->invalidate_lock (filemap_invalidate_lock): punch-hole,
  /// allocation, populate and release take it. Shared takers (allocation) are modelled as
  /// exclusive.
  kern::Mutex& gmem_invalidate_lock(std::uint64_t gmem) const;
  /// kvm_gmem_populate(): under kvm->slots_lock (asserted) and the guest_memfd's invalidate
  /// lock, for each page from `start_gfn` (at most to the slot's end): its guest_memfd page,
  /// which must be private by attribute (-EINVAL otherwise), handed to `post_populate` with
  /// its source address (nullopt: none) and order 0. Returns the pages done, or -errno when
  /// the first one failed. Pages are 4K folios (order 0) even with 2 MiB folios.
  long kvm_gmem_populate(Gpa start_gfn, std::optional<std::uint64_t> src, long npages,
                         const std::function<int(Gpa, Pfn, std::optional<std::uint64_t>, int)>& post_populate);
  /// fallocate(2) on a guest_memfd: 0 or -errno.
  int gmem_fallocate(std::uint64_t gmem, int mode, std::uint64_t offset, std::uint64_t len);
  void close_gmem(std::uint64_t gmem);
  /// mmap(2) of a guest_memfd (kvm_gmem_mmap): -ENODEV without GUEST_MEMFD_FLAG_MMAP, -EINVAL
  /// for a zero length or an unaligned offset; 0 when the mapping may be made.
  int gmem_mmap(std::uint64_t gmem, std::uint64_t offset, std::uint64_t len) const;
  /// A user access through such a mapping, at file offset `offset`: -EFAULT for a page the
  /// fault handler refuses (past the file's size, or any page without
  /// GUEST_MEMFD_FLAG_INIT_SHARED: SIGBUS in the kernel), else 0.
  int gmem_user_copy(std::uint64_t gmem, std::uint64_t offset, std::span<std::uint8_t> buf, bool write);
  /// KVM_SET_MEMORY_ATTRIBUTES: 0 or -errno.
  int set_memory_attributes(std::uint64_t address, std::uint64_t size, std::uint64_t attributes,
                            std::uint64_t flags);
  std::uint64_t attributes(Gpa gfn) const;
  /// KVM_ENABLE_CAP on the VM: 0 or -errno. KVM_CAP_EXIT_HYPERCALL takes the mask of
  /// hypercalls to exit on in args[0] (facts §8.5); no other VM capability is modelled.
  int enable_cap(std::uint32_t cap, std::uint32_t flags, const std::uint64_t (&args)[4]);
  /// KVM_SET_NR_MMU_PAGES (kvm_vm_ioctl_set_nr_mmu_pages): -EINVAL below
  /// KVM_MIN_ALLOC_MMU_PAGES, else the request is kept under kvm->slots_lock. The shadow MMU's
  /// page pool is not modelled (docs/kvm.md): the number is recorded, nothing is zapped.
  int set_nr_mmu_pages(std::uint64_t pages);
  std::uint64_t n_requested_mmu_pages() const { return n_requested_mmu_pages_; }
  std::uint64_t hypercall_exit_mask() const { return hypercall_exit_mask_; }
  /// KVM_CREATE_VCPU: 0 or -errno.
  int create_vcpu(unsigned long vcpu_id);
  std::size_t vcpu_count() const { return vcpu_ids_.size(); }
  const std::vector<unsigned long>& vcpu_ids() const { return vcpu_ids_; }

  /// KVM_GET/SET_REGS and _SREGS. The model keeps the structs' bytes as api/ gives them (it
  /// knows the layouts) and the entry point they set (CS.base + RIP), from which
  /// LAUNCH_FINISH builds the vCPU's VMSA. -EINVAL for no such vCPU, and once the vCPU's
  /// guest state is protected (LAUNCH_FINISH encrypted its VMSA), as KVM refuses them then.
  /// `out` is left empty when the registers were never set (the caller's reset state).
  int vcpu_regs(unsigned long vcpu_id, bool sregs, std::vector<std::uint8_t>* out) const;
  int set_vcpu_regs(unsigned long vcpu_id, bool sregs, std::span<const std::uint8_t> bytes, std::uint64_t entry);
  /// vcpu->arch.guest_state_protected: LAUNCH_FINISH encrypted this vCPU's VMSA.
  bool guest_state_protected(unsigned long vcpu_id) const;
  /// The entry point LAUNCH_FINISH measures: 0xFFFFFFF0 (the reset vector) unless set. A
  /// plain load of the vCPU's register state.
  std::uint64_t vcpu_entry(unsigned long vcpu_id) const;
  /// kvm_lock_all_vcpus(): every vCPU's vcpu->mutex, in vCPU order (the kernel's nested
  /// lockdep class; the killable wait is not modelled, so it always succeeds: 0).
  int kvm_lock_all_vcpus();
  void kvm_unlock_all_vcpus();
  /// vcpu->mutex of `vcpu_id` (made with the vCPU).
  kern::Mutex& vcpu_mutex(unsigned long vcpu_id) const;
  /// KVM_SET_CPUID2 / KVM_GET_CPUID2 (cpuid.cc): 0 or -errno (E2BIG, EINVAL; backend.h).
  int set_cpuid2(unsigned long vcpu_id, std::span<const uapi::kvm_cpuid_entry2> entries);
  int get_cpuid2(unsigned long vcpu_id, std::uint32_t nent, std::vector<uapi::kvm_cpuid_entry2>* out) const;
  /// KVM_GET_XSAVE / KVM_SET_XSAVE (fpu.cc): 0 or -EINVAL.
  int get_xsave(unsigned long vcpu_id, uapi::kvm_xsave* out) const;
  /// The architectural RESET state KVM gives a new vCPU (kvm_vcpu_reset()): RIP 0xFFF0 with
  /// CS base 0xFFFF0000, RFLAGS 2, RDX the CPU signature, CR0 0x60000010.
  static uapi::kvm_regs reset_regs();
  static uapi::kvm_sregs reset_sregs();
  int set_xsave(unsigned long vcpu_id, const uapi::kvm_xsave& in);
  /// KVM_{GET,SET}_DEVICE_ATTR(KVM_VCPU_TSC_CTRL, KVM_VCPU_TSC_OFFSET): the offset userspace
  /// set (0 until then); the simulated TSC itself is not modelled (docs/kvm.md).
  std::uint64_t tsc_offset(unsigned long vcpu_id) const { return arch_.at(vcpu_id).tsc_offset; }
  void set_tsc_offset(unsigned long vcpu_id, std::uint64_t offset) { arch_.at(vcpu_id).tsc_offset = offset; }

  /// Loads the program vCPU `vcpu_id` runs (the simulated guest). -EINVAL for no such vCPU.
  int set_guest_program(unsigned long vcpu_id, std::vector<GuestOp> ops);
  /// KVM_RUN: runs the guest until it needs userspace, under vcpu->mutex. Scheduling points
  /// at VMRUN, before each guest operation and at #VMEXIT; the VMSA is in use in between.
  Exit run_vcpu(unsigned long vcpu_id);
  /// What userspace wrote into kvm_run for the pending exit.
  int complete_vcpu(unsigned long vcpu_id, const UserCompletion& c);
  const GuestLog* guest_log(unsigned long vcpu_id) const;
  /// The last attestation report the guest on `vcpu_id` received (empty if none).
  const std::vector<std::uint8_t>* guest_report(unsigned long vcpu_id) const;
  /// kvm->arch.guest_req_mutex (sev->guest_req_mutex): one guest request at a time.
  kern::Mutex& guest_req_mutex() { return guest_req_mutex_; }
  /// The memslot whose userspace range holds `hva`: plain loads of kvm->memslots outside
  /// SRCU (only the launch-update-hva-lookup profile calls this; facts §9(b)).
  std::optional<Gpa> hva_to_gfn_unlocked(std::uint64_t hva);
  /// kvm_read_guest()/kvm_write_guest(): the guest's memory through the slot's userspace
  /// mapping. false when a page is outside every slot or unmapped.
  bool read_guest(Gpa gpa, std::span<std::uint8_t> out);
  bool write_guest(Gpa gpa, std::span<const std::uint8_t> in);

  /// kvm_gmem_get_pfn(): the host page behind `gfn` of a guest_memfd slot, allocated on
  /// first use. nullopt when the slot is not a guest_memfd slot.
  std::optional<Pfn> gmem_pfn(const Memslot& slot, Gpa gfn);

  /// The memslot holding `gfn` in address space 0, read under kvm->srcu.
  std::optional<Memslot> gfn_to_memslot(Gpa gfn);
  /// Every host page the VM's guest_memfds hold (teardown).
  std::vector<Pfn> gmem_pages() const;
  const std::vector<Memslot>& memslots_peek() const { return *slots_.peek(); }

 private:
  int check_region(const MemoryRegion2& r, const Memslot* old) const;
  /// Calls fn(uaddr, offset, n) for each page-bounded chunk of [gpa, gpa + len).
  template <class Fn>
  bool for_each_guest_chunk(Gpa gpa, std::size_t len, bool write, Fn&& fn);
  std::uint32_t address_spaces() const;
  /// Freed guest_memfd pages: sev_gmem_invalidate(), or straight back (gmem-no-invalidate-hook).
  void free_gmem_pages(const std::vector<Pfn>& freed);

  // Copies of a VM's state, for host snapshots only (Host::snapshot/restore). A copy made
  // for a snapshot is detached: destroying it tears nothing down.
  friend class Host;
  Vm(const Vm&) = default;
  Vm& operator=(const Vm&) = default;

  Host* host_;
  bool detached_ = false;
  bool vm_dead_ = false;
  std::uint64_t id_;
  unsigned long type_;
  kern::Mutex slots_lock_;
  kern::Mutex kvm_lock_;
  kern::Kref users_count_;
  kern::Srcu srcu_;
  /// kvm->memslots: the published array, replaced (never changed in place) on update.
  kern::Shared<std::shared_ptr<const std::vector<Memslot>>> slots_;
  std::map<std::uint64_t, Gmem> gmems_;
  /// Memory attributes as gfn ranges: first gfn -> [first, end) with nonzero attributes.
  /// Disjoint, and adjacent ranges hold different attributes (KVM's xarray stores ranges too).
  struct AttrRange {
    Gpa end = 0;
    std::uint64_t attrs = 0;
  };
  std::map<Gpa, AttrRange> attrs_;
  /// The exit a vCPU is waiting on userspace for.
  enum class Pending : std::uint8_t { None, Hypercall, PscHypercall, SnpReqCerts, VmgexitCerts, VmgexitDone };
  struct VcpuRun {
    GuestVcpu guest;  ///< the guest's side: its program, where it is, what it saw
    Pending pending = Pending::None;
    UserCompletion completion;
    Exit pending_exit;  ///< the exit being serviced (REQ_CERTS / VMGEXIT fields)
    GuestRequestPages pending_req{};  ///< the guest request KVM serves across that exit
    // A GHCB page-state change in flight: the entry KVM resumes at, and how many the
    // current KVM_HC_MAP_GPA_RANGE exit covers.
    std::size_t psc_cur = 0, psc_covered = 0;
    bool psc_started = false;
    // AP state: the VMSA KVM_RUN enters (0: the launch VMSA), destroyed by AP DESTROY.
    Pfn vmsa = 0;
    bool vmsa_invalid = false;
    // Between VMRUN and #VMEXIT: the VMSA page the hardware holds in use meanwhile.
    bool in_guest = false;
    Pfn running_vmsa = 0;
    // The instruction whose #NPF KVM already handled (a second fault there is unresolved),
    // and whether that handling PSMASHed.
    std::size_t fault_fixed_pc = static_cast<std::size_t>(-1);
    bool fault_fix_smashed = false;
    /// A program of guest operations was loaded (set_guest_program()); without one the vCPU
    /// of a VM without protected state runs the x86 code in its memory (emulate.cc).
    bool program = false;
  };
  /// KVM_RUN of real guest code: the x86 real-mode subset of emulate.cc from the vCPU's
  /// registers, over the memslots' user memory, until an exit.
  Exit run_x86(unsigned long vcpu_id);
  class VcpuMachine;
  /// VMRUN (svm_vcpu_run): the VMSA checks of facts §3.4, then the VMSA page is in use
  /// (facts §2.1) until leave_guest(). A failed check is the exit KVM_RUN returns.
  std::optional<Exit> enter_guest(unsigned long vcpu_id, VcpuRun& v);
  /// #VMEXIT: the VMSA is no longer in use; KVM handles the exit in host context.
  void leave_guest(VcpuRun& v);
  /// private_pfn() as the guest sees it: a page not yet assigned takes a #NPF, so KVM's
  /// sev_gmem_prepare() runs after a #VMEXIT and the guest re-enters.
  /// nullopt and *retry = true: the page was prepared, the instruction runs again; nullopt
  /// and *retry = false: no guest_memfd page backs `gpa`.
  std::optional<Pfn> guest_private_pfn(VcpuRun& v, Gpa gpa, bool* retry);
  /// VMRUN's checks on the VMSA the vCPU enters (facts §3.4): a failure exits
  /// KVM_EXIT_FAIL_ENTRY with SVM_EXIT_ERR. On success v.running_vmsa is the VMSA page.
  std::optional<Exit> vmrun_checks(unsigned long vcpu_id, VcpuRun& v);

  // The machine beneath the guest (VcpuMachine forwards here): the guest's instructions
  // through the NPT and the RMP with KVM's #NPF handling, and KVM's handling of each exit.
  InsnResult guest_pvalidate(VcpuMachine& m, Gpa gpa, bool huge, bool validate);
  InsnResult guest_rmpadjust(VcpuMachine& m, Gpa gpa, bool vmsa);
  InsnResult guest_access(VcpuMachine& m, Gpa gpa, bool c_bit, bool write, std::uint8_t value);
  /// A read or write of a software-protected guest: private exactly when the attribute says
  /// so (KVM sets PFERR_PRIVATE_ACCESS from it; there is no C-bit), private pages straight
  /// from guest_memfd with no RMP.
  InsnResult sw_protected_access(VcpuMachine& m, Gpa gpa, bool write, std::uint8_t value);
  /// The guest reads or writes a shared page (the VMM's memory behind the slot).
  InsnResult shared_access(const Memslot& slot, Gpa gpa, bool write, std::uint8_t value);
  /// The guest reads or writes private page `pfn` (the access checks passed).
  InsnResult private_access(Pfn pfn, bool write, std::uint8_t value);
  /// The guest's read of a private page outside its program (the secrets page).
  std::optional<std::string> guest_read_private(Gpa gpa, std::span<std::uint8_t> out);
  /// HLT intercept (kvm_emulate_halt): KVM_EXIT_HLT.
  void kvm_emulate_halt(VcpuMachine& m);
  /// __kvm_emulate_hypercall(KVM_HC_MAP_GPA_RANGE): a KVM_EXIT_HYPERCALL when userspace
  /// enabled it (KVM_CAP_EXIT_HYPERCALL), else refused.
  InsnResult kvm_hc_map_gpa_range(VcpuMachine& m, Gpa gpa, std::uint64_t npages, bool to_private);
  /// snp_begin_psc() / snp_do_psc_next(): the Page State Change NAE walked from v.psc_cur.
  InsnResult snp_begin_psc(VcpuMachine& m, const std::vector<PscEntry>& entries);
  /// sev_snp_ap_creation(): empty when done, else why it was refused (the GHCB says how).
  std::string sev_snp_ap_creation(VcpuMachine& m, const GuestOp& op, Ghcb& ghcb);
  /// snp_handle_guest_req() / snp_handle_ext_guest_req(): the request answered in `ghcb`
  /// (Retired), or an exit to userspace first (Exited, m.exit).
  Outcome snp_handle_guest_req(VcpuMachine& m, bool ext, const GuestRequestPages& pages, Ghcb& ghcb);
  /// snp_complete_req_certs() and the seed series' completion: userspace's answer to the
  /// certificate exit, then the request; an exit when KVM_RUN returns again at once.
  std::optional<Exit> snp_complete_req_certs(VcpuRun& v);
  /// sev_handle_vmgexit_msr_protocol(GHCB_MSR_TERM_REQ): KVM_EXIT_SYSTEM_EVENT(SEV_TERM),
  /// data[0] the GHCB MSR value.
  void sev_handle_vmgexit_msr_protocol(VcpuMachine& m, std::uint64_t ghcb_msr);
  /// Guest-private page behind `gpa`, assigned to the guest on first use (sev_gmem_prepare).
  std::optional<Pfn> private_pfn(Gpa gpa);

  std::vector<unsigned long> vcpu_ids_;
  std::map<unsigned long, VcpuRun> runs_;
  /// vcpu->mutex of each vCPU: kvm_vcpu_ioctl() holds it around every vCPU ioctl.
  mutable std::map<unsigned long, kern::Mutex> vcpu_mutex_;
  mutable std::map<std::uint64_t, kern::Mutex> gmem_invalidate_lock_;
  SevVmState sev_;
  std::uint64_t next_gmem_ = 1;
  std::uint64_t hypercall_exit_mask_ = 0;
  std::uint64_t n_requested_mmu_pages_ = 0;  ///< kvm->arch.n_requested_mmu_pages
  kern::Mutex guest_req_mutex_;
  std::uint64_t guest_seqno_ = 0;
  struct VcpuArch {
    explicit VcpuArch(kern::Sched& s) : entry(s, "vcpu->arch.regs", 0xFFFFFFF0ULL) {}
    std::vector<std::uint8_t> regs, sregs;
    /// The state KVM_SET_REGS/SREGS writes and sev_es_sync_vmsa() reads: plain accesses,
    /// which vcpu->mutex orders (the entry point stands for the whole register file).
    kern::Shared<std::uint64_t> entry;
    std::vector<uapi::kvm_cpuid_entry2> cpuid;  ///< vcpu->arch.cpuid_entries
    /// The guest FPU's XSAVE image (standard format) and its XSTATE_BV: the components not
    /// in it read as their initial state.
    std::vector<std::uint8_t> xsave = std::vector<std::uint8_t>(sizeof(uapi::kvm_xsave), 0);
    std::uint64_t xfeatures = 0;
    /// guest_fpu.fpstate->is_confidential: an SEV-ES/SNP vCPU's FPU lives in its VMSA.
    bool fpu_confidential = false;
    /// kvm_vcpu_has_run(): a VMRUN happened (KVM_SET_CPUID2 may then only repeat itself).
    bool has_run = false;
    std::uint64_t tsc_offset = 0;
  };
  std::map<unsigned long, VcpuArch> arch_;  ///< the guest driver's VMPCK0 message counter
};

/// The machine beneath one vCPU's guest (snp/model/guest/vcpu.h): the CPU's nested page walk
/// and RMP check and KVM's handling of each #VMEXIT, for one KVM_RUN. `exit` is what KVM_RUN
/// returns when an operation made it return.
class Vm::VcpuMachine final : public GuestMachine {
 public:
  VcpuMachine(Vm& owner, VcpuRun& r) : vm(owner), run(r) {}
  InsnResult pvalidate(Gpa gpa, bool huge, bool validate) override { return vm.guest_pvalidate(*this, gpa, huge, validate); }
  InsnResult rmpadjust(Gpa gpa, bool vmsa) override { return vm.guest_rmpadjust(*this, gpa, vmsa); }
  InsnResult access(Gpa gpa, bool c_bit, bool write, std::uint8_t value) override {
    return vm.guest_access(*this, gpa, c_bit, write, value);
  }
  void hlt() override { vm.kvm_emulate_halt(*this); }
  InsnResult map_gpa_range(Gpa gpa, std::uint64_t npages, bool to_private) override {
    return vm.kvm_hc_map_gpa_range(*this, gpa, npages, to_private);
  }
  InsnResult page_state_change(const std::vector<PscEntry>& entries) override { return vm.snp_begin_psc(*this, entries); }
  std::string ap_creation(const GuestOp& op, Ghcb& ghcb) override { return vm.sev_snp_ap_creation(*this, op, ghcb); }
  Outcome guest_request(bool ext, const GuestRequestPages& pages, Ghcb& ghcb) override {
    return vm.snp_handle_guest_req(*this, ext, pages, ghcb);
  }
  void terminate_request(std::uint64_t ghcb_msr) override { vm.sev_handle_vmgexit_msr_protocol(*this, ghcb_msr); }
  std::optional<std::string> read_private(Gpa gpa, std::span<std::uint8_t> out) override {
    return vm.guest_read_private(gpa, out);
  }
  bool read_shared(Gpa gpa, std::span<std::uint8_t> out) override { return vm.read_guest(gpa, out); }
  bool write_shared(Gpa gpa, std::span<const std::uint8_t> in) override { return vm.write_guest(gpa, in); }
  bool snp_active() const override { return vm.is_snp() && vm.host_->sev() != nullptr; }
  const SimChip* chip() const override { return vm.host_->sev() != nullptr ? &vm.host_->sev()->fw().chip() : nullptr; }
  std::uint64_t& driver_seqno() override { return vm.guest_seqno_; }
  void report(FindingKind kind, std::string message) override { vm.host_->sched().report(kind, std::move(message)); }

  Vm& vm;
  VcpuRun& run;
  std::optional<Exit> exit;
};

/// Host::snapshot(): copies of the host's state (the VMs detached).
struct HostSnapshot {
  kern::Sched sched;
  UserSpace user;
  std::map<std::uint64_t, Pfn> pinned;
  std::unique_ptr<SevPlatform> sev;
  std::uint64_t next_id = 0;
  std::uint64_t calls = 0;
  std::map<std::uint64_t, std::unique_ptr<Vm>> vms;
  const Host* from = nullptr;
};

}  // namespace snplab::model::kvm
