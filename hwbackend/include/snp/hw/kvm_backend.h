// The hw backend: api::Backend implemented with real syscalls and ioctls on /dev/kvm and
// /dev/sev. Every method issues the one kernel call it names and returns what the kernel
// answered: errno verbatim, and for KVM_MEMORY_ENCRYPT_OP / SEV_ISSUE_CMD the firmware
// status the kernel wrote (docs/hw-backend.md).
//
// Handles are file descriptors: Handle == fd, for the system fd, VM, vCPU, guest_memfd and
// /dev/sev alike. The backend never hands out fd 0 (if the kernel returns 0 because stdin is
// closed, the fd is moved above 0 with F_DUPFD_CLOEXEC), so 0 never denotes a valid handle.
// The identity keeps the uAPI fields that carry fds (kvm_userspace_memory_region2::guest_memfd,
// kvm_sev_cmd::sev_fd) meaningful as they are: a caller puts the handle there.
//
// The backend tracks what it opened: every fd (and each vCPU's mmap'ed kvm_run area) is
// released by close() or, at the latest, by the backend's destructor; so is every user_alloc
// mapping not yet user_free'd. A handle the backend did not open (or already closed) fails
// with EBADF without reaching the kernel, and close() ignores it.
//
// Thread safety: the tables of open objects are guarded by a mutex; KVM_RUN runs outside it.
// Closing a vCPU while another thread runs it is a caller bug, as with raw fds.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>

#include "snp/api/backend.h"
#include "snp/api/kvm.h"

namespace snplab::hw {

/// How a hw backend is made. Safe by default: destructive /dev/sev commands are refused.
struct KvmBackendOptions {
  std::string kvm_path = "/dev/kvm";
  std::string sev_path = "/dev/sev";  ///< what open_sev opens
  /// Lets sev_issue_cmd pass the commands psp_policy.h calls destructive (SNP_COMMIT,
  /// SNP_SET_CONFIG, SNP_VLEK_LOAD, SEV_FACTORY_RESET, ...) and unknown command numbers.
  /// Off, they fail with EPERM before any ioctl.
  bool allow_destructive = false;
};

class KvmBackend final : public api::Backend {
 public:
  /// Takes ownership of `sys_fd`, an open /dev/kvm used for KVM_GET_VCPU_MMAP_SIZE and never
  /// handed out. Use make_kvm_backend().
  KvmBackend(int sys_fd, KvmBackendOptions options);
  ~KvmBackend() override;
  KvmBackend(const KvmBackend&) = delete;
  KvmBackend& operator=(const KvmBackend&) = delete;

  std::string_view name() const override { return "hw"; }

  api::Result<api::Handle> open_kvm() override;
  api::Result<int> kvm_get_api_version(api::Handle kvm) override;
  api::Result<int> kvm_check_extension(api::Handle kvm_or_vm, long cap) override;
  api::Result<api::Handle> kvm_create_vm(api::Handle kvm, unsigned long type) override;

  api::Result<std::uint64_t> kvm_get_device_attr(api::Handle h, std::uint32_t group, std::uint64_t attr) override;
  api::Status kvm_has_device_attr(api::Handle h, std::uint32_t group, std::uint64_t attr) override;
  api::Status kvm_set_device_attr(api::Handle h, std::uint32_t group, std::uint64_t attr, std::uint64_t value) override;
  api::Result<std::vector<uapi::kvm_cpuid_entry2>> kvm_get_supported_cpuid(api::Handle kvm, std::uint32_t nent) override;
  api::Status kvm_set_user_memory_region(api::Handle vm, const uapi::kvm_userspace_memory_region& r) override;
  api::Status kvm_set_user_memory_region2(api::Handle vm, const uapi::kvm_userspace_memory_region2& r) override;
  api::Status kvm_set_nr_mmu_pages(api::Handle vm, std::uint64_t pages) override;
  api::Result<api::Handle> kvm_create_guest_memfd(api::Handle vm, const uapi::kvm_create_guest_memfd& g) override;
  api::Status kvm_set_memory_attributes(api::Handle vm, const uapi::kvm_memory_attributes& a) override;
  api::Status kvm_enable_cap(api::Handle vm, const uapi::kvm_enable_cap& c) override;
  api::Result<api::Handle> kvm_create_vcpu(api::Handle vm, unsigned long vcpu_id) override;
  /// Issues the ioctl with kvm_sev_cmd.error preset to 0xFFFFFFFF (SEV_RET_NO_FW_CALL), then
  /// copies the kernel's kvm_sev_cmd back into `cmd`: `cmd.error` is what the kernel wrote,
  /// still 0xFFFFFFFF when it wrote nothing. On failure Error::fw is that value (NoFwCall
  /// when the firmware was not reached, otherwise the status verbatim, 0 included).
  api::Status kvm_memory_encrypt_op(api::Handle vm, uapi::kvm_sev_cmd& cmd) override;

  api::Status gmem_fallocate(api::Handle gmem, int mode, std::uint64_t offset, std::uint64_t len) override;
  /// mmap(PROT_READ|PROT_WRITE, MAP_SHARED) of the guest_memfd; user_read/user_write reach it
  /// through process_vm_readv/writev, so a page the kernel answers with SIGBUS is EFAULT.
  api::Result<std::uint64_t> gmem_mmap(api::Handle gmem, std::uint64_t offset, std::uint64_t len) override;

  /// KVM_RUN. The vCPU's kvm_run area is mmap'ed on the first run (size from
  /// KVM_GET_VCPU_MMAP_SIZE) and kept until close(). exit_reason is reset to
  /// KVM_EXIT_UNKNOWN before each entry, so a stale reason is never reported. KVM_RUN
  /// failing with EFAULT while exit_reason is KVM_EXIT_MEMORY_FAULT returns that exit, not
  /// an error (facts §8.4); any other failure is Error{"KVM_RUN", errno}.
  api::Result<api::RunExit> kvm_run(api::Handle vcpu) override;
  /// Writes the answer into the vCPU's kvm_run for the last exit (see encode_exit_ret).
  api::Status kvm_run_complete(api::Handle vcpu, const api::RunCompletion& c) override;
  api::Result<uapi::kvm_regs> kvm_get_regs(api::Handle vcpu) override;
  api::Status kvm_set_regs(api::Handle vcpu, const uapi::kvm_regs& r) override;
  api::Result<uapi::kvm_sregs> kvm_get_sregs(api::Handle vcpu) override;
  api::Status kvm_set_sregs(api::Handle vcpu, const uapi::kvm_sregs& s) override;
  api::Status kvm_set_cpuid2(api::Handle vcpu, std::span<const uapi::kvm_cpuid_entry2> entries) override;
  api::Result<std::vector<uapi::kvm_cpuid_entry2>> kvm_get_cpuid2(api::Handle vcpu, std::uint32_t nent) override;
  api::Result<uapi::kvm_xsave> kvm_get_xsave(api::Handle vcpu) override;
  api::Status kvm_set_xsave(api::Handle vcpu, const uapi::kvm_xsave& x) override;

  /// open(sev_path, O_RDWR): the write commands (SNP_COMMIT, SNP_SET_CONFIG) need it.
  api::Result<api::Handle> open_sev() override;
  /// SEV_ISSUE_CMD with the same error-field convention as kvm_memory_encrypt_op. A command
  /// check_psp_command() refuses (destructive or unknown, without allow_destructive) fails
  /// with EPERM and NO_FW_CALL and never reaches the kernel.
  api::Status sev_issue_cmd(api::Handle sev, std::uint32_t cmd, void* data, std::uint32_t* fw_error) override;

  /// mmap(PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS): page aligned, zero filled.
  api::Result<std::uint64_t> user_alloc(std::uint64_t size) override;
  /// memcpy into a live user_alloc mapping; EFAULT (op "user_write") outside one.
  api::Status user_write(std::uint64_t uaddr, std::span<const std::uint8_t> bytes) override;
  /// memcpy out of a live user_alloc mapping; EFAULT (op "user_read") outside one.
  api::Status user_read(std::uint64_t uaddr, std::span<std::uint8_t> out) override;
  /// munmap of a live user_alloc mapping, given by its address and allocated size; EINVAL
  /// (op "munmap") for anything else.
  api::Status user_free(std::uint64_t uaddr, std::uint64_t size) override;

  void close(api::Handle h) override;

  // ---- hw-only helpers (not in api::Backend) ------------------------------------------
  /// KVM_GET_SREGS + KVM_SET_SREGS + KVM_SET_REGS: real mode, CS = DS = ES = FS = GS = SS
  /// selector 0 base 0, RIP = rip, RFLAGS = 0x2 (reserved bit 1 only).
  api::Status set_real_mode_entry(api::Handle vcpu, std::uint64_t rip);
  /// The bytes of the last KVM_EXIT_IO's data (io.size * io.count bytes at io.data_offset of
  /// the vCPU's kvm_run area); empty if the vCPU has not run or the last exit was not IO.
  /// Valid until the next kvm_run or close of that vCPU; writable for an IN exit.
  std::span<std::uint8_t> io_data(api::Handle vcpu);
  /// Number of objects (fds) and user mappings currently open: 0 after everything is closed.
  std::size_t open_objects() const;
  std::size_t open_user_mappings() const;

 private:
  enum class Kind { System, Vm, Vcpu, GuestMemfd, Sev };
  struct Object {
    Kind kind;
    void* run = nullptr;         ///< vCPU: mmap'ed kvm_run, nullptr until the first KVM_RUN
    std::size_t run_size = 0;
  };

  /// The fd of a handle this backend opened and has not closed, or -1.
  int fd_of(api::Handle h) const;
  /// Records a new fd; returns its handle. Precondition: fd > 0.
  api::Handle track(int fd, Kind kind);
  /// The vCPU's kvm_run area, mapping it on first use.
  api::Result<void*> run_area(api::Handle vcpu);
  static void release(int fd, Object& o);

  int sys_fd_;
  KvmBackendOptions options_;
  mutable std::mutex mu_;
  std::map<int, Object> objects_;                    // guarded by mu_
  struct UserMap {
    std::uint64_t size = 0;
    bool gmem = false;  ///< a guest_memfd mapping: accessed by process_vm_readv/writev
  };
  std::map<std::uint64_t, UserMap> user_maps_;  // address -> mapping; guarded by mu_
  /// The mapping holding [uaddr, uaddr + n), or nullptr. Caller holds mu_.
  const UserMap* user_map(std::uint64_t uaddr, std::uint64_t n) const;
};

/// Opens options.kvm_path (kept for KVM_GET_VCPU_MMAP_SIZE) and returns the hw backend;
/// fails with Error{"open(/dev/kvm)", errno} when it cannot be opened.
api::Result<std::unique_ptr<api::Backend>> make_kvm_backend(const KvmBackendOptions& options);
/// The same with default options except the paths (destructive commands refused).
api::Result<std::unique_ptr<api::Backend>> make_kvm_backend(const char* kvm_path = "/dev/kvm",
                                                            const char* sev_path = "/dev/sev");

/// The KVM_RUN outcome rule, apart from the ioctl so that tests can feed it any kvm_run:
/// `ioctl_result`/`errno_value` are KVM_RUN's return and errno, `run_area` the vCPU's mmap'ed
/// struct kvm_run (at least 288 bytes: the header and the exit union). Success, or EFAULT
/// with exit_reason KVM_EXIT_MEMORY_FAULT, gives the exit; anything else Error{"KVM_RUN"}.
/// `run_size` is the mapped size of `run_area`: KVM_EXIT_IO's data is copied when it lies
/// inside (0: not copied).
api::Result<api::RunExit> decode_kvm_run(int ioctl_result, int errno_value, const void* run_area,
                                         std::size_t run_size = 0);

/// Userspace's answer to an exit, written into a struct kvm_run the way a VMM does before the
/// next KVM_RUN: hypercall.ret for KVM_EXIT_HYPERCALL, snp_req_certs.ret (and .npages when
/// given) for KVM_EXIT_SNP_REQ_CERTS; Error{"KVM_RUN", EINVAL} for any other exit_reason
/// (the seed's KVM_EXIT_VMGEXIT was never released: 40 is KVM_EXIT_TDX on a real kernel).
api::Status encode_exit_ret(void* run_area, const api::RunCompletion& c);

/// set_real_mode_entry on a vCPU of a KvmBackend; EBADF (op "KVM_SET_SREGS") for a vCPU of
/// another backend.
api::Status set_real_mode_entry(api::Vcpu& vcpu, std::uint64_t rip);
/// io_data on a vCPU of a KvmBackend; empty for a vCPU of another backend.
std::span<std::uint8_t> io_data(api::Vcpu& vcpu);

}  // namespace snplab::hw
