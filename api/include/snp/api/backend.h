// The one abstract interface both backends implement (STYLE.md 3.1): one method per KVM or
// /dev/sev operation, each returning the outcome a KVM user observes. User code does not call
// it directly; it uses the handles of kvm.h, which mirror the kernel's file-descriptor tree.
// Backends are listed explicitly (backends.h), never self-registered.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "snp/api/error.h"
#include "snp/uapi/uapi.h"

namespace snplab::api {

/// A backend object: an fd on the hw backend, an id on the simulator. Never 0 when valid.
using Handle = std::uint64_t;

/// What KVM_RUN leaves in `struct kvm_run` for the exits snplab handles (facts §8.4-§8.6).
struct RunExit {
  std::uint32_t exit_reason = 0;  // KVM_EXIT_UNKNOWN (a literal: this header may follow <linux/kvm.h>)
  struct Hypercall {
    std::uint64_t nr = 0;
    std::uint64_t args[6] = {};
    std::uint64_t ret = 0;
  } hypercall;
  struct MemoryFault {
    std::uint64_t flags = 0;
    std::uint64_t gpa = 0;
    std::uint64_t size = 0;
  } memory_fault;
  struct SnpReqCerts {
    std::uint64_t gpa = 0;
    std::uint64_t npages = 0;
    std::uint64_t ret = 0;
  } snp_req_certs;
  struct Io {
    std::uint8_t direction = 0;
    std::uint8_t size = 0;
    std::uint16_t port = 0;
    std::uint32_t count = 0;
    /// The bytes the guest wrote (OUT), the first min(size * count, 8) of kvm_run's I/O area.
    std::uint8_t data[8] = {};
  } io;
  /// KVM_EXIT_VMGEXIT (uapi::KVM_EXIT_VMGEXIT_SEED): the seed patch's struct kvm_user_vmgexit,
  /// type KVM_USER_VMGEXIT_REQ_CERTS. Never in a released kernel: the sim's
  /// v15-vmgexit-certs profile only.
  struct Vmgexit {
    std::uint32_t type = 0;
    std::uint64_t data_gpa = 0;
    std::uint64_t data_npages = 0;
    std::uint32_t ret = 0;
    std::uint8_t flags = 0;
    std::uint8_t status = 0;
  } vmgexit;
  /// KVM_EXIT_SYSTEM_EVENT: type (KVM_SYSTEM_EVENT_SEV_TERM for an SEV guest's termination
  /// request) and the first data word (the GHCB termination reason on SEV_TERM).
  struct SystemEvent {
    std::uint32_t type = 0;
    std::uint32_t ndata = 0;
    std::uint64_t data0 = 0;
  } system_event;
  std::uint32_t internal_suberror = 0;
  std::uint64_t fail_entry_reason = 0;
};

/// What userspace writes back into kvm_run before the next KVM_RUN.
struct RunCompletion {
  std::uint64_t ret = 0;
  std::optional<std::uint64_t> npages;  ///< the page count the guest needs (ENOSPC / INVALID_LEN)
  std::uint8_t flags = 0;               ///< seed VMGEXIT: KVM_USER_VMGEXIT_REQ_CERTS_FLAGS_NOTIFY_DONE
};

class Backend {
 public:
  virtual ~Backend() = default;
  /// "sim" or "hw".
  virtual std::string_view name() const = 0;

  // /dev/kvm (the system fd).
  virtual Result<Handle> open_kvm() = 0;
  virtual Result<int> kvm_get_api_version(Handle kvm) = 0;
  /// KVM_CHECK_EXTENSION on the system fd or a VM fd.
  virtual Result<int> kvm_check_extension(Handle kvm_or_vm, long cap) = 0;
  virtual Result<Handle> kvm_create_vm(Handle kvm, unsigned long type) = 0;

  /// KVM_GET_DEVICE_ATTR: on /dev/kvm, KVM_X86_GRP_SYSTEM / KVM_X86_XCOMP_GUEST_SUPP (the
  /// supported XCR0) and KVM_X86_GRP_SEV / KVM_X86_SEV_VMSA_FEATURES (ENXIO for any other, and
  /// for the SEV group where the vendor module has no SEV); on a vCPU, KVM_VCPU_TSC_CTRL /
  /// KVM_VCPU_TSC_OFFSET. Returns the attribute's u64.
  virtual Result<std::uint64_t> kvm_get_device_attr(Handle kvm_or_vcpu, std::uint32_t group, std::uint64_t attr) = 0;
  /// KVM_HAS_DEVICE_ATTR: success when the attribute exists, ENXIO when not.
  virtual Status kvm_has_device_attr(Handle kvm_or_vcpu, std::uint32_t group, std::uint64_t attr) = 0;
  /// KVM_SET_DEVICE_ATTR with a u64 value: on a vCPU, KVM_VCPU_TSC_CTRL / KVM_VCPU_TSC_OFFSET
  /// (ENXIO for any other attribute); /dev/kvm has no writable attribute (EINVAL: the system
  /// fd's ioctl switch has no KVM_SET_DEVICE_ATTR).
  virtual Status kvm_set_device_attr(Handle kvm_or_vcpu, std::uint32_t group, std::uint64_t attr, std::uint64_t value) = 0;
  /// KVM_GET_SUPPORTED_CPUID with room for `nent` entries: E2BIG when `nent` is 0 or fewer
  /// than the host reports; more than KVM_MAX_CPUID_ENTRIES is taken as that many.
  virtual Result<std::vector<uapi::kvm_cpuid_entry2>> kvm_get_supported_cpuid(Handle kvm, std::uint32_t nent) = 0;

  // VM fd.
  /// KVM_SET_USER_MEMORY_REGION (v1): flags beyond LOG_DIRTY_PAGES and READONLY are EINVAL.
  virtual Status kvm_set_user_memory_region(Handle vm, const uapi::kvm_userspace_memory_region& r) = 0;
  virtual Status kvm_set_user_memory_region2(Handle vm, const uapi::kvm_userspace_memory_region2& r) = 0;
  /// KVM_SET_NR_MMU_PAGES: fewer than KVM_MIN_ALLOC_MMU_PAGES (64) is EINVAL.
  virtual Status kvm_set_nr_mmu_pages(Handle vm, std::uint64_t pages) = 0;
  virtual Result<Handle> kvm_create_guest_memfd(Handle vm, const uapi::kvm_create_guest_memfd& g) = 0;
  virtual Status kvm_set_memory_attributes(Handle vm, const uapi::kvm_memory_attributes& a) = 0;
  virtual Status kvm_enable_cap(Handle vm, const uapi::kvm_enable_cap& c) = 0;
  virtual Result<Handle> kvm_create_vcpu(Handle vm, unsigned long vcpu_id) = 0;
  /// KVM_MEMORY_ENCRYPT_OP: `cmd.data` points at the command's struct in this process;
  /// `cmd.error` receives the firmware status.
  virtual Status kvm_memory_encrypt_op(Handle vm, uapi::kvm_sev_cmd& cmd) = 0;

  // guest_memfd.
  /// fallocate(2) on a guest_memfd: mode FALLOC_FL_PUNCH_HOLE|FALLOC_FL_KEEP_SIZE discards.
  virtual Status gmem_fallocate(Handle gmem, int mode, std::uint64_t offset, std::uint64_t len) = 0;
  /// mmap(2) of `len` bytes at file offset `offset`, shared, read-write: the user address,
  /// which user_read/user_write then reach and user_free unmaps. ENODEV for a guest_memfd
  /// created without GUEST_MEMFD_FLAG_MMAP (and for any guest_memfd of a kernel without it,
  /// such as 6.12); EINVAL for a zero or unaligned length or offset. Reads and writes of a page
  /// past the file's size, or of any page when the file lacks GUEST_MEMFD_FLAG_INIT_SHARED,
  /// fail EFAULT (the kernel's fault handler answers SIGBUS; the backends turn it into EFAULT).
  virtual Result<std::uint64_t> gmem_mmap(Handle gmem, std::uint64_t offset, std::uint64_t len) = 0;

  // vCPU fd.
  virtual Result<RunExit> kvm_run(Handle vcpu) = 0;
  /// Writes userspace's answer into kvm_run for the exit KVM_RUN last returned, as a VMM does
  /// before the next KVM_RUN: `hypercall.ret` after KVM_EXIT_HYPERCALL;
  /// `snp_req_certs.ret` (and `npages` for ENOSPC) after KVM_EXIT_SNP_REQ_CERTS;
  /// `vmgexit.req_certs.{ret,data_npages,flags}` after the seed's KVM_EXIT_VMGEXIT.
  /// EINVAL when that exit takes no answer.
  virtual Status kvm_run_complete(Handle vcpu, const RunCompletion& c) = 0;
  /// KVM_GET_REGS / KVM_SET_REGS / KVM_GET_SREGS / KVM_SET_SREGS. On an SEV-ES/SNP vCPU whose
  /// state is protected (after LAUNCH_FINISH) the kernel refuses them with EINVAL.
  virtual Result<uapi::kvm_regs> kvm_get_regs(Handle vcpu) = 0;
  virtual Status kvm_set_regs(Handle vcpu, const uapi::kvm_regs& r) = 0;
  virtual Result<uapi::kvm_sregs> kvm_get_sregs(Handle vcpu) = 0;
  virtual Status kvm_set_sregs(Handle vcpu, const uapi::kvm_sregs& s) = 0;
  /// KVM_SET_CPUID2: E2BIG for more than KVM_MAX_CPUID_ENTRIES entries; EINVAL for a
  /// 0x80000008 entry whose virtual-address width is not 0, 48 or 57; once the vCPU has run,
  /// only the CPUID it has may be set again (EINVAL otherwise).
  virtual Status kvm_set_cpuid2(Handle vcpu, std::span<const uapi::kvm_cpuid_entry2> entries) = 0;
  /// KVM_GET_CPUID2 with room for `nent`: the entries KVM_SET_CPUID2 set; E2BIG when fewer
  /// than those fit.
  virtual Result<std::vector<uapi::kvm_cpuid_entry2>> kvm_get_cpuid2(Handle vcpu, std::uint32_t nent) = 0;
  /// KVM_GET_XSAVE / KVM_SET_XSAVE: the vCPU's FPU state in the standard XSAVE format. SET
  /// refuses (EINVAL) XSTATE_BV bits the host does not support, a non-zero XCOMP_BV or
  /// reserved header byte, and reserved MXCSR bits; GET reports XSTATE_BV limited to x87, SSE
  /// and what the vCPU's CPUID leaf 0xD enables.
  virtual Result<uapi::kvm_xsave> kvm_get_xsave(Handle vcpu) = 0;
  virtual Status kvm_set_xsave(Handle vcpu, const uapi::kvm_xsave& x) = 0;

  // /dev/sev.
  virtual Result<Handle> open_sev() = 0;
  virtual Status sev_issue_cmd(Handle sev, std::uint32_t cmd, void* data, std::uint32_t* fw_error) = 0;

  // Userspace memory for memslots and LAUNCH_UPDATE sources (mmap on hw, modelled on sim).
  virtual Result<std::uint64_t> user_alloc(std::uint64_t size) = 0;
  virtual Status user_write(std::uint64_t uaddr, std::span<const std::uint8_t> bytes) = 0;
  /// Reads the bytes at `uaddr` back (what the guest or the kernel wrote there): EFAULT outside
  /// a user_alloc mapping.
  virtual Status user_read(std::uint64_t uaddr, std::span<std::uint8_t> out) = 0;
  virtual Status user_free(std::uint64_t uaddr, std::uint64_t size) = 0;

  /// close(2) on any handle. Closing a VM releases what it holds (memslots, vCPUs, pages).
  virtual void close(Handle h) = 0;

  /// Expires when the backend is destroyed. The handles of kvm.h keep it, so a handle that
  /// outlives its backend answers EBADF instead of reaching freed memory (the backend closed
  /// every object it had when it died).
  std::weak_ptr<const bool> life() const { return life_; }

 private:
  std::shared_ptr<const bool> life_ = std::make_shared<const bool>(true);
};

/// The backend of a handle whose backend was destroyed: every call fails with EBADF (the fd
/// is gone), close() does nothing.
Backend& dead_backend();

}  // namespace snplab::api
