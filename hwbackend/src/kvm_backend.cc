#include "snp/hw/kvm_backend.h"
#include "snp/hw/psp_policy.h"

// The uapi constants carry the kernel's macro names: copy them before <linux/kvm.h>
// (via snp_uapi.h) turns `uapi::KVM_EXIT_IO` into `uapi::2`. After that include,
// mirror::api_<NAME> is the project's value of <NAME>, and <NAME> the kernel's.
namespace snplab::hw::mirror {
inline constexpr auto api_KVM_CAP_EXIT_HYPERCALL = uapi::KVM_CAP_EXIT_HYPERCALL;
inline constexpr auto api_KVM_CAP_USER_MEMORY2 = uapi::KVM_CAP_USER_MEMORY2;
inline constexpr auto api_KVM_CAP_MEMORY_FAULT_INFO = uapi::KVM_CAP_MEMORY_FAULT_INFO;
inline constexpr auto api_KVM_CAP_MEMORY_ATTRIBUTES = uapi::KVM_CAP_MEMORY_ATTRIBUTES;
inline constexpr auto api_KVM_CAP_GUEST_MEMFD = uapi::KVM_CAP_GUEST_MEMFD;
inline constexpr auto api_KVM_CAP_VM_TYPES = uapi::KVM_CAP_VM_TYPES;
inline constexpr auto api_KVM_CAP_GUEST_MEMFD_FLAGS = uapi::KVM_CAP_GUEST_MEMFD_FLAGS;
inline constexpr auto api_KVM_CAP_NR_MEMSLOTS = uapi::KVM_CAP_NR_MEMSLOTS;
inline constexpr auto api_KVM_CAP_MAX_VCPUS = uapi::KVM_CAP_MAX_VCPUS;
inline constexpr auto api_KVM_X86_DEFAULT_VM = uapi::KVM_X86_DEFAULT_VM;
inline constexpr auto api_KVM_X86_SW_PROTECTED_VM = uapi::KVM_X86_SW_PROTECTED_VM;
inline constexpr auto api_KVM_X86_SEV_VM = uapi::KVM_X86_SEV_VM;
inline constexpr auto api_KVM_X86_SEV_ES_VM = uapi::KVM_X86_SEV_ES_VM;
inline constexpr auto api_KVM_X86_SNP_VM = uapi::KVM_X86_SNP_VM;
inline constexpr auto api_KVM_MEM_LOG_DIRTY_PAGES = uapi::KVM_MEM_LOG_DIRTY_PAGES;
inline constexpr auto api_KVM_MEM_READONLY = uapi::KVM_MEM_READONLY;
inline constexpr auto api_KVM_X86_GRP_SYSTEM = uapi::KVM_X86_GRP_SYSTEM;
inline constexpr auto api_KVM_X86_XCOMP_GUEST_SUPP = uapi::KVM_X86_XCOMP_GUEST_SUPP;
inline constexpr auto api_KVM_X86_GRP_SEV = uapi::KVM_X86_GRP_SEV;
inline constexpr auto api_KVM_X86_SEV_VMSA_FEATURES = uapi::KVM_X86_SEV_VMSA_FEATURES;
inline constexpr auto api_KVM_VCPU_TSC_CTRL = uapi::KVM_VCPU_TSC_CTRL;
inline constexpr auto api_KVM_VCPU_TSC_OFFSET = uapi::KVM_VCPU_TSC_OFFSET;
inline constexpr auto api_KVM_MEM_GUEST_MEMFD = uapi::KVM_MEM_GUEST_MEMFD;
inline constexpr auto api_GUEST_MEMFD_FLAG_MMAP = uapi::GUEST_MEMFD_FLAG_MMAP;
inline constexpr auto api_GUEST_MEMFD_FLAG_INIT_SHARED = uapi::GUEST_MEMFD_FLAG_INIT_SHARED;
inline constexpr auto api_KVM_MEMORY_ATTRIBUTE_PRIVATE = uapi::KVM_MEMORY_ATTRIBUTE_PRIVATE;
inline constexpr auto api_KVM_SEV_INIT2 = uapi::KVM_SEV_INIT2;
inline constexpr auto api_KVM_SEV_SNP_LAUNCH_START = uapi::KVM_SEV_SNP_LAUNCH_START;
inline constexpr auto api_KVM_SEV_SNP_LAUNCH_UPDATE = uapi::KVM_SEV_SNP_LAUNCH_UPDATE;
inline constexpr auto api_KVM_SEV_SNP_LAUNCH_FINISH = uapi::KVM_SEV_SNP_LAUNCH_FINISH;
inline constexpr auto api_KVM_SEV_SNP_ENABLE_REQ_CERTS = uapi::KVM_SEV_SNP_ENABLE_REQ_CERTS;
inline constexpr auto api_KVM_SEV_SNP_PAGE_TYPE_NORMAL = uapi::KVM_SEV_SNP_PAGE_TYPE_NORMAL;
inline constexpr auto api_KVM_SEV_SNP_PAGE_TYPE_ZERO = uapi::KVM_SEV_SNP_PAGE_TYPE_ZERO;
inline constexpr auto api_KVM_SEV_SNP_PAGE_TYPE_UNMEASURED = uapi::KVM_SEV_SNP_PAGE_TYPE_UNMEASURED;
inline constexpr auto api_KVM_SEV_SNP_PAGE_TYPE_SECRETS = uapi::KVM_SEV_SNP_PAGE_TYPE_SECRETS;
inline constexpr auto api_KVM_SEV_SNP_PAGE_TYPE_CPUID = uapi::KVM_SEV_SNP_PAGE_TYPE_CPUID;
inline constexpr auto api_KVM_EXIT_UNKNOWN = uapi::KVM_EXIT_UNKNOWN;
inline constexpr auto api_KVM_EXIT_IO = uapi::KVM_EXIT_IO;
inline constexpr auto api_KVM_EXIT_HYPERCALL = uapi::KVM_EXIT_HYPERCALL;
inline constexpr auto api_KVM_EXIT_HLT = uapi::KVM_EXIT_HLT;
inline constexpr auto api_KVM_EXIT_MMIO = uapi::KVM_EXIT_MMIO;
inline constexpr auto api_KVM_EXIT_SHUTDOWN = uapi::KVM_EXIT_SHUTDOWN;
inline constexpr auto api_KVM_EXIT_FAIL_ENTRY = uapi::KVM_EXIT_FAIL_ENTRY;
inline constexpr auto api_KVM_EXIT_INTERNAL_ERROR = uapi::KVM_EXIT_INTERNAL_ERROR;
inline constexpr auto api_KVM_EXIT_SYSTEM_EVENT = uapi::KVM_EXIT_SYSTEM_EVENT;
inline constexpr auto api_KVM_EXIT_MEMORY_FAULT = uapi::KVM_EXIT_MEMORY_FAULT;
inline constexpr auto api_KVM_SYSTEM_EVENT_SEV_TERM = uapi::KVM_SYSTEM_EVENT_SEV_TERM;
inline constexpr auto api_KVM_MAP_GPA_RANGE_ENCRYPTED = uapi::KVM_MAP_GPA_RANGE_ENCRYPTED;
inline constexpr auto api_KVM_MAP_GPA_RANGE_PAGE_SZ_2M = uapi::KVM_MAP_GPA_RANGE_PAGE_SZ_2M;
inline constexpr auto api_KVM_EXIT_SNP_REQ_CERTS = uapi::KVM_EXIT_SNP_REQ_CERTS;
inline constexpr auto api_KVM_MEMORY_EXIT_FLAG_PRIVATE = uapi::KVM_MEMORY_EXIT_FLAG_PRIVATE;
inline constexpr auto api_KVM_CPUID_FLAG_SIGNIFCANT_INDEX = uapi::KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
}  // namespace snplab::hw::mirror

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <initializer_list>
#include <type_traits>
#include <utility>

#include <fmt/format.h>

#include "snp_uapi.h"
#include <linux/kvm_para.h>  // KVM_MAP_GPA_RANGE_* (asm/kvm_para.h)

namespace snplab::hw {

namespace uapi_api = uapi;

// ---- The project's uAPI mirror must be the kernel's ABI ---------------------------------
// Each uapi struct is handed to the kernel by memcpy (or, for the structs a
// kvm_sev_cmd.data points at, by pointer), so its size and every field's offset and size
// must agree with the kernel header's (Debian's 6.1 headers, completed by snp_uapi.h).
#define SNPLAB_SAME_FIELD(T, f)                                         \
  static_assert(offsetof(uapi_api::T, f) == offsetof(::T, f) &&         \
                    sizeof(uapi_api::T::f) == sizeof(::T::f),           \
                "uapi::" #T "::" #f " differs from the kernel's")
#define SNPLAB_SAME_SIZE(T) static_assert(sizeof(uapi_api::T) == sizeof(::T), "sizeof uapi::" #T)

SNPLAB_SAME_SIZE(kvm_userspace_memory_region2);
SNPLAB_SAME_FIELD(kvm_userspace_memory_region2, slot);
SNPLAB_SAME_FIELD(kvm_userspace_memory_region2, flags);
SNPLAB_SAME_FIELD(kvm_userspace_memory_region2, guest_phys_addr);
SNPLAB_SAME_FIELD(kvm_userspace_memory_region2, memory_size);
SNPLAB_SAME_FIELD(kvm_userspace_memory_region2, userspace_addr);
SNPLAB_SAME_FIELD(kvm_userspace_memory_region2, guest_memfd_offset);
SNPLAB_SAME_FIELD(kvm_userspace_memory_region2, guest_memfd);
SNPLAB_SAME_FIELD(kvm_userspace_memory_region2, pad1);
SNPLAB_SAME_FIELD(kvm_userspace_memory_region2, pad2);

SNPLAB_SAME_SIZE(kvm_userspace_memory_region);
SNPLAB_SAME_FIELD(kvm_userspace_memory_region, slot);
SNPLAB_SAME_FIELD(kvm_userspace_memory_region, flags);
SNPLAB_SAME_FIELD(kvm_userspace_memory_region, guest_phys_addr);
SNPLAB_SAME_FIELD(kvm_userspace_memory_region, memory_size);
SNPLAB_SAME_FIELD(kvm_userspace_memory_region, userspace_addr);

SNPLAB_SAME_SIZE(kvm_create_guest_memfd);
SNPLAB_SAME_FIELD(kvm_create_guest_memfd, size);
SNPLAB_SAME_FIELD(kvm_create_guest_memfd, flags);
SNPLAB_SAME_FIELD(kvm_create_guest_memfd, reserved);

SNPLAB_SAME_SIZE(kvm_memory_attributes);
SNPLAB_SAME_FIELD(kvm_memory_attributes, address);
SNPLAB_SAME_FIELD(kvm_memory_attributes, size);
SNPLAB_SAME_FIELD(kvm_memory_attributes, attributes);
SNPLAB_SAME_FIELD(kvm_memory_attributes, flags);

SNPLAB_SAME_SIZE(kvm_enable_cap);
SNPLAB_SAME_FIELD(kvm_enable_cap, cap);
SNPLAB_SAME_FIELD(kvm_enable_cap, flags);
SNPLAB_SAME_FIELD(kvm_enable_cap, args);
SNPLAB_SAME_FIELD(kvm_enable_cap, pad);

// The kernel's kvm_sev_cmd has implicit padding where uapi names pad0.
SNPLAB_SAME_SIZE(kvm_sev_cmd);
SNPLAB_SAME_FIELD(kvm_sev_cmd, id);
SNPLAB_SAME_FIELD(kvm_sev_cmd, data);
SNPLAB_SAME_FIELD(kvm_sev_cmd, error);
SNPLAB_SAME_FIELD(kvm_sev_cmd, sev_fd);
static_assert(offsetof(uapi_api::kvm_sev_cmd, pad0) == offsetof(::kvm_sev_cmd, id) + sizeof(::kvm_sev_cmd::id));

SNPLAB_SAME_SIZE(kvm_sev_init);
SNPLAB_SAME_FIELD(kvm_sev_init, vmsa_features);
SNPLAB_SAME_FIELD(kvm_sev_init, flags);
SNPLAB_SAME_FIELD(kvm_sev_init, ghcb_version);
SNPLAB_SAME_FIELD(kvm_sev_init, pad1);
SNPLAB_SAME_FIELD(kvm_sev_init, pad2);

SNPLAB_SAME_SIZE(kvm_sev_snp_launch_start);
SNPLAB_SAME_FIELD(kvm_sev_snp_launch_start, policy);
SNPLAB_SAME_FIELD(kvm_sev_snp_launch_start, gosvw);
SNPLAB_SAME_FIELD(kvm_sev_snp_launch_start, flags);
SNPLAB_SAME_FIELD(kvm_sev_snp_launch_start, pad0);
SNPLAB_SAME_FIELD(kvm_sev_snp_launch_start, pad1);

SNPLAB_SAME_SIZE(kvm_sev_snp_launch_update);
SNPLAB_SAME_FIELD(kvm_sev_snp_launch_update, gfn_start);
SNPLAB_SAME_FIELD(kvm_sev_snp_launch_update, uaddr);
SNPLAB_SAME_FIELD(kvm_sev_snp_launch_update, len);
SNPLAB_SAME_FIELD(kvm_sev_snp_launch_update, type);
SNPLAB_SAME_FIELD(kvm_sev_snp_launch_update, pad0);
SNPLAB_SAME_FIELD(kvm_sev_snp_launch_update, flags);
SNPLAB_SAME_FIELD(kvm_sev_snp_launch_update, pad1);
SNPLAB_SAME_FIELD(kvm_sev_snp_launch_update, pad2);

SNPLAB_SAME_SIZE(kvm_sev_snp_launch_finish);
SNPLAB_SAME_FIELD(kvm_sev_snp_launch_finish, id_block_uaddr);
SNPLAB_SAME_FIELD(kvm_sev_snp_launch_finish, id_auth_uaddr);
SNPLAB_SAME_FIELD(kvm_sev_snp_launch_finish, id_block_en);
SNPLAB_SAME_FIELD(kvm_sev_snp_launch_finish, auth_key_en);
SNPLAB_SAME_FIELD(kvm_sev_snp_launch_finish, vcek_disabled);
SNPLAB_SAME_FIELD(kvm_sev_snp_launch_finish, host_data);
SNPLAB_SAME_FIELD(kvm_sev_snp_launch_finish, pad0);
SNPLAB_SAME_FIELD(kvm_sev_snp_launch_finish, flags);
SNPLAB_SAME_FIELD(kvm_sev_snp_launch_finish, pad1);

// The /dev/sev structs SEV_ISSUE_CMD's `data` points at, against snp_uapi.h's packed
// definitions (Debian's 6.1 psp-sev.h has none of them).
#define SNPLAB_SAME_PSP_FIELD(A, K, f)                                       \
  static_assert(offsetof(uapi_api::A, f) == offsetof(compat::K, f) &&          \
                    sizeof(uapi_api::A::f) == sizeof(compat::K::f),            \
                "uapi::" #A "::" #f " differs from the kernel's")
static_assert(sizeof(uapi_api::sev_user_data_snp_status) == sizeof(compat::SnpPlatformStatus));
SNPLAB_SAME_PSP_FIELD(sev_user_data_snp_status, SnpPlatformStatus, api_major);
SNPLAB_SAME_PSP_FIELD(sev_user_data_snp_status, SnpPlatformStatus, api_minor);
SNPLAB_SAME_PSP_FIELD(sev_user_data_snp_status, SnpPlatformStatus, state);
SNPLAB_SAME_PSP_FIELD(sev_user_data_snp_status, SnpPlatformStatus, is_rmp_initialized);
SNPLAB_SAME_PSP_FIELD(sev_user_data_snp_status, SnpPlatformStatus, build_id);
SNPLAB_SAME_PSP_FIELD(sev_user_data_snp_status, SnpPlatformStatus, flags);
SNPLAB_SAME_PSP_FIELD(sev_user_data_snp_status, SnpPlatformStatus, guest_count);
SNPLAB_SAME_PSP_FIELD(sev_user_data_snp_status, SnpPlatformStatus, current_tcb_version);
SNPLAB_SAME_PSP_FIELD(sev_user_data_snp_status, SnpPlatformStatus, reported_tcb_version);
static_assert(sizeof(uapi_api::sev_user_data_snp_config) == sizeof(compat::SnpConfig));
SNPLAB_SAME_PSP_FIELD(sev_user_data_snp_config, SnpConfig, reported_tcb);
SNPLAB_SAME_PSP_FIELD(sev_user_data_snp_config, SnpConfig, flags);
SNPLAB_SAME_PSP_FIELD(sev_user_data_snp_config, SnpConfig, rsvd1);
static_assert(sizeof(uapi_api::sev_user_data_snp_vlek_load) == sizeof(compat::SnpVlekLoad));
SNPLAB_SAME_PSP_FIELD(sev_user_data_snp_vlek_load, SnpVlekLoad, len);
SNPLAB_SAME_PSP_FIELD(sev_user_data_snp_vlek_load, SnpVlekLoad, vlek_wrapped_version);
SNPLAB_SAME_PSP_FIELD(sev_user_data_snp_vlek_load, SnpVlekLoad, rsvd);
SNPLAB_SAME_PSP_FIELD(sev_user_data_snp_vlek_load, SnpVlekLoad, vlek_wrapped_address);
static_assert(uapi_api::SNP_PLATFORM_STATUS == compat::kSnpPlatformStatus);
static_assert(uapi_api::SNP_COMMIT == compat::kSnpCommit);
static_assert(uapi_api::SNP_SET_CONFIG == compat::kSnpSetConfig);
static_assert(uapi_api::SNP_VLEK_LOAD == compat::kSnpVlekLoad);

#undef SNPLAB_SAME_PSP_FIELD
#undef SNPLAB_SAME_FIELD
#undef SNPLAB_SAME_SIZE

// The RunExit fields are read from the same offsets the api mirror documents.
static_assert(sizeof(api::RunExit::MemoryFault) == sizeof(compat::KvmRunMemoryFault));
static_assert(sizeof(api::RunExit::SnpReqCerts) == sizeof(compat::KvmExitSnpReqCerts));
static_assert(sizeof(api::RunExit::Hypercall::args) == sizeof(kvm_run::hypercall.args));

// ---- ... and so must its constants ---------------------------------------------------------
static_assert(mirror::api_KVM_CAP_EXIT_HYPERCALL == KVM_CAP_EXIT_HYPERCALL);
static_assert(mirror::api_KVM_CAP_USER_MEMORY2 == KVM_CAP_USER_MEMORY2);
static_assert(mirror::api_KVM_CAP_MEMORY_FAULT_INFO == KVM_CAP_MEMORY_FAULT_INFO);
static_assert(mirror::api_KVM_CAP_MEMORY_ATTRIBUTES == KVM_CAP_MEMORY_ATTRIBUTES);
static_assert(mirror::api_KVM_CAP_GUEST_MEMFD == KVM_CAP_GUEST_MEMFD);
static_assert(mirror::api_KVM_CAP_VM_TYPES == KVM_CAP_VM_TYPES);
static_assert(mirror::api_KVM_CAP_GUEST_MEMFD_FLAGS == KVM_CAP_GUEST_MEMFD_FLAGS);
static_assert(mirror::api_KVM_CAP_NR_MEMSLOTS == KVM_CAP_NR_MEMSLOTS);
static_assert(mirror::api_KVM_CAP_MAX_VCPUS == KVM_CAP_MAX_VCPUS);
static_assert(mirror::api_KVM_X86_DEFAULT_VM == KVM_X86_DEFAULT_VM);
static_assert(mirror::api_KVM_X86_SW_PROTECTED_VM == KVM_X86_SW_PROTECTED_VM);
static_assert(mirror::api_KVM_X86_SEV_VM == KVM_X86_SEV_VM);
static_assert(mirror::api_KVM_X86_SEV_ES_VM == KVM_X86_SEV_ES_VM);
static_assert(mirror::api_KVM_X86_SNP_VM == KVM_X86_SNP_VM);
static_assert(mirror::api_KVM_MEM_LOG_DIRTY_PAGES == KVM_MEM_LOG_DIRTY_PAGES);
static_assert(mirror::api_KVM_MEM_READONLY == KVM_MEM_READONLY);
static_assert(mirror::api_KVM_X86_GRP_SEV == KVM_X86_GRP_SEV);
static_assert(mirror::api_KVM_X86_SEV_VMSA_FEATURES == KVM_X86_SEV_VMSA_FEATURES);
static_assert(mirror::api_KVM_VCPU_TSC_CTRL == KVM_VCPU_TSC_CTRL);
static_assert(mirror::api_KVM_VCPU_TSC_OFFSET == KVM_VCPU_TSC_OFFSET);
static_assert(mirror::api_KVM_X86_GRP_SYSTEM == 0 && mirror::api_KVM_X86_XCOMP_GUEST_SUPP == 0);  // 6.1 lacks them
static_assert(mirror::api_KVM_MEM_GUEST_MEMFD == KVM_MEM_GUEST_MEMFD);
static_assert(mirror::api_GUEST_MEMFD_FLAG_MMAP == GUEST_MEMFD_FLAG_MMAP);
static_assert(mirror::api_GUEST_MEMFD_FLAG_INIT_SHARED == GUEST_MEMFD_FLAG_INIT_SHARED);
static_assert(mirror::api_KVM_MEMORY_ATTRIBUTE_PRIVATE == KVM_MEMORY_ATTRIBUTE_PRIVATE);
static_assert(mirror::api_KVM_SEV_INIT2 == compat::kKvmSevInit2);
static_assert(mirror::api_KVM_SEV_SNP_LAUNCH_START == compat::kKvmSevSnpLaunchStart);
static_assert(mirror::api_KVM_SEV_SNP_LAUNCH_UPDATE == compat::kKvmSevSnpLaunchUpdate);
static_assert(mirror::api_KVM_SEV_SNP_LAUNCH_FINISH == compat::kKvmSevSnpLaunchFinish);
static_assert(mirror::api_KVM_SEV_SNP_ENABLE_REQ_CERTS == compat::kKvmSevSnpEnableReqCerts);
static_assert(mirror::api_KVM_SEV_SNP_PAGE_TYPE_NORMAL == KVM_SEV_SNP_PAGE_TYPE_NORMAL);
static_assert(mirror::api_KVM_SEV_SNP_PAGE_TYPE_ZERO == KVM_SEV_SNP_PAGE_TYPE_ZERO);
static_assert(mirror::api_KVM_SEV_SNP_PAGE_TYPE_UNMEASURED == KVM_SEV_SNP_PAGE_TYPE_UNMEASURED);
static_assert(mirror::api_KVM_SEV_SNP_PAGE_TYPE_SECRETS == KVM_SEV_SNP_PAGE_TYPE_SECRETS);
static_assert(mirror::api_KVM_SEV_SNP_PAGE_TYPE_CPUID == KVM_SEV_SNP_PAGE_TYPE_CPUID);
static_assert(mirror::api_KVM_EXIT_UNKNOWN == KVM_EXIT_UNKNOWN);
static_assert(mirror::api_KVM_EXIT_IO == KVM_EXIT_IO);
static_assert(mirror::api_KVM_EXIT_HYPERCALL == KVM_EXIT_HYPERCALL);
static_assert(mirror::api_KVM_EXIT_HLT == KVM_EXIT_HLT);
static_assert(mirror::api_KVM_EXIT_MMIO == KVM_EXIT_MMIO);
static_assert(mirror::api_KVM_EXIT_SHUTDOWN == KVM_EXIT_SHUTDOWN);
static_assert(mirror::api_KVM_EXIT_FAIL_ENTRY == KVM_EXIT_FAIL_ENTRY);
static_assert(mirror::api_KVM_EXIT_INTERNAL_ERROR == KVM_EXIT_INTERNAL_ERROR);
static_assert(mirror::api_KVM_EXIT_SYSTEM_EVENT == KVM_EXIT_SYSTEM_EVENT);
static_assert(mirror::api_KVM_SYSTEM_EVENT_SEV_TERM == KVM_SYSTEM_EVENT_SEV_TERM);
static_assert(mirror::api_KVM_MAP_GPA_RANGE_ENCRYPTED == KVM_MAP_GPA_RANGE_ENCRYPTED);
static_assert(mirror::api_KVM_MAP_GPA_RANGE_PAGE_SZ_2M == KVM_MAP_GPA_RANGE_PAGE_SZ_2M);
static_assert(mirror::api_KVM_EXIT_MEMORY_FAULT == KVM_EXIT_MEMORY_FAULT);
static_assert(mirror::api_KVM_EXIT_SNP_REQ_CERTS == KVM_EXIT_SNP_REQ_CERTS);
static_assert(mirror::api_KVM_MEMORY_EXIT_FLAG_PRIVATE == KVM_MEMORY_EXIT_FLAG_PRIVATE);

namespace {

/// The firmware status the kernel leaves in an error field it did not write: the backend
/// presets every error field to it, so "not written" and "wrote SEV_RET_NO_FW_CALL (-1)"
/// both read as FwStatus::NoFwCall.
constexpr std::uint32_t kNoFwCallRaw = 0xFFFFFFFFU;
static_assert(static_cast<std::uint32_t>(api::FwStatus::NoFwCall) == kNoFwCallRaw);

api::Error sys_error(api::Op op, int errno_value, std::string detail = {}) {
  return api::Error{op, errno_value, api::FwStatus::NoFwCall, std::move(detail)};
}

api::Error bad_handle(api::Op op, api::Handle h) {
  return sys_error(op, EBADF, fmt::format("handle {} is not open in the hw backend", h));
}

/// A kernel-struct copy of an uapi struct whose layout the static_asserts above pin.
template <class Kernel, class Api>
Kernel to_kernel(const Api& a) {
  static_assert(sizeof(Kernel) == sizeof(Api));
  static_assert(std::is_trivially_copyable_v<Kernel> && std::is_trivially_copyable_v<Api>);
  Kernel k{};
  std::memcpy(&k, &a, sizeof(k));
  return k;
}

/// A vCPU ioctl that writes a kernel struct (KVM_GET_REGS, KVM_GET_SREGS), returned as the
/// uapi struct whose layout the static_asserts pin.
template <class Kernel, class Api>
api::Result<Api> vcpu_get(int fd, api::Handle vcpu, api::Op op, unsigned long request) {
  static_assert(sizeof(Kernel) == sizeof(Api));
  if (fd < 0) return bad_handle(op, vcpu);
  Kernel k{};
  if (::ioctl(fd, request, &k) != 0) return sys_error(op, errno);
  Api r;
  std::memcpy(static_cast<void*>(&r), &k, sizeof(r));
  return r;
}

/// A vCPU ioctl that reads a kernel struct (KVM_SET_REGS, KVM_SET_SREGS).
template <class Kernel, class Api>
api::Status vcpu_set(int fd, api::Handle vcpu, api::Op op, unsigned long request, const Api& a) {
  if (fd < 0) return bad_handle(op, vcpu);
  Kernel k = to_kernel<Kernel>(a);
  if (::ioctl(fd, request, &k) != 0) return sys_error(op, errno);
  return api::ok();
}

/// Keeps fd 0 out of the handle space: a new fd 0 (stdin was closed) is moved to the lowest
/// free fd above 0. Returns the fd to use, or -1 with errno set.
int keep_off_zero(int fd) {
  if (fd != 0) return fd;
  const int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, 1);
  const int saved = errno;
  ::close(fd);
  errno = saved;
  return moved;
}

std::string_view sev_cmd_name(std::uint32_t id) {
  switch (id) {
    case mirror::api_KVM_SEV_INIT2: return "KVM_SEV_INIT2";
    case mirror::api_KVM_SEV_SNP_LAUNCH_START: return "KVM_SEV_SNP_LAUNCH_START";
    case mirror::api_KVM_SEV_SNP_LAUNCH_UPDATE: return "KVM_SEV_SNP_LAUNCH_UPDATE";
    case mirror::api_KVM_SEV_SNP_LAUNCH_FINISH: return "KVM_SEV_SNP_LAUNCH_FINISH";
    case mirror::api_KVM_SEV_SNP_ENABLE_REQ_CERTS: return "KVM_SEV_SNP_ENABLE_REQ_CERTS";
    default: return "";
  }
}

std::string_view psp_cmd_name(std::uint32_t id) {
  const PspCommandInfo* c = find_psp_command(id);
  return c != nullptr ? c->name : std::string_view();
}

std::string cmd_detail(std::string_view name, std::uint32_t id) {
  return name.empty() ? fmt::format("command {}", id) : fmt::format("{} ({})", name, id);
}

/// What kvm_run holds after an exit, for the exits snplab handles (facts §8.4-§8.6). The
/// exits without a payload (HLT, SHUTDOWN, ...) carry the reason alone.
api::RunExit translate_exit(const void* area, std::size_t area_size) {
  const auto* run = static_cast<const kvm_run*>(area);
  const auto* exit_union = static_cast<const unsigned char*>(area) + compat::kKvmRunExitUnionOffset;
  api::RunExit x;
  x.exit_reason = run->exit_reason;
  switch (run->exit_reason) {
    case KVM_EXIT_IO:
      x.io.direction = run->io.direction;
      x.io.size = run->io.size;
      x.io.port = run->io.port;
      x.io.count = run->io.count;
      if (run->io.data_offset < area_size) {
        const std::uint64_t n = std::min<std::uint64_t>({std::uint64_t{run->io.size} * run->io.count, sizeof(x.io.data),
                                                         area_size - run->io.data_offset});
        std::memcpy(x.io.data, static_cast<const std::uint8_t*>(area) + run->io.data_offset, static_cast<std::size_t>(n));
      }
      break;
    case KVM_EXIT_HYPERCALL:
      x.hypercall.nr = run->hypercall.nr;
      std::memcpy(x.hypercall.args, run->hypercall.args, sizeof(x.hypercall.args));
      x.hypercall.ret = run->hypercall.ret;
      break;
    case KVM_EXIT_FAIL_ENTRY:
      x.fail_entry_reason = run->fail_entry.hardware_entry_failure_reason;
      break;
    case KVM_EXIT_INTERNAL_ERROR:
      x.internal_suberror = run->internal.suberror;
      break;
    case KVM_EXIT_SYSTEM_EVENT:
      x.system_event.type = run->system_event.type;
      x.system_event.ndata = run->system_event.ndata;
      x.system_event.data0 = run->system_event.data[0];
      break;
    case KVM_EXIT_MEMORY_FAULT: {
      compat::KvmRunMemoryFault f{};
      std::memcpy(&f, exit_union, sizeof(f));
      x.memory_fault.flags = f.flags;
      x.memory_fault.gpa = f.gpa;
      x.memory_fault.size = f.size;
      break;
    }
    case KVM_EXIT_SNP_REQ_CERTS: {
      compat::KvmExitSnpReqCerts c{};
      std::memcpy(&c, exit_union, sizeof(c));
      x.snp_req_certs.gpa = c.gpa;
      x.snp_req_certs.npages = c.npages;
      x.snp_req_certs.ret = c.ret;
      break;
    }
    default:
      break;
  }
  return x;
}

void* to_ptr(std::uint64_t uaddr) { return reinterpret_cast<void*>(static_cast<std::uintptr_t>(uaddr)); }

}  // namespace

// ---- lifetime and the table of open objects -----------------------------------------------

KvmBackend::KvmBackend(int sys_fd, KvmBackendOptions options) : sys_fd_(sys_fd), options_(std::move(options)) {}

KvmBackend::~KvmBackend() {
  const std::lock_guard<std::mutex> lock(mu_);
  // vCPUs first: their run areas pin the vCPU files, and a vCPU pins its VM.
  for (auto& [fd, o] : objects_) {
    if (o.kind == Kind::Vcpu) release(fd, o);
  }
  for (auto& [fd, o] : objects_) {
    if (o.kind != Kind::Vcpu) release(fd, o);
  }
  objects_.clear();
  for (const auto& [addr, m] : user_maps_) ::munmap(to_ptr(addr), m.size);
  user_maps_.clear();
  ::close(sys_fd_);
}

void KvmBackend::release(int fd, Object& o) {
  if (o.run != nullptr) ::munmap(o.run, o.run_size);
  o.run = nullptr;
  // close(2) releases the fd even when it reports an error (EINTR included on Linux).
  ::close(fd);
}

int KvmBackend::fd_of(api::Handle h) const {
  if (h == 0 || h > static_cast<api::Handle>(INT32_MAX)) return -1;
  const int fd = static_cast<int>(h);
  const std::lock_guard<std::mutex> lock(mu_);
  return objects_.count(fd) != 0 ? fd : -1;
}

api::Handle KvmBackend::track(int fd, Kind kind) {
  const std::lock_guard<std::mutex> lock(mu_);
  objects_[fd] = Object{kind, nullptr, 0};
  return static_cast<api::Handle>(fd);
}

void KvmBackend::close(api::Handle h) {
  if (h == 0 || h > static_cast<api::Handle>(INT32_MAX)) return;
  const int fd = static_cast<int>(h);
  const std::lock_guard<std::mutex> lock(mu_);
  auto it = objects_.find(fd);
  if (it == objects_.end()) return;
  release(fd, it->second);
  objects_.erase(it);
}

std::size_t KvmBackend::open_objects() const {
  const std::lock_guard<std::mutex> lock(mu_);
  return objects_.size();
}

std::size_t KvmBackend::open_user_mappings() const {
  const std::lock_guard<std::mutex> lock(mu_);
  return user_maps_.size();
}

// ---- /dev/kvm -----------------------------------------------------------------------------

api::Result<api::Handle> KvmBackend::open_kvm() {
  // uapi: open(2) of /dev/kvm, read-write (every KVM ioctl needs it); O_CLOEXEC so no child
  // inherits the VM tree.
  const int fd = keep_off_zero(::open(options_.kvm_path.c_str(), O_RDWR | O_CLOEXEC));
  if (fd < 0) return sys_error(api::Op::OpenDevKvm, errno, options_.kvm_path);
  return track(fd, Kind::System);
}

api::Result<int> KvmBackend::kvm_get_api_version(api::Handle kvm) {
  const int fd = fd_of(kvm);
  if (fd < 0) return bad_handle(api::Op::KvmGetApiVersion, kvm);
  // uapi: KVM_GET_API_VERSION (api.rst 4.1) reads nothing and returns KVM_API_VERSION (12).
  const int r = ::ioctl(fd, KVM_GET_API_VERSION, 0);
  if (r < 0) return sys_error(api::Op::KvmGetApiVersion, errno);
  return r;
}

api::Result<int> KvmBackend::kvm_check_extension(api::Handle kvm_or_vm, long cap) {
  const int fd = fd_of(kvm_or_vm);
  if (fd < 0) return bad_handle(api::Op::KvmCheckExtension, kvm_or_vm);
  // uapi: KVM_CHECK_EXTENSION (api.rst 4.4) on the system or a VM fd: the argument is the
  // capability number by value; returns 0 (absent) or a capability-specific value. A VM fd
  // answers for that VM's type (e.g. KVM_CAP_GUEST_MEMFD_FLAGS).
  const int r = ::ioctl(fd, KVM_CHECK_EXTENSION, cap);
  if (r < 0) return sys_error(api::Op::KvmCheckExtension, errno, fmt::format("cap {}", cap));
  return r;
}

api::Result<api::Handle> KvmBackend::kvm_create_vm(api::Handle kvm, unsigned long type) {
  const int sys = fd_of(kvm);
  if (sys < 0) return bad_handle(api::Op::KvmCreateVm, kvm);
  // uapi: KVM_CREATE_VM (api.rst 4.2): the argument is the VM type by value (facts §8.2);
  // returns a new VM fd (O_CLOEXEC). EINVAL for a type not in KVM_CAP_VM_TYPES.
  const int fd = keep_off_zero(::ioctl(sys, KVM_CREATE_VM, type));
  if (fd < 0) return sys_error(api::Op::KvmCreateVm, errno, fmt::format("type {}", type));
  return track(fd, Kind::Vm);
}

namespace {

/// KVM_GET_DEVICE_ATTR / KVM_HAS_DEVICE_ATTR with a u64 value.
int device_attr(int fd, unsigned long request, std::uint32_t group, std::uint64_t attr, std::uint64_t* value) {
  kvm_device_attr a{};
  a.group = group;
  a.attr = attr;
  a.addr = reinterpret_cast<std::uintptr_t>(value);
  // uapi: KVM_GET_DEVICE_ATTR writes the attribute's value to `addr` (a u64 for every
  // attribute of /dev/kvm and of the vCPU TSC group); KVM_HAS_DEVICE_ATTR reads group and
  // attr only and answers 0 or ENXIO.
  return ::ioctl(fd, request, &a);
}

}  // namespace

api::Result<std::uint64_t> KvmBackend::kvm_get_device_attr(api::Handle h, std::uint32_t group, std::uint64_t attr) {
  const int fd = fd_of(h);
  if (fd < 0) return bad_handle(api::Op::KvmGetDeviceAttr, h);
  std::uint64_t value = 0;
  if (device_attr(fd, KVM_GET_DEVICE_ATTR, group, attr, &value) != 0) {
    return sys_error(api::Op::KvmGetDeviceAttr, errno, fmt::format("group {} attr {}", group, attr));
  }
  return value;
}

api::Status KvmBackend::kvm_has_device_attr(api::Handle h, std::uint32_t group, std::uint64_t attr) {
  const int fd = fd_of(h);
  if (fd < 0) return bad_handle(api::Op::KvmHasDeviceAttr, h);
  std::uint64_t value = 0;
  if (device_attr(fd, KVM_HAS_DEVICE_ATTR, group, attr, &value) != 0) {
    return sys_error(api::Op::KvmHasDeviceAttr, errno, fmt::format("group {} attr {}", group, attr));
  }
  return api::ok();
}

api::Status KvmBackend::kvm_set_device_attr(api::Handle h, std::uint32_t group, std::uint64_t attr, std::uint64_t value) {
  const int fd = fd_of(h);
  if (fd < 0) return bad_handle(api::Op::KvmSetDeviceAttr, h);
  if (device_attr(fd, KVM_SET_DEVICE_ATTR, group, attr, &value) != 0) {
    return sys_error(api::Op::KvmSetDeviceAttr, errno, fmt::format("group {} attr {}", group, attr));
  }
  return api::ok();
}

namespace {

// The ioctls whose struct ends in a flexible array. Debian's headers declare those arrays
// with __DECLARE_FLEX_ARRAY, which in C++ adds an empty struct member: sizeof(kvm_cpuid2)
// is 12 there and sizeof(kvm_xsave) 4100, so the macros' request numbers (which encode the
// size) are not the kernel's. The numbers are built here from the C sizes instead.
struct CpuidHeader {
  std::uint32_t nent;
  std::uint32_t padding;
};
constexpr unsigned long kGetSupportedCpuid = _IOWR(KVMIO, 0x05, CpuidHeader);
constexpr unsigned long kSetCpuid2 = _IOW(KVMIO, 0x90, CpuidHeader);
constexpr unsigned long kGetCpuid2 = _IOWR(KVMIO, 0x91, CpuidHeader);
constexpr unsigned long kGetXsave = _IOR(KVMIO, 0xa4, uapi::kvm_xsave);
constexpr unsigned long kSetXsave = _IOW(KVMIO, 0xa5, uapi::kvm_xsave);
static_assert(kGetSupportedCpuid == 0xc008ae05UL && kGetXsave == 0x9000aea4UL);

/// struct kvm_cpuid2 with room for `n` entries (a flexible array in the uapi).
struct CpuidBuffer {
  explicit CpuidBuffer(std::uint32_t n)
      : bytes((sizeof(CpuidHeader) + std::size_t{n} * sizeof(uapi::kvm_cpuid_entry2) + 7) / 8) {
    header()->nent = n;
  }
  CpuidHeader* header() { return reinterpret_cast<CpuidHeader*>(bytes.data()); }
  std::vector<uapi::kvm_cpuid_entry2> entries() {
    std::vector<uapi::kvm_cpuid_entry2> out(header()->nent);
    if (out.empty()) return out;  // no memcpy to an empty vector's null data()
    std::memcpy(static_cast<void*>(out.data()), reinterpret_cast<const std::uint8_t*>(bytes.data()) + sizeof(CpuidHeader),
                out.size() * sizeof(uapi::kvm_cpuid_entry2));
    return out;
  }
  std::vector<std::uint64_t> bytes;  // u64 elements: the kernel struct's alignment
};

}  // namespace

api::Result<std::vector<uapi::kvm_cpuid_entry2>> KvmBackend::kvm_get_supported_cpuid(api::Handle kvm, std::uint32_t nent) {
  const int fd = fd_of(kvm);
  if (fd < 0) return bad_handle(api::Op::KvmGetSupportedCpuid, kvm);
  // The kernel fills at most KVM_MAX_CPUID_ENTRIES whatever nent says: no larger buffer.
  const std::uint32_t room = std::min(nent, uapi::KVM_MAX_CPUID_ENTRIES);
  CpuidBuffer buf(room);
  buf.header()->nent = nent;
  // uapi: KVM_GET_SUPPORTED_CPUID (api.rst 4.46) on /dev/kvm: the kernel reads nent, writes
  // up to min(nent, KVM_MAX_CPUID_ENTRIES) entries and the count back into nent; E2BIG when
  // they do not fit.
  if (::ioctl(fd, kGetSupportedCpuid, buf.header()) != 0) {
    return sys_error(api::Op::KvmGetSupportedCpuid, errno, fmt::format("nent {}", nent));
  }
  if (buf.header()->nent > room) return sys_error(api::Op::KvmGetSupportedCpuid, E2BIG, "the kernel reported more than fit");
  return buf.entries();
}

// ---- VM fd ------------------------------------------------------------------------------

api::Status KvmBackend::kvm_set_user_memory_region(api::Handle vm, const uapi_api::kvm_userspace_memory_region& r) {
  const int fd = fd_of(vm);
  if (fd < 0) return bad_handle(api::Op::KvmSetUserMemoryRegion, vm);
  const auto k = to_kernel<::kvm_userspace_memory_region>(r);
  // uapi: KVM_SET_USER_MEMORY_REGION (api.rst 4.35): the 32-byte v1 struct; the kernel refuses
  // flags other than LOG_DIRTY_PAGES and READONLY (no guest_memfd through v1).
  if (::ioctl(fd, KVM_SET_USER_MEMORY_REGION, &k) != 0) {
    return sys_error(api::Op::KvmSetUserMemoryRegion, errno,
                     fmt::format("slot {} flags 0x{:x} gpa 0x{:x} size 0x{:x}", r.slot, r.flags, r.guest_phys_addr,
                                 r.memory_size));
  }
  return api::ok();
}

api::Status KvmBackend::kvm_set_nr_mmu_pages(api::Handle vm, std::uint64_t pages) {
  const int fd = fd_of(vm);
  if (fd < 0) return bad_handle(api::Op::KvmSetNrMmuPages, vm);
  // uapi: KVM_SET_NR_MMU_PAGES (api.rst 4.17): the page count by value; EINVAL below 64.
  if (::ioctl(fd, KVM_SET_NR_MMU_PAGES, static_cast<unsigned long>(pages)) != 0) {
    return sys_error(api::Op::KvmSetNrMmuPages, errno, fmt::format("{} pages", pages));
  }
  return api::ok();
}

api::Status KvmBackend::kvm_set_user_memory_region2(api::Handle vm, const uapi_api::kvm_userspace_memory_region2& r) {
  const int fd = fd_of(vm);
  if (fd < 0) return bad_handle(api::Op::KvmSetUserMemoryRegion2, vm);
  const auto k = to_kernel<::kvm_userspace_memory_region2>(r);
  // uapi: KVM_SET_USER_MEMORY_REGION2 (api.rst 4.141, facts §8.4): the kernel reads the whole
  // 160-byte struct (guest_memfd is an fd: here the GuestMemfd handle) and writes nothing.
  // memory_size 0 deletes the slot.
  if (::ioctl(fd, KVM_SET_USER_MEMORY_REGION2, &k) != 0) {
    return sys_error(api::Op::KvmSetUserMemoryRegion2, errno,
                     fmt::format("slot {} flags 0x{:x} gpa 0x{:x} size 0x{:x}", r.slot, r.flags, r.guest_phys_addr,
                                 r.memory_size));
  }
  return api::ok();
}

api::Result<api::Handle> KvmBackend::kvm_create_guest_memfd(api::Handle vm, const uapi_api::kvm_create_guest_memfd& g) {
  const int vm_fd = fd_of(vm);
  if (vm_fd < 0) return bad_handle(api::Op::KvmCreateGuestMemfd, vm);
  auto k = to_kernel<::kvm_create_guest_memfd>(g);
  // uapi: KVM_CREATE_GUEST_MEMFD (api.rst 4.143, facts §8.4): the kernel reads size, flags
  // (must be within KVM_CAP_GUEST_MEMFD_FLAGS of this VM) and reserved; returns the new fd.
  const int fd = keep_off_zero(::ioctl(vm_fd, KVM_CREATE_GUEST_MEMFD, &k));
  if (fd < 0) {
    return sys_error(api::Op::KvmCreateGuestMemfd, errno, fmt::format("size 0x{:x} flags 0x{:x}", g.size, g.flags));
  }
  return track(fd, Kind::GuestMemfd);
}

api::Status KvmBackend::kvm_set_memory_attributes(api::Handle vm, const uapi_api::kvm_memory_attributes& a) {
  const int fd = fd_of(vm);
  if (fd < 0) return bad_handle(api::Op::KvmSetMemoryAttributes, vm);
  const auto k = to_kernel<::kvm_memory_attributes>(a);
  // uapi: KVM_SET_MEMORY_ATTRIBUTES (api.rst 4.141, facts §8.4): the kernel reads address,
  // size, attributes (KVM_MEMORY_ATTRIBUTE_PRIVATE) and flags (must be 0); writes nothing.
  if (::ioctl(fd, KVM_SET_MEMORY_ATTRIBUTES, &k) != 0) {
    return sys_error(api::Op::KvmSetMemoryAttributes, errno,
                     fmt::format("gpa 0x{:x} size 0x{:x} attributes 0x{:x}", a.address, a.size, a.attributes));
  }
  return api::ok();
}

api::Status KvmBackend::kvm_enable_cap(api::Handle vm, const uapi_api::kvm_enable_cap& c) {
  const int fd = fd_of(vm);
  if (fd < 0) return bad_handle(api::Op::KvmEnableCap, vm);
  const auto k = to_kernel<::kvm_enable_cap>(c);
  // uapi: KVM_ENABLE_CAP on a VM fd (api.rst 4.37, section 7): the kernel reads cap, flags
  // and args[]; writes nothing (e.g. KVM_CAP_EXIT_HYPERCALL with args[0] = 1 << 12, §8.5).
  if (::ioctl(fd, KVM_ENABLE_CAP, &k) != 0) return sys_error(api::Op::KvmEnableCap, errno, fmt::format("cap {}", c.cap));
  return api::ok();
}

api::Result<api::Handle> KvmBackend::kvm_create_vcpu(api::Handle vm, unsigned long vcpu_id) {
  const int vm_fd = fd_of(vm);
  if (vm_fd < 0) return bad_handle(api::Op::KvmCreateVcpu, vm);
  // uapi: KVM_CREATE_VCPU (api.rst 4.7): the argument is the vCPU id by value; returns the
  // vCPU fd, whose offset 0 maps struct kvm_run.
  const int fd = keep_off_zero(::ioctl(vm_fd, KVM_CREATE_VCPU, vcpu_id));
  if (fd < 0) return sys_error(api::Op::KvmCreateVcpu, errno, fmt::format("vcpu_id {}", vcpu_id));
  return track(fd, Kind::Vcpu);
}

api::Status KvmBackend::kvm_memory_encrypt_op(api::Handle vm, uapi_api::kvm_sev_cmd& cmd) {
  const int fd = fd_of(vm);
  if (fd < 0) return bad_handle(api::Op::KvmMemoryEncryptOp, vm);
  auto k = to_kernel<::kvm_sev_cmd>(cmd);
  k.error = kNoFwCallRaw;  // output only: preset so "not written" reads as NO_FW_CALL
  // uapi: KVM_MEMORY_ENCRYPT_OP (amd-memory-encryption.rst, facts §8.3): the kernel reads id,
  // data (pointer to the command's struct, which it may read and update) and sev_fd (an open
  // /dev/sev: here the SevDevice handle); it writes the firmware status to `error` when it
  // copies the struct back. Without SEV support the call never reaches sev.c.
  const int r = ::ioctl(fd, KVM_MEMORY_ENCRYPT_OP, &k);
  const int saved = errno;
  std::memcpy(static_cast<void*>(&cmd), &k, sizeof(cmd));
  if (r != 0) {
    return api::Error{api::Op::KvmMemoryEncryptOp, saved, static_cast<api::FwStatus>(k.error),
                      cmd_detail(sev_cmd_name(cmd.id), cmd.id)};
  }
  return api::ok();
}

// ---- guest_memfd --------------------------------------------------------------------------

api::Status KvmBackend::gmem_fallocate(api::Handle gmem, int mode, std::uint64_t offset, std::uint64_t len) {
  const int fd = fd_of(gmem);
  if (fd < 0) return bad_handle(api::Op::Fallocate, gmem);
  // uapi: fallocate(2) on a guest_memfd: mode 0 allocates, PUNCH_HOLE|KEEP_SIZE discards;
  // offset and len must be page aligned. Offsets above INT64_MAX become negative (EINVAL).
  if (::fallocate(fd, mode, static_cast<off_t>(offset), static_cast<off_t>(len)) != 0) {
    return sys_error(api::Op::Fallocate, errno, fmt::format("mode 0x{:x} offset 0x{:x} len 0x{:x}", mode, offset, len));
  }
  return api::ok();
}

api::Result<std::uint64_t> KvmBackend::gmem_mmap(api::Handle gmem, std::uint64_t offset, std::uint64_t len) {
  const int fd = fd_of(gmem);
  if (fd < 0) return bad_handle(api::Op::MmapGuestMemfd, gmem);
  if (offset > static_cast<std::uint64_t>(INT64_MAX)) return sys_error(api::Op::MmapGuestMemfd, EINVAL, "offset past the largest file offset");
  // uapi: mmap(2) of a guest_memfd: MAP_SHARED is required (kvm_gmem_mmap), the offset page
  // aligned; a kernel whose guest_memfd has no mmap, or a file without GUEST_MEMFD_FLAG_MMAP,
  // answers ENODEV.
  void* p = ::mmap(nullptr, static_cast<std::size_t>(len), PROT_READ | PROT_WRITE, MAP_SHARED, fd, static_cast<off_t>(offset));
  if (p == MAP_FAILED) return sys_error(api::Op::MmapGuestMemfd, errno, fmt::format("offset 0x{:x} len 0x{:x}", offset, len));
  const auto addr = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(p));
  const std::lock_guard<std::mutex> lock(mu_);
  user_maps_[addr] = UserMap{len, true};
  return addr;
}

// ---- vCPU fd ------------------------------------------------------------------------------

api::Result<void*> KvmBackend::run_area(api::Handle vcpu) {
  const int fd = static_cast<int>(vcpu);
  const std::lock_guard<std::mutex> lock(mu_);
  auto it = objects_.find(fd);
  if (it == objects_.end()) return bad_handle(api::Op::KvmRun, vcpu);
  Object& o = it->second;
  if (o.run != nullptr) return o.run;
  // uapi: KVM_GET_VCPU_MMAP_SIZE (api.rst 4.5) on the system fd: returns the size of the
  // vCPU's mmap area (struct kvm_run plus the PIO/coalesced-MMIO pages).
  const int size = ::ioctl(sys_fd_, KVM_GET_VCPU_MMAP_SIZE, 0);
  if (size < 0) return sys_error(api::Op::KvmGetVcpuMmapSize, errno);
  if (static_cast<std::size_t>(size) < sizeof(::kvm_run)) {
    return sys_error(api::Op::KvmGetVcpuMmapSize, EINVAL, fmt::format("size {} < sizeof(struct kvm_run)", size));
  }
  // uapi: mmap of a vCPU fd at offset 0 (api.rst 5): the shared struct kvm_run that KVM_RUN
  // fills on every exit.
  void* p = ::mmap(nullptr, static_cast<std::size_t>(size), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) return sys_error(api::Op::MmapKvmRun, errno);
  o.run = p;
  o.run_size = static_cast<std::size_t>(size);
  return p;
}

api::Result<api::RunExit> KvmBackend::kvm_run(api::Handle vcpu) {
  const int fd = fd_of(vcpu);
  if (fd < 0) return bad_handle(api::Op::KvmRun, vcpu);
  bool is_vcpu = false;
  {
    const std::lock_guard<std::mutex> lock(mu_);
    auto it = objects_.find(fd);
    is_vcpu = it != objects_.end() && it->second.kind == Kind::Vcpu;
  }
  if (!is_vcpu) {
    // uapi: KVM_RUN on a fd that is not a vCPU: the kernel's answer (ENOTTY/EINVAL) is the
    // result; there is no kvm_run to read.
    const int r = ::ioctl(fd, KVM_RUN, 0);
    if (r != 0) return sys_error(api::Op::KvmRun, errno, "not a vCPU handle");
    return api::RunExit{};
  }
  auto area = run_area(vcpu);
  if (!area) return area.error();
  auto* run = static_cast<::kvm_run*>(*area);
  run->exit_reason = KVM_EXIT_UNKNOWN;  // never report a previous exit's reason
  // uapi: KVM_RUN (api.rst 4.10): no argument; the kernel reads the "in" fields of kvm_run
  // (immediate_exit, the completion of the previous exit) and writes exit_reason and the
  // exit's union member. It fails with EFAULT *and* exit_reason = KVM_EXIT_MEMORY_FAULT to
  // report a memory fault (facts §8.4); for any other error exit_reason is undefined.
  const int r = ::ioctl(fd, KVM_RUN, 0);
  const int saved = errno;
  std::size_t run_size = 0;
  {
    const std::lock_guard<std::mutex> lock(mu_);
    auto it = objects_.find(fd);
    if (it != objects_.end()) run_size = it->second.run_size;
  }
  return decode_kvm_run(r, r != 0 ? saved : 0, run, run_size);
}

api::Result<api::RunExit> decode_kvm_run(int ioctl_result, int errno_value, const void* run_area, std::size_t run_size) {
  const auto* run = static_cast<const ::kvm_run*>(run_area);
  if (ioctl_result != 0) {
    if (errno_value == EFAULT && run->exit_reason == KVM_EXIT_MEMORY_FAULT) return translate_exit(run_area, run_size);
    return sys_error(api::Op::KvmRun, errno_value);
  }
  return translate_exit(run_area, run_size);
}

api::Status KvmBackend::kvm_run_complete(api::Handle vcpu, const api::RunCompletion& c) {
  if (vcpu == 0 || vcpu > static_cast<api::Handle>(INT32_MAX)) return bad_handle(api::Op::KvmRun, vcpu);
  void* area = nullptr;
  {
    const std::lock_guard<std::mutex> lock(mu_);
    auto it = objects_.find(static_cast<int>(vcpu));
    if (it == objects_.end() || it->second.kind != Kind::Vcpu) return bad_handle(api::Op::KvmRun, vcpu);
    area = it->second.run;
  }
  if (area == nullptr) return sys_error(api::Op::KvmRun, EINVAL, "the vCPU has not run: no exit to answer");
  return encode_exit_ret(area, c);
}

api::Status encode_exit_ret(void* run_area, const api::RunCompletion& c) {
  const std::uint64_t ret = c.ret;
  auto* run = static_cast<::kvm_run*>(run_area);
  switch (run->exit_reason) {
    case KVM_EXIT_HYPERCALL:
      // uapi: kvm_run.hypercall.ret, read by KVM on the next KVM_RUN (complete_hypercall_exit).
      run->hypercall.ret = ret;
      return api::ok();
    case KVM_EXIT_SNP_REQ_CERTS: {
      // uapi: kvm_run.snp_req_certs.ret (facts §8.6): 0, or the error the guest is to see.
      auto* u = static_cast<unsigned char*>(run_area) + compat::kKvmRunExitUnionOffset;
      std::memcpy(u + offsetof(compat::KvmExitSnpReqCerts, ret), &ret, sizeof(ret));
      if (c.npages) {  // ENOSPC: the page count the guest needs (facts §8.6)
        const std::uint64_t n = *c.npages;
        std::memcpy(u + offsetof(compat::KvmExitSnpReqCerts, npages), &n, sizeof(n));
      }
      return api::ok();
    }
    default:
      return sys_error(api::Op::KvmRun, EINVAL, fmt::format("exit reason {} has no ret to set", run->exit_reason));
  }
}

// The mirrors are the kernel's structs byte for byte, so the ioctls copy them whole.
static_assert(sizeof(uapi::kvm_regs) == sizeof(::kvm_regs));
static_assert(offsetof(uapi::kvm_regs, rip) == offsetof(::kvm_regs, rip));
static_assert(sizeof(uapi::kvm_sregs) == sizeof(::kvm_sregs));
static_assert(offsetof(uapi::kvm_sregs, cr0) == offsetof(::kvm_sregs, cr0));
static_assert(offsetof(uapi::kvm_sregs, gdt) == offsetof(::kvm_sregs, gdt));
static_assert(offsetof(uapi::kvm_sregs, interrupt_bitmap) == offsetof(::kvm_sregs, interrupt_bitmap));
static_assert(offsetof(uapi::kvm_segment, selector) == offsetof(::kvm_segment, selector));
static_assert(offsetof(uapi::kvm_segment, unusable) == offsetof(::kvm_segment, unusable));

// uapi: KVM_GET_REGS / KVM_SET_REGS (api.rst 4.11, 4.12) and KVM_GET_SREGS / KVM_SET_SREGS
// (4.13, 4.14): struct kvm_regs and struct kvm_sregs, written or read by the kernel.
api::Result<uapi::kvm_regs> KvmBackend::kvm_get_regs(api::Handle vcpu) {
  return vcpu_get<::kvm_regs, uapi::kvm_regs>(fd_of(vcpu), vcpu, api::Op::KvmGetRegs, KVM_GET_REGS);
}

api::Status KvmBackend::kvm_set_regs(api::Handle vcpu, const uapi::kvm_regs& r) {
  return vcpu_set<::kvm_regs>(fd_of(vcpu), vcpu, api::Op::KvmSetRegs, KVM_SET_REGS, r);
}

api::Result<uapi::kvm_sregs> KvmBackend::kvm_get_sregs(api::Handle vcpu) {
  return vcpu_get<::kvm_sregs, uapi::kvm_sregs>(fd_of(vcpu), vcpu, api::Op::KvmGetSregs, KVM_GET_SREGS);
}

api::Status KvmBackend::kvm_set_sregs(api::Handle vcpu, const uapi::kvm_sregs& s) {
  return vcpu_set<::kvm_sregs>(fd_of(vcpu), vcpu, api::Op::KvmSetSregs, KVM_SET_SREGS, s);
}

static_assert(sizeof(uapi::kvm_cpuid_entry2) == sizeof(::kvm_cpuid_entry2));
static_assert(offsetof(uapi::kvm_cpuid_entry2, eax) == offsetof(::kvm_cpuid_entry2, eax));
static_assert(offsetof(uapi::kvm_cpuid_entry2, padding) == offsetof(::kvm_cpuid_entry2, padding));
// The kernel's struct is region[1024] and, from 5.17, a flexible `extra` for KVM_GET_XSAVE2:
// KVM_GET/SET_XSAVE copy the 4096 bytes of region.
static_assert(sizeof(uapi::kvm_xsave) == sizeof(::kvm_xsave::region) && offsetof(::kvm_xsave, region) == 0);
static_assert(mirror::api_KVM_CPUID_FLAG_SIGNIFCANT_INDEX == KVM_CPUID_FLAG_SIGNIFCANT_INDEX);

api::Status KvmBackend::kvm_set_cpuid2(api::Handle vcpu, std::span<const uapi::kvm_cpuid_entry2> entries) {
  const int fd = fd_of(vcpu);
  if (fd < 0) return bad_handle(api::Op::KvmSetCpuid2, vcpu);
  // More than the kernel takes is refused before a buffer of that size is made.
  if (entries.size() > uapi::KVM_MAX_CPUID_ENTRIES) {
    return sys_error(api::Op::KvmSetCpuid2, E2BIG, fmt::format("{} entries, at most {}", entries.size(), uapi::KVM_MAX_CPUID_ENTRIES));
  }
  CpuidBuffer buf(static_cast<std::uint32_t>(entries.size()));
  if (!entries.empty()) {
    std::memcpy(reinterpret_cast<std::uint8_t*>(buf.bytes.data()) + sizeof(CpuidHeader), entries.data(), entries.size_bytes());
  }
  // uapi: KVM_SET_CPUID2 (api.rst 4.20): the kernel reads nent and that many entries.
  if (::ioctl(fd, kSetCpuid2, buf.header()) != 0) return sys_error(api::Op::KvmSetCpuid2, errno);
  return api::ok();
}

api::Result<std::vector<uapi::kvm_cpuid_entry2>> KvmBackend::kvm_get_cpuid2(api::Handle vcpu, std::uint32_t nent) {
  const int fd = fd_of(vcpu);
  if (fd < 0) return bad_handle(api::Op::KvmGetCpuid2, vcpu);
  const std::uint32_t room = std::min(nent, uapi::KVM_MAX_CPUID_ENTRIES);
  CpuidBuffer buf(room);
  // uapi: KVM_GET_CPUID2 (api.rst 4.61): the kernel reads nent, writes the vCPU's entries
  // and their count; E2BIG when nent is smaller.
  if (::ioctl(fd, kGetCpuid2, buf.header()) != 0) return sys_error(api::Op::KvmGetCpuid2, errno, fmt::format("nent {}", nent));
  if (buf.header()->nent > room) return sys_error(api::Op::KvmGetCpuid2, E2BIG, "the kernel reported more than fit");
  return buf.entries();
}

api::Result<uapi::kvm_xsave> KvmBackend::kvm_get_xsave(api::Handle vcpu) {
  const int fd = fd_of(vcpu);
  if (fd < 0) return bad_handle(api::Op::KvmGetXsave, vcpu);
  uapi::kvm_xsave x;
  // uapi: KVM_GET_XSAVE (api.rst 4.42): the kernel writes the 4096 bytes of region.
  if (::ioctl(fd, kGetXsave, &x) != 0) return sys_error(api::Op::KvmGetXsave, errno);
  return x;
}

api::Status KvmBackend::kvm_set_xsave(api::Handle vcpu, const uapi::kvm_xsave& x) {
  const int fd = fd_of(vcpu);
  if (fd < 0) return bad_handle(api::Op::KvmSetXsave, vcpu);
  uapi::kvm_xsave copy = x;
  // uapi: KVM_SET_XSAVE (api.rst 4.43): the kernel reads the vCPU's uabi size of it (4096
  // bytes unless KVM_CAP_XSAVE2 enabled larger dynamic state, which snplab never enables).
  if (::ioctl(fd, kSetXsave, &copy) != 0) return sys_error(api::Op::KvmSetXsave, errno);
  return api::ok();
}

api::Status KvmBackend::set_real_mode_entry(api::Handle vcpu, std::uint64_t rip) {
  const int fd = fd_of(vcpu);
  if (fd < 0) return bad_handle(api::Op::KvmGetSregs, vcpu);
  kvm_sregs sregs{};
  // uapi: KVM_GET_SREGS (api.rst 4.13): the kernel writes struct kvm_sregs (segments, control
  // registers, EFER, APIC base, pending-interrupt bitmap).
  if (::ioctl(fd, KVM_GET_SREGS, &sregs) != 0) return sys_error(api::Op::KvmGetSregs, errno);
  for (kvm_segment* s : {&sregs.cs, &sregs.ds, &sregs.es, &sregs.fs, &sregs.gs, &sregs.ss}) {
    s->base = 0;
    s->selector = 0;
  }
  // uapi: KVM_SET_SREGS (api.rst 4.14): the kernel reads the whole struct kvm_sregs; CR0.PE
  // stays clear from reset, so the vCPU is in real mode with flat 64 KiB segments at 0.
  if (::ioctl(fd, KVM_SET_SREGS, &sregs) != 0) return sys_error(api::Op::KvmSetSregs, errno);
  kvm_regs regs{};
  regs.rip = rip;
  regs.rflags = 0x2;  // bit 1 is reserved-as-one
  // uapi: KVM_SET_REGS (api.rst 4.12): the kernel reads the general-purpose registers, RIP
  // and RFLAGS.
  if (::ioctl(fd, KVM_SET_REGS, &regs) != 0) return sys_error(api::Op::KvmSetRegs, errno);
  return api::ok();
}

std::span<std::uint8_t> KvmBackend::io_data(api::Handle vcpu) {
  if (vcpu == 0 || vcpu > static_cast<api::Handle>(INT32_MAX)) return {};
  const std::lock_guard<std::mutex> lock(mu_);
  auto it = objects_.find(static_cast<int>(vcpu));
  if (it == objects_.end() || it->second.run == nullptr) return {};
  const auto* run = static_cast<const ::kvm_run*>(it->second.run);
  if (run->exit_reason != KVM_EXIT_IO) return {};
  const std::uint64_t off = run->io.data_offset;
  const std::uint64_t len = std::uint64_t{run->io.size} * run->io.count;
  if (off > it->second.run_size || len > it->second.run_size - off) return {};
  return {static_cast<std::uint8_t*>(it->second.run) + off, static_cast<std::size_t>(len)};
}

// ---- /dev/sev -------------------------------------------------------------------------------

api::Result<api::Handle> KvmBackend::open_sev() {
  // uapi: open(2) of /dev/sev read-write: SNP_COMMIT / SNP_SET_CONFIG need a writable fd
  // (and CAP_SYS_ADMIN); the fd is also what kvm_sev_cmd.sev_fd names.
  const int fd = keep_off_zero(::open(options_.sev_path.c_str(), O_RDWR | O_CLOEXEC));
  if (fd < 0) return sys_error(api::Op::OpenDevSev, errno, options_.sev_path);
  return track(fd, Kind::Sev);
}

api::Status KvmBackend::sev_issue_cmd(api::Handle sev, std::uint32_t cmd, void* data, std::uint32_t* fw_error) {
  const int fd = fd_of(sev);
  if (fd < 0) {
    if (fw_error != nullptr) *fw_error = kNoFwCallRaw;
    return bad_handle(api::Op::SevIssueCmd, sev);
  }
  if (auto refused = check_psp_command(cmd, options_.allow_destructive)) {
    if (fw_error != nullptr) *fw_error = kNoFwCallRaw;
    return *std::move(refused);
  }
  ::sev_issue_cmd k{};
  k.cmd = cmd;
  k.data = reinterpret_cast<std::uintptr_t>(data);
  k.error = kNoFwCallRaw;  // output only: preset so "not written" reads as NO_FW_CALL
  // uapi: SEV_ISSUE_CMD (sev-guest.rst / psp-sev.h, facts §8.7): the kernel reads cmd and
  // data (the command's struct, read and/or written) and writes the firmware status to
  // `error`.
  const int r = ::ioctl(fd, SEV_ISSUE_CMD, &k);
  const int saved = errno;
  const std::uint32_t fw = k.error;
  if (fw_error != nullptr) *fw_error = fw;
  if (r != 0) return api::Error{api::Op::SevIssueCmd, saved, static_cast<api::FwStatus>(fw), cmd_detail(psp_cmd_name(cmd), cmd)};
  return api::ok();
}

// ---- userspace memory ------------------------------------------------------------------------

api::Result<std::uint64_t> KvmBackend::user_alloc(std::uint64_t size) {
  // mmap(2): anonymous, private, zero filled and page aligned; size 0 fails with EINVAL.
  void* p = ::mmap(nullptr, static_cast<std::size_t>(size), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return sys_error(api::Op::Mmap, errno, fmt::format("size 0x{:x}", size));
  const auto addr = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(p));
  const std::lock_guard<std::mutex> lock(mu_);
  user_maps_[addr] = UserMap{size, false};
  return addr;
}

const KvmBackend::UserMap* KvmBackend::user_map(std::uint64_t uaddr, std::uint64_t n) const {
  auto it = user_maps_.upper_bound(uaddr);
  if (it == user_maps_.begin()) return nullptr;
  --it;
  const std::uint64_t off = uaddr - it->first;
  if (off > it->second.size || n > it->second.size - off) return nullptr;
  return &it->second;
}

namespace {

/// process_vm_readv/writev on this process: a page the kernel cannot fault in (a guest_memfd
/// page it answers with SIGBUS) is EFAULT instead of a signal. 0 or an errno.
int copy_self(std::uint64_t uaddr, void* buf, std::size_t n, bool write) {
  std::size_t done = 0;
  while (done < n) {
    iovec local{static_cast<std::uint8_t*>(buf) + done, n - done};
    iovec remote{to_ptr(uaddr + done), n - done};
    // uapi: process_vm_readv/writev(2) on our own pid: copies through the page tables,
    // faulting pages in as an access would; a partial count means the next page failed.
    const ssize_t r = write ? ::process_vm_writev(::getpid(), &local, 1, &remote, 1, 0)
                            : ::process_vm_readv(::getpid(), &local, 1, &remote, 1, 0);
    if (r < 0) return errno;
    if (r == 0) return EFAULT;
    done += static_cast<std::size_t>(r);
  }
  return 0;
}

}  // namespace

api::Status KvmBackend::user_write(std::uint64_t uaddr, std::span<const std::uint8_t> bytes) {
  const std::lock_guard<std::mutex> lock(mu_);
  const UserMap* m = user_map(uaddr, bytes.size());
  if (m == nullptr) return sys_error(api::Op::UserWrite, EFAULT, "not inside a user_alloc or guest_memfd mapping");
  if (bytes.empty()) return api::ok();
  if (m->gmem) {
    if (const int e = copy_self(uaddr, const_cast<std::uint8_t*>(bytes.data()), bytes.size(), true); e != 0) {
      return sys_error(api::Op::UserWrite, e, "the guest_memfd page cannot be faulted in");
    }
    return api::ok();
  }
  std::memcpy(to_ptr(uaddr), bytes.data(), bytes.size());
  return api::ok();
}

api::Status KvmBackend::user_read(std::uint64_t uaddr, std::span<std::uint8_t> out) {
  const std::lock_guard<std::mutex> lock(mu_);
  const UserMap* m = user_map(uaddr, out.size());
  if (m == nullptr) return sys_error(api::Op::UserRead, EFAULT, "not inside a user_alloc or guest_memfd mapping");
  if (out.empty()) return api::ok();
  if (m->gmem) {
    if (const int e = copy_self(uaddr, out.data(), out.size(), false); e != 0) {
      return sys_error(api::Op::UserRead, e, "the guest_memfd page cannot be faulted in");
    }
    return api::ok();
  }
  std::memcpy(out.data(), to_ptr(uaddr), out.size());
  return api::ok();
}

api::Status KvmBackend::user_free(std::uint64_t uaddr, std::uint64_t size) {
  const std::lock_guard<std::mutex> lock(mu_);
  auto it = user_maps_.find(uaddr);
  if (it == user_maps_.end() || it->second.size != size) {
    return sys_error(api::Op::Munmap, EINVAL, "not a live mapping of that size");
  }
  // munmap(2) of exactly what user_alloc or gmem_mmap mapped.
  if (::munmap(to_ptr(uaddr), static_cast<std::size_t>(size)) != 0) return sys_error(api::Op::Munmap, errno);
  user_maps_.erase(it);
  return api::ok();
}

// ---- factory and Vcpu helpers ---------------------------------------------------------------

api::Result<std::unique_ptr<api::Backend>> make_kvm_backend(const KvmBackendOptions& options) {
  // uapi: open(2) of /dev/kvm; this fd stays private to the backend (KVM_GET_VCPU_MMAP_SIZE).
  const int fd = ::open(options.kvm_path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return sys_error(api::Op::OpenDevKvm, errno, options.kvm_path);
  return std::unique_ptr<api::Backend>(std::make_unique<KvmBackend>(fd, options));
}

api::Result<std::unique_ptr<api::Backend>> make_kvm_backend(const char* kvm_path, const char* sev_path) {
  KvmBackendOptions options;
  options.kvm_path = kvm_path;
  options.sev_path = sev_path;
  return make_kvm_backend(options);
}

api::Status set_real_mode_entry(api::Vcpu& vcpu, std::uint64_t rip) {
  auto* hw = dynamic_cast<KvmBackend*>(&vcpu.backend());
  if (hw == nullptr) return sys_error(api::Op::KvmGetSregs, EBADF, "not a vCPU of the hw backend");
  return hw->set_real_mode_entry(vcpu.handle(), rip);
}

std::span<std::uint8_t> io_data(api::Vcpu& vcpu) {
  auto* hw = dynamic_cast<KvmBackend*>(&vcpu.backend());
  if (hw == nullptr) return {};
  return hw->io_data(vcpu.handle());
}

}  // namespace snplab::hw
