// The kernel's KVM selftests (linux-source-6.12, tools/testing/selftests/kvm), checked at the
// ioctl level through the API on every backend: the sim, and the real /dev/kvm where the host
// offers what the selftest needs (a skip names what is missing). Each test names the selftest
// function whose assertions it repeats; what the API cannot express (read/write/mmap/fstat on
// a guest_memfd, the v1 memslot ioctl, KVM_GET_DEVICE_ATTR) is listed in docs/upstream-checks.md.
#include <gtest/gtest.h>

#include <cerrno>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "snp/api/kvm.h"
#include "snp/api/sim_backend.h"
#include "snp/hw/kvm_backend.h"
#include "snp/model/guest/program.h"
#include "snp/scenarios/snp_vm.h"
#include "support/backends.h"

namespace snplab::test {
namespace {

namespace uapi = uapi;

constexpr std::uint64_t kPage = 0x1000;
constexpr int kKeep = 1, kPunch = 2;  // FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE

class Upstream : public BackendTest {
 protected:
  int vm_types() {
    auto t = kvm_->check_extension(uapi::KVM_CAP_VM_TYPES);
    return t ? *t : 1;
  }
  bool offers(unsigned long type) { return (vm_types() & (1 << type)) != 0; }
  /// A VM with private memory, as the selftests' KVM_X86_SW_PROTECTED_VM: that type where
  /// offered, else an SNP VM; nullopt (and the reason) when neither is.
  std::optional<api::Vm> private_vm(std::string* why) {
    for (unsigned long type : {uapi::KVM_X86_SW_PROTECTED_VM, uapi::KVM_X86_SNP_VM}) {
      if (!offers(type)) continue;
      auto vm = kvm_->create_vm(type);
      if (vm) return std::move(*vm);
    }
    *why = GetParam().name + ": neither KVM_X86_SW_PROTECTED_VM (1) nor KVM_X86_SNP_VM (4) in KVM_CAP_VM_TYPES (0x" +
           fmt_hex(vm_types()) + ")";
    return std::nullopt;
  }
  static std::string fmt_hex(int v) {
    char b[16];
    std::snprintf(b, sizeof b, "%x", static_cast<unsigned>(v));
    return b;
  }
  static int errno_of(const api::Status& s) { return s ? 0 : s.error().errno_value; }
  template <class T>
  static int errno_of(const api::Result<T>& r) {
    return r ? 0 : r.error().errno_value;
  }
  api::Result<api::GuestMemfd> gmem(api::Vm& vm, std::uint64_t size, std::uint64_t flags = 0) {
    uapi::kvm_create_guest_memfd g;
    g.size = size;
    g.flags = flags;
    return vm.create_guest_memfd(g);
  }
  int fallocate(api::GuestMemfd& g, int mode, std::uint64_t offset, std::uint64_t len) {
    return errno_of(backend_->gmem_fallocate(g.handle(), mode, offset, len));
  }
};

// ---- guest_memfd_test.c ------------------------------------------------------------------

// test_create_guest_memfd_invalid(): every size that is not a page multiple, and every flag
// the VM does not offer (KVM_CAP_GUEST_MEMFD_FLAGS: none in 6.12), is EINVAL.
TEST_P(Upstream, GuestMemfdTest_CreateGuestMemfdInvalid) {
  auto vm = kvm_->create_vm();
  ASSERT_TRUE(vm);
  if (auto cap = vm->check_extension(uapi::KVM_CAP_GUEST_MEMFD); !cap || *cap <= 0) {
    GTEST_SKIP() << GetParam().name << ": KVM_CAP_GUEST_MEMFD absent";
  }
  for (std::uint64_t size = 1; size < kPage; size += 97) EXPECT_EQ(errno_of(gmem(*vm, size)), EINVAL) << size;
  EXPECT_EQ(errno_of(gmem(*vm, kPage - 1)), EINVAL);
  auto offered = vm->check_extension(uapi::KVM_CAP_GUEST_MEMFD_FLAGS);
  const std::uint64_t valid = offered && *offered > 0 ? static_cast<std::uint64_t>(*offered) : 0;
  for (unsigned bit = 0; bit < 64; ++bit) {
    const std::uint64_t flag = 1ULL << bit;
    if ((valid & flag) != 0) continue;
    EXPECT_EQ(errno_of(gmem(*vm, kPage, flag)), EINVAL) << "flag 0x" << std::hex << flag;
  }
}

// test_create_guest_memfd_multiple(): two guest_memfds of one VM, both created.
TEST_P(Upstream, GuestMemfdTest_CreateGuestMemfdMultiple) {
  auto vm = kvm_->create_vm();
  ASSERT_TRUE(vm);
  if (auto cap = vm->check_extension(uapi::KVM_CAP_GUEST_MEMFD); !cap || *cap <= 0) {
    GTEST_SKIP() << GetParam().name << ": KVM_CAP_GUEST_MEMFD absent";
  }
  auto a = gmem(*vm, 4096), b = gmem(*vm, 8192);
  ASSERT_TRUE(a) << a.error().to_string();
  ASSERT_TRUE(b) << b.error().to_string();
  EXPECT_NE(a->handle(), b->handle());
}

// test_fallocate() and test_invalid_punch_hole() on a 4-page guest_memfd.
TEST_P(Upstream, GuestMemfdTest_FallocateAndInvalidPunchHole) {
  auto vm = kvm_->create_vm();
  ASSERT_TRUE(vm);
  if (auto cap = vm->check_extension(uapi::KVM_CAP_GUEST_MEMFD); !cap || *cap <= 0) {
    GTEST_SKIP() << GetParam().name << ": KVM_CAP_GUEST_MEMFD absent";
  }
  const std::uint64_t total = 4 * kPage;
  auto g = gmem(*vm, total);
  ASSERT_TRUE(g) << g.error().to_string();
  EXPECT_EQ(fallocate(*g, kKeep, 0, total), 0) << "aligned offset and size";
  EXPECT_NE(fallocate(*g, kKeep | kPunch, kPage - 1, kPage), 0) << "unaligned offset";
  EXPECT_NE(fallocate(*g, kKeep, total, kPage), 0) << "beginning at total_size";
  EXPECT_NE(fallocate(*g, kKeep, total + kPage, kPage), 0) << "beginning after total_size";
  EXPECT_EQ(fallocate(*g, kKeep | kPunch, total, kPage), 0) << "PUNCH_HOLE at total_size";
  EXPECT_EQ(fallocate(*g, kKeep | kPunch, total + kPage, kPage), 0) << "PUNCH_HOLE after total_size";
  EXPECT_NE(fallocate(*g, kKeep | kPunch, kPage, kPage - 1), 0) << "unaligned size";
  EXPECT_EQ(fallocate(*g, kKeep | kPunch, kPage, kPage), 0) << "PUNCH_HOLE aligned";
  EXPECT_EQ(fallocate(*g, kKeep, kPage, kPage), 0) << "restore the punched hole";
  const std::pair<std::uint64_t, std::uint64_t> bad[] = {
      {0, 1}, {0, kPage - 1}, {0, kPage + 1}, {1, 1}, {1, kPage - 1},
      {1, kPage}, {1, kPage + 1}, {kPage, 1}, {kPage, kPage - 1}, {kPage, kPage + 1}};
  for (const auto& [off, len] : bad) {
    EXPECT_EQ(fallocate(*g, kKeep | kPunch, off, len), EINVAL) << "offset 0x" << std::hex << off << " len 0x" << len;
  }
}

// ---- set_memory_region_test.c --------------------------------------------------------------

constexpr std::uint64_t kRegionSize = 0x200000, kRegionGpa = 0xc0000000;
constexpr std::uint32_t kRegionSlot = 10;

uapi::kvm_userspace_memory_region2 region2(std::uint32_t slot, std::uint32_t flags, std::uint64_t gpa,
                                           std::uint64_t size, std::uint64_t gmem_fd, std::uint64_t gmem_off) {
  uapi::kvm_userspace_memory_region2 r;
  r.slot = slot;
  r.flags = flags;
  r.guest_phys_addr = gpa;
  r.memory_size = size;
  r.userspace_addr = 0;
  r.guest_memfd = static_cast<std::uint32_t>(gmem_fd);
  r.guest_memfd_offset = gmem_off;
  return r;
}

// test_invalid_memory_region_flags(), the KVM_SET_USER_MEMORY_REGION2 half: every flag the
// VM does not support is EINVAL; dirty logging and read-only guest_memfd slots are EINVAL.
TEST_P(Upstream, SetMemoryRegionTest_InvalidMemoryRegionFlags) {
  std::string why;
  auto vm = private_vm(&why);
  const bool gmem_slots = vm.has_value();
  if (!vm) vm.emplace(std::move(*kvm_->create_vm()));
  std::uint32_t supported = uapi::KVM_MEM_LOG_DIRTY_PAGES | uapi::KVM_MEM_READONLY;
  if (gmem_slots) supported |= uapi::KVM_MEM_GUEST_MEMFD;
  for (unsigned bit = 0; bit < 32; ++bit) {
    const std::uint32_t flag = 1U << bit;
    if ((supported & flag) != 0) continue;
    EXPECT_EQ(errno_of(vm->set_user_memory_region2(region2(0, flag, 0, kRegionSize, 0, 0))), EINVAL)
        << "flag 0x" << std::hex << flag;
  }
  if (!gmem_slots) GTEST_SKIP() << "the guest_memfd half: " << why;
  auto g = gmem(*vm, kRegionSize);
  ASSERT_TRUE(g) << g.error().to_string();
  EXPECT_EQ(errno_of(vm->set_user_memory_region2(region2(
                0, uapi::KVM_MEM_LOG_DIRTY_PAGES | uapi::KVM_MEM_GUEST_MEMFD, 0, kRegionSize, g->handle(), 0))),
            EINVAL)
      << "dirty logging private memory";
  EXPECT_EQ(errno_of(vm->set_user_memory_region2(
                region2(0, uapi::KVM_MEM_READONLY | uapi::KVM_MEM_GUEST_MEMFD, 0, kRegionSize, g->handle(), 0))),
            EINVAL)
      << "read-only guest_memfd slot";
}

// test_add_private_memory_region(): the VM's own fd, another VM's guest_memfd and unaligned
// offsets are EINVAL; a guest_memfd of the VM binds.
TEST_P(Upstream, SetMemoryRegionTest_AddPrivateMemoryRegion) {
  std::string why;
  auto vm = private_vm(&why);
  if (!vm) GTEST_SKIP() << why;
  auto bind = [&](std::uint64_t fd, std::uint64_t off) {
    return errno_of(vm->set_user_memory_region2(
        region2(kRegionSlot, uapi::KVM_MEM_GUEST_MEMFD, kRegionGpa, kRegionSize, fd, off)));
  };
  EXPECT_EQ(bind(kvm_->handle(), 0), EINVAL) << "KVM fd";
  EXPECT_EQ(bind(vm->handle(), 0), EINVAL) << "VM's fd";
  auto vm2 = private_vm(&why);
  ASSERT_TRUE(vm2);
  auto other = gmem(*vm2, kRegionSize);
  ASSERT_TRUE(other) << other.error().to_string();
  EXPECT_EQ(bind(other->handle(), 0), EINVAL) << "other VM's guest_memfd";
  auto g = gmem(*vm, kRegionSize);
  ASSERT_TRUE(g) << g.error().to_string();
  for (std::uint64_t off = 1; off < kPage; off += 211) EXPECT_EQ(bind(g->handle(), off), EINVAL) << off;
  EXPECT_EQ(bind(g->handle(), 0), 0);
}

// test_add_overlapping_private_memory_regions(): two slots on one guest_memfd may not overlap
// in the file (EEXIST).
TEST_P(Upstream, SetMemoryRegionTest_AddOverlappingPrivateMemoryRegions) {
  std::string why;
  auto vm = private_vm(&why);
  if (!vm) GTEST_SKIP() << why;
  auto g = gmem(*vm, kRegionSize * 4);
  ASSERT_TRUE(g) << g.error().to_string();
  const auto fd = g->handle();
  const std::uint32_t f = uapi::KVM_MEM_GUEST_MEMFD;
  ASSERT_EQ(errno_of(vm->set_user_memory_region2(region2(kRegionSlot, f, kRegionGpa, kRegionSize * 2, fd, 0))), 0);
  ASSERT_EQ(errno_of(vm->set_user_memory_region2(
                region2(kRegionSlot + 1, f, kRegionGpa * 2, kRegionSize * 2, fd, kRegionSize * 2))),
            0);
  ASSERT_EQ(errno_of(vm->set_user_memory_region2(region2(kRegionSlot, f, kRegionGpa, 0, fd, 0))), 0) << "delete";
  EXPECT_EQ(errno_of(vm->set_user_memory_region2(
                region2(kRegionSlot, f, kRegionGpa * 2 - kRegionSize, kRegionSize * 2, fd, 0))),
            EEXIST)
      << "front half";
  EXPECT_EQ(errno_of(vm->set_user_memory_region2(
                region2(kRegionSlot, f, kRegionGpa * 2 + kRegionSize, kRegionSize * 2, fd, 0))),
            EEXIST)
      << "back half";
}

// test_add_max_memory_regions(), the limit half: a slot id at KVM_CAP_NR_MEMSLOTS is EINVAL.
TEST_P(Upstream, SetMemoryRegionTest_AddMaxMemoryRegions_SlotLimit) {
  auto vm = kvm_->create_vm();
  ASSERT_TRUE(vm);
  auto max = kvm_->check_extension(uapi::KVM_CAP_NR_MEMSLOTS);
  ASSERT_TRUE(max && *max > 0);
  auto mem = api::UserMemory::alloc(*backend_, kPage);
  ASSERT_TRUE(mem);
  uapi::kvm_userspace_memory_region2 r = region2(static_cast<std::uint32_t>(*max), 0, 0, kPage, 0, 0);
  r.userspace_addr = mem->addr();
  EXPECT_EQ(errno_of(vm->set_user_memory_region2(r)), EINVAL) << "slot " << *max;
  r.slot = static_cast<std::uint32_t>(*max - 1);
  EXPECT_EQ(errno_of(vm->set_user_memory_region2(r)), 0) << "slot " << *max - 1;
}

// ---- x86_64/sev_init2_tests.c ----------------------------------------------------------------

// test_vm_types(), test_flags(), test_features() for SEV and SEV-ES. The supported VMSA
// features come from KVM_GET_DEVICE_ATTR(KVM_X86_SEV_VMSA_FEATURES), which the API does not
// have yet: on hw only the known feature (DebugSwap) is tried.
TEST_P(Upstream, SevInit2Tests_VmTypesFlagsFeatures) {
  if (!offers(uapi::KVM_X86_SEV_VM)) {
    GTEST_SKIP() << GetParam().name << ": KVM_X86_SEV_VM (2) not in KVM_CAP_VM_TYPES (0x" << fmt_hex(vm_types()) << ")";
  }
  auto sev = api::SevDevice::open(*backend_);
  if (!sev) GTEST_SKIP() << GetParam().name << ": " << sev.error().to_string();
  const auto sev_fd = static_cast<std::uint32_t>(sev->handle());
  auto init2 = [&](unsigned long type, uapi::kvm_sev_init d) {
    auto vm = kvm_->create_vm(type);
    EXPECT_TRUE(vm) << vm.error().to_string();
    return vm ? errno_of(vm->memory_encrypt_op(uapi::KVM_SEV_INIT2, &d, sev_fd)) : -1;
  };
  const bool es = offers(uapi::KVM_X86_SEV_ES_VM);
  EXPECT_EQ(init2(uapi::KVM_X86_SEV_VM, {}), 0);
  if (es) {
    EXPECT_EQ(init2(uapi::KVM_X86_SEV_ES_VM, {}), 0);
  }
  EXPECT_EQ(init2(uapi::KVM_X86_DEFAULT_VM, {}), EINVAL) << "VM type is KVM_X86_DEFAULT_VM";
  for (unsigned long type : {uapi::KVM_X86_SEV_VM, uapi::KVM_X86_SEV_ES_VM}) {
    if (type == uapi::KVM_X86_SEV_ES_VM && !es) continue;
    for (unsigned bit = 0; bit < 32; ++bit) {
      uapi::kvm_sev_init d;
      d.flags = 1U << bit;
      EXPECT_EQ(init2(type, d), EINVAL) << "type " << type << " flag bit " << bit;
    }
  }
  for (unsigned bit = 0; bit < 64; ++bit) {
    uapi::kvm_sev_init d;
    d.vmsa_features = 1ULL << bit;
    EXPECT_EQ(init2(uapi::KVM_X86_SEV_VM, d), EINVAL) << "SEV takes no VMSA features, bit " << bit;
  }
  if (!es) return;
  if (GetParam().name != "sim") {
    GTEST_SKIP() << "test_features(SEV-ES) needs KVM_GET_DEVICE_ATTR(KVM_X86_SEV_VMSA_FEATURES), not in the API";
  }
  constexpr std::uint64_t kDebugSwap = 1ULL << 5;  // KNOWN_FEATURES, and all the sim supports
  for (unsigned bit = 0; bit < 64; ++bit) {
    uapi::kvm_sev_init d;
    d.vmsa_features = 1ULL << bit;
    EXPECT_EQ(init2(uapi::KVM_X86_SEV_ES_VM, d), d.vmsa_features == kDebugSwap ? 0 : EINVAL) << "bit " << bit;
  }
}

// ---- x86_64/private_mem_kvm_exits_test.c and private_mem_conversions_test.c ---------------

/// The selftests' VM: KVM_X86_SW_PROTECTED_VM with one vCPU running a simulated guest program,
/// a guest_memfd slot of `pages` pages at `gpa` with its shared backing, and
/// KVM_CAP_EXIT_HYPERCALL for KVM_HC_MAP_GPA_RANGE. Guest programs run on the sim only.
struct SwProtectedVm {
  api::Vm vm;
  api::Vcpu vcpu;
  api::GuestMemfd gmem;
  api::UserMemory shared;
};

std::optional<SwProtectedVm> sw_protected_vm(api::Backend& b, api::Kvm& kvm, std::uint64_t gpa, std::uint64_t pages,
                                             std::string* why) {
  auto types = kvm.check_extension(uapi::KVM_CAP_VM_TYPES);
  if (!types || (*types & (1 << uapi::KVM_X86_SW_PROTECTED_VM)) == 0) {
    *why = "KVM_X86_SW_PROTECTED_VM not in KVM_CAP_VM_TYPES";
    return std::nullopt;
  }
  auto vm = kvm.create_vm(uapi::KVM_X86_SW_PROTECTED_VM);
  EXPECT_TRUE(vm) << vm.error().to_string();
  if (!vm) return std::nullopt;
  uapi::kvm_create_guest_memfd g;
  g.size = pages * kPage;
  auto gm = vm->create_guest_memfd(g);
  auto mem = api::UserMemory::alloc(b, pages * kPage);
  EXPECT_TRUE(gm && mem);
  if (!gm || !mem) return std::nullopt;
  uapi::kvm_userspace_memory_region2 r = region2(kRegionSlot, uapi::KVM_MEM_GUEST_MEMFD, gpa, pages * kPage,
                                                 static_cast<std::uint64_t>(gm->handle()), 0);
  r.userspace_addr = mem->addr();
  EXPECT_TRUE(vm->set_user_memory_region2(r));
  uapi::kvm_enable_cap cap;
  cap.cap = uapi::KVM_CAP_EXIT_HYPERCALL;
  cap.args[0] = 1ULL << uapi::KVM_HC_MAP_GPA_RANGE;
  EXPECT_TRUE(vm->enable_cap(cap));
  auto vcpu = vm->create_vcpu(0);
  EXPECT_TRUE(vcpu) << vcpu.error().to_string();
  if (!vcpu) return std::nullopt;
  return SwProtectedVm{std::move(*vm), std::move(*vcpu), std::move(*gm), std::move(*mem)};
}

// test_private_access_memslot_deleted() and test_private_access_memslot_not_private(): on a
// KVM_X86_SW_PROTECTED_VM, a private access where no memslot is, or where the memslot has no
// guest_memfd, exits KVM_EXIT_MEMORY_FAULT {PRIVATE, gpa, 4096}.
TEST_P(Upstream, PrivateMemKvmExitsTest_PrivateAccessWithoutAPrivateSlot) {
  if (GetParam().name != "sim") GTEST_SKIP() << GetParam().name << ": needs a guest program (simulated guests only)";
  std::string why;
  auto s = sw_protected_vm(*backend_, *kvm_, 0x10000000, 1, &why);
  if (!s) GTEST_SKIP() << why;
  constexpr std::uint64_t kDeleted = 0x40000000, kNotPrivate = 0x50000000;
  auto mem = api::UserMemory::alloc(*backend_, kPage);
  ASSERT_TRUE(mem);
  uapi::kvm_userspace_memory_region2 r = region2(7, 0, kNotPrivate, kPage, 0, 0);  // flags 0: no guest_memfd
  r.userspace_addr = mem->addr();
  ASSERT_EQ(errno_of(s->vm.set_user_memory_region2(r)), 0);
  for (std::uint64_t gpa : {kDeleted, kNotPrivate}) {
    uapi::kvm_memory_attributes a;
    a.address = gpa;
    a.size = kPage;
    a.attributes = uapi::KVM_MEMORY_ATTRIBUTE_PRIVATE;
    ASSERT_EQ(errno_of(s->vm.set_memory_attributes(a)), 0);
    ASSERT_TRUE(api::sim_load_guest(*backend_, s->vcpu.handle(), {model::kvm::GuestOp::read(gpa, true)}));
    auto x = s->vcpu.run();
    ASSERT_TRUE(x) << x.error().to_string();
    EXPECT_EQ(x->exit_reason, uapi::KVM_EXIT_MEMORY_FAULT) << std::hex << gpa;
    EXPECT_EQ(x->memory_fault.flags, uapi::KVM_MEMORY_EXIT_FLAG_PRIVATE);
    EXPECT_EQ(x->memory_fault.gpa, gpa);
    EXPECT_EQ(x->memory_fault.size, kPage);
  }
}

// guest_test_explicit_conversion() and guest_test_punch_hole() on a KVM_X86_SW_PROTECTED_VM:
// the guest asks for each conversion with KVM_HC_MAP_GPA_RANGE, the VMM answers as
// handle_exit_hypercall() does (set the attributes; punch the guest_memfd hole when mapping
// shared with "fallocate"); what the guest wrote privately never shows through the shared
// mapping, the shared data survives a private phase, private data survives a shared phase
// unless the hole is punched, and a punched page reads as zero when it is private again.
TEST_P(Upstream, PrivateMemConversionsTest_ExplicitConversionAndPunchHole) {
  if (GetParam().name != "sim") GTEST_SKIP() << GetParam().name << ": needs a guest program (simulated guests only)";
  constexpr std::uint64_t kBase = 1ULL << 32;  // BASE_DATA_GPA
  std::string why;
  auto s = sw_protected_vm(*backend_, *kvm_, kBase, 1, &why);
  if (!s) GTEST_SKIP() << why;
  using model::kvm::GuestOp;
  ASSERT_TRUE(api::sim_load_guest(*backend_, s->vcpu.handle(),
                                  {GuestOp::write(kBase, false, 0xAA),                                 // shared
                                   GuestOp::map_gpa_range(kBase, 1, true), GuestOp::write(kBase, true, 0xBB),
                                   GuestOp::read(kBase, true),                                         // 0xbb
                                   GuestOp::map_gpa_range(kBase, 1, false), GuestOp::read(kBase, false),  // 0xaa
                                   GuestOp::map_gpa_range(kBase, 1, true), GuestOp::read(kBase, true),    // 0xbb
                                   GuestOp::map_gpa_range(kBase, 1, false),  // the VMM punches the hole
                                   GuestOp::map_gpa_range(kBase, 1, true), GuestOp::read(kBase, true),    // 0x00
                                   GuestOp::halt()}));
  int conversions = 0;
  for (;;) {
    auto x = s->vcpu.run();
    ASSERT_TRUE(x) << x.error().to_string();
    if (x->exit_reason == uapi::KVM_EXIT_HLT) break;
    ASSERT_EQ(x->exit_reason, uapi::KVM_EXIT_HYPERCALL);
    ASSERT_EQ(x->hypercall.nr, uapi::KVM_HC_MAP_GPA_RANGE);
    const bool to_private = (x->hypercall.args[2] & uapi::KVM_MAP_GPA_RANGE_ENCRYPTED) != 0;
    ++conversions;
    if (conversions == 4) {  // mapping shared "with fallocate": PUNCH_HOLE on the guest_memfd
      ASSERT_EQ(fallocate(s->gmem, kKeep | kPunch, 0, kPage), 0);
    }
    uapi::kvm_memory_attributes a;
    a.address = x->hypercall.args[0];
    a.size = x->hypercall.args[1] * kPage;
    a.attributes = to_private ? uapi::KVM_MEMORY_ATTRIBUTE_PRIVATE : 0;
    ASSERT_EQ(errno_of(s->vm.set_memory_attributes(a)), 0);
    ASSERT_TRUE(s->vcpu.set_exit_ret(0));
  }
  EXPECT_EQ(conversions, 5);
  const model::kvm::GuestLog* log = api::sim_guest_log(*backend_, s->vcpu.handle());
  ASSERT_NE(log, nullptr);
  std::vector<std::string> reads;
  for (const std::string& line : *log) {
    if (line.rfind("read ", 0) == 0) reads.push_back(line);
  }
  EXPECT_EQ(reads, (std::vector<std::string>{"read 0x100000000 (private): 0xbb", "read 0x100000000 (shared): 0xaa",
                                             "read 0x100000000 (private): 0xbb", "read 0x100000000 (private): 0x00"}));
}

// ---- x86/sev_smoke_test.c and lib/x86/sev.c (upstream, newer than 6.12): the SNP parts --------

// test_sev_smoke(guest_snp_code, KVM_X86_SNP_VM, snp_default_policy()), its test_sev() with
// the policy and with SNP_POLICY_DBG: vm_sev_launch() of an SNP VM - KVM_CAP_EXIT_HYPERCALL,
// SNP_LAUNCH_START {policy}, SNP_LAUNCH_UPDATE of the private memory as NORMAL pages,
// SNP_LAUNCH_FINISH {0}, each ioctl succeeding - then the guest's GHCB MSR termination request
// exits KVM_EXIT_SYSTEM_EVENT {SEV_TERM, ndata 1, data[0] GHCB_MSR_TERM_REQ}. The launch runs on
// both backends where SNP is offered; the guest (a guest program) on the sim only.
TEST_P(Upstream, SevSmokeTest_SnpLaunchAndTermination) {
  if (!offers(uapi::KVM_X86_SNP_VM)) {
    GTEST_SKIP() << GetParam().name << ": KVM_X86_SNP_VM (4) not in KVM_CAP_VM_TYPES (0x" << fmt_hex(vm_types()) << ")";
  }
  auto sev = api::SevDevice::open(*backend_);
  if (!sev) GTEST_SKIP() << GetParam().name << ": " << sev.error().to_string();
  const auto sev_fd = static_cast<std::uint32_t>(sev->handle());
  constexpr std::uint64_t kSnpPolicySmt = 1ULL << 16, kSnpPolicyRsvdMbo = 1ULL << 17, kSnpPolicyDbg = 1ULL << 19;
  constexpr std::uint64_t kGhcbMsrTermReq = 0x100;
  for (const std::uint64_t policy : {kSnpPolicySmt | kSnpPolicyRsvdMbo | kSnpPolicyDbg, kSnpPolicySmt | kSnpPolicyRsvdMbo}) {
    SCOPED_TRACE(fmt_hex(static_cast<int>(policy)));
    auto vm = kvm_->create_vm(uapi::KVM_X86_SNP_VM);
    ASSERT_TRUE(vm) << vm.error().to_string();
    uapi::kvm_sev_init init;
    ASSERT_EQ(errno_of(vm->memory_encrypt_op(uapi::KVM_SEV_INIT2, &init, sev_fd)), 0);
    auto g = gmem(*vm, kPage);
    auto mem = api::UserMemory::alloc(*backend_, kPage);
    ASSERT_TRUE(g && mem);
    uapi::kvm_userspace_memory_region2 r =
        region2(kRegionSlot, uapi::KVM_MEM_GUEST_MEMFD, 0, kPage, static_cast<std::uint64_t>(g->handle()), 0);
    r.userspace_addr = mem->addr();
    ASSERT_EQ(errno_of(vm->set_user_memory_region2(r)), 0);
    uapi::kvm_memory_attributes a;
    a.size = kPage;
    a.attributes = uapi::KVM_MEMORY_ATTRIBUTE_PRIVATE;
    ASSERT_EQ(errno_of(vm->set_memory_attributes(a)), 0);
    auto vcpu = vm->create_vcpu(0);
    ASSERT_TRUE(vcpu) << vcpu.error().to_string();
    uapi::kvm_enable_cap cap;
    cap.cap = uapi::KVM_CAP_EXIT_HYPERCALL;
    cap.args[0] = 1ULL << uapi::KVM_HC_MAP_GPA_RANGE;
    ASSERT_EQ(errno_of(vm->enable_cap(cap)), 0);
    uapi::kvm_sev_snp_launch_start start;
    start.policy = policy;
    ASSERT_EQ(errno_of(vm->memory_encrypt_op(uapi::KVM_SEV_SNP_LAUNCH_START, &start, sev_fd)), 0);
    uapi::kvm_sev_snp_launch_update update;
    update.gfn_start = 0;
    update.uaddr = mem->addr();
    update.len = kPage;
    update.type = uapi::KVM_SEV_SNP_PAGE_TYPE_NORMAL;
    ASSERT_EQ(errno_of(vm->memory_encrypt_op(uapi::KVM_SEV_SNP_LAUNCH_UPDATE, &update, sev_fd)), 0);
    EXPECT_EQ(update.len, 0U);  // every page was measured
    uapi::kvm_sev_snp_launch_finish finish;
    ASSERT_EQ(errno_of(vm->memory_encrypt_op(uapi::KVM_SEV_SNP_LAUNCH_FINISH, &finish, sev_fd)), 0);
    if (GetParam().name != "sim") continue;  // the guest needs a guest program
    ASSERT_TRUE(api::sim_load_guest(*backend_, vcpu->handle(), {model::kvm::GuestOp::terminate()}));
    auto x = vcpu->run();
    ASSERT_TRUE(x) << x.error().to_string();
    EXPECT_EQ(x->exit_reason, uapi::KVM_EXIT_SYSTEM_EVENT);
    EXPECT_EQ(x->system_event.type, uapi::KVM_SYSTEM_EVENT_SEV_TERM);
    EXPECT_EQ(x->system_event.ndata, 1U);
    EXPECT_EQ(x->system_event.data0, kGhcbMsrTermReq);
  }
}

INSTANTIATE_TEST_SUITE_P(AllBackends, Upstream, all_backends(), [](const auto& p) { return p.param.name; });

}  // namespace
}  // namespace snplab::test
