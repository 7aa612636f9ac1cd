// The hw backend on this machine's real /dev/kvm, through the api handles. Each expectation
// is the kernel's own answer, observed on Linux 6.18 without SEV (docs/hw-backend.md lists
// them) and, where 6.12 answers differently, written in terms of what the kernel advertises
// (a capability's value), so an EPYC host on 6.12 passes too; tests whose premise needs a
// different host skip, naming what is there.
#include <gtest/gtest.h>

#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "snp/api/kvm.h"
#include "snp/api/sim_backend.h"
#include "snp/hw/kvm_backend.h"

namespace snplab::hw {
namespace {

namespace uapi = uapi;

constexpr std::uint64_t kPage = 4096;
constexpr int kFallocKeepSize = 0x01;   // <linux/falloc.h>
constexpr int kFallocPunchHole = 0x02;  // <linux/falloc.h>

std::size_t open_fd_count() {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

/// Mappings of a vCPU fd (the kvm_run areas): "anon_inode:kvm-vcpu:N" in /proc/self/maps.
std::size_t vcpu_mapping_count() {
  std::ifstream maps("/proc/self/maps");
  std::size_t n = 0;
  for (std::string line; std::getline(maps, line);) {
    if (line.find("kvm-vcpu") != std::string::npos) ++n;
  }
  return n;
}

/// The vendor module behind /dev/kvm: vCPU execution (not the ioctls) depends on it. This
/// machine's is kvm_pvm (PVM, a page-table based nested hypervisor: real mode is emulated).
bool kvm_is_pvm() { return std::filesystem::exists("/sys/module/kvm_pvm"); }

/// Vcpu::run(), interrupted by SIGUSR1 (KVM_RUN then fails with EINTR) if it has not
/// returned within `limit`, so that a guest that loops fails the test instead of hanging it.
api::Result<api::RunExit> run_bounded(api::Vcpu& vcpu, std::chrono::milliseconds limit = std::chrono::seconds(5)) {
  static const bool installed = [] {
    struct sigaction sa {};
    sa.sa_handler = [](int) {};  // no SA_RESTART: the ioctl returns EINTR
    sigemptyset(&sa.sa_mask);
    return ::sigaction(SIGUSR1, &sa, nullptr) == 0;
  }();
  EXPECT_TRUE(installed);
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  const pthread_t runner = ::pthread_self();
  std::thread watchdog([&] {
    std::unique_lock<std::mutex> lock(mu);
    if (cv.wait_for(lock, limit, [&] { return done; })) return;
    while (!done) {  // repeat: a signal that lands before KVM_RUN blocks is lost
      ::pthread_kill(runner, SIGUSR1);
      cv.wait_for(lock, std::chrono::milliseconds(10), [&] { return done; });
    }
  });
  auto r = vcpu.run();
  {
    const std::lock_guard<std::mutex> lock(mu);
    done = true;
  }
  cv.notify_one();
  watchdog.join();
  return r;
}

uapi::kvm_userspace_memory_region2 region(std::uint32_t slot, std::uint64_t gpa, std::uint64_t size,
                                          std::uint64_t uaddr, std::uint32_t flags = 0) {
  uapi::kvm_userspace_memory_region2 r;
  r.slot = slot;
  r.flags = flags;
  r.guest_phys_addr = gpa;
  r.memory_size = size;
  r.userspace_addr = uaddr;
  return r;
}

uapi::kvm_create_guest_memfd gmem_args(std::uint64_t size, std::uint64_t flags) {
  uapi::kvm_create_guest_memfd g;
  g.size = size;
  g.flags = flags;
  return g;
}

template <class T>
void expect_fails(const api::Result<T>& r, api::Op op, int errno_value) {
  ASSERT_FALSE(r.has_value()) << op << " succeeded, expected errno " << errno_value;
  EXPECT_EQ(r.error().op, op) << r.error().to_string();
  EXPECT_EQ(r.error().errno_value, errno_value) << r.error().to_string();
  EXPECT_EQ(r.error().fw, api::FwStatus::NoFwCall) << r.error().to_string();
}

/// guest_memfd, where the kernel offers it (KVM_CAP_GUEST_MEMFD): PVM-based hosts and kernels
/// before 6.8 do not, and a test of guest_memfd then skips, naming the capability.
bool has_gmem(api::Vm& vm) {
  const auto cap = vm.check_extension(uapi::KVM_CAP_GUEST_MEMFD);
  return cap && *cap > 0;
}
#define SNPLAB_REQUIRE_GMEM(vm) \
  if (!has_gmem(vm)) GTEST_SKIP() << "KVM_CAP_GUEST_MEMFD (234) is 0 on this kernel: no guest_memfd"

class KvmBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto b = make_kvm_backend();
    if (!b) GTEST_SKIP() << "hw: open /dev/kvm: errno=" << b.error().errno_value;
    backend_ = std::move(*b);
    auto k = api::Kvm::open(*backend_);
    ASSERT_TRUE(k.has_value()) << k.error().to_string();
    kvm_.emplace(std::move(*k));
  }

  KvmBackend& hw() { return static_cast<KvmBackend&>(*backend_); }

  api::Vm create_vm() {
    auto vm = kvm_->create_vm();
    EXPECT_TRUE(vm.has_value()) << vm.error().to_string();
    return std::move(*vm);
  }

  api::UserMemory alloc(std::uint64_t size) {
    auto m = api::UserMemory::alloc(*backend_, size);
    EXPECT_TRUE(m.has_value()) << m.error().to_string();
    return std::move(*m);
  }

  /// A VM with one memslot at GPA 0 holding `code` at `entry`, and vCPU 0 in real mode at
  /// RIP `entry`. Unless the code is at 0, GPA 0 and 0xF4 hold `hlt` and the zeroed IVT
  /// sends every exception there: a guest that faults halts instead of looping.
  struct Guest {
    api::Vm vm;
    api::UserMemory mem;
    api::Vcpu vcpu;
  };
  std::optional<Guest> real_mode_guest(const std::vector<std::uint8_t>& code, std::uint64_t entry = 0x1000,
                                       std::uint64_t mem_size = 2 * kPage) {
    api::Vm vm = create_vm();
    api::UserMemory mem = alloc(mem_size);
    if (entry != 0) {
      EXPECT_TRUE(mem.write(0, std::vector<std::uint8_t>{0xF4}).has_value());
      EXPECT_TRUE(mem.write(0xF4, std::vector<std::uint8_t>{0xF4}).has_value());
    }
    EXPECT_TRUE(mem.write(entry, code).has_value());
    auto st = vm.set_user_memory_region2(region(0, 0, mem_size, mem.addr()));
    EXPECT_TRUE(st.has_value()) << st.error().to_string();
    auto vcpu = vm.create_vcpu(0);
    EXPECT_TRUE(vcpu.has_value()) << vcpu.error().to_string();
    if (!st || !vcpu) return std::nullopt;
    auto start = set_real_mode_entry(*vcpu, entry);
    EXPECT_TRUE(start.has_value()) << start.error().to_string();
    if (!start) return std::nullopt;
    return Guest{std::move(vm), std::move(mem), std::move(*vcpu)};
  }

  std::unique_ptr<api::Backend> backend_;
  std::optional<api::Kvm> kvm_;
};

// ---- factory, system fd ------------------------------------------------------------------

TEST(KvmBackendFactory, MissingKvmDevice_FailsWithOpenErrno) {
  auto b = make_kvm_backend("/nonexistent/kvm", "/nonexistent/sev");
  ASSERT_FALSE(b.has_value());
  EXPECT_EQ(b.error().op, snplab::api::Op::OpenDevKvm);
  EXPECT_EQ(b.error().errno_value, ENOENT);
  EXPECT_EQ(b.error().fw, api::FwStatus::NoFwCall);
}

TEST_F(KvmBackendTest, Name_IsHw) { EXPECT_EQ(backend_->name(), "hw"); }

TEST_F(KvmBackendTest, GetApiVersion_Is12) {
  auto v = kvm_->get_api_version();
  ASSERT_TRUE(v.has_value()) << v.error().to_string();
  EXPECT_EQ(*v, 12);
}

TEST_F(KvmBackendTest, CheckExtension_AnswersOnSystemAndVmFd) {
  auto sys = kvm_->check_extension(uapi::KVM_CAP_USER_MEMORY2);
  ASSERT_TRUE(sys.has_value()) << sys.error().to_string();
  EXPECT_EQ(*sys, 1);
  api::Vm vm = create_vm();
  auto on_vm = vm.check_extension(uapi::KVM_CAP_USER_MEMORY2);
  ASSERT_TRUE(on_vm.has_value()) << on_vm.error().to_string();
  EXPECT_EQ(*on_vm, 1);
  auto unknown = vm.check_extension(100000);  // no such capability: 0, not an error
  ASSERT_TRUE(unknown.has_value()) << unknown.error().to_string();
  EXPECT_EQ(*unknown, 0);
}

TEST_F(KvmBackendTest, Handles_AreNonZeroFds) {
  api::Vm vm = create_vm();
  EXPECT_NE(kvm_->handle(), 0U);
  EXPECT_NE(vm.handle(), 0U);
  EXPECT_NE(vm.handle(), kvm_->handle());
  EXPECT_TRUE(std::filesystem::exists("/proc/self/fd/" + std::to_string(vm.handle())));
}

TEST_F(KvmBackendTest, UnknownHandle_FailsEbadfWithoutReachingTheKernel) {
  expect_fails(backend_->kvm_get_api_version(0), api::Op::KvmGetApiVersion, EBADF);
  expect_fails(backend_->kvm_create_vm(1U << 20, 0), api::Op::KvmCreateVm, EBADF);
  expect_fails(backend_->kvm_run(1), api::Op::KvmRun, EBADF);  // stdout is not the backend's
  backend_->close(1);                                     // ignored: stdout stays open
  EXPECT_TRUE(std::filesystem::exists("/proc/self/fd/1"));
}

// ---- VM types ---------------------------------------------------------------------------

TEST_F(KvmBackendTest, CreateVm_Default_Succeeds) {
  auto vm = kvm_->create_vm(uapi::KVM_X86_DEFAULT_VM);
  ASSERT_TRUE(vm.has_value()) << vm.error().to_string();
}

TEST_F(KvmBackendTest, CreateVm_SnpType_FailsEinvalWithoutSnp) {
  auto types = kvm_->check_extension(uapi::KVM_CAP_VM_TYPES);
  ASSERT_TRUE(types.has_value());
  if ((*types & (1 << uapi::KVM_X86_SNP_VM)) != 0) GTEST_SKIP() << "hw: KVM_X86_SNP_VM is supported here";
  // kvm_arch_init_vm: a type outside KVM_CAP_VM_TYPES is EINVAL.
  expect_fails(kvm_->create_vm(uapi::KVM_X86_SNP_VM), api::Op::KvmCreateVm, EINVAL);
}

TEST_F(KvmBackendTest, CreateVm_EveryTypeOutsideVmTypes_FailsEinval) {
  auto types = kvm_->check_extension(uapi::KVM_CAP_VM_TYPES);
  ASSERT_TRUE(types.has_value());
  for (unsigned long type = 1; type < 32; ++type) {
    if ((static_cast<unsigned>(*types) & (1U << type)) != 0) continue;
    SCOPED_TRACE(testing::Message() << "type " << type);
    expect_fails(kvm_->create_vm(type), api::Op::KvmCreateVm, EINVAL);
  }
}

// ---- memslots (KVM_SET_USER_MEMORY_REGION2) -----------------------------------------------

TEST_F(KvmBackendTest, Memslot_AlignedRegion_Succeeds) {
  api::Vm vm = create_vm();
  api::UserMemory mem = alloc(4 * kPage);
  auto st = vm.set_user_memory_region2(region(0, 0x100000, 4 * kPage, mem.addr()));
  EXPECT_TRUE(st.has_value()) << st.error().to_string();
}

TEST_F(KvmBackendTest, Memslot_Misaligned_FailsEinval) {
  api::Vm vm = create_vm();
  api::UserMemory mem = alloc(4 * kPage);
  expect_fails(vm.set_user_memory_region2(region(0, 0x100000 + 0x800, 2 * kPage, mem.addr())),
               api::Op::KvmSetUserMemoryRegion2, EINVAL);
  expect_fails(vm.set_user_memory_region2(region(0, 0x100000, 2 * kPage + 0x800, mem.addr())),
               api::Op::KvmSetUserMemoryRegion2, EINVAL);
  expect_fails(vm.set_user_memory_region2(region(0, 0x100000, 2 * kPage, mem.addr() + 0x800)),
               api::Op::KvmSetUserMemoryRegion2, EINVAL);
}

TEST_F(KvmBackendTest, Memslot_OverlappingSlot_FailsEexist) {
  api::Vm vm = create_vm();
  api::UserMemory mem = alloc(8 * kPage);
  ASSERT_TRUE(vm.set_user_memory_region2(region(0, 0x100000, 4 * kPage, mem.addr())).has_value());
  expect_fails(vm.set_user_memory_region2(region(1, 0x100000 + 2 * kPage, 4 * kPage, mem.addr() + 4 * kPage)),
               api::Op::KvmSetUserMemoryRegion2, EEXIST);
  // Adjacent is fine.
  EXPECT_TRUE(
      vm.set_user_memory_region2(region(1, 0x100000 + 4 * kPage, 4 * kPage, mem.addr() + 4 * kPage)).has_value());
}

TEST_F(KvmBackendTest, Memslot_DeleteWithSizeZero_FreesTheRange) {
  api::Vm vm = create_vm();
  api::UserMemory mem = alloc(4 * kPage);
  ASSERT_TRUE(vm.set_user_memory_region2(region(0, 0x100000, 4 * kPage, mem.addr())).has_value());
  auto del = vm.set_user_memory_region2(region(0, 0x100000, 0, mem.addr()));
  ASSERT_TRUE(del.has_value()) << del.error().to_string();
  // The range is free again: another slot may take it.
  auto again = vm.set_user_memory_region2(region(1, 0x100000, 4 * kPage, mem.addr()));
  EXPECT_TRUE(again.has_value()) << again.error().to_string();
}

TEST_F(KvmBackendTest, Memslot_FlagSweep_UndefinedBitsFailEinval) {
  api::Vm vm = create_vm();
  api::UserMemory mem = alloc(kPage);
  for (std::uint32_t bit = 0; bit < 32; ++bit) {
    const std::uint32_t flag = 1U << bit;
    if (flag == uapi::KVM_MEM_GUEST_MEMFD) continue;  // needs a guest_memfd: tested below
    auto st = vm.set_user_memory_region2(region(0, 0x100000, kPage, mem.addr(), flag));
    if (flag == uapi::KVM_MEM_LOG_DIRTY_PAGES || flag == uapi::KVM_MEM_READONLY) {
      EXPECT_TRUE(st.has_value()) << "flag bit " << bit << ": " << st.error().to_string();
      ASSERT_TRUE(vm.set_user_memory_region2(region(0, 0x100000, 0, mem.addr(), flag)).has_value());
    } else {
      SCOPED_TRACE(testing::Message() << "flag bit " << bit);
      expect_fails(st, api::Op::KvmSetUserMemoryRegion2, EINVAL);
    }
  }
}

// ---- guest_memfd -----------------------------------------------------------------------------

TEST_F(KvmBackendTest, GuestMemfd_FlagsForDefaultVm_EveryAdvertisedCombinationAccepted) {
  api::Vm vm = create_vm();
  SNPLAB_REQUIRE_GMEM(vm);
  auto cap = vm.check_extension(uapi::KVM_CAP_GUEST_MEMFD_FLAGS);
  ASSERT_TRUE(cap.has_value()) << cap.error().to_string();
  // What the VM advertises, whatever the kernel version: 0 on 6.12 (no such capability: only
  // flags 0), MMAP | INIT_SHARED on 6.18 (a default VM's memory is all shared). Only flags the
  // uAPI defines may be advertised.
  const auto supported = static_cast<std::uint64_t>(*cap);
  EXPECT_EQ(supported & ~(uapi::GUEST_MEMFD_FLAG_MMAP | uapi::GUEST_MEMFD_FLAG_INIT_SHARED), 0U)
      << "KVM_CAP_GUEST_MEMFD_FLAGS = 0x" << std::hex << supported << " names a flag the uAPI does not define";
  for (std::uint64_t flags = 0; flags <= supported; ++flags) {
    if ((flags & ~supported) != 0) continue;
    SCOPED_TRACE(testing::Message() << "flags 0x" << std::hex << flags);
    auto g = vm.create_guest_memfd(gmem_args(4 * kPage, flags));
    EXPECT_TRUE(g.has_value()) << g.error().to_string();
  }
}

TEST_F(KvmBackendTest, GuestMemfd_ReservedWords_AreNotChecked) {
  // kvm_gmem_create (6.12 and 6.18) looks at size and flags only; reserved[] may be nonzero.
  api::Vm vm = create_vm();
  SNPLAB_REQUIRE_GMEM(vm);
  auto args = gmem_args(kPage, 0);
  args.reserved[0] = 1;
  auto g = vm.create_guest_memfd(args);
  EXPECT_TRUE(g.has_value()) << g.error().to_string();
}

TEST_F(KvmBackendTest, GuestMemfd_UndefinedFlags_FailEinval) {
  api::Vm vm = create_vm();
  SNPLAB_REQUIRE_GMEM(vm);
  auto cap = vm.check_extension(uapi::KVM_CAP_GUEST_MEMFD_FLAGS);
  ASSERT_TRUE(cap.has_value());
  const auto supported = static_cast<std::uint64_t>(*cap);
  for (std::uint32_t bit = 0; bit < 64; ++bit) {
    const std::uint64_t flag = std::uint64_t{1} << bit;
    if ((supported & flag) != 0) continue;
    SCOPED_TRACE(testing::Message() << "flag bit " << bit);
    expect_fails(vm.create_guest_memfd(gmem_args(kPage, flag)), api::Op::KvmCreateGuestMemfd, EINVAL);
  }
}

TEST_F(KvmBackendTest, GuestMemfd_ZeroOrMisalignedSize_FailsEinval) {
  api::Vm vm = create_vm();
  SNPLAB_REQUIRE_GMEM(vm);
  expect_fails(vm.create_guest_memfd(gmem_args(0, 0)), api::Op::KvmCreateGuestMemfd, EINVAL);
  expect_fails(vm.create_guest_memfd(gmem_args(kPage + 1, 0)), api::Op::KvmCreateGuestMemfd, EINVAL);
  expect_fails(vm.create_guest_memfd(gmem_args(kPage / 2, 0)), api::Op::KvmCreateGuestMemfd, EINVAL);
}

TEST_F(KvmBackendTest, GuestMemfd_PunchHole_SucceedsAlignedFailsMisaligned) {
  api::Vm vm = create_vm();
  SNPLAB_REQUIRE_GMEM(vm);
  auto g = vm.create_guest_memfd(gmem_args(8 * kPage, 0));
  ASSERT_TRUE(g.has_value()) << g.error().to_string();
  // Allocate (guest_memfd insists on KEEP_SIZE), then discard.
  auto fill = backend_->gmem_fallocate(g->handle(), kFallocKeepSize, 0, 8 * kPage);
  EXPECT_TRUE(fill.has_value()) << fill.error().to_string();
  auto punch = g->punch_hole(2 * kPage, 2 * kPage);
  EXPECT_TRUE(punch.has_value()) << punch.error().to_string();
  expect_fails(g->punch_hole(0x800, kPage), api::Op::Fallocate, EINVAL);      // misaligned offset
  expect_fails(g->punch_hole(0, kPage + 0x800), api::Op::Fallocate, EINVAL);  // misaligned length
  // Past the end of the file: punching is accepted (nothing to discard), allocating is not.
  EXPECT_TRUE(g->punch_hole(8 * kPage, kPage).has_value());
  expect_fails(backend_->gmem_fallocate(g->handle(), kFallocKeepSize, 8 * kPage, kPage), api::Op::Fallocate, EINVAL);
  // guest_memfd supports only KEEP_SIZE allocation and PUNCH_HOLE|KEEP_SIZE.
  expect_fails(backend_->gmem_fallocate(g->handle(), 0, 0, kPage), api::Op::Fallocate, EOPNOTSUPP);
  expect_fails(backend_->gmem_fallocate(g->handle(), kFallocPunchHole, 0, kPage), api::Op::Fallocate, EOPNOTSUPP);
}

TEST_F(KvmBackendTest, GuestMemfd_BindsToAMemslot) {
  api::Vm vm = create_vm();
  SNPLAB_REQUIRE_GMEM(vm);
  auto g = vm.create_guest_memfd(gmem_args(4 * kPage, 0));
  ASSERT_TRUE(g.has_value()) << g.error().to_string();
  api::UserMemory mem = alloc(4 * kPage);
  auto r = region(0, 0x200000, 4 * kPage, mem.addr(), uapi::KVM_MEM_GUEST_MEMFD);
  r.guest_memfd = static_cast<std::uint32_t>(g->handle());  // Handle == fd
  auto st = vm.set_user_memory_region2(r);
  EXPECT_TRUE(st.has_value()) << st.error().to_string();
  // Past the end of the guest_memfd: EINVAL.
  auto past = region(1, 0x400000, 4 * kPage, mem.addr(), uapi::KVM_MEM_GUEST_MEMFD);
  past.guest_memfd = static_cast<std::uint32_t>(g->handle());
  past.guest_memfd_offset = 2 * kPage;
  expect_fails(vm.set_user_memory_region2(past), api::Op::KvmSetUserMemoryRegion2, EINVAL);
  // guest_memfd naming a fd that is not a guest_memfd (the VM's own): EINVAL.
  auto wrong = region(1, 0x400000, 4 * kPage, mem.addr(), uapi::KVM_MEM_GUEST_MEMFD);
  wrong.guest_memfd = static_cast<std::uint32_t>(vm.handle());
  expect_fails(vm.set_user_memory_region2(wrong), api::Op::KvmSetUserMemoryRegion2, EINVAL);
}

TEST_F(KvmBackendTest, GuestMemfd_MmapWithoutTheFlag_FailsEnodev) {
  api::Vm vm = create_vm();
  SNPLAB_REQUIRE_GMEM(vm);
  auto g = vm.create_guest_memfd(gmem_args(4 * kPage, 0));
  ASSERT_TRUE(g.has_value()) << g.error().to_string();
  // 6.12 has no guest_memfd mmap at all, 6.18 only with GUEST_MEMFD_FLAG_MMAP: ENODEV both.
  expect_fails(g->mmap(0, kPage), api::Op::MmapGuestMemfd, ENODEV);
  expect_fails(g->mmap(8, kPage), api::Op::MmapGuestMemfd, EINVAL);  // unaligned offset
}

TEST_F(KvmBackendTest, GuestMemfd_Mmap_WritesReadBackAndAHolePunchedReadsZero) {
  api::Vm vm = create_vm();
  SNPLAB_REQUIRE_GMEM(vm);
  const auto flags = vm.check_extension(uapi::KVM_CAP_GUEST_MEMFD_FLAGS);
  constexpr std::uint64_t kShared = uapi::GUEST_MEMFD_FLAG_MMAP | uapi::GUEST_MEMFD_FLAG_INIT_SHARED;
  if (!flags || (static_cast<std::uint64_t>(*flags) & kShared) != kShared) {
    GTEST_SKIP() << "KVM_CAP_GUEST_MEMFD_FLAGS lacks MMAP | INIT_SHARED on this kernel";
  }
  auto g = vm.create_guest_memfd(gmem_args(2 * kPage, kShared));
  ASSERT_TRUE(g.has_value()) << g.error().to_string();
  auto map = g->mmap(0, 3 * kPage);  // a page past the file's end
  ASSERT_TRUE(map.has_value()) << map.error().to_string();
  const std::vector<std::uint8_t> bytes{1, 2, 3, 4};
  ASSERT_TRUE(map->write(kPage + 8, bytes).has_value());
  std::vector<std::uint8_t> out(4);
  ASSERT_TRUE(map->read(kPage + 8, out).has_value());
  EXPECT_EQ(out, bytes);
  ASSERT_TRUE(g->punch_hole(kPage, kPage).has_value());
  ASSERT_TRUE(map->read(kPage + 8, out).has_value());
  EXPECT_EQ(out, std::vector<std::uint8_t>(4, 0));
  // Past the file's size the kernel's fault handler answers SIGBUS: EFAULT, not a signal.
  expect_fails(map->read(2 * kPage, out), api::Op::UserRead, EFAULT);
}

// ---- CPUID, XSAVE and vCPU attributes -------------------------------------------------------

TEST_F(KvmBackendTest, SupportedCpuid_TooSmallIsE2bigEnoughListsTheVendorLeaf) {
  expect_fails(kvm_->get_supported_cpuid(0), api::Op::KvmGetSupportedCpuid, E2BIG);
  expect_fails(kvm_->get_supported_cpuid(1), api::Op::KvmGetSupportedCpuid, E2BIG);
  auto all = kvm_->get_supported_cpuid(1000);  // taken as KVM_MAX_CPUID_ENTRIES
  ASSERT_TRUE(all.has_value()) << all.error().to_string();
  ASSERT_FALSE(all->empty());
  EXPECT_EQ((*all)[0].function, 0U);
  EXPECT_GE((*all)[0].eax, 1U);  // the highest basic leaf
}

TEST_F(KvmBackendTest, SetCpuid2_RoundTripsAndRefusesWhatTheKernelRefuses) {
  api::Vm vm = create_vm();
  auto vcpu = vm.create_vcpu(0);
  ASSERT_TRUE(vcpu.has_value()) << vcpu.error().to_string();
  auto fresh = vcpu->get_cpuid2();
  ASSERT_TRUE(fresh.has_value()) << fresh.error().to_string();
  EXPECT_TRUE(fresh->empty());
  uapi::kvm_cpuid_entry2 e;
  e.function = 0x80000008;
  e.eax = 0x3030;  // 48 physical, 48 virtual address bits
  ASSERT_TRUE(vcpu->set_cpuid2(std::vector{e}).has_value());
  auto back = vcpu->get_cpuid2(4);
  ASSERT_TRUE(back.has_value()) << back.error().to_string();
  ASSERT_EQ(back->size(), 1U);
  EXPECT_EQ((*back)[0].eax, 0x3030U);
  expect_fails(vcpu->get_cpuid2(0), api::Op::KvmGetCpuid2, E2BIG);
  e.eax = 0x2830;  // a 40-bit virtual address width: not one the MMU knows
  expect_fails(vcpu->set_cpuid2(std::vector{e}), api::Op::KvmSetCpuid2, EINVAL);
  expect_fails(vcpu->set_cpuid2(std::vector<uapi::kvm_cpuid_entry2>(uapi::KVM_MAX_CPUID_ENTRIES + 1)),
               api::Op::KvmSetCpuid2, E2BIG);
}

TEST_F(KvmBackendTest, Xsave_FreshVcpuIsInitialStateAndSetValidatesTheHeader) {
  api::Vm vm = create_vm();
  auto vcpu = vm.create_vcpu(0);
  ASSERT_TRUE(vcpu.has_value()) << vcpu.error().to_string();
  auto x = vcpu->get_xsave();
  ASSERT_TRUE(x.has_value()) << x.error().to_string();
  auto* b = reinterpret_cast<std::uint8_t*>(x->region);
  std::uint16_t fcw;
  std::uint32_t mxcsr;
  std::memcpy(&fcw, b, 2);
  std::memcpy(&mxcsr, b + 24, 4);
  EXPECT_EQ(fcw, 0x37f);
  EXPECT_EQ(mxcsr, 0x1f80U);
  // x87 + SSE with a new XMM0: accepted and read back.
  const std::uint64_t fp_sse = 3;
  std::memcpy(b + 512, &fp_sse, 8);
  b[160] = 0xab;
  ASSERT_TRUE(vcpu->set_xsave(*x).has_value());
  auto y = vcpu->get_xsave();
  ASSERT_TRUE(y.has_value());
  EXPECT_EQ(reinterpret_cast<const std::uint8_t*>(y->region)[160], 0xab);
  // The compacted format (XCOMP_BV bit 63) and reserved MXCSR bits: EINVAL.
  b[527] = 0x80;
  expect_fails(vcpu->set_xsave(*x), api::Op::KvmSetXsave, EINVAL);
  b[527] = 0;
  const std::uint32_t bad = 0x1f80U | 1U << 16;
  std::memcpy(b + 24, &bad, 4);
  expect_fails(vcpu->set_xsave(*x), api::Op::KvmSetXsave, EINVAL);
}

TEST_F(KvmBackendTest, DeviceAttr_TscOffsetWritableOthersNot) {
  api::Vm vm = create_vm();
  auto vcpu = vm.create_vcpu(0);
  ASSERT_TRUE(vcpu.has_value()) << vcpu.error().to_string();
  EXPECT_TRUE(vcpu->set_device_attr(uapi::KVM_VCPU_TSC_CTRL, uapi::KVM_VCPU_TSC_OFFSET, 12345).has_value());
  EXPECT_TRUE(vcpu->get_device_attr(uapi::KVM_VCPU_TSC_CTRL, uapi::KVM_VCPU_TSC_OFFSET).has_value());
  expect_fails(vcpu->set_device_attr(5, 0, 0), api::Op::KvmSetDeviceAttr, ENXIO);
  expect_fails(kvm_->set_device_attr(uapi::KVM_X86_GRP_SYSTEM, uapi::KVM_X86_XCOMP_GUEST_SUPP, 0), api::Op::KvmSetDeviceAttr,
               EINVAL);
  expect_fails(backend_->kvm_set_device_attr(vm.handle(), 0, 0, 0), api::Op::KvmSetDeviceAttr, ENOTTY);
}

// ---- memory attributes --------------------------------------------------------------------

TEST_F(KvmBackendTest, SetMemoryAttributes_WithoutTheCapability_FailsAsObserved) {
  auto cap = kvm_->check_extension(uapi::KVM_CAP_MEMORY_ATTRIBUTES);
  ASSERT_TRUE(cap.has_value());
  if (*cap != 0) GTEST_SKIP() << "hw: KVM_CAP_MEMORY_ATTRIBUTES = " << *cap << " here";
  api::Vm vm = create_vm();
  uapi::kvm_memory_attributes a;
  a.address = 0;
  a.size = kPage;
  a.attributes = uapi::KVM_MEMORY_ATTRIBUTE_PRIVATE;
  // Observed on 6.18 (no CONFIG_KVM_GENERIC_MEMORY_ATTRIBUTES for a default VM): ENOTTY.
  expect_fails(vm.set_memory_attributes(a), api::Op::KvmSetMemoryAttributes, ENOTTY);
  a.attributes = 0;
  expect_fails(vm.set_memory_attributes(a), api::Op::KvmSetMemoryAttributes, ENOTTY);
}

// ---- vCPUs that run real code ---------------------------------------------------------------

TEST_F(KvmBackendTest, Run_Hlt_ExitsHlt) {
  auto g = real_mode_guest({0xF4}, 0);  // hlt at GPA 0, RIP 0
  ASSERT_TRUE(g.has_value());
  auto x = run_bounded(g->vcpu);
  ASSERT_TRUE(x.has_value()) << x.error().to_string();
  EXPECT_EQ(x->exit_reason, uapi::KVM_EXIT_HLT);
}

TEST_F(KvmBackendTest, Run_Out_ExitsIoWithThePort) {
  // mov al, 0x42; out 0x10, al; hlt
  auto g = real_mode_guest({0xB0, 0x42, 0xE6, 0x10, 0xF4});
  ASSERT_TRUE(g.has_value());
  auto x = run_bounded(g->vcpu);
  ASSERT_TRUE(x.has_value()) << x.error().to_string();
  ASSERT_EQ(x->exit_reason, uapi::KVM_EXIT_IO);
  EXPECT_EQ(x->io.direction, 1);  // KVM_EXIT_IO_OUT
  EXPECT_EQ(x->io.size, 1);
  EXPECT_EQ(x->io.port, 0x10);
  EXPECT_EQ(x->io.count, 1U);
  const auto data = io_data(g->vcpu);
  ASSERT_EQ(data.size(), 1U);
  EXPECT_EQ(data[0], 0x42);
  auto next = run_bounded(g->vcpu);
  ASSERT_TRUE(next.has_value()) << next.error().to_string();
  EXPECT_EQ(next->exit_reason, uapi::KVM_EXIT_HLT);
  EXPECT_TRUE(io_data(g->vcpu).empty());
}

TEST_F(KvmBackendTest, Run_Ud2InRealMode_ExitsShutdownOnPvm) {
  // PVM emulates real mode and ends the VM on an exception it cannot deliver (observed: ud2
  // and vmmcall give KVM_EXIT_SHUTDOWN). VMX/SVM reflect #UD through the IVT to the hlt at 0.
  if (!kvm_is_pvm()) GTEST_SKIP() << "hw: not kvm_pvm: real-mode #UD goes to the guest's IVT";
  auto g = real_mode_guest({0x0F, 0x0B});  // ud2
  ASSERT_TRUE(g.has_value());
  auto x = run_bounded(g->vcpu);
  ASSERT_TRUE(x.has_value()) << x.error().to_string();
  EXPECT_EQ(x->exit_reason, uapi::KVM_EXIT_SHUTDOWN);
}

TEST_F(KvmBackendTest, Run_MapGpaRangeHypercall_ExitsHypercall) {
  // mov eax, 12; mov ebx, 0x1000; mov ecx, 1; mov edx, 0x10; vmcall; hlt
  auto g = real_mode_guest({0x66, 0xB8, 0x0C, 0x00, 0x00, 0x00, 0x66, 0xBB, 0x00, 0x10, 0x00, 0x00, 0x66, 0xB9,
                            0x01, 0x00, 0x00, 0x00, 0x66, 0xBA, 0x10, 0x00, 0x00, 0x00, 0x0F, 0x01, 0xC1, 0xF4});
  ASSERT_TRUE(g.has_value());
  uapi::kvm_enable_cap cap;
  cap.cap = uapi::KVM_CAP_EXIT_HYPERCALL;
  cap.args[0] = std::uint64_t{1} << uapi::KVM_HC_MAP_GPA_RANGE;
  auto en = g->vm.enable_cap(cap);
  ASSERT_TRUE(en.has_value()) << en.error().to_string();
  // Observed on kvm_pvm: a real-mode vmcall is retried forever (KVM_RUN returns only when
  // interrupted) and vmmcall ends in KVM_EXIT_SHUTDOWN: the hypercall exit needs VMX or SVM.
  if (kvm_is_pvm()) GTEST_SKIP() << "hw: kvm_pvm does not emulate a real-mode vmcall";
  auto x = run_bounded(g->vcpu);
  ASSERT_TRUE(x.has_value()) << x.error().to_string();
  ASSERT_EQ(x->exit_reason, uapi::KVM_EXIT_HYPERCALL);
  EXPECT_EQ(x->hypercall.nr, uapi::KVM_HC_MAP_GPA_RANGE);
  EXPECT_EQ(x->hypercall.args[0], 0x1000U);  // gpa
  EXPECT_EQ(x->hypercall.args[1], 1U);       // npages
  EXPECT_EQ(x->hypercall.args[2], 0x10U);    // ENCRYPTED | PAGE_SZ_4K
  EXPECT_EQ(x->hypercall.ret, 0U);           // KVM pre-zeroes ret (facts §8.5)
  auto next = run_bounded(g->vcpu);          // ret 0: the guest continues to hlt
  ASSERT_TRUE(next.has_value()) << next.error().to_string();
  EXPECT_EQ(next->exit_reason, uapi::KVM_EXIT_HLT);
}

TEST_F(KvmBackendTest, Run_UnbackedMemslot_ReportsTheFaultAsAnExit) {
  // A memslot whose userspace range cannot be faulted in (PROT_NONE), fetched from at GPA 0.
  api::Vm vm = create_vm();
  void* p = ::mmap(nullptr, kPage, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(p, MAP_FAILED);
  const auto uaddr = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(p));
  ASSERT_TRUE(vm.set_user_memory_region2(region(0, 0, kPage, uaddr)).has_value());
  auto vcpu = vm.create_vcpu(0);
  ASSERT_TRUE(vcpu.has_value());
  ASSERT_TRUE(set_real_mode_entry(*vcpu, 0).has_value());
  auto x = run_bounded(*vcpu);
  ::munmap(p, kPage);
  if (kvm_is_pvm()) {
    // Observed: PVM's real-mode emulator cannot read the instruction: KVM_RUN succeeds with
    // KVM_EXIT_INTERNAL_ERROR, suberror KVM_INTERNAL_ERROR_EMULATION (1).
    ASSERT_TRUE(x.has_value()) << x.error().to_string();
    EXPECT_EQ(x->exit_reason, uapi::KVM_EXIT_INTERNAL_ERROR);
    EXPECT_EQ(x->internal_suberror, 1U);
    return;
  }
  // VMX/SVM (not observed here): the NPT/EPT fault fails with EFAULT, and with
  // KVM_EXIT_MEMORY_FAULT filled in where kvm_handle_error_pfn annotates it; the backend
  // returns the exit in that case and the plain EFAULT otherwise.
  if (!x.has_value()) {
    expect_fails(x, api::Op::KvmRun, EFAULT);
    return;
  }
  ASSERT_EQ(x->exit_reason, uapi::KVM_EXIT_MEMORY_FAULT);
  EXPECT_EQ(x->memory_fault.gpa, 0U);
  EXPECT_EQ(x->memory_fault.size, kPage);
  EXPECT_EQ(x->memory_fault.flags & uapi::KVM_MEMORY_EXIT_FLAG_PRIVATE, 0U);
}

TEST_F(KvmBackendTest, Run_InterruptedBySignal_FailsEintr) {
  auto g = real_mode_guest({0xEB, 0xFE});  // jmp $ : spins until interrupted
  ASSERT_TRUE(g.has_value());
  auto x = run_bounded(g->vcpu, std::chrono::milliseconds(200));
  expect_fails(x, api::Op::KvmRun, EINTR);
}

// ---- the KVM_RUN outcome rule on synthetic kvm_run contents ---------------------------------
// Offsets of struct kvm_run (x86): exit_reason at 8, the exit union at 32.

struct FakeRun {
  alignas(8) std::uint8_t bytes[4096] = {};
  void set32(std::size_t off, std::uint32_t v) { std::memcpy(bytes + off, &v, sizeof(v)); }
  void set64(std::size_t off, std::uint64_t v) { std::memcpy(bytes + off, &v, sizeof(v)); }
};

TEST(DecodeKvmRun, EfaultWithMemoryFaultExit_IsTheExitNotAnError) {
  FakeRun run;
  run.set32(8, uapi::KVM_EXIT_MEMORY_FAULT);
  run.set64(32, uapi::KVM_MEMORY_EXIT_FLAG_PRIVATE);  // flags
  run.set64(40, 0x7000);                              // gpa
  run.set64(48, kPage);                               // size
  auto x = decode_kvm_run(-1, EFAULT, run.bytes);
  ASSERT_TRUE(x.has_value()) << x.error().to_string();
  EXPECT_EQ(x->exit_reason, uapi::KVM_EXIT_MEMORY_FAULT);
  EXPECT_EQ(x->memory_fault.flags, uapi::KVM_MEMORY_EXIT_FLAG_PRIVATE);
  EXPECT_EQ(x->memory_fault.gpa, 0x7000U);
  EXPECT_EQ(x->memory_fault.size, kPage);
}

TEST(DecodeKvmRun, OtherErrors_AreErrorsWhateverExitReasonSays) {
  FakeRun run;
  run.set32(8, uapi::KVM_EXIT_MEMORY_FAULT);
  expect_fails(decode_kvm_run(-1, EINTR, run.bytes), api::Op::KvmRun, EINTR);
  run.set32(8, uapi::KVM_EXIT_HLT);
  expect_fails(decode_kvm_run(-1, EFAULT, run.bytes), api::Op::KvmRun, EFAULT);
}

TEST(DecodeKvmRun, SnpReqCertsAndHypercallAndFailEntry_CopyTheirFields) {
  FakeRun run;
  run.set32(8, uapi::KVM_EXIT_SNP_REQ_CERTS);
  run.set64(32, 0x9000);  // gpa
  run.set64(40, 4);       // npages
  run.set64(48, 0);       // ret
  auto certs = decode_kvm_run(0, 0, run.bytes);
  ASSERT_TRUE(certs.has_value());
  EXPECT_EQ(certs->snp_req_certs.gpa, 0x9000U);
  EXPECT_EQ(certs->snp_req_certs.npages, 4U);

  run.set32(8, uapi::KVM_EXIT_HYPERCALL);
  run.set64(32, uapi::KVM_HC_MAP_GPA_RANGE);  // nr
  for (std::size_t i = 0; i < 6; ++i) run.set64(40 + 8 * i, 100 + i);  // args[6]
  run.set64(88, 7);                                                     // ret
  auto hc = decode_kvm_run(0, 0, run.bytes);
  ASSERT_TRUE(hc.has_value());
  EXPECT_EQ(hc->hypercall.nr, uapi::KVM_HC_MAP_GPA_RANGE);
  EXPECT_EQ(hc->hypercall.args[0], 100U);
  EXPECT_EQ(hc->hypercall.args[5], 105U);
  EXPECT_EQ(hc->hypercall.ret, 7U);

  run.set32(8, uapi::KVM_EXIT_FAIL_ENTRY);
  run.set64(32, 0x80000021);  // hardware_entry_failure_reason
  auto fe = decode_kvm_run(0, 0, run.bytes);
  ASSERT_TRUE(fe.has_value());
  EXPECT_EQ(fe->fail_entry_reason, 0x80000021U);

  run.set32(8, uapi::KVM_EXIT_INTERNAL_ERROR);
  run.set32(32, 3);  // suberror
  auto ie = decode_kvm_run(0, 0, run.bytes);
  ASSERT_TRUE(ie.has_value());
  EXPECT_EQ(ie->internal_suberror, 3U);
}

TEST(DecodeKvmRun, SystemEvent_CopiesTypeNdataAndFirstWord) {
  FakeRun run;
  run.set32(8, uapi::KVM_EXIT_SYSTEM_EVENT);
  run.set32(32, uapi::KVM_SYSTEM_EVENT_SEV_TERM);  // type
  run.set32(36, 1);                                // ndata
  run.set64(40, 0x100);                            // data[0]: GHCB termination request
  auto x = decode_kvm_run(0, 0, run.bytes);
  ASSERT_TRUE(x.has_value());
  EXPECT_EQ(x->system_event.type, uapi::KVM_SYSTEM_EVENT_SEV_TERM);
  EXPECT_EQ(x->system_event.ndata, 1U);
  EXPECT_EQ(x->system_event.data0, 0x100U);
}

TEST(EncodeExitRet, WritesTheRetOfHypercallAndCertificateExits) {
  FakeRun run;
  std::uint64_t v = 0;
  run.set32(8, uapi::KVM_EXIT_HYPERCALL);
  ASSERT_TRUE(encode_exit_ret(run.bytes, api::RunCompletion{0xFFFFFFFFFFFFFFEAULL, {}, 0}).has_value());
  std::memcpy(&v, run.bytes + 88, sizeof(v));  // kvm_run.hypercall.ret
  EXPECT_EQ(v, 0xFFFFFFFFFFFFFFEAULL);
  run.set32(8, uapi::KVM_EXIT_SNP_REQ_CERTS);
  ASSERT_TRUE(encode_exit_ret(run.bytes, api::RunCompletion{28, 6, 0}).has_value());  // ENOSPC, 6 pages
  std::memcpy(&v, run.bytes + 48, sizeof(v));  // kvm_run.snp_req_certs.ret
  EXPECT_EQ(v, 28U);
  std::memcpy(&v, run.bytes + 40, sizeof(v));  // kvm_run.snp_req_certs.npages
  EXPECT_EQ(v, 6U);
}

TEST(EncodeExitRet, OtherExits_FailEinvalAndWriteNothing) {
  FakeRun run;
  run.set32(8, uapi::KVM_EXIT_HLT);
  expect_fails(encode_exit_ret(run.bytes, api::RunCompletion{5, {}, 0}), api::Op::KvmRun, EINVAL);
  run.set32(8, uapi::KVM_EXIT_VMGEXIT_SEED);  // 40 is KVM_EXIT_TDX on a real kernel
  expect_fails(encode_exit_ret(run.bytes, api::RunCompletion{0, {}, 0}), api::Op::KvmRun, EINVAL);
  for (std::size_t i = 12; i < sizeof(run.bytes); ++i) ASSERT_EQ(run.bytes[i], 0) << "byte " << i;  // nothing written
}

TEST_F(KvmBackendTest, SetExitRet_BeforeAnyRunAndAfterHlt_FailEinval) {
  auto g = real_mode_guest({0xF4}, 0);
  ASSERT_TRUE(g.has_value());
  expect_fails(g->vcpu.set_exit_ret(0), api::Op::KvmRun, EINVAL);
  auto x = run_bounded(g->vcpu);
  ASSERT_TRUE(x.has_value()) << x.error().to_string();
  ASSERT_EQ(x->exit_reason, uapi::KVM_EXIT_HLT);
  expect_fails(g->vcpu.set_exit_ret(0), api::Op::KvmRun, EINVAL);
}

TEST_F(KvmBackendTest, Registers_RoundTripThroughTheKernel) {
  auto g = real_mode_guest({0xF4}, 0);
  ASSERT_TRUE(g.has_value());
  auto regs = g->vcpu.get_regs();
  ASSERT_TRUE(regs) << regs.error().to_string();
  regs->rbx = 0x1122334455667788ULL;
  regs->rip = 0x10;
  ASSERT_TRUE(g->vcpu.set_regs(*regs));
  auto back = g->vcpu.get_regs();
  ASSERT_TRUE(back);
  EXPECT_EQ(back->rbx, 0x1122334455667788ULL);
  EXPECT_EQ(back->rip, 0x10U);
  auto sregs = g->vcpu.get_sregs();
  ASSERT_TRUE(sregs) << sregs.error().to_string();
  sregs->ds.base = 0x2000;
  sregs->ds.selector = 0x200;
  ASSERT_TRUE(g->vcpu.set_sregs(*sregs));
  auto sback = g->vcpu.get_sregs();
  ASSERT_TRUE(sback);
  EXPECT_EQ(sback->ds.base, 0x2000U);
  EXPECT_EQ(sback->ds.selector, 0x200U);
  expect_fails(backend_->kvm_get_regs(g->vm.handle()), api::Op::KvmGetRegs, ENOTTY);  // a VM fd
}

TEST_F(KvmBackendTest, SimOnlyGuestPrograms_AreRefusedEopnotsupp) {
  auto g = real_mode_guest({0xF4}, 0);
  ASSERT_TRUE(g.has_value());
  expect_fails(api::sim_load_guest(*backend_, g->vcpu.handle(), {}), api::Op::SnplabLoadGuest, EOPNOTSUPP);
  EXPECT_EQ(api::sim_guest_log(*backend_, g->vcpu.handle()), nullptr);
  EXPECT_EQ(api::sim_host(*backend_), nullptr);
}

TEST_F(KvmBackendTest, Run_OnAVmHandle_FailsWithTheKernelsErrno) {
  api::Vm vm = create_vm();
  // KVM_RUN is a vCPU ioctl; kvm_vm_ioctl falls through to kvm_arch_vm_ioctl: ENOTTY.
  expect_fails(backend_->kvm_run(vm.handle()), api::Op::KvmRun, ENOTTY);
}

// ---- /dev/sev and KVM_MEMORY_ENCRYPT_OP ------------------------------------------------------

TEST_F(KvmBackendTest, SevDevice_Missing_FailsOpenEnoent) {
  if (std::filesystem::exists("/dev/sev")) GTEST_SKIP() << "hw: /dev/sev exists here";
  expect_fails(api::SevDevice::open(*backend_), api::Op::OpenDevSev, ENOENT);
}

TEST(KvmBackendFactory, SevDevice_AtAMissingPath_FailsOpenEnoent) {
  auto b = make_kvm_backend("/dev/kvm", "/nonexistent/sev");
  if (!b) GTEST_SKIP() << "hw: open /dev/kvm: errno=" << b.error().errno_value;
  expect_fails(api::SevDevice::open(**b), api::Op::OpenDevSev, ENOENT);
}

TEST_F(KvmBackendTest, MemoryEncryptOp_Init2OnDefaultVm_FailsWithoutFirmware) {
  api::Vm vm = create_vm();
  uapi::kvm_sev_init init;
  std::uint32_t fw = 0;
  auto st = vm.memory_encrypt_op(uapi::KVM_SEV_INIT2, &init, 0, &fw);
  // Observed: ENOTTY - the ioctl never reaches sev.c (no mem_enc_ioctl on this host), so the
  // error field stays at the NO_FW_CALL preset.
  expect_fails(st, api::Op::KvmMemoryEncryptOp, ENOTTY);
  EXPECT_EQ(fw, 0xFFFFFFFFU);
}

// ---- userspace memory ------------------------------------------------------------------------

TEST_F(KvmBackendTest, UserMemory_IsPageAlignedZeroedAndBoundsChecked) {
  auto a = backend_->user_alloc(3 * kPage);
  ASSERT_TRUE(a.has_value()) << a.error().to_string();
  EXPECT_EQ(*a % kPage, 0U);
  const std::vector<std::uint8_t> bytes = {1, 2, 3};
  EXPECT_TRUE(backend_->user_write(*a + kPage, bytes).has_value());
  const auto* p = reinterpret_cast<const std::uint8_t*>(static_cast<std::uintptr_t>(*a));
  EXPECT_EQ(p[0], 0);
  EXPECT_EQ(p[kPage + 2], 3);
  expect_fails(backend_->user_write(*a + 3 * kPage - 1, bytes), api::Op::UserWrite, EFAULT);
  expect_fails(backend_->user_write(*a - kPage, bytes), api::Op::UserWrite, EFAULT);
  expect_fails(backend_->user_free(*a, kPage), api::Op::Munmap, EINVAL);  // not the allocated size
  EXPECT_TRUE(backend_->user_free(*a, 3 * kPage).has_value());
  expect_fails(backend_->user_free(*a, 3 * kPage), api::Op::Munmap, EINVAL);  // already freed
  expect_fails(backend_->user_alloc(0), api::Op::Mmap, EINVAL);
}

// ---- nothing leaks -------------------------------------------------------------------------------

TEST_F(KvmBackendTest, HundredVmCycles_ReleaseEveryFdAndMapping) {
  const std::size_t fds_before = open_fd_count();
  const std::size_t maps_before = vcpu_mapping_count();
  const std::size_t objects_before = hw().open_objects();
  for (int i = 0; i < 100; ++i) {
    SCOPED_TRACE(testing::Message() << "cycle " << i);
    api::Vm vm = create_vm();
    api::UserMemory mem = alloc(2 * kPage);
    ASSERT_TRUE(mem.write(0, std::vector<std::uint8_t>{0xF4}).has_value());
    ASSERT_TRUE(vm.set_user_memory_region2(region(0, 0, 2 * kPage, mem.addr())).has_value());
    std::optional<api::GuestMemfd> g;
    if (has_gmem(vm)) {  // a guest_memfd bound to a memslot too, where the kernel has them
      auto gm = vm.create_guest_memfd(gmem_args(4 * kPage, 0));
      ASSERT_TRUE(gm.has_value()) << gm.error().to_string();
      g.emplace(std::move(*gm));
      auto r = region(1, 0x100000, 4 * kPage, mem.addr(), uapi::KVM_MEM_GUEST_MEMFD);
      r.memory_size = 2 * kPage;
      r.guest_memfd = static_cast<std::uint32_t>(g->handle());
      auto st = vm.set_user_memory_region2(r);
      ASSERT_TRUE(st.has_value()) << st.error().to_string();
    }
    auto vcpu = vm.create_vcpu(0);
    ASSERT_TRUE(vcpu.has_value()) << vcpu.error().to_string();
    ASSERT_TRUE(set_real_mode_entry(*vcpu, 0).has_value());
    auto x = run_bounded(*vcpu);  // maps the kvm_run area
    ASSERT_TRUE(x.has_value()) << x.error().to_string();
    EXPECT_EQ(x->exit_reason, uapi::KVM_EXIT_HLT);
    EXPECT_EQ(vcpu_mapping_count(), maps_before + 1);
  }
  EXPECT_EQ(open_fd_count(), fds_before);
  EXPECT_EQ(vcpu_mapping_count(), maps_before);
  EXPECT_EQ(hw().open_objects(), objects_before);
  EXPECT_EQ(hw().open_user_mappings(), 0U);
}

TEST(KvmBackendFactory, Destructor_ReleasesWhatIsStillOpen) {
  const std::size_t fds_before = open_fd_count();
  const std::size_t maps_before = vcpu_mapping_count();
  {
    auto b = make_kvm_backend();
    if (!b) GTEST_SKIP() << "hw: open /dev/kvm: errno=" << b.error().errno_value;
    api::Backend& be = **b;
    // Raw backend calls, never closed: the backend's destructor must release them.
    auto kvm = be.open_kvm();
    ASSERT_TRUE(kvm.has_value());
    auto vm = be.kvm_create_vm(*kvm, 0);
    ASSERT_TRUE(vm.has_value());
    auto mem = be.user_alloc(kPage);
    ASSERT_TRUE(mem.has_value());
    ASSERT_TRUE(be.user_write(*mem, std::vector<std::uint8_t>{0xF4}).has_value());
    ASSERT_TRUE(be.kvm_set_user_memory_region2(*vm, region(0, 0, kPage, *mem)).has_value());
    const auto gmem_cap = be.kvm_check_extension(*vm, uapi::KVM_CAP_GUEST_MEMFD);
    const bool gmem = gmem_cap && *gmem_cap > 0;
    if (gmem) {
      ASSERT_TRUE(be.kvm_create_guest_memfd(*vm, gmem_args(kPage, 0)).has_value());
    }
    auto vcpu = be.kvm_create_vcpu(*vm, 0);
    ASSERT_TRUE(vcpu.has_value());
    ASSERT_TRUE(static_cast<KvmBackend&>(be).set_real_mode_entry(*vcpu, 0).has_value());
    auto x = be.kvm_run(*vcpu);
    ASSERT_TRUE(x.has_value()) << x.error().to_string();
    EXPECT_GT(open_fd_count(), fds_before);
    EXPECT_EQ(static_cast<KvmBackend&>(be).open_objects(), gmem ? 4U : 3U);
    EXPECT_EQ(static_cast<KvmBackend&>(be).open_user_mappings(), 1U);
  }
  EXPECT_EQ(open_fd_count(), fds_before);
  EXPECT_EQ(vcpu_mapping_count(), maps_before);
}

}  // namespace
}  // namespace snplab::hw
