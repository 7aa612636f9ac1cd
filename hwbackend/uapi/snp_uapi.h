// The KVM / PSP uAPI pieces snplab's hw backend needs that Debian 12's linux-libc-dev 6.1
// predates: guest_memfd and memory attributes (v6.8), SNP on /dev/sev (v6.9), KVM_SEV_INIT2
// and VM types (v6.10), SNP guests (v6.11) (facts §8.1). Each definition is used only when
// the system header lacks it, and every struct's size and field offsets are checked against
// facts §8 / §4.2 with static_assert, so a mismatch fails the build, not a run.
#pragma once

#include <cstddef>
#include <cstdint>

#include <linux/kvm.h>
#include <linux/psp-sev.h>

// ---- capabilities (facts §8.4, §8.5) ----------------------------------------------------
#ifndef KVM_CAP_USER_MEMORY2
#define KVM_CAP_USER_MEMORY2 231
#endif
#ifndef KVM_CAP_MEMORY_FAULT_INFO
#define KVM_CAP_MEMORY_FAULT_INFO 232
#endif
#ifndef KVM_CAP_MEMORY_ATTRIBUTES
#define KVM_CAP_MEMORY_ATTRIBUTES 233
#endif
#ifndef KVM_CAP_GUEST_MEMFD
#define KVM_CAP_GUEST_MEMFD 234
#endif
#ifndef KVM_CAP_VM_TYPES
#define KVM_CAP_VM_TYPES 235
#endif
#ifndef KVM_CAP_GUEST_MEMFD_FLAGS
#define KVM_CAP_GUEST_MEMFD_FLAGS 244
#endif

// ---- VM types and device attributes (facts §8.2) ----------------------------------------
#ifndef KVM_X86_DEFAULT_VM
#define KVM_X86_DEFAULT_VM 0
#define KVM_X86_SW_PROTECTED_VM 1
#endif
#ifndef KVM_X86_SEV_VM
#define KVM_X86_SEV_VM 2
#define KVM_X86_SEV_ES_VM 3
#endif
#ifndef KVM_X86_SNP_VM
#define KVM_X86_SNP_VM 4
#endif
#ifndef KVM_X86_GRP_SEV
#define KVM_X86_GRP_SEV 1
#define KVM_X86_SEV_VMSA_FEATURES 0
#endif

// ---- memory: guest_memfd, memslots v2, attributes (facts §8.4) ----------------------------
#ifndef KVM_CREATE_GUEST_MEMFD
struct kvm_create_guest_memfd {
  __u64 size;
  __u64 flags;
  __u64 reserved[6];
};
#define KVM_CREATE_GUEST_MEMFD _IOWR(KVMIO, 0xd4, struct kvm_create_guest_memfd)
#endif
#ifndef GUEST_MEMFD_FLAG_MMAP
#define GUEST_MEMFD_FLAG_MMAP (1ULL << 0)
#define GUEST_MEMFD_FLAG_INIT_SHARED (1ULL << 1)
#endif

#ifndef KVM_SET_USER_MEMORY_REGION2
struct kvm_userspace_memory_region2 {
  __u32 slot;
  __u32 flags;
  __u64 guest_phys_addr;
  __u64 memory_size;
  __u64 userspace_addr;
  __u64 guest_memfd_offset;
  __u32 guest_memfd;
  __u32 pad1;
  __u64 pad2[14];
};
#define KVM_SET_USER_MEMORY_REGION2 _IOW(KVMIO, 0x49, struct kvm_userspace_memory_region2)
#endif
#ifndef KVM_MEM_GUEST_MEMFD
#define KVM_MEM_GUEST_MEMFD (1UL << 2)
#endif

#ifndef KVM_SET_MEMORY_ATTRIBUTES
struct kvm_memory_attributes {
  __u64 address;
  __u64 size;
  __u64 attributes;
  __u64 flags;
};
#define KVM_SET_MEMORY_ATTRIBUTES _IOW(KVMIO, 0xd2, struct kvm_memory_attributes)
#endif
#ifndef KVM_MEMORY_ATTRIBUTE_PRIVATE
#define KVM_MEMORY_ATTRIBUTE_PRIVATE (1ULL << 3)
#endif
#ifndef KVM_EXIT_MEMORY_FAULT
#define KVM_EXIT_MEMORY_FAULT 39
#define KVM_MEMORY_EXIT_FLAG_PRIVATE (1ULL << 3)
#endif

// ---- kvm_run exits newer than 6.1 (facts §8.4, §8.6) --------------------------------------
// In the kernel these are members of kvm_run's anonymous exit union (`memory_fault`,
// `snp_req_certs`); 6.1's struct kvm_run lacks them, so the hw backend reads them from the
// union's offset in the mmap'ed run area.
#ifndef KVM_EXIT_SNP_REQ_CERTS
#define KVM_EXIT_SNP_REQ_CERTS 43  // 42 in the v7 patch; 43 as merged (facts §8.6, UNCONFIRMED)
#endif
namespace snplab::hw::compat {
/// Offset of kvm_run's exit union (x86: no s390 psw fields before it).
inline constexpr std::size_t kKvmRunExitUnionOffset = 32;

struct KvmRunMemoryFault {  // kvm_run.memory_fault (KVM_EXIT_MEMORY_FAULT, v6.8)
  __u64 flags;
  __u64 gpa;
  __u64 size;
};

struct KvmExitSnpReqCerts {  // struct kvm_exit_snp_req_certs (KVM_EXIT_SNP_REQ_CERTS, 2026)
  __u64 gpa;
  __u64 npages;
  __u64 ret;
};
}  // namespace snplab::hw::compat
static_assert(offsetof(kvm_run, hw) == snplab::hw::compat::kKvmRunExitUnionOffset);
static_assert(offsetof(kvm_run, io) == snplab::hw::compat::kKvmRunExitUnionOffset);
static_assert(offsetof(kvm_run, hypercall) == snplab::hw::compat::kKvmRunExitUnionOffset);
static_assert(sizeof(snplab::hw::compat::KvmRunMemoryFault) == 24);
static_assert(offsetof(snplab::hw::compat::KvmRunMemoryFault, gpa) == 8);
static_assert(offsetof(snplab::hw::compat::KvmRunMemoryFault, size) == 16);
static_assert(sizeof(snplab::hw::compat::KvmExitSnpReqCerts) == 24);
static_assert(offsetof(snplab::hw::compat::KvmExitSnpReqCerts, npages) == 8);
static_assert(offsetof(snplab::hw::compat::KvmExitSnpReqCerts, ret) == 16);
// The union is 256 bytes (its `padding` member): both exits fit in it.
static_assert(offsetof(kvm_run, padding) == snplab::hw::compat::kKvmRunExitUnionOffset);
static_assert(sizeof(kvm_run::padding) == 256);

// ---- KVM_MEMORY_ENCRYPT_OP: INIT2 and SNP launch (facts §8.3) -------------------------
namespace snplab::hw::compat {
inline constexpr __u32 kKvmSevInit2 = 22;
inline constexpr __u32 kKvmSevSnpLaunchStart = 100;
inline constexpr __u32 kKvmSevSnpLaunchUpdate = 101;
inline constexpr __u32 kKvmSevSnpLaunchFinish = 102;
inline constexpr __u32 kKvmSevSnpEnableReqCerts = 103;  // 2026 (facts §8.3)
}  // namespace snplab::hw::compat

#ifndef KVM_SEV_SNP_PAGE_TYPE_NORMAL
struct kvm_sev_init {
  __u64 vmsa_features;
  __u32 flags;
  __u16 ghcb_version;
  __u16 pad1;
  __u32 pad2[8];
};
struct kvm_sev_snp_launch_start {
  __u64 policy;
  __u8 gosvw[16];
  __u16 flags;
  __u8 pad0[6];
  __u64 pad1[4];
};
#define KVM_SEV_SNP_PAGE_TYPE_NORMAL 0x1
#define KVM_SEV_SNP_PAGE_TYPE_ZERO 0x3
#define KVM_SEV_SNP_PAGE_TYPE_UNMEASURED 0x4
#define KVM_SEV_SNP_PAGE_TYPE_SECRETS 0x5
#define KVM_SEV_SNP_PAGE_TYPE_CPUID 0x6
struct kvm_sev_snp_launch_update {
  __u64 gfn_start;
  __u64 uaddr;
  __u64 len;
  __u8 type;
  __u8 pad0;
  __u16 flags;
  __u32 pad1;
  __u64 pad2[4];
};
#define KVM_SEV_SNP_ID_BLOCK_SIZE 96
#define KVM_SEV_SNP_ID_AUTH_SIZE 4096
#define KVM_SEV_SNP_FINISH_DATA_SIZE 32
struct kvm_sev_snp_launch_finish {
  __u64 id_block_uaddr;
  __u64 id_auth_uaddr;
  __u8 id_block_en;
  __u8 auth_key_en;
  __u8 vcek_disabled;
  __u8 host_data[KVM_SEV_SNP_FINISH_DATA_SIZE];
  __u8 pad0[3];
  __u16 flags;
  __u64 pad1[4];
};
#endif

// ---- /dev/sev SNP commands (facts §4.2, §8.7) --------------------------------------------
namespace snplab::hw::compat {
inline constexpr __u32 kSnpPlatformStatus = 9;
inline constexpr __u32 kSnpCommit = 10;
inline constexpr __u32 kSnpSetConfig = 11;
inline constexpr __u32 kSnpVlekLoad = 12;

struct SnpPlatformStatus {  // struct sev_user_data_snp_status
  __u8 api_major;
  __u8 api_minor;
  __u8 state;
  __u8 is_rmp_initialized;  // bit 0; bits 7:1 reserved
  __u32 build_id;
  __u32 flags;              // bit 0 mask_chip_id, 1 mask_chip_key, 2 vlek_en
  __u32 guest_count;
  __u64 current_tcb_version;
  __u64 reported_tcb_version;
} __attribute__((packed));

struct SnpConfig {  // struct sev_user_data_snp_config (SNP_SET_CONFIG)
  __u64 reported_tcb;
  __u32 flags;  // the kernel's bitfields: bit 0 mask_chip_id, bit 1 mask_chip_key, 30 reserved
  __u8 rsvd1[52];
} __attribute__((packed));

struct SnpVlekLoad {  // struct sev_user_data_snp_vlek_load (SNP_VLEK_LOAD)
  __u32 len;          // sizeof(this) = 16
  __u8 vlek_wrapped_version;
  __u8 rsvd[3];
  __u64 vlek_wrapped_address;  // user pointer to the 432-byte wrapped VLEK
} __attribute__((packed));
}  // namespace snplab::hw::compat

// Sizes and offsets from facts §8.3, §8.4, §4.2.
static_assert(sizeof(kvm_create_guest_memfd) == 64);
static_assert(sizeof(kvm_userspace_memory_region2) == 160);
static_assert(offsetof(kvm_userspace_memory_region2, guest_memfd_offset) == 32);
static_assert(offsetof(kvm_userspace_memory_region2, guest_memfd) == 40);
static_assert(sizeof(kvm_memory_attributes) == 32);
static_assert(sizeof(kvm_sev_init) == 48);
static_assert(sizeof(kvm_sev_snp_launch_start) == 64);
static_assert(offsetof(kvm_sev_snp_launch_start, flags) == 24);
static_assert(sizeof(kvm_sev_snp_launch_update) == 64);
static_assert(offsetof(kvm_sev_snp_launch_update, type) == 24);
static_assert(offsetof(kvm_sev_snp_launch_update, flags) == 26);
static_assert(sizeof(kvm_sev_snp_launch_finish) == 88);
static_assert(offsetof(kvm_sev_snp_launch_finish, host_data) == 19);
static_assert(offsetof(kvm_sev_snp_launch_finish, flags) == 54);
static_assert(sizeof(kvm_sev_cmd) == 24);
static_assert(sizeof(sev_issue_cmd) == 16);
static_assert(sizeof(snplab::hw::compat::SnpPlatformStatus) == 32);
static_assert(offsetof(snplab::hw::compat::SnpPlatformStatus, build_id) == 4);
static_assert(offsetof(snplab::hw::compat::SnpPlatformStatus, guest_count) == 12);
static_assert(offsetof(snplab::hw::compat::SnpPlatformStatus, current_tcb_version) == 16);
static_assert(offsetof(snplab::hw::compat::SnpPlatformStatus, reported_tcb_version) == 24);
static_assert(sizeof(snplab::hw::compat::SnpConfig) == 64);
static_assert(offsetof(snplab::hw::compat::SnpConfig, flags) == 8);
static_assert(offsetof(snplab::hw::compat::SnpConfig, rsvd1) == 12);
static_assert(sizeof(snplab::hw::compat::SnpVlekLoad) == 16);
static_assert(offsetof(snplab::hw::compat::SnpVlekLoad, vlek_wrapped_version) == 4);
static_assert(offsetof(snplab::hw::compat::SnpVlekLoad, vlek_wrapped_address) == 8);
