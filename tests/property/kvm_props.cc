// The backend-parameterised property suite (STYLE.md 3.5): the same properties run on the
// simulator and on the real /dev/kvm, each backend checked against an independent oracle,
// comparing errno (and the firmware status where one exists). hw cases skip with the missing
// device or capability as the reason.
#include <gtest/gtest.h>
#include <rapidcheck.h>

#include <cerrno>
#include <functional>
#include <map>
#include <vector>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "snp/api/kvm.h"
#include "snp/api/sim_backend.h"
#include "snp/hw/kvm_backend.h"
#include "snp/hw/probe.h"
#include "support/backends.h"
#include "ref_memslots.h"  // scenarios/validate: the oracle the validate suite uses too

namespace snplab::test {
namespace {

namespace uapi = uapi;
using validate::RefMemslots;

class BackendProperty : public BackendTest {
 protected:
  /// A default VM with vCPU 0 and, where the kernel has guest_memfd, a 16 KiB guest_memfd.
  void vm_vcpu_gmem(std::optional<api::Vm>& vm, std::optional<api::Vcpu>& vcpu, std::optional<api::GuestMemfd>& gmem) {
    auto v = kvm_->create_vm();
    ASSERT_TRUE(v) << v.error().to_string();
    vm.emplace(std::move(*v));
    auto c = vm->create_vcpu(0);
    ASSERT_TRUE(c) << c.error().to_string();
    vcpu.emplace(std::move(*c));
    if (auto cap = vm->check_extension(uapi::KVM_CAP_GUEST_MEMFD); cap && *cap > 0) {
      uapi::kvm_create_guest_memfd g;
      g.size = 0x4000;
      auto made = vm->create_guest_memfd(g);
      ASSERT_TRUE(made) << made.error().to_string();
      gmem.emplace(std::move(*made));
    }
  }

  /// rc::check with this backend's case budget (the 2021 rapidcheck has no overload for it).
  template <class F>
  bool check(const std::string& what, F&& property) const {
    rc::detail::TestParams p = rc::detail::configuration().testParams;
    p.maxSuccess = GetParam().max_success;
    rc::detail::TestMetadata md;
    md.id = what;
    md.description = what;
    const auto r = rc::detail::checkTestable(std::forward<F>(property), md, p);
    rc::detail::printResultMessage(r, std::cerr);
    return r.template is<rc::detail::SuccessResult>();
  }
};

int errno_of(const api::Status& s) { return s ? 0 : s.error().errno_value; }

TEST_P(BackendProperty, ApiVersion_Is12) {
  auto v = kvm_->get_api_version();
  ASSERT_TRUE(v) << v.error().to_string();
  EXPECT_EQ(*v, 12);
}

// VM types: KVM_CREATE_VM accepts exactly the types KVM_CAP_VM_TYPES lists (EINVAL otherwise).
TEST_P(BackendProperty, CreateVm_AcceptsExactlyTheAdvertisedTypes) {
  auto types = kvm_->check_extension(uapi::KVM_CAP_VM_TYPES);
  ASSERT_TRUE(types);
  const unsigned mask = *types > 0 ? static_cast<unsigned>(*types) : 1U;
  for (unsigned long t = 0; t < 8; ++t) {
    auto vm = kvm_->create_vm(t);
    if ((mask & (1U << t)) != 0) {
      EXPECT_TRUE(vm.has_value()) << "type " << t << ": " << vm.error().to_string();
    } else {
      ASSERT_FALSE(vm.has_value()) << "type " << t;
      EXPECT_EQ(vm.error().op, snplab::api::Op::KvmCreateVm);
      EXPECT_EQ(vm.error().errno_value, EINVAL) << "type " << t;
    }
  }
}

// guest_memfd flags: every undefined bit is EINVAL; the advertised ones are accepted.
TEST_P(BackendProperty, CreateGuestMemfd_FlagSweep) {
  auto vm = kvm_->create_vm();
  ASSERT_TRUE(vm);
  auto supported = vm->check_extension(uapi::KVM_CAP_GUEST_MEMFD_FLAGS);
  ASSERT_TRUE(supported);
  if (vm->check_extension(uapi::KVM_CAP_GUEST_MEMFD).value() == 0) {
    GTEST_SKIP() << GetParam().name << ": KVM_CAP_GUEST_MEMFD absent";
  }
  for (unsigned bit = 0; bit < 64; ++bit) {
    uapi::kvm_create_guest_memfd g;
    g.size = 1ULL << 21;
    g.flags = 1ULL << bit;
    auto fd = vm->create_guest_memfd(g);
    if ((static_cast<std::uint64_t>(*supported) & g.flags) != 0) {
      EXPECT_TRUE(fd.has_value()) << "flag bit " << bit << ": " << fd.error().to_string();
    } else {
      ASSERT_FALSE(fd.has_value()) << "flag bit " << bit;
      EXPECT_EQ(fd.error().errno_value, EINVAL) << "flag bit " << bit;
    }
  }
  uapi::kvm_create_guest_memfd g;
  g.size = 4096 + 1;
  auto bad = vm->create_guest_memfd(g);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().errno_value, EINVAL);
  g.size = 0;
  bad = vm->create_guest_memfd(g);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().errno_value, EINVAL);
}

// Random memslot programs: every KVM_SET_USER_MEMORY_REGION2 gets the oracle's errno.
TEST_P(BackendProperty, Memslots_RandomPrograms_MatchTheOracle) {
  auto user = api::UserMemory::alloc(*backend_, 64 * 4096);
  ASSERT_TRUE(user) << user.error().to_string();
  const std::uint64_t base = user->addr();
  const bool result = check("memslot programs", [&] {
    auto vm = kvm_->create_vm();
    RC_ASSERT(vm.has_value());
    auto as_ids = vm->check_extension(uapi::KVM_CAP_MULTI_ADDRESS_SPACE);
    RC_ASSERT(as_ids.has_value());
    // 0: the kernel has one address space and does not advertise the capability.
    RefMemslots ref(*as_ids > 1 ? static_cast<std::uint32_t>(*as_ids) : 1U);
    const int steps = *rc::gen::inRange(1, 24);
    for (int i = 0; i < steps; ++i) {
      uapi::kvm_userspace_memory_region2 r;
      r.slot = *rc::gen::weightedElement<std::uint32_t>({{8, 0}, {8, 1}, {4, 2}, {1, 0x10000}, {1, 0x20000}, {1, 40000}});
      r.flags = *rc::gen::weightedElement<std::uint32_t>({{12, 0}, {3, 1}, {2, 2}, {1, 8}, {1, 0x80000000U}});
      r.guest_phys_addr = *rc::gen::weightedElement<std::uint64_t>(
          {{6, 0}, {6, 0x4000}, {4, 0x10000}, {1, 0x100}, {1, ~0ULL & ~0xFFFULL}});
      r.memory_size = *rc::gen::weightedElement<std::uint64_t>({{6, 0x4000}, {4, 0x8000}, {3, 0}, {1, 0x1001}, {1, 0x1000}});
      r.userspace_addr = *rc::gen::weightedElement<std::uint64_t>({{10, base}, {3, base + 0x8000}, {1, base + 8}});
      const int want = ref.set(r.slot, r.flags, r.guest_phys_addr, r.memory_size, r.userspace_addr);
      const int got = errno_of(vm->set_user_memory_region2(r));
      if (got != want) {
        RC_FAIL("step " + std::to_string(i) + ": slot=" + std::to_string(r.slot) + " flags=" + std::to_string(r.flags) +
                " gpa=" + std::to_string(r.guest_phys_addr) + " size=" + std::to_string(r.memory_size) +
                " uaddr=base+" + std::to_string(r.userspace_addr - base) + ": errno " + std::to_string(got) +
                ", oracle " + std::to_string(want));
      }
    }
  });
  EXPECT_TRUE(result);
}

TEST_P(BackendProperty, CreateVcpu_DuplicateIdIsEexist) {
  auto vm = kvm_->create_vm();
  ASSERT_TRUE(vm);
  auto a = vm->create_vcpu(0);
  ASSERT_TRUE(a) << a.error().to_string();
  auto b = vm->create_vcpu(0);
  ASSERT_FALSE(b.has_value());
  EXPECT_EQ(b.error().op, snplab::api::Op::KvmCreateVcpu);
  EXPECT_EQ(b.error().errno_value, EEXIST);
}

TEST_P(BackendProperty, EnableCapExitHypercall_AcceptsOnlyTheAdvertisedMask) {
  auto vm = kvm_->create_vm();
  ASSERT_TRUE(vm);
  auto mask = vm->check_extension(uapi::KVM_CAP_EXIT_HYPERCALL);
  ASSERT_TRUE(mask);
  if (*mask == 0) GTEST_SKIP() << GetParam().name << ": KVM_CAP_EXIT_HYPERCALL absent";
  uapi::kvm_enable_cap c;
  c.cap = uapi::KVM_CAP_EXIT_HYPERCALL;
  c.args[0] = static_cast<std::uint64_t>(*mask);
  EXPECT_TRUE(vm->enable_cap(c)) << "the advertised mask";
  c.args[0] = 1ULL << 63;
  auto bad = vm->enable_cap(c);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().errno_value, EINVAL);
}

// kvm_gmem_fallocate() (6.12) behind vfs_fallocate(): KEEP_SIZE is required, PUNCH_HOLE is
// the only other mode, ranges are page aligned, allocation stays inside the file and a hole
// may be punched past its end. The kernel's guest_memfd_test.c test_fallocate() and
// test_invalid_punch_hole() check the same rules.
TEST_P(BackendProperty, GuestMemfdFallocate_ModesAndRanges_AsTheKernel) {
  auto vm = kvm_->create_vm();
  ASSERT_TRUE(vm);
  if (auto cap = vm->check_extension(uapi::KVM_CAP_GUEST_MEMFD); !cap || *cap <= 0) {
    GTEST_SKIP() << GetParam().name << ": KVM_CAP_GUEST_MEMFD absent";
  }
  constexpr std::uint64_t kSize = 0x8000, kPage = 0x1000;
  uapi::kvm_create_guest_memfd g;
  g.size = kSize;
  auto gmem = vm->create_guest_memfd(g);
  ASSERT_TRUE(gmem) << gmem.error().to_string();
  constexpr int kKeep = 1, kPunch = 2, kZeroRange = 0x10;
  struct Case {
    int mode;
    std::uint64_t offset, len;
    int want;
  };
  const Case cases[] = {
      {0, 0, kPage, EOPNOTSUPP},                     {kPunch, 0, kPage, EOPNOTSUPP},
      {kKeep | kZeroRange, 0, kPage, EOPNOTSUPP},    {kKeep, 0, kPage, 0},
      {kKeep | kPunch, 0, kPage, 0},                 {kKeep, 1, kPage, EINVAL},
      {kKeep, 0, 1, EINVAL},                         {kKeep | kPunch, kPage, kPage + 1, EINVAL},
      {kKeep, 0, 0, EINVAL},                         {kKeep, kSize, kPage, EINVAL},
      {kKeep, kSize - kPage, 2 * kPage, EINVAL},     {kKeep | kPunch, kSize, kPage, 0},
      {kKeep | kPunch, kSize - kPage, 4 * kPage, 0}, {kKeep, 0, kSize, 0},
  };
  for (const Case& c : cases) {
    const auto st = backend_->gmem_fallocate(gmem->handle(), c.mode, c.offset, c.len);
    EXPECT_EQ(errno_of(st), c.want) << "mode 0x" << std::hex << c.mode << " offset 0x" << c.offset << " len 0x"
                                    << c.len;
  }
}

// kvm->users_count: a vCPU file and a guest_memfd file each hold their VM, so closing the VM
// fd first leaves both usable; the VM goes with the last of them (kvm_put_kvm).
TEST_P(BackendProperty, VmFdClosedFirst_VcpuAndGuestMemfdKeepTheVm) {
  std::optional<api::Vm> vm;
  std::optional<api::Vcpu> vcpu;
  std::optional<api::GuestMemfd> gmem;
  ASSERT_NO_FATAL_FAILURE(vm_vcpu_gmem(vm, vcpu, gmem));
  vm.reset();  // the VM fd goes first
  auto regs = vcpu->get_regs();
  EXPECT_TRUE(regs.has_value()) << regs.error().to_string();
  if (gmem) {
    const auto st = backend_->gmem_fallocate(gmem->handle(), 1 /* FALLOC_FL_KEEP_SIZE */, 0, 0x1000);
    EXPECT_TRUE(st.has_value()) << st.error().to_string();
  }
}

// An ioctl on a file that does not have it, a closed fd, fallocate on a file that is not a
// guest_memfd: each backend answers with the kernel's errno, taken from where 6.12 decides it
// (sim_backend.cc, wrong_file()): no open fd EBADF (fdget); /dev/kvm EINVAL
// (kvm_arch_dev_ioctl()); a VM ENOTTY (kvm_arch_vm_ioctl()); a vCPU EINVAL
// (kvm_arch_vcpu_ioctl()); a guest_memfd ENOTTY (no unlocked_ioctl); fallocate: EBADF for no
// fd, then vfs_fallocate()'s range and mode checks, then ENODEV for a file that is not regular.
// The same table on both backends is the differential check: the hw backend issues each call.
TEST_P(BackendProperty, WrongFiles_AnswerTheKernelsErrno) {
  std::optional<api::Vm> vm;
  std::optional<api::Vcpu> vcpu;
  std::optional<api::GuestMemfd> gmem;
  ASSERT_NO_FATAL_FAILURE(vm_vcpu_gmem(vm, vcpu, gmem));
  api::Handle closed = 0;
  {
    auto spare = kvm_->create_vm();
    ASSERT_TRUE(spare);
    closed = spare->handle();
  }
  api::Backend& b = *backend_;
  struct File {
    const char* name;
    api::Handle h;
  };
  std::vector<File> files = {{"closed fd", closed}, {"/dev/kvm", kvm_->handle()}, {"VM", vm->handle()},
                             {"vCPU", vcpu->handle()}};
  if (gmem) files.push_back({"guest_memfd", gmem->handle()});
  const std::map<std::string, int> ioctl_errno = {
      {"closed fd", EBADF}, {"/dev/kvm", EINVAL}, {"VM", ENOTTY}, {"vCPU", EINVAL}, {"guest_memfd", ENOTTY}};
  const uapi::kvm_userspace_memory_region2 region{};
  const uapi::kvm_enable_cap cap{};
  using Call = std::function<int(api::Handle)>;
  const std::vector<std::pair<std::string, Call>> calls = {
      {"KVM_CREATE_VM", [&](api::Handle h) { auto r = b.kvm_create_vm(h, 0); return r ? 0 : r.error().errno_value; }},
      {"KVM_GET_API_VERSION", [&](api::Handle h) { auto r = b.kvm_get_api_version(h); return r ? 0 : r.error().errno_value; }},
      {"KVM_SET_USER_MEMORY_REGION2", [&](api::Handle h) { return errno_of(b.kvm_set_user_memory_region2(h, region)); }},
      {"KVM_ENABLE_CAP", [&](api::Handle h) { return errno_of(b.kvm_enable_cap(h, cap)); }},
      {"KVM_CREATE_VCPU", [&](api::Handle h) { auto r = b.kvm_create_vcpu(h, 7); return r ? 0 : r.error().errno_value; }},
      {"KVM_RUN", [&](api::Handle h) { auto r = b.kvm_run(h); return r ? 0 : r.error().errno_value; }},
      {"KVM_GET_REGS", [&](api::Handle h) { auto r = b.kvm_get_regs(h); return r ? 0 : r.error().errno_value; }},
      {"KVM_GET_SREGS", [&](api::Handle h) { auto r = b.kvm_get_sregs(h); return r ? 0 : r.error().errno_value; }},
  };
  // Which file each ioctl belongs to (and so succeeds or fails on its own terms there).
  const std::map<std::string, std::string> home = {
      {"KVM_CREATE_VM", "/dev/kvm"},        {"KVM_GET_API_VERSION", "/dev/kvm"}, {"KVM_SET_USER_MEMORY_REGION2", "VM"},
      {"KVM_ENABLE_CAP", "VM"},             {"KVM_CREATE_VCPU", "VM"},           {"KVM_RUN", "vCPU"},
      {"KVM_GET_REGS", "vCPU"},             {"KVM_GET_SREGS", "vCPU"}};
  for (const auto& [name, call] : calls) {
    for (const File& f : files) {
      if (home.at(name) == f.name) continue;
      EXPECT_EQ(call(f.h), ioctl_errno.at(f.name)) << name << " on the " << f.name;
    }
  }
  constexpr int kKeep = 1, kPunch = 2, kNoHideStale = 4;
  for (const File& f : files) {
    if (std::string(f.name) == "guest_memfd") continue;
    const bool open = std::string(f.name) != "closed fd";
    EXPECT_EQ(errno_of(b.gmem_fallocate(f.h, kKeep | kPunch, 0, 0x1000)), open ? ENODEV : EBADF)
        << "fallocate on the " << f.name;
    EXPECT_EQ(errno_of(b.gmem_fallocate(f.h, kKeep | kPunch, 0, 0)), open ? EINVAL : EBADF)
        << "fallocate len 0 on the " << f.name;
    EXPECT_EQ(errno_of(b.gmem_fallocate(f.h, kNoHideStale, 0, 0x1000)), open ? EOPNOTSUPP : EBADF)
        << "fallocate NO_HIDE_STALE on the " << f.name;
  }
}

// User memory reads back what was written, reads zero where nothing was, and refuses a range
// outside the mapping; what a memslot's guest writes is read the same way.
TEST_P(BackendProperty, UserMemory_ReadsBackWhatWasWritten) {
  auto mem = api::UserMemory::alloc(*backend_, 0x3000);
  ASSERT_TRUE(mem) << mem.error().to_string();
  check("user memory read-back", [&](std::uint16_t off, std::vector<std::uint8_t> bytes) {
    const std::uint64_t at = off % 0x2000;
    if (bytes.size() > 0x1000) bytes.resize(0x1000);
    std::vector<std::uint8_t> before(bytes.size());
    RC_ASSERT(mem->read(at, before).has_value());
    RC_ASSERT(mem->write(at, bytes).has_value());
    std::vector<std::uint8_t> after(bytes.size());
    RC_ASSERT(mem->read(at, after).has_value());
    RC_ASSERT(after == bytes);
  });
  auto fresh = api::UserMemory::alloc(*backend_, 0x1000);
  ASSERT_TRUE(fresh);
  std::vector<std::uint8_t> page(0x1000, 0xFF);
  ASSERT_TRUE(fresh->read(0, page).has_value());
  EXPECT_EQ(page, std::vector<std::uint8_t>(0x1000, 0)) << "a page never written reads zero";
  std::vector<std::uint8_t> over(2);
  auto past = mem->read(0x3000 - 1, over);
  ASSERT_FALSE(past.has_value());
  EXPECT_EQ(past.error().errno_value, EFAULT);
  EXPECT_EQ(errno_of(backend_->user_read(0x1000, over)), EFAULT) << "not a user_alloc mapping";
}

// KVM_SET_USER_MEMORY_REGION (v1): LOG_DIRTY_PAGES and READONLY only, the slot is the same
// one v2 sees; KVM_SET_NR_MMU_PAGES: at least KVM_MIN_ALLOC_MMU_PAGES.
TEST_P(BackendProperty, MemslotV1AndNrMmuPages_AsTheKernel) {
  auto vm = kvm_->create_vm();
  ASSERT_TRUE(vm) << vm.error().to_string();
  auto mem = api::UserMemory::alloc(*backend_, 0x4000);
  ASSERT_TRUE(mem);
  uapi::kvm_userspace_memory_region r;
  r.slot = 0;
  r.guest_phys_addr = 0x100000;
  r.memory_size = 0x4000;
  r.userspace_addr = mem->addr();
  for (std::uint32_t bit = 0; bit < 32; ++bit) {
    r.flags = 1U << bit;
    const bool ok = r.flags == uapi::KVM_MEM_LOG_DIRTY_PAGES || r.flags == uapi::KVM_MEM_READONLY;
    const auto st = vm->set_user_memory_region(r);
    EXPECT_EQ(errno_of(st), ok ? 0 : EINVAL) << "v1 flag bit " << bit;
    if (st) {
      r.memory_size = 0;  // delete it again
      EXPECT_TRUE(vm->set_user_memory_region(r).has_value());
      r.memory_size = 0x4000;
    }
  }
  r.flags = 0;
  ASSERT_TRUE(vm->set_user_memory_region(r).has_value());
  uapi::kvm_userspace_memory_region2 overlap;
  overlap.slot = 1;
  overlap.guest_phys_addr = 0x102000;
  overlap.memory_size = 0x2000;
  overlap.userspace_addr = mem->addr();
  EXPECT_EQ(errno_of(vm->set_user_memory_region2(overlap)), EEXIST) << "v2 sees the slot v1 made";

  EXPECT_EQ(errno_of(vm->set_nr_mmu_pages(0)), EINVAL);
  EXPECT_EQ(errno_of(vm->set_nr_mmu_pages(uapi::KVM_MIN_ALLOC_MMU_PAGES - 1)), EINVAL);
  EXPECT_EQ(errno_of(vm->set_nr_mmu_pages(uapi::KVM_MIN_ALLOC_MMU_PAGES)), 0);
  EXPECT_EQ(errno_of(vm->set_nr_mmu_pages(1U << 20)), 0);
  EXPECT_EQ(errno_of(backend_->kvm_set_nr_mmu_pages(kvm_->handle(), 64)), EINVAL) << "on /dev/kvm";
}

// KVM_GET/HAS_DEVICE_ATTR: /dev/kvm's system group (the supported XCR0: x87 and SSE at least)
// and SEV group (present where the vendor module is kvm_amd: the simulator always, hw by the
// probe), a vCPU's TSC offset; ENXIO for an attribute that does not exist, ENOTTY on a VM fd.
TEST_P(BackendProperty, DeviceAttributes_AsTheKernel) {
  auto xcr0 = kvm_->get_device_attr(uapi::KVM_X86_GRP_SYSTEM, uapi::KVM_X86_XCOMP_GUEST_SUPP);
  ASSERT_TRUE(xcr0) << xcr0.error().to_string();
  EXPECT_EQ(*xcr0 & 3U, 3U) << "x87 and SSE";
  EXPECT_TRUE(kvm_->has_device_attr(uapi::KVM_X86_GRP_SYSTEM, uapi::KVM_X86_XCOMP_GUEST_SUPP).has_value());
  EXPECT_EQ(errno_of(kvm_->has_device_attr(uapi::KVM_X86_GRP_SYSTEM, 1)), ENXIO);
  bool kvm_amd = GetParam().name == "sim";
  if (!kvm_amd) {
    auto p = hw::probe();
    ASSERT_TRUE(p) << p.error().to_string();
    kvm_amd = p->modules.has("kvm_amd");
  }
  const auto sev = kvm_->get_device_attr(uapi::KVM_X86_GRP_SEV, uapi::KVM_X86_SEV_VMSA_FEATURES);
  EXPECT_EQ(sev.has_value(), kvm_amd) << (sev ? "" : sev.error().to_string());
  if (!sev) {
    EXPECT_EQ(sev.error().errno_value, ENXIO);
  }
  EXPECT_EQ(errno_of(kvm_->has_device_attr(uapi::KVM_X86_GRP_SEV, 1)), ENXIO);
  EXPECT_EQ(errno_of(kvm_->has_device_attr(7, 0)), ENXIO);

  auto vm = kvm_->create_vm();
  ASSERT_TRUE(vm);
  auto vcpu = vm->create_vcpu(0);
  ASSERT_TRUE(vcpu);
  EXPECT_TRUE(vcpu->has_device_attr(uapi::KVM_VCPU_TSC_CTRL, uapi::KVM_VCPU_TSC_OFFSET).has_value());
  EXPECT_TRUE(vcpu->get_device_attr(uapi::KVM_VCPU_TSC_CTRL, uapi::KVM_VCPU_TSC_OFFSET).has_value());
  EXPECT_EQ(errno_of(vcpu->has_device_attr(uapi::KVM_VCPU_TSC_CTRL, 9)), ENXIO);
  EXPECT_EQ(errno_of(vcpu->has_device_attr(uapi::KVM_X86_GRP_SEV, 0)), ENXIO);
  auto on_vm = backend_->kvm_get_device_attr(vm->handle(), uapi::KVM_X86_GRP_SYSTEM, 0);
  ASSERT_FALSE(on_vm.has_value());
  EXPECT_EQ(on_vm.error().errno_value, ENOTTY);
  EXPECT_EQ(on_vm.error().op, api::Op::KvmGetDeviceAttr);
}

// A handle that outlives its backend neither reaches freed memory (ASan checks the hw and sim
// backends alike) nor closes anything: every call answers EBADF, naming the ioctl.
TEST_P(BackendProperty, BackendDestroyedFirst_HandlesAnswerEbadf) {
  auto made = GetParam().make();
  ASSERT_TRUE(made) << made.error().to_string();
  std::unique_ptr<api::Backend> b = std::move(*made);
  auto kvm = api::Kvm::open(*b);
  ASSERT_TRUE(kvm) << kvm.error().to_string();
  auto vm = kvm->create_vm();
  ASSERT_TRUE(vm) << vm.error().to_string();
  auto vcpu = vm->create_vcpu(0);
  ASSERT_TRUE(vcpu) << vcpu.error().to_string();
  auto mem = api::UserMemory::alloc(*b, 0x2000);
  ASSERT_TRUE(mem) << mem.error().to_string();
  b.reset();

  auto regs = vcpu->get_regs();
  ASSERT_FALSE(regs.has_value());
  EXPECT_EQ(regs.error().errno_value, EBADF);
  EXPECT_EQ(regs.error().op, api::Op::KvmGetRegs);
  auto run = vcpu->run();
  ASSERT_FALSE(run.has_value());
  EXPECT_EQ(run.error().errno_value, EBADF);
  auto another = vm->create_vcpu(1);
  ASSERT_FALSE(another.has_value());
  EXPECT_EQ(another.error().op, api::Op::KvmCreateVcpu);
  EXPECT_EQ(another.error().errno_value, EBADF);
  auto ver = kvm->get_api_version();
  ASSERT_FALSE(ver.has_value());
  EXPECT_EQ(ver.error().errno_value, EBADF);
  const std::uint8_t byte = 1;
  EXPECT_EQ(errno_of(mem->write(0, {&byte, 1})), EBADF);
  EXPECT_EQ(vm->backend().name(), "destroyed");
}  // the handles die here, after their backend

INSTANTIATE_TEST_SUITE_P(AllBackends, BackendProperty, all_backends(), [](const auto& p) { return p.param.name; });

}  // namespace
}  // namespace snplab::test
