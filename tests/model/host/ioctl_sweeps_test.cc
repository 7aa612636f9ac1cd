// Negative sweeps in the style of the kernel's KVM selftests: every undefined flag bit,
// misalignment, out-of-range gfn, wrong VM type and wrong order for each SNP ioctl of the
// simulated host, each asserting the exact errno and firmware status (facts §8.3, §8.4, §8.7).
#include <gtest/gtest.h>

#include <cerrno>

#include <fmt/format.h>

#include "snp/api/kvm.h"
#include "snp/api/sim_backend.h"
#include "snp/model/host/kvm_host.h"

namespace snplab::api {
namespace {

using model::kPageSize;
constexpr std::uint64_t kMem = 2ULL << 20;

/// errno and firmware status of a failed call; {0, NO_FW_CALL} on success.
struct Outcome {
  int err;
  FwStatus fw;
  friend bool operator==(const Outcome&, const Outcome&) = default;
};
std::ostream& operator<<(std::ostream& os, const Outcome& o) {
  return os << "errno " << o.err << ", fw 0x" << std::hex << static_cast<std::uint32_t>(o.fw) << std::dec;
}
Outcome of(const Status& s) { return s ? Outcome{0, FwStatus::NoFwCall} : Outcome{s.error().errno_value, s.error().fw}; }
constexpr Outcome kOk{0, FwStatus::NoFwCall};
constexpr Outcome kEinval{EINVAL, FwStatus::NoFwCall};

class Sweep : public ::testing::Test {
 protected:
  void SetUp() override {
    backend_ = std::move(*make_sim_backend());
    kvm_.emplace(std::move(*Kvm::open(*backend_)));
    sev_.emplace(std::move(*SevDevice::open(*backend_)));
  }
  Vm new_vm(unsigned long type = uapi::KVM_X86_SNP_VM) { return std::move(*kvm_->create_vm(type)); }
  Status init2(Vm& vm, uapi::kvm_sev_init d = {}) {
    return vm.memory_encrypt_op(uapi::KVM_SEV_INIT2, &d, static_cast<std::uint32_t>(sev_->handle()));
  }
  Status start(Vm& vm, std::uint64_t policy = 0x30000, std::uint16_t flags = 0) {
    uapi::kvm_sev_snp_launch_start d;
    d.policy = policy;
    d.flags = flags;
    return vm.memory_encrypt_op(uapi::KVM_SEV_SNP_LAUNCH_START, &d, static_cast<std::uint32_t>(sev_->handle()));
  }
  /// An SNP VM after INIT2 + LAUNCH_START with a private guest_memfd slot over [0, kMem).
  struct Ready {
    Vm vm;
    GuestMemfd gmem;
    UserMemory shared, src;
  };
  Ready ready() {
    Vm vm = new_vm();
    EXPECT_TRUE(init2(vm));
    EXPECT_TRUE(start(vm));
    uapi::kvm_create_guest_memfd g;
    g.size = kMem;
    GuestMemfd gmem = std::move(*vm.create_guest_memfd(g));
    UserMemory shared = std::move(*UserMemory::alloc(*backend_, kMem));
    UserMemory src = std::move(*UserMemory::alloc(*backend_, 16 * kPageSize));
    uapi::kvm_userspace_memory_region2 r;
    r.flags = uapi::KVM_MEM_GUEST_MEMFD;
    r.memory_size = kMem;
    r.userspace_addr = shared.addr();
    r.guest_memfd = static_cast<std::uint32_t>(gmem.handle());
    EXPECT_TRUE(vm.set_user_memory_region2(r));
    uapi::kvm_memory_attributes a;
    a.size = kMem;
    a.attributes = uapi::KVM_MEMORY_ATTRIBUTE_PRIVATE;
    EXPECT_TRUE(vm.set_memory_attributes(a));
    return Ready{std::move(vm), std::move(gmem), std::move(shared), std::move(src)};
  }
  Status update(Ready& r, uapi::kvm_sev_snp_launch_update u) { return r.vm.memory_encrypt_op(uapi::KVM_SEV_SNP_LAUNCH_UPDATE, &u, static_cast<std::uint32_t>(sev_->handle())); }
  uapi::kvm_sev_snp_launch_update normal(Ready& r, std::uint64_t gfn = 0, std::uint64_t n = 1) {
    uapi::kvm_sev_snp_launch_update u;
    u.gfn_start = gfn;
    u.uaddr = r.src.addr();
    u.len = n * kPageSize;
    u.type = uapi::KVM_SEV_SNP_PAGE_TYPE_NORMAL;
    return u;
  }

  std::unique_ptr<Backend> backend_;
  std::optional<Kvm> kvm_;
  std::optional<SevDevice> sev_;
};

TEST_F(Sweep, Init2_EveryFeatureBit) {
  for (unsigned bit = 0; bit < 64; ++bit) {
    Vm vm = new_vm();
    uapi::kvm_sev_init d;
    d.vmsa_features = 1ULL << bit;
    // Only DebugSwap (bit 5) is in KVM_X86_SEV_VMSA_FEATURES; SNP_ACTIVE is KVM's to add.
    EXPECT_EQ(of(init2(vm, d)), bit == 5 ? kOk : kEinval) << "bit " << bit;
  }
}

// sev_guest_init2() / __sev_guest_init() for the SEV and SEV-ES VM types (6.12): SEV takes no
// VMSA features and no GHCB version; SEV-ES takes KVM's VMSA features (DebugSwap) and a GHCB
// version up to 2. SNP commands on them are ENOTTY / EINVAL as in sev.c, and their own launch
// commands are not modelled (EOPNOTSUPP).
TEST_F(Sweep, Init2_SevAndSevEsTypes_TheirRules) {
  const auto types = kvm_->check_extension(uapi::KVM_CAP_VM_TYPES);
  ASSERT_TRUE(types);
  // DEFAULT, SW_PROTECTED, SEV, SEV_ES, SNP
  EXPECT_EQ(*types, (1 << 0) | (1 << 1) | (1 << 2) | (1 << 3) | (1 << 4));
  for (unsigned long type : {uapi::KVM_X86_SEV_VM, uapi::KVM_X86_SEV_ES_VM}) {
    const bool es = type == uapi::KVM_X86_SEV_ES_VM;
    SCOPED_TRACE(es ? "SEV-ES" : "SEV");
    {
      Vm vm = new_vm(type);
      uapi::kvm_sev_init d;
      d.vmsa_features = 1ULL << 5;  // DebugSwap
      EXPECT_EQ(of(init2(vm, d)), es ? kOk : kEinval);
    }
    {
      Vm vm = new_vm(type);
      uapi::kvm_sev_init d;
      d.ghcb_version = 2;
      EXPECT_EQ(of(init2(vm, d)), es ? kOk : kEinval);
    }
    Vm vm = new_vm(type);
    ASSERT_EQ(of(init2(vm)), kOk);
    EXPECT_EQ(of(init2(vm)), kEinval) << "already active";
    uapi::kvm_sev_snp_launch_start start;
    start.policy = 0x30000;
    EXPECT_EQ(of(vm.memory_encrypt_op(uapi::KVM_SEV_SNP_LAUNCH_START, &start, static_cast<std::uint32_t>(sev_->handle()))), (Outcome{ENOTTY, FwStatus::NoFwCall}));
    uapi::kvm_sev_snp_launch_update u;
    EXPECT_EQ(of(vm.memory_encrypt_op(uapi::KVM_SEV_SNP_LAUNCH_UPDATE, &u, static_cast<std::uint32_t>(sev_->handle()))), kEinval);
    uapi::kvm_sev_snp_launch_finish f;
    EXPECT_EQ(of(vm.memory_encrypt_op(uapi::KVM_SEV_SNP_LAUNCH_FINISH, &f, static_cast<std::uint32_t>(sev_->handle()))), (Outcome{ENOTTY, FwStatus::NoFwCall}));
    std::uint8_t legacy[64] = {};
    EXPECT_EQ(of(vm.memory_encrypt_op(2 /* KVM_SEV_LAUNCH_START */, legacy, 0)),
              (Outcome{EOPNOTSUPP, FwStatus::NoFwCall}));
    EXPECT_TRUE(vm.create_vcpu(0).has_value());
  }
  // A default VM is not an SEV type: INIT2 is EINVAL.
  Vm plain = new_vm(uapi::KVM_X86_DEFAULT_VM);
  EXPECT_EQ(of(init2(plain)), kEinval);
}

TEST_F(Sweep, Init2_EveryFlagBitPaddingAndGhcbVersion) {
  for (unsigned bit = 0; bit < 32; ++bit) {
    Vm vm = new_vm();
    uapi::kvm_sev_init d;
    d.flags = 1U << bit;
    EXPECT_EQ(of(init2(vm, d)), kEinval) << "flag bit " << bit;
  }
  for (unsigned i = 0; i < 8; ++i) {
    Vm vm = new_vm();
    uapi::kvm_sev_init d;
    d.pad2[i] = 1;  // __sev_guest_init() checks flags, features and the GHCB version only
    EXPECT_EQ(of(init2(vm, d)), kOk) << "pad2[" << i << "]";
  }
  for (unsigned v : {0U, 1U, 2U, 3U, 0xFFFFU}) {
    Vm vm = new_vm();
    uapi::kvm_sev_init d;
    d.ghcb_version = static_cast<std::uint16_t>(v);
    EXPECT_EQ(of(init2(vm, d)), v <= 2 ? kOk : kEinval) << "ghcb_version " << v;
  }
}

TEST_F(Sweep, Init2_WrongVmTypeAndWrongOrder) {
  Vm plain = new_vm(uapi::KVM_X86_DEFAULT_VM);
  EXPECT_EQ(of(init2(plain)), kEinval);
  Vm late = new_vm();
  ASSERT_TRUE(late.create_vcpu(0));
  EXPECT_EQ(of(init2(late)), kEinval);  // after a vCPU
  Vm twice = new_vm();
  ASSERT_TRUE(init2(twice));
  EXPECT_EQ(of(init2(twice)), (Outcome{EPERM, FwStatus::NoFwCall}));  // a legacy id once SNP
}

TEST_F(Sweep, LaunchStart_EveryPolicyBitOutsideKvmsMask) {
  // SNP_POLICY_MASK_VALID (facts §4.7): bits 0-17, 19, 20. KVM refuses the rest itself.
  for (unsigned bit = 0; bit < 64; ++bit) {
    const bool in_mask = bit <= 17 || bit == 19 || bit == 20;
    if (in_mask) continue;
    Vm vm = new_vm();
    ASSERT_TRUE(init2(vm));
    EXPECT_EQ(of(start(vm, 0x30000 | (1ULL << bit))), kEinval) << "bit " << bit;
  }
}

TEST_F(Sweep, LaunchStart_FlagsAndOrder) {
  for (unsigned bit = 0; bit < 16; ++bit) {
    Vm vm = new_vm();
    ASSERT_TRUE(init2(vm));
    EXPECT_EQ(of(start(vm, 0x30000, static_cast<std::uint16_t>(1U << bit))), kEinval) << "flag bit " << bit;
  }
  Vm before = new_vm();
  EXPECT_EQ(of(start(before)), (Outcome{ENOTTY, FwStatus::NoFwCall}));  // not an SEV guest yet
  Vm no_smt = new_vm();
  ASSERT_TRUE(init2(no_smt));
  // 6.12's snp_launch_start() insists on the SMT bit itself, before any firmware call (the
  // firmware's own POLICY_FAILURE for it is the firmware model's test), and refuses
  // SINGLE_SOCKET.
  EXPECT_EQ(of(start(no_smt, 0x20000)), kEinval);
  EXPECT_EQ(of(start(no_smt, 0x30000 | (1ULL << 20))), kEinval);
}

TEST_F(Sweep, LaunchUpdate_EveryPageType) {
  for (unsigned type = 0; type < 256; ++type) {
    Ready r = ready();
    auto u = normal(r, type);  // a fresh page per type
    u.type = static_cast<std::uint8_t>(type);
    const bool valid = type == 1 || type == 3 || type == 4 || type == 5 || type == 6;  // VMSA (2) is KVM's
    EXPECT_EQ(of(update(r, u)), valid ? kOk : kEinval) << "type " << type;
  }
}

// snp_launch_update() of 6.12 (and upstream since): flags and a non-4K-multiple len are EINVAL;
// the padding is not checked; len 0 is a success that does nothing; uaddr need not be aligned
// (copy_from_user); a range running past the slot is cut at the slot's end (partial progress);
// a gfn outside every slot is EINVAL; whatever fails inside kvm_gmem_populate() on the first
// page (already private: EEXIST; attribute not private: EINVAL) reaches userspace as EIO.
TEST_F(Sweep, LaunchUpdate_FlagsPaddingAlignmentRange) {
  Ready r = ready();
  for (unsigned bit = 0; bit < 16; ++bit) {
    auto u = normal(r);
    u.flags = static_cast<std::uint16_t>(1U << bit);
    EXPECT_EQ(of(update(r, u)), kEinval) << "flag bit " << bit;
  }
  for (std::uint64_t len : {std::uint64_t{1}, kPageSize - 1, kPageSize + 8}) {
    auto u = normal(r);
    u.len = len;
    EXPECT_EQ(of(update(r, u)), kEinval) << "len " << len;
  }
  auto none = normal(r);
  none.len = 0;
  EXPECT_EQ(of(r.vm.memory_encrypt_op(uapi::KVM_SEV_SNP_LAUNCH_UPDATE, &none, static_cast<std::uint32_t>(sev_->handle()))), kOk);
  EXPECT_EQ(none.gfn_start, 0U);  // nothing done, nothing moved
  std::uint64_t gfn = 1;
  auto pad = normal(r, gfn++);
  pad.pad0 = 1;
  EXPECT_EQ(of(update(r, pad)), kOk);
  auto pad1 = normal(r, gfn++);
  pad1.pad1 = 1;
  EXPECT_EQ(of(update(r, pad1)), kOk);
  for (unsigned i = 0; i < 4; ++i) {
    auto p2 = normal(r, gfn++);
    p2.pad2[i] = 1;
    EXPECT_EQ(of(update(r, p2)), kOk) << "pad2[" << i << "]";
  }
  auto mis = normal(r, gfn++);
  mis.uaddr += 8;
  EXPECT_EQ(of(update(r, mis)), kOk);
  auto zero_mis = normal(r, gfn++);  // ZERO pages ignore uaddr
  zero_mis.type = uapi::KVM_SEV_SNP_PAGE_TYPE_ZERO;
  zero_mis.uaddr += 8;
  EXPECT_EQ(of(update(r, zero_mis)), kOk);
  auto again = normal(r, 1);  // already private in the RMP: EEXIST inside, EIO out
  EXPECT_EQ(of(update(r, again)), (Outcome{EIO, FwStatus::NoFwCall}));
  const std::uint64_t last = kMem / kPageSize - 1;
  auto past_end = normal(r, last, 2);  // one page in the slot, one past it: cut at the end
  EXPECT_EQ(of(r.vm.memory_encrypt_op(uapi::KVM_SEV_SNP_LAUNCH_UPDATE, &past_end, static_cast<std::uint32_t>(sev_->handle()))), kOk);
  EXPECT_EQ(past_end.gfn_start, last + 1);
  EXPECT_EQ(past_end.len, kPageSize);
  auto beyond = normal(r, kMem / kPageSize);  // first gfn past the slot: no slot
  EXPECT_EQ(of(update(r, beyond)), kEinval);
  auto far = normal(r, 1ULL << 40);
  EXPECT_EQ(of(update(r, far)), kEinval);
}

TEST_F(Sweep, LaunchUpdate_WrongOrder) {
  Vm vm = new_vm();
  uapi::kvm_sev_snp_launch_update u;
  u.len = kPageSize;
  u.type = 1;
  EXPECT_EQ(of(vm.memory_encrypt_op(uapi::KVM_SEV_SNP_LAUNCH_UPDATE, &u, static_cast<std::uint32_t>(sev_->handle()))), (Outcome{ENOTTY, FwStatus::NoFwCall}));
  uapi::kvm_sev_snp_launch_finish f;
  EXPECT_EQ(of(vm.memory_encrypt_op(uapi::KVM_SEV_SNP_LAUNCH_FINISH, &f, static_cast<std::uint32_t>(sev_->handle()))), (Outcome{ENOTTY, FwStatus::NoFwCall}));
  EXPECT_EQ(of(vm.memory_encrypt_op(uapi::KVM_SEV_SNP_ENABLE_REQ_CERTS, nullptr, 0)), (Outcome{ENOTTY, FwStatus::NoFwCall}));
  ASSERT_TRUE(init2(vm));
  EXPECT_EQ(of(vm.memory_encrypt_op(uapi::KVM_SEV_SNP_LAUNCH_UPDATE, &u, static_cast<std::uint32_t>(sev_->handle()))), kEinval);  // before LAUNCH_START
}

TEST_F(Sweep, LaunchFinish_FlagsPaddingAndOrder) {
  for (unsigned bit = 0; bit < 16; ++bit) {
    Ready r = ready();
    uapi::kvm_sev_snp_launch_finish f;
    f.flags = static_cast<std::uint16_t>(1U << bit);
    EXPECT_EQ(of(r.vm.memory_encrypt_op(uapi::KVM_SEV_SNP_LAUNCH_FINISH, &f, static_cast<std::uint32_t>(sev_->handle()))), kEinval) << "flag bit " << bit;
  }
  for (unsigned i = 0; i < 3; ++i) {
    Ready r = ready();
    uapi::kvm_sev_snp_launch_finish f;
    f.pad0[i] = 1;  // snp_launch_finish() checks flags only
    EXPECT_EQ(of(r.vm.memory_encrypt_op(uapi::KVM_SEV_SNP_LAUNCH_FINISH, &f, static_cast<std::uint32_t>(sev_->handle()))), kOk) << "pad0[" << i << "]";
  }
  Vm vm = new_vm();
  ASSERT_TRUE(init2(vm));
  uapi::kvm_sev_snp_launch_finish f;
  EXPECT_EQ(of(vm.memory_encrypt_op(uapi::KVM_SEV_SNP_LAUNCH_FINISH, &f, static_cast<std::uint32_t>(sev_->handle()))), kEinval);  // before LAUNCH_START
  Ready twice = ready();
  ASSERT_TRUE(twice.vm.memory_encrypt_op(uapi::KVM_SEV_SNP_LAUNCH_FINISH, &f, static_cast<std::uint32_t>(sev_->handle())));
  EXPECT_EQ(of(twice.vm.memory_encrypt_op(uapi::KVM_SEV_SNP_LAUNCH_FINISH, &f, static_cast<std::uint32_t>(sev_->handle()))),
            (Outcome{EIO, FwStatus::InvalidGuestState}));  // the context is no longer launching
}

TEST_F(Sweep, SetMemoryAttributes_BitsAlignmentAndVmType) {
  Vm vm = new_vm();
  auto attrs = [&](std::uint64_t address, std::uint64_t size, std::uint64_t a, std::uint64_t flags = 0) {
    uapi::kvm_memory_attributes m;
    m.address = address;
    m.size = size;
    m.attributes = a;
    m.flags = flags;
    return of(vm.set_memory_attributes(m));
  };
  for (unsigned bit = 0; bit < 64; ++bit) {
    EXPECT_EQ(attrs(0, kPageSize, 1ULL << bit), bit == 3 ? kOk : kEinval) << "attribute bit " << bit;
    EXPECT_EQ(attrs(0, kPageSize, 0, 1ULL << bit), kEinval) << "flag bit " << bit;
  }
  EXPECT_EQ(attrs(8, kPageSize, 0), kEinval);
  EXPECT_EQ(attrs(0, kPageSize + 8, 0), kEinval);
  EXPECT_EQ(attrs(0, 0, 0), kEinval);
  EXPECT_EQ(attrs(~0ULL & ~(kPageSize - 1), 2 * kPageSize, 0), kEinval);  // wraps
  Vm plain = new_vm(uapi::KVM_X86_DEFAULT_VM);
  uapi::kvm_memory_attributes m;
  m.size = kPageSize;
  EXPECT_EQ(of(plain.set_memory_attributes(m)), (Outcome{ENOTTY, FwStatus::NoFwCall}));  // no private memory
}

TEST_F(Sweep, EnableCapExitHypercall_Bits) {
  Vm vm = new_vm();
  for (unsigned bit = 0; bit < 64; ++bit) {
    uapi::kvm_enable_cap c;
    c.cap = uapi::KVM_CAP_EXIT_HYPERCALL;
    c.args[0] = 1ULL << bit;
    EXPECT_EQ(of(vm.enable_cap(c)), bit == 12 ? kOk : kEinval) << "hypercall bit " << bit;
  }
  for (unsigned bit = 0; bit < 32; ++bit) {
    uapi::kvm_enable_cap c;
    c.cap = uapi::KVM_CAP_EXIT_HYPERCALL;
    c.flags = 1U << bit;
    EXPECT_EQ(of(vm.enable_cap(c)), kEinval) << "flag bit " << bit;
  }
}

TEST_F(Sweep, DevSev_SetConfigReservedBitsAndVlekLoad) {
  uapi::sev_user_data_snp_status st;
  ASSERT_TRUE(sev_->issue_cmd(uapi::SNP_PLATFORM_STATUS, &st, nullptr));
  for (unsigned bit = 2; bit < 32; ++bit) {
    uapi::sev_user_data_snp_config c;
    c.reported_tcb = st.reported_tcb_version;
    c.flags = 1U << bit;
    EXPECT_EQ(of(sev_->issue_cmd(uapi::SNP_SET_CONFIG, &c, nullptr)), (Outcome{EIO, FwStatus::InvalidParam}))
        << "flag bit " << bit;
  }
  uapi::sev_user_data_snp_config rsvd;
  rsvd.reported_tcb = st.reported_tcb_version;
  rsvd.rsvd1[51] = 1;
  EXPECT_EQ(of(sev_->issue_cmd(uapi::SNP_SET_CONFIG, &rsvd, nullptr)), (Outcome{EIO, FwStatus::InvalidParam}));
  auto blob = UserMemory::alloc(*backend_, kPageSize);
  ASSERT_TRUE(blob);
  for (std::uint32_t len : {0U, 8U, 15U, 17U, 432U}) {
    uapi::sev_user_data_snp_vlek_load v;
    v.len = len;
    v.vlek_wrapped_address = blob->addr();
    EXPECT_EQ(of(sev_->snp_vlek_load(v)), (Outcome{EIO, FwStatus::InvalidLen})) << "len " << len;
  }
  uapi::sev_user_data_snp_vlek_load ver;
  ver.vlek_wrapped_version = 1;
  ver.vlek_wrapped_address = blob->addr();
  EXPECT_EQ(of(sev_->snp_vlek_load(ver)), (Outcome{EIO, FwStatus::InvalidParam}));
  uapi::sev_user_data_snp_vlek_load bad;
  bad.vlek_wrapped_address = blob->addr();  // zeros: not wrapped for this chip
  EXPECT_EQ(of(sev_->snp_vlek_load(bad)), (Outcome{EIO, FwStatus::BadMeasurement}));
  EXPECT_EQ(of(sev_->issue_cmd(99, &st, nullptr)), kEinval);
}

TEST_F(Sweep, Registers_RoundTripBeforeLaunchFinishRefusedAfter) {
  Ready r = ready();
  Vcpu vcpu = std::move(*r.vm.create_vcpu(0));
  auto regs = vcpu.get_regs();
  ASSERT_TRUE(regs);
  EXPECT_EQ(regs->rip, 0xFFF0u);  // the reset state
  auto sregs = vcpu.get_sregs();
  ASSERT_TRUE(sregs);
  EXPECT_EQ(sregs->cs.base, 0xFFFF0000u);
  EXPECT_EQ(sregs->cs.selector, 0xF000u);
  regs->rip = 0x1234;
  regs->rbx = 77;
  ASSERT_TRUE(vcpu.set_regs(*regs));
  sregs->cs.base = 0xABCD0000;
  ASSERT_TRUE(vcpu.set_sregs(*sregs));
  auto back = vcpu.get_regs();
  ASSERT_TRUE(back);
  EXPECT_EQ(back->rip, 0x1234u);
  EXPECT_EQ(back->rbx, 77u);
  EXPECT_EQ(vcpu.get_sregs()->cs.base, 0xABCD0000u);
  uapi::kvm_sev_snp_launch_finish f;
  ASSERT_TRUE(r.vm.memory_encrypt_op(uapi::KVM_SEV_SNP_LAUNCH_FINISH, &f, static_cast<std::uint32_t>(sev_->handle())));
  EXPECT_EQ(of(vcpu.set_regs(*regs)), kEinval);  // guest state protected
  EXPECT_EQ(of(vcpu.set_sregs(*sregs)), kEinval);
  EXPECT_FALSE(vcpu.get_regs().has_value());
  EXPECT_FALSE(vcpu.get_sregs().has_value());
  EXPECT_EQ(of(backend_->kvm_set_regs(r.vm.handle(), *regs)), (Outcome{ENOTTY, FwStatus::NoFwCall}));  // not a vCPU
}

}  // namespace
}  // namespace snplab::api
