// The simulated KVM host's SNP launch path through the KVM-shaped API (sim backend):
// KVM_SEV_INIT2, SNP_LAUNCH_START/UPDATE/FINISH with the errno and firmware status rules of
// facts §8.3 and §9(b), the launch digest it produces, and teardown without leaks.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>

#include "snp/api/kvm.h"
#include "snp/api/sim_backend.h"
#include "snp/model/host/x86/sev.h"
#include "snp/model/host/kvm_host.h"
#include "snp/model/measure/measure.h"
#include "snp/model/measure/vmsa.h"

namespace snplab::api {
namespace {

constexpr std::uint64_t kMem = 2ULL << 20;  // 2 MiB of guest memory
constexpr std::uint64_t kPolicy = 0x30000;  // bit 17 (must be one) + SMT

class SnpLaunch : public ::testing::Test {
 protected:
  void SetUp() override {
    backend_ = std::move(*make_sim_backend());
    kvm_.emplace(std::move(*Kvm::open(*backend_)));
    auto vm = kvm_->create_vm(uapi::KVM_X86_SNP_VM);
    ASSERT_TRUE(vm) << vm.error().to_string();
    vm_.emplace(std::move(*vm));
    auto sev = SevDevice::open(*backend_);
    ASSERT_TRUE(sev) << sev.error().to_string();
    sev_.emplace(std::move(*sev));
  }

  Status init2(std::uint64_t features = 0, std::uint32_t flags = 0) {
    uapi::kvm_sev_init d;
    d.vmsa_features = features;
    d.flags = flags;
    return vm_->memory_encrypt_op(uapi::KVM_SEV_INIT2, &d, static_cast<std::uint32_t>(sev_->handle()));
  }

  Status launch_start(std::uint64_t policy = kPolicy) {
    uapi::kvm_sev_snp_launch_start d;
    d.policy = policy;
    return vm_->memory_encrypt_op(uapi::KVM_SEV_SNP_LAUNCH_START, &d, static_cast<std::uint32_t>(sev_->handle()));
  }

  // guest_memfd backing GPA [0, kMem), shared user memory beside it, all of it private.
  void memory() {
    uapi::kvm_create_guest_memfd g;
    g.size = kMem;
    auto gm = vm_->create_guest_memfd(g);
    ASSERT_TRUE(gm) << gm.error().to_string();
    gmem_.emplace(std::move(*gm));
    auto user = UserMemory::alloc(*backend_, kMem);
    ASSERT_TRUE(user);
    shared_.emplace(std::move(*user));
    uapi::kvm_userspace_memory_region2 r;
    r.slot = 0;
    r.flags = uapi::KVM_MEM_GUEST_MEMFD;
    r.guest_phys_addr = 0;
    r.memory_size = kMem;
    r.userspace_addr = shared_->addr();
    r.guest_memfd = static_cast<std::uint32_t>(gmem_->handle());
    ASSERT_TRUE(vm_->set_user_memory_region2(r));
    set_private(0, kMem, true);
  }

  void set_private(std::uint64_t gpa, std::uint64_t size, bool priv) {
    uapi::kvm_memory_attributes a;
    a.address = gpa;
    a.size = size;
    a.attributes = priv ? uapi::KVM_MEMORY_ATTRIBUTE_PRIVATE : 0;
    ASSERT_TRUE(vm_->set_memory_attributes(a));
  }

  // LAUNCH_UPDATE of `n` NORMAL pages from a source buffer whose page i is filled with i+1.
  Status launch_update(std::uint64_t gfn, std::uint64_t n, std::uint8_t type, uapi::kvm_sev_snp_launch_update* out,
                       std::uint32_t* fw = nullptr) {
    if (!src_) {
      auto src = UserMemory::alloc(*backend_, 64 * model::kPageSize);
      EXPECT_TRUE(src);
      src_.emplace(std::move(*src));
      for (std::uint64_t i = 0; i < 64; ++i) {
        std::vector<std::uint8_t> page(model::kPageSize, static_cast<std::uint8_t>(i + 1));
        EXPECT_TRUE(src_->write(i * model::kPageSize, page));
      }
    }
    out->gfn_start = gfn;
    out->uaddr = src_->addr();
    out->len = n * model::kPageSize;
    out->type = type;
    return vm_->memory_encrypt_op(uapi::KVM_SEV_SNP_LAUNCH_UPDATE, out, static_cast<std::uint32_t>(sev_->handle()), fw);
  }

  std::unique_ptr<Backend> backend_;
  std::optional<Kvm> kvm_;
  std::optional<Vm> vm_;
  std::optional<SevDevice> sev_;
  std::optional<GuestMemfd> gmem_;
  std::optional<UserMemory> shared_, src_;
};

int errno_of(const Status& s) { return s ? 0 : s.error().errno_value; }

TEST_F(SnpLaunch, Init2_Rules) {
  EXPECT_EQ(errno_of(init2(1ULL << 7)), EINVAL);  // a feature KVM does not offer
  EXPECT_EQ(errno_of(init2(0, 1)), EINVAL);       // flags must be zero
  ASSERT_TRUE(init2());
  EXPECT_EQ(errno_of(init2()), EPERM);            // INIT2 is a legacy id (< 100): EPERM once SNP
  std::uint32_t dummy = 0;
  // A legacy SEV command on an SNP guest: EPERM (facts §8.3).
  EXPECT_EQ(errno_of(vm_->memory_encrypt_op(0, &dummy, 0)), EPERM);
}

TEST_F(SnpLaunch, Init2OnDefaultVm_Einval) {
  auto vm = kvm_->create_vm(uapi::KVM_X86_DEFAULT_VM);
  ASSERT_TRUE(vm);
  uapi::kvm_sev_init d;
  EXPECT_EQ(errno_of(vm->memory_encrypt_op(uapi::KVM_SEV_INIT2, &d, 0)), EINVAL);
}

TEST_F(SnpLaunch, Init2AfterVcpu_Einval) {
  auto vcpu = vm_->create_vcpu(0);
  ASSERT_TRUE(vcpu);
  EXPECT_EQ(errno_of(init2()), EINVAL);
}

TEST_F(SnpLaunch, LaunchStart_Rules) {
  EXPECT_EQ(errno_of(launch_start()), ENOTTY);  // before INIT2
  ASSERT_TRUE(init2());
  EXPECT_EQ(errno_of(launch_start(0x10000)), EINVAL);            // bit 17 clear
  EXPECT_EQ(errno_of(launch_start(kPolicy | (1ULL << 18))), EINVAL);  // MIGRATE_MA: not in KVM's mask
  EXPECT_EQ(errno_of(launch_start(kPolicy & ~(1ULL << 16))), EINVAL);  // SMT not allowed: KVM insists
  EXPECT_EQ(errno_of(launch_start(kPolicy | (1ULL << 20))), EINVAL);   // SINGLE_SOCKET: KVM refuses
  ASSERT_TRUE(launch_start());
  EXPECT_EQ(errno_of(launch_start()), EINVAL);  // one context per VM
}

TEST_F(SnpLaunch, LaunchStartPolicyTheFirmwareRefuses_EioWithPolicyFailure) {
  ASSERT_TRUE(init2());
  const Status st = launch_start(kPolicy | (0xFFULL << 8));  // ABI major 255 > firmware's
  ASSERT_FALSE(st.has_value());
  EXPECT_EQ(st.error().errno_value, EIO);
  EXPECT_EQ(st.error().fw, FwStatus::PolicyFailure);
}

TEST_F(SnpLaunch, LaunchUpdate_ConvertsPagesAndHandsBackProgress) {
  ASSERT_TRUE(init2());
  ASSERT_TRUE(launch_start());
  memory();
  uapi::kvm_sev_snp_launch_update u;
  ASSERT_TRUE(launch_update(0, 4, uapi::KVM_SEV_SNP_PAGE_TYPE_NORMAL, &u));
  EXPECT_EQ(u.gfn_start, 4U);
  EXPECT_EQ(u.len, 0U);
  // The same GFNs again: the pages are already private in the RMP (facts §9(b)):
  // sev_gmem_post_populate()'s -EEXIST, which snp_launch_update() reports as EIO.
  EXPECT_EQ(errno_of(launch_update(0, 1, uapi::KVM_SEV_SNP_PAGE_TYPE_NORMAL, &u)), EIO);
}

TEST_F(SnpLaunch, LaunchUpdate_Preconditions) {
  ASSERT_TRUE(init2());
  ASSERT_TRUE(launch_start());
  memory();
  uapi::kvm_sev_snp_launch_update u;
  EXPECT_EQ(errno_of(launch_update(0, 1, 2, &u)), EINVAL);  // VMSA is KVM's own, not userspace's
  EXPECT_EQ(errno_of(launch_update(0, 1, 0, &u)), EINVAL);
  u = {};
  u.len = 100;
  u.type = 1;
  EXPECT_EQ(errno_of(vm_->memory_encrypt_op(uapi::KVM_SEV_SNP_LAUNCH_UPDATE, &u, static_cast<std::uint32_t>(sev_->handle()))), EINVAL);  // len
  set_private(0x10000, 0x1000, false);
  EXPECT_EQ(errno_of(launch_update(0x10, 1, 1, &u)), EIO);  // not private: kvm_gmem_populate's EINVAL, as EIO
  EXPECT_EQ(errno_of(launch_update(0x1000, 1, 1, &u)), EINVAL);  // no memslot
}

TEST_F(SnpLaunch, LaunchCommandsWithoutDevSev_FailWhereTheKernelsFirmwareCallDoes) {
  // kvm_sev_cmd.sev_fd names the file the launch commands' firmware calls go through
  // (__sev_issue_cmd(argp->sev_fd, ...)): a VM fd there is not /dev/sev.
  const auto not_sev = static_cast<std::uint32_t>(vm_->handle());
  ASSERT_TRUE(init2());
  uapi::kvm_sev_snp_launch_start start;
  start.policy = kPolicy;
  // snp_context_create()'s SNP_GCTX_CREATE fails: no context, ENOTTY.
  EXPECT_EQ(errno_of(vm_->memory_encrypt_op(uapi::KVM_SEV_SNP_LAUNCH_START, &start, not_sev)), ENOTTY);
  ASSERT_TRUE(launch_start());
  memory();
  uapi::kvm_sev_snp_launch_update u;
  u.uaddr = shared_->addr();
  u.len = 2 * model::kPageSize;
  u.type = uapi::KVM_SEV_SNP_PAGE_TYPE_ZERO;
  // The first page's SNP_LAUNCH_UPDATE fails: EIO, no progress, the page still usable.
  EXPECT_EQ(errno_of(vm_->memory_encrypt_op(uapi::KVM_SEV_SNP_LAUNCH_UPDATE, &u, not_sev)), EIO);
  EXPECT_EQ(u.gfn_start, 0U);
  EXPECT_EQ(u.len, 2 * model::kPageSize);
  ASSERT_TRUE(launch_update(0, 2, uapi::KVM_SEV_SNP_PAGE_TYPE_NORMAL, &u));
  auto vcpu = vm_->create_vcpu(0);
  ASSERT_TRUE(vcpu);
  // The VMSA's SNP_LAUNCH_UPDATE fails: EBADF, the vCPU not yet protected, so a LAUNCH_FINISH
  // through /dev/sev then succeeds.
  uapi::kvm_sev_snp_launch_finish f;
  EXPECT_EQ(errno_of(vm_->memory_encrypt_op(uapi::KVM_SEV_SNP_LAUNCH_FINISH, &f, not_sev)), EBADF);
  EXPECT_TRUE(vcpu->get_regs().has_value());
  EXPECT_TRUE(vm_->memory_encrypt_op(uapi::KVM_SEV_SNP_LAUNCH_FINISH, &f, static_cast<std::uint32_t>(sev_->handle())));
}

TEST_F(SnpLaunch, LaunchFinish_ThenLaunchCommandsAreRefused) {
  ASSERT_TRUE(init2());
  ASSERT_TRUE(launch_start());
  memory();
  uapi::kvm_sev_snp_launch_update u;
  ASSERT_TRUE(launch_update(0, 2, 1, &u));
  auto vcpu = vm_->create_vcpu(0);
  ASSERT_TRUE(vcpu);
  uapi::kvm_sev_snp_launch_finish f;
  ASSERT_TRUE(vm_->memory_encrypt_op(uapi::KVM_SEV_SNP_LAUNCH_FINISH, &f, static_cast<std::uint32_t>(sev_->handle())));
  std::uint32_t fw = 0;
  const Status again = launch_update(8, 1, 1, &u, &fw);
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().errno_value, EIO);
  EXPECT_EQ(again.error().fw, FwStatus::InvalidGuestState);
  EXPECT_EQ(fw, static_cast<std::uint32_t>(FwStatus::InvalidGuestState));
  // The launched vCPU's state is protected: its registers are out of reach, and a second
  // LAUNCH_FINISH stops at its VMSA sync (sev_es_sync_vmsa: -EINVAL) before any firmware call.
  const auto regs = vcpu->get_regs();
  ASSERT_FALSE(regs.has_value());
  EXPECT_EQ(regs.error().errno_value, EINVAL);
  std::uint32_t fw2 = 0;
  const Status finish_again = vm_->memory_encrypt_op(uapi::KVM_SEV_SNP_LAUNCH_FINISH, &f, static_cast<std::uint32_t>(sev_->handle()), &fw2);
  ASSERT_FALSE(finish_again.has_value());
  EXPECT_EQ(finish_again.error().errno_value, EINVAL);
}

TEST_F(SnpLaunch, VcpuAfterLaunchFinish_Created_UnprotectedAndVmrunRefusesItsVmsa) {
  // The kernel lets a vCPU join a launched guest (kvm_vm_ioctl_create_vcpu has no SEV check);
  // its VMSA page is the hypervisor's, so VMRUN fails (facts §3.4) until an AP Creation.
  ASSERT_TRUE(init2());
  ASSERT_TRUE(launch_start());
  memory();
  uapi::kvm_sev_snp_launch_update u;
  ASSERT_TRUE(launch_update(0, 2, 1, &u));
  auto vcpu0 = vm_->create_vcpu(0);
  ASSERT_TRUE(vcpu0);
  uapi::kvm_sev_snp_launch_finish f;
  ASSERT_TRUE(vm_->memory_encrypt_op(uapi::KVM_SEV_SNP_LAUNCH_FINISH, &f, static_cast<std::uint32_t>(sev_->handle())));
  auto late = vm_->create_vcpu(1);
  ASSERT_TRUE(late) << late.error().to_string();
  EXPECT_TRUE(late->get_regs().has_value()) << "its state is not protected";
  auto x = late->run();
  ASSERT_TRUE(x) << x.error().to_string();
  EXPECT_EQ(x->exit_reason, uapi::KVM_EXIT_FAIL_ENTRY);
}

TEST_F(SnpLaunch, VmsaNotTheHypervisorsAtSync_HostRmpFaultNamesTheFunctionAndPfn) {
  ASSERT_TRUE(init2());
  ASSERT_TRUE(launch_start());
  memory();
  auto vcpu = vm_->create_vcpu(0);
  ASSERT_TRUE(vcpu);
  model::kvm::Host& host = *sim_host(*backend_);
  model::kvm::Vm& kvm = *host.vm(host.vm_ids().front());
  const model::Pfn vmsa = kvm.sev().vmsas.at(0);
  // Another agent made the vCPU's VMSA page private before LAUNCH_FINISH synced it.
  ASSERT_EQ(model::rmp_make_private(host.sev()->rmp(), vmsa, 0, model::PageSize::Size4K, kvm.sev().asid, false,
                                    model::OpContext{"test", 0}),
            model::RmpStatus::Success);
  uapi::kvm_sev_snp_launch_finish f;
  const Status st = vm_->memory_encrypt_op(uapi::KVM_SEV_SNP_LAUNCH_FINISH, &f, static_cast<std::uint32_t>(sev_->handle()));
  ASSERT_FALSE(st.has_value());
  EXPECT_EQ(st.error().errno_value, EFAULT);
  const auto& found = host.sched().findings();
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].kind, snplab::model::FindingKind::HostRmpFault);
  EXPECT_NE(found[0].message.find("sev_es_sync_vmsa()"), std::string::npos) << found[0].message;
  EXPECT_NE(found[0].message.find(fmt::format("PFN 0x{:x}", vmsa)), std::string::npos) << found[0].message;
  EXPECT_NE(found[0].message.find("RMP violation"), std::string::npos) << found[0].message;
  // As the kernel reports it: the oops line, the raw entry as dump_rmpentry() prints it, and
  // the call chain from the ioctl.
  EXPECT_EQ(found[0].message.rfind("BUG: unable to handle page fault for address: PFN", 0), 0u) << found[0].message;
  const model::RmpEntryRaw e = host.sev()->rmp().inspect(vmsa);
  EXPECT_NE(found[0].message.find(fmt::format("RMP entry for PFN 0x{:x}: [high=0x{:016x} low=0x{:016x}]", vmsa, e.hi,
                                              e.lo)),
            std::string::npos)
      << found[0].message;
  EXPECT_NE(found[0].message.find("call trace: sev_es_sync_vmsa <- snp_launch_update_vmsa <- snp_launch_finish <- "
                                  "sev_mem_enc_ioctl"),
            std::string::npos)
      << found[0].message;
  EXPECT_EQ(host.sev()->mem().generation(vmsa), 0u) << "nothing was written";
  // Hand the page back so teardown is clean.
  ASSERT_EQ(model::rmp_make_shared(host.sev()->rmp(), vmsa, model::PageSize::Size4K, model::OpContext{"test", 0}),
            model::RmpStatus::Success);
}

TEST_F(SnpLaunch, ReclaimThatFails_LeaksThePageOnce_WithProvenance) {
  model::kvm::Host& host = *sim_host(*backend_);
  model::kvm::SevPlatform& sev = *host.sev();
  // A page under a 2M RMP entry: a 4K SNP_PAGE_RECLAIM refuses it (INVALID_PAGE_SIZE), so
  // snp_free_firmware_page() gives it up (snp_leak_pages) instead of freeing it.
  const model::Pfn pfn = sev.alloc_huge();
  ASSERT_EQ(model::rmp_make_private(sev.rmp(), pfn, 0x200000, model::PageSize::Size2M, 7, false,
                                    model::OpContext{"test-owner", 9}),
            model::RmpStatus::Success);
  sev.free_firmware_page(pfn, model::OpContext{"sev_vm_destroy", 9});
  ASSERT_EQ(sev.detectors().count(model::FindingKind::LeakedPage), 1u);
  const model::Finding& leak = sev.detectors().findings().back();
  EXPECT_EQ(leak.ctx.op, "snp_free_firmware_page");
  ASSERT_EQ(leak.pages.size(), 1u);
  EXPECT_EQ(leak.pages[0].pfn, pfn);
  ASSERT_TRUE(leak.pages[0].owner.has_value());
  EXPECT_EQ(leak.pages[0].owner->op, "test-owner");
  EXPECT_TRUE(sev.detectors().leaked().contains(pfn));
  // The owner's teardown does not report the page a second time.
  sev.detectors().owner_torn_down(sev.rmp(), 9, 7, model::OpContext{"teardown", 9});
  ASSERT_EQ(sev.detectors().count(model::FindingKind::LeakedPage), 2u) << "the other 511 pages of the 2M entry";
  const model::Finding& rest = sev.detectors().findings().back();
  EXPECT_EQ(rest.pages.size(), model::kPagesPerHuge - 1);
  for (const auto& p : rest.pages) EXPECT_NE(p.pfn, pfn);
  sev.detectors().clear_findings();
}

TEST_F(SnpLaunch, SevDevice_PlatformStatusAndConfig) {
  uapi::sev_user_data_snp_status st;
  std::uint32_t fw = 0;
  ASSERT_TRUE(sev_->issue_cmd(uapi::SNP_PLATFORM_STATUS, &st, &fw));
  EXPECT_EQ(st.state, 1);  // INIT: the platform is initialised at probe
  EXPECT_EQ(st.is_rmp_initialized & 1, 1);
  uapi::sev_user_data_snp_config c;
  c.reported_tcb = st.current_tcb_version + 1;  // above the running TCB
  const Status bad = sev_->issue_cmd(uapi::SNP_SET_CONFIG, &c, &fw);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().errno_value, EIO);
  EXPECT_EQ(bad.error().fw, FwStatus::InvalidParam);
  c.reported_tcb = st.current_tcb_version;
  EXPECT_TRUE(sev_->issue_cmd(uapi::SNP_SET_CONFIG, &c, &fw));
  EXPECT_TRUE(sev_->snp_commit(&fw));
}

TEST_F(SnpLaunch, LaunchUpdateOfAHugeLength_IsClippedToTheSlotNotAllocated) {
  ASSERT_TRUE(init2());
  ASSERT_TRUE(launch_start());
  memory();
  uapi::kvm_sev_snp_launch_update u;
  // A hostile VMM's length: 2^52 bytes. kvm_gmem_populate() clips it to the slot; the pages
  // done are handed back as progress, the rest stays to do.
  ASSERT_TRUE(launch_update(0, 1, uapi::KVM_SEV_SNP_PAGE_TYPE_NORMAL, &u));
  u.gfn_start = 1;
  u.uaddr = src_->addr();
  u.len = 1ULL << 52;
  u.type = uapi::KVM_SEV_SNP_PAGE_TYPE_NORMAL;
  const Status st = vm_->memory_encrypt_op(uapi::KVM_SEV_SNP_LAUNCH_UPDATE, &u, static_cast<std::uint32_t>(sev_->handle()));
  ASSERT_TRUE(st) << st.error().to_string();
  const std::uint64_t done = u.gfn_start - 1;
  EXPECT_GT(done, 0U);
  EXPECT_LE(done, kMem / model::kPageSize - 1);
  EXPECT_EQ(u.len, (1ULL << 52) - done * model::kPageSize);
}

}  // namespace
}  // namespace snplab::api

namespace snplab::model::kvm {
namespace {

// The same launch at the model level, where the launch digest and the RMP can be read: the
// firmware's measurement equals LaunchDigest over the same pages, and teardown leaks nothing.
TEST(SnpLaunchModel, MeasurementMatchesAnIndependentDigestAndTeardownIsClean) {
  Host host;
  const long id = host.create_vm(kVmSnp);
  ASSERT_GT(id, 0);
  Vm* vm = host.vm(static_cast<std::uint64_t>(id));
  std::uint32_t fw = 0;
  ASSERT_EQ(sev_init2(*vm, {}, &fw), 0);
  SnpLaunchStartArgs ls;
  ls.policy = 0x30000;
  ASSERT_EQ(snp_launch_start(*vm, ls, &fw), 0);
  const long gm = vm->create_guest_memfd(1ULL << 21, 0);
  ASSERT_GT(gm, 0);
  const std::uint64_t user = host.user().map(1ULL << 21);
  MemoryRegion2 r;
  r.flags = kMemGuestMemfd;
  r.memory_size = 1ULL << 21;
  r.userspace_addr = user;
  r.guest_memfd = static_cast<std::uint32_t>(gm);
  ASSERT_EQ(vm->set_user_memory_region2(r), 0);
  ASSERT_EQ(vm->set_memory_attributes(0, 1ULL << 21, kAttrPrivate, 0), 0);
  const std::uint64_t src = host.user().map(3 * kPageSize);
  std::vector<std::uint8_t> bytes(3 * kPageSize);
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<std::uint8_t>(i * 13);
  ASSERT_TRUE(host.user().copy_to(src, bytes));
  SnpLaunchUpdateArgs u;
  u.gfn_start = 0x10;
  u.uaddr = src;
  u.len = 3 * kPageSize;
  u.type = 1;
  ASSERT_EQ(snp_launch_update(*vm, u, &fw), 0);
  ASSERT_EQ(vm->create_vcpu(0), 0);
  ASSERT_EQ(vm->create_vcpu(1), 0);
  ASSERT_EQ(snp_launch_finish(*vm, {}, &fw), 0);

  LaunchDigest ld;
  for (std::size_t i = 0; i < 3; ++i) {
    ld.update_page(PageType::Normal, (0x10 + i) << kPageShift,
                   std::span<const std::uint8_t, kPageSize>(bytes.data() + i * kPageSize, kPageSize));
  }
  const VmsaPage vmsa = to_page(reset_save_area(0xFFFFFFF0U, 1, SevPlatform::kVcpuSignature, VmmType::Qemu));
  ld.update_page(PageType::Vmsa, 0xFFFFFFFFF000ULL, vmsa);
  ld.update_page(PageType::Vmsa, 0xFFFFFFFFF000ULL, vmsa);
  const GuestContext* g = host.sev()->fw().guest(pfn_to_spa(vm->sev().gctx));
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(g->measurement, ld.digest());

  host.destroy_vm(static_cast<std::uint64_t>(id));
  for (const auto& f : host.sev()->detectors().findings()) ADD_FAILURE() << f.describe();
}


}  // namespace
}  // namespace snplab::model::kvm
