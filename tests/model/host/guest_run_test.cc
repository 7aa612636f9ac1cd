// Simulated SNP guests under KVM_RUN (sim backend): PVALIDATE and private/shared accesses
// against the RMP, implicit conversions as KVM_EXIT_MEMORY_FAULT (facts §8.4), page-state
// changes as KVM_HC_MAP_GPA_RANGE exits completed through kvm_run->hypercall.ret (§8.5),
// termination as KVM_EXIT_SYSTEM_EVENT(SEV_TERM), and teardown without leaked pages.
#include <gtest/gtest.h>

#include <cerrno>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "snp/api/kvm.h"
#include "snp/api/sim_backend.h"
#include "snp/model/host/x86/sev.h"
#include "snp/model/host/kvm_host.h"
#include "snp/scenarios/snp_vm.h"

namespace snplab::api {
namespace {

using model::kPageSize;
using model::kvm::GuestOp;
using scenarios::SnpVm;
using scenarios::SnpVmConfig;

class GuestRun : public ::testing::Test {
 protected:
  void SetUp() override { backend_ = std::move(*make_sim_backend()); }

  void launch(SnpVmConfig cfg = {}) {
    auto vm = SnpVm::launch(*backend_, cfg);
    ASSERT_TRUE(vm) << vm.error().to_string();
    vm_ = std::move(*vm);
  }

  void load(std::vector<GuestOp> ops, unsigned vcpu = 0) {
    ASSERT_TRUE(sim_load_guest(*backend_, vm_->vcpu(vcpu).handle(), std::move(ops)));
  }

  RunExit run(unsigned vcpu = 0) {
    auto e = vm_->vcpu(vcpu).run();
    EXPECT_TRUE(e) << e.error().to_string();
    return e ? *e : RunExit{};
  }

  const model::kvm::GuestLog& log(unsigned vcpu = 0) {
    const auto* l = sim_guest_log(*backend_, vm_->vcpu(vcpu).handle());
    EXPECT_NE(l, nullptr);
    static const model::kvm::GuestLog kEmpty;
    return l != nullptr ? *l : kEmpty;
  }

  model::kvm::Host& host() { return *sim_host(*backend_); }

  /// The RMP entry behind a private GPA (through the guest_memfd), for assertions.
  std::optional<model::RmpEntryRaw> rmp_of(std::uint64_t gpa) {
    model::kvm::Vm* v = host().vm(host().vm_ids().front());
    const auto slot = v->gfn_to_memslot(gpa >> model::kPageShift);
    if (!slot) return std::nullopt;
    const auto pfn = v->gmem_pfn(*slot, gpa >> model::kPageShift);
    if (!pfn) return std::nullopt;
    return host().sev()->rmp().inspect(*pfn);
  }

  void TearDown() override {
    if (vm_) vm_->close();
    vm_.reset();
    // VM teardown reclaims every page: the leaked-page detector (and every other) is silent.
    if (backend_ && sim_host(*backend_) != nullptr) {
      for (const auto& f : host().sev()->detectors().findings()) ADD_FAILURE() << f.describe();
    }
  }

  std::unique_ptr<Backend> backend_;
  std::unique_ptr<SnpVm> vm_;
};

TEST_F(GuestRun, ValidatesAndUsesPrivateMemory) {
  launch();
  load({GuestOp::pvalidate(0x0),              // measured at launch: already validated
        GuestOp::read(0x1000, true),          // launched page 1 holds 0x02
        GuestOp::pvalidate(0x10000),          // a fresh private page
        GuestOp::write(0x10000, true, 0x5a), GuestOp::read(0x10000, true), GuestOp::halt()});
  const RunExit e = run();
  EXPECT_EQ(e.exit_reason, uapi::KVM_EXIT_HLT);
  const std::vector<std::string> want = {
      "PVALIDATE 0x0: SUCCESS (no change)", "read 0x1000 (private): 0x02", "PVALIDATE 0x10000: SUCCESS",
      "write 0x10000 (private): 0x5a", "read 0x10000 (private): 0x5a"};
  EXPECT_EQ(log(), want);
  const auto entry = rmp_of(0x10000);
  ASSERT_TRUE(entry);
  EXPECT_TRUE(entry->assigned());
  EXPECT_TRUE(entry->validated());
  EXPECT_EQ(entry->gpa(), 0x10000u);
}

TEST_F(GuestRun, PrivateAccessBeforePvalidate_VcAndSevTerm) {
  launch();
  load({GuestOp::read(0x20000, true)});
  const RunExit e = run();
  ASSERT_EQ(e.exit_reason, uapi::KVM_EXIT_SYSTEM_EVENT);
  EXPECT_EQ(e.system_event.type, uapi::KVM_SYSTEM_EVENT_SEV_TERM);
  EXPECT_EQ(e.system_event.ndata, 1u);
  EXPECT_EQ(e.system_event.data0, 0x100u);  // GHCB MSR termination request, general reason
  ASSERT_EQ(log().size(), 1u);
  EXPECT_NE(log()[0].find("#VC 0x404"), std::string::npos) << log()[0];
  // A terminated guest stays terminated.
  EXPECT_EQ(run().exit_reason, uapi::KVM_EXIT_SYSTEM_EVENT);
}

TEST_F(GuestRun, SharedAccessToPrivateGpa_MemoryFaultThenRetry) {
  launch();
  load({GuestOp::write(0x30000, false, 0x77), GuestOp::halt()});
  auto e = vm_->vcpu().run();
  ASSERT_TRUE(e) << "a memory fault is an exit, not an error";
  ASSERT_EQ(e->exit_reason, uapi::KVM_EXIT_MEMORY_FAULT);
  EXPECT_EQ(e->memory_fault.flags, 0u);  // the guest wants it shared
  EXPECT_EQ(e->memory_fault.gpa, 0x30000u);
  EXPECT_EQ(e->memory_fault.size, kPageSize);
  ASSERT_TRUE(vm_->convert(0x30000, kPageSize, false));
  EXPECT_EQ(run().exit_reason, uapi::KVM_EXIT_HLT);
  std::uint8_t b = 0;
  ASSERT_TRUE(host().user().copy_from(vm_->shared().addr() + 0x30000, {&b, 1}));
  EXPECT_EQ(b, 0x77);  // the write landed in the VMM's shared memory
}

TEST_F(GuestRun, PrivateAccessToSharedGpa_MemoryFaultWithPrivateFlag) {
  launch();
  ASSERT_TRUE(vm_->convert(0x40000, kPageSize, false));
  load({GuestOp::pvalidate(0x40000), GuestOp::halt()});
  auto e = vm_->vcpu().run();
  ASSERT_TRUE(e);
  ASSERT_EQ(e->exit_reason, uapi::KVM_EXIT_MEMORY_FAULT);
  EXPECT_EQ(e->memory_fault.flags, uapi::KVM_MEMORY_EXIT_FLAG_PRIVATE);
  EXPECT_EQ(e->memory_fault.gpa, 0x40000u);
  ASSERT_TRUE(vm_->convert(0x40000, kPageSize, true));
  EXPECT_EQ(run().exit_reason, uapi::KVM_EXIT_HLT);
  EXPECT_EQ(log().back(), "PVALIDATE 0x40000: SUCCESS");
}

TEST_F(GuestRun, MapGpaRange_ExitCarriesTheHypercallAndRetCompletesIt) {
  launch();
  load({GuestOp::map_gpa_range(0x50000, 4, false), GuestOp::halt()});
  const RunExit e = run();
  ASSERT_EQ(e.exit_reason, uapi::KVM_EXIT_HYPERCALL);
  EXPECT_EQ(e.hypercall.nr, uapi::KVM_HC_MAP_GPA_RANGE);
  EXPECT_EQ(e.hypercall.args[0], 0x50000u);
  EXPECT_EQ(e.hypercall.args[1], 4u);
  EXPECT_EQ(e.hypercall.args[2], 0u);  // DECRYPTED, 4K
  EXPECT_EQ(e.hypercall.ret, 0u);
  ASSERT_TRUE(vm_->convert(0x50000, 4 * kPageSize, false));
  ASSERT_TRUE(vm_->vcpu().set_exit_ret(0));
  EXPECT_EQ(run().exit_reason, uapi::KVM_EXIT_HLT);
  EXPECT_EQ(log().front(), "page-state change 0x50000+4 to shared: done");
}

// GuestOp::terminate(set, code): the GHCB MSR value KVM hands to userspace carries the reason
// set in bits 15:12 and the code in bits 23:16 (GHCB spec, MSR protocol), and the guest is done.
TEST_F(GuestRun, Terminate_CarriesReasonSetAndCode) {
  launch();
  load({GuestOp::terminate(2, 0x31), GuestOp::halt()});
  const RunExit e = run();
  ASSERT_EQ(e.exit_reason, uapi::KVM_EXIT_SYSTEM_EVENT);
  EXPECT_EQ(e.system_event.type, uapi::KVM_SYSTEM_EVENT_SEV_TERM);
  EXPECT_EQ(e.system_event.ndata, 1u);
  EXPECT_EQ(e.system_event.data0, 0x100u | (2u << 12) | (0x31u << 16));
  EXPECT_EQ(log().back(), "GHCB termination request: reason set 2, code 49");
  EXPECT_EQ(run().exit_reason, uapi::KVM_EXIT_SYSTEM_EVENT);  // a terminated guest stays terminated
}

TEST_F(GuestRun, MapGpaRange_NonzeroRetFailsTheGuest) {
  launch();
  load({GuestOp::map_gpa_range(0x50000, 1, true), GuestOp::halt()});
  const RunExit e = run();
  ASSERT_EQ(e.exit_reason, uapi::KVM_EXIT_HYPERCALL);
  EXPECT_EQ(e.hypercall.args[2], uapi::KVM_MAP_GPA_RANGE_ENCRYPTED);
  ASSERT_TRUE(vm_->vcpu().set_exit_ret(static_cast<std::uint64_t>(-EINVAL)));
  const RunExit t = run();
  EXPECT_EQ(t.exit_reason, uapi::KVM_EXIT_SYSTEM_EVENT);
  EXPECT_EQ(t.system_event.type, uapi::KVM_SYSTEM_EVENT_SEV_TERM);
}

TEST_F(GuestRun, MapGpaRange_WithoutExitHypercallCap_GuestTerminates) {
  SnpVmConfig cfg;
  cfg.exit_hypercall = false;
  launch(cfg);
  load({GuestOp::map_gpa_range(0x50000, 1, false)});
  const RunExit e = run();
  EXPECT_EQ(e.exit_reason, uapi::KVM_EXIT_SYSTEM_EVENT);
  ASSERT_FALSE(log().empty());
  EXPECT_NE(log()[0].find("KVM_CAP_EXIT_HYPERCALL"), std::string::npos);
}

TEST_F(GuestRun, SetExitRet_OnlyAfterAnExitWithRet) {
  launch();
  const Status before = vm_->vcpu().set_exit_ret(0);
  ASSERT_FALSE(before.has_value());
  EXPECT_EQ(before.error().errno_value, EINVAL);
  load({GuestOp::halt()});
  EXPECT_EQ(run().exit_reason, uapi::KVM_EXIT_HLT);
  const Status after_hlt = vm_->vcpu().set_exit_ret(0);
  ASSERT_FALSE(after_hlt.has_value());
  EXPECT_EQ(after_hlt.error().errno_value, EINVAL);
}

// The guest converts one page private -> shared -> private, as a guest kernel does for a DMA
// buffer: rescind, page-state change, use shared, page-state change back, PVALIDATE, use.
TEST_F(GuestRun, ConvertsPagesBackAndForth) {
  launch();
  constexpr std::uint64_t kGpa = 0x60000;
  load({GuestOp::pvalidate(kGpa), GuestOp::write(kGpa, true, 0x11),
        GuestOp::pvalidate(kGpa, /*validate=*/false), GuestOp::map_gpa_range(kGpa, 1, false),
        GuestOp::write(kGpa, false, 0x22), GuestOp::read(kGpa, false),
        GuestOp::map_gpa_range(kGpa, 1, true), GuestOp::read(kGpa, true),  // not validated yet: #VC
        GuestOp::halt()});
  RunExit e = run();
  ASSERT_EQ(e.exit_reason, uapi::KVM_EXIT_HYPERCALL);
  ASSERT_TRUE(vm_->convert(kGpa, kPageSize, false));
  ASSERT_TRUE(vm_->vcpu().set_exit_ret(0));
  {
    // The private page went back to the hypervisor when the VMM discarded it.
    model::kvm::Vm* v = host().vm(host().vm_ids().front());
    EXPECT_EQ(v->attributes(kGpa >> model::kPageShift), 0u);
  }
  e = run();
  ASSERT_EQ(e.exit_reason, uapi::KVM_EXIT_HYPERCALL);
  EXPECT_EQ(e.hypercall.args[2], uapi::KVM_MAP_GPA_RANGE_ENCRYPTED);
  ASSERT_TRUE(vm_->convert(kGpa, kPageSize, true));
  ASSERT_TRUE(vm_->vcpu().set_exit_ret(0));
  e = run();
  // The new private page is the guest's but not validated: the read raises #VC 0x404.
  EXPECT_EQ(e.exit_reason, uapi::KVM_EXIT_SYSTEM_EVENT);
  const auto entry = rmp_of(kGpa);
  ASSERT_TRUE(entry);
  EXPECT_TRUE(entry->assigned());
  EXPECT_FALSE(entry->validated());
  const auto& l = log();
  ASSERT_GE(l.size(), 7u);
  EXPECT_EQ(l[1], "write 0x60000 (private): 0x11");
  EXPECT_EQ(l[2], "PVALIDATE 0x60000: SUCCESS");
  EXPECT_EQ(l[4], "write 0x60000 (shared): 0x22");
  EXPECT_EQ(l[5], "read 0x60000 (shared): 0x22");
  EXPECT_NE(l.back().find("#VC 0x404"), std::string::npos) << l.back();
}

TEST_F(GuestRun, ConvertedPageComesBackZeroedAfterRevalidation) {
  launch();
  constexpr std::uint64_t kGpa = 0x70000;
  load({GuestOp::pvalidate(kGpa), GuestOp::write(kGpa, true, 0x33), GuestOp::pvalidate(kGpa, false),
        GuestOp::map_gpa_range(kGpa, 1, false), GuestOp::map_gpa_range(kGpa, 1, true), GuestOp::pvalidate(kGpa),
        GuestOp::read(kGpa, true), GuestOp::halt()});
  for (bool to_private : {false, true}) {
    const RunExit e = run();
    ASSERT_EQ(e.exit_reason, uapi::KVM_EXIT_HYPERCALL);
    ASSERT_TRUE(vm_->convert(kGpa, kPageSize, to_private));
    ASSERT_TRUE(vm_->vcpu().set_exit_ret(0));
  }
  EXPECT_EQ(run().exit_reason, uapi::KVM_EXIT_HLT);
  // The hole punch discarded the old contents: the guest reads a fresh page, not 0x33.
  EXPECT_EQ(log().back(), "read 0x70000 (private): 0x00");
}

TEST_F(GuestRun, RunBeforeLaunchFinish_Einval) {
  auto kvm = Kvm::open(*backend_);
  ASSERT_TRUE(kvm);
  auto vm = kvm->create_vm(uapi::KVM_X86_SNP_VM);
  ASSERT_TRUE(vm);
  auto sev = SevDevice::open(*backend_);
  ASSERT_TRUE(sev);
  uapi::kvm_sev_init init;
  ASSERT_TRUE(vm->memory_encrypt_op(uapi::KVM_SEV_INIT2, &init, static_cast<std::uint32_t>(sev->handle())));
  auto vcpu = vm->create_vcpu(0);
  ASSERT_TRUE(vcpu);
  auto e = vcpu->run();
  ASSERT_FALSE(e.has_value());
  EXPECT_EQ(e.error().errno_value, EINVAL);
  EXPECT_EQ(e.error().op, snplab::api::Op::KvmRun);
}

TEST_F(GuestRun, DefaultVmGuest_SharedAccessesWork) {
  auto kvm = Kvm::open(*backend_);
  ASSERT_TRUE(kvm);
  auto vm = kvm->create_vm(uapi::KVM_X86_DEFAULT_VM);
  ASSERT_TRUE(vm);
  auto user = UserMemory::alloc(*backend_, 1 << 20);
  ASSERT_TRUE(user);
  uapi::kvm_userspace_memory_region2 r;
  r.memory_size = 1 << 20;
  r.userspace_addr = user->addr();
  ASSERT_TRUE(vm->set_user_memory_region2(r));
  auto vcpu = vm->create_vcpu(0);
  ASSERT_TRUE(vcpu);
  ASSERT_TRUE(sim_load_guest(*backend_, vcpu->handle(),
                             {GuestOp::write(0x2000, false, 0x42), GuestOp::read(0x2000, false),
                              GuestOp::read(0x3000, true)}));
  auto e = vcpu->run();
  ASSERT_TRUE(e);
  // A private access in a VM without private memory: the guest cannot continue.
  EXPECT_EQ(e->exit_reason, uapi::KVM_EXIT_SYSTEM_EVENT);
  const auto* l = sim_guest_log(*backend_, vcpu->handle());
  ASSERT_NE(l, nullptr);
  ASSERT_EQ(l->size(), 3u);
  EXPECT_EQ((*l)[1], "read 0x2000 (shared): 0x42");
}

TEST_F(GuestRun, LoadGuestOnANonVcpuHandle_Ebadf) {
  launch();
  const Status s = sim_load_guest(*backend_, vm_->vm().handle(), {GuestOp::halt()});
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().errno_value, EBADF);
}

}  // namespace
}  // namespace snplab::api

// ---- GHCB page-state change, RMPADJUST, AP creation ------------------------------------------

namespace snplab::api {
namespace {

using model::kvm::PscEntry;

TEST_F(GuestRun, GhcbPsc_CoalescesContiguousEntriesIntoOneExitAndSkipsPsmash) {
  launch();
  load({GuestOp::ghcb_psc({PscEntry{0x80, model::kvm::kPscShared, false, 0},
                           PscEntry{0x81, model::kvm::kPscShared, false, 0},
                           PscEntry{0x82, model::kvm::kPscShared, false, 0},
                           PscEntry{0x100, model::kvm::kPscPsmash, false, 0},
                           PscEntry{0x90, model::kvm::kPscPrivate, false, 0}}),
        GuestOp::halt()});
  RunExit e = run();
  ASSERT_EQ(e.exit_reason, uapi::KVM_EXIT_HYPERCALL);
  EXPECT_EQ(e.hypercall.nr, uapi::KVM_HC_MAP_GPA_RANGE);
  EXPECT_EQ(e.hypercall.args[0], 0x80000u);  // three entries, one exit
  EXPECT_EQ(e.hypercall.args[1], 3u);
  EXPECT_EQ(e.hypercall.args[2], 0u);
  ASSERT_TRUE(vm_->convert(0x80000, 3 * kPageSize, false));
  ASSERT_TRUE(vm_->vcpu().set_exit_ret(0));
  e = run();  // PSMASH is done without an exit; next the private run
  ASSERT_EQ(e.exit_reason, uapi::KVM_EXIT_HYPERCALL);
  EXPECT_EQ(e.hypercall.args[0], 0x90000u);
  EXPECT_EQ(e.hypercall.args[1], 1u);
  EXPECT_EQ(e.hypercall.args[2], uapi::KVM_MAP_GPA_RANGE_ENCRYPTED);
  ASSERT_TRUE(vm_->vcpu().set_exit_ret(0));
  EXPECT_EQ(run().exit_reason, uapi::KVM_EXIT_HLT);
  EXPECT_EQ(log().back(), "GHCB page-state change (5 entries): done");
}

TEST_F(GuestRun, GhcbPsc_HugeEntry_2MFlagAnd512Pages) {
  launch();
  load({GuestOp::ghcb_psc({PscEntry{0x0, model::kvm::kPscShared, true, 0}}), GuestOp::halt()});
  const RunExit e = run();
  ASSERT_EQ(e.exit_reason, uapi::KVM_EXIT_HYPERCALL);
  EXPECT_EQ(e.hypercall.args[1], 512u);
  EXPECT_EQ(e.hypercall.args[2], uapi::KVM_MAP_GPA_RANGE_PAGE_SZ_2M);
}

TEST_F(GuestRun, GhcbPsc_BadEntries_GuestTerminates) {
  const std::vector<std::pair<std::vector<PscEntry>, std::string>> cases = {
      {{}, "invalid header"},
      {{PscEntry{0x80, 7, false, 0}}, "invalid entry"},                      // unknown operation
      {{PscEntry{0x81, model::kvm::kPscShared, true, 0}}, "invalid entry"},  // 2M entry, unaligned gfn
      {{PscEntry{0x80, model::kvm::kPscShared, false, 2}}, "invalid entry"},  // cur_page beyond the page
      {std::vector<PscEntry>(254, PscEntry{0x80, model::kvm::kPscShared, false, 0}), "invalid header"},
  };
  for (const auto& [entries, why] : cases) {
    launch();
    load({GuestOp::ghcb_psc(entries)});
    const RunExit e = run();
    EXPECT_EQ(e.exit_reason, uapi::KVM_EXIT_SYSTEM_EVENT) << why;
    ASSERT_FALSE(log().empty());
    EXPECT_NE(log().back().find(why), std::string::npos) << log().back();
    vm_->close();
    vm_.reset();
  }
}

TEST_F(GuestRun, GhcbPsc_UserspaceFails_GuestTerminates) {
  launch();
  load({GuestOp::ghcb_psc({PscEntry{0x80, model::kvm::kPscShared, false, 0}})});
  ASSERT_EQ(run().exit_reason, uapi::KVM_EXIT_HYPERCALL);
  ASSERT_TRUE(vm_->vcpu().set_exit_ret(static_cast<std::uint64_t>(-EINVAL)));
  EXPECT_EQ(run().exit_reason, uapi::KVM_EXIT_SYSTEM_EVENT);
  EXPECT_NE(log().back().find("userspace failed it"), std::string::npos) << log().back();
}

TEST_F(GuestRun, ApCreate_NewVmsaRunsOnlyWithTheVmsaBit) {
  SnpVmConfig cfg;
  cfg.vcpus = 2;
  launch(cfg);
  constexpr std::uint64_t kVmsa = 0x21000;  // not 2 MiB aligned
  // Without RMPADJUST(VMSA) the AP's VMRUN fails the RMP checks.
  load({GuestOp::pvalidate(kVmsa), GuestOp::ap_create(1, kVmsa), GuestOp::halt()}, 0);
  EXPECT_EQ(run(0).exit_reason, uapi::KVM_EXIT_HLT);
  EXPECT_EQ(log(0).back(), "AP creation for APIC 1 with VMSA 0x21000: done");
  RunExit ap = run(1);
  EXPECT_EQ(ap.exit_reason, uapi::KVM_EXIT_FAIL_ENTRY);
  EXPECT_EQ(ap.fail_entry_reason, ~0ULL);  // SVM_EXIT_ERR
  // With it the AP runs.
  load({GuestOp::rmpadjust(kVmsa, true), GuestOp::ap_create(1, kVmsa), GuestOp::halt()}, 0);
  EXPECT_EQ(run(0).exit_reason, uapi::KVM_EXIT_HLT);
  EXPECT_EQ(log(0)[0], "RMPADJUST 0x21000 (VMSA): SUCCESS");
  ASSERT_TRUE(sim_load_guest(*backend_, vm_->vcpu(1).handle(), {GuestOp::halt()}));
  EXPECT_EQ(run(1).exit_reason, uapi::KVM_EXIT_HLT);
}

TEST_F(GuestRun, ApCreate_Refusals) {
  SnpVmConfig cfg;
  cfg.vcpus = 2;
  launch(cfg);
  load({GuestOp::ap_create(1, 0x200000),                          // 2 MiB aligned
        GuestOp::ap_create(1, 0x21008),                           // not page aligned
        GuestOp::ap_create(7, 0x21000),                           // no such vCPU
        GuestOp::ap_create(1, 0x21000, model::kvm::kApCreate, 0x21),  // DebugSwap: not the VM's features
        GuestOp::ap_create(1, 0x21000, 9),                        // unknown request
        GuestOp::halt()});
  EXPECT_EQ(run().exit_reason, uapi::KVM_EXIT_HLT);
  ASSERT_EQ(log().size(), 5u);
  EXPECT_NE(log()[0].find("2 MiB aligned"), std::string::npos) << log()[0];
  EXPECT_NE(log()[1].find("not page aligned"), std::string::npos) << log()[1];
  EXPECT_NE(log()[2].find("no such vCPU"), std::string::npos) << log()[2];
  EXPECT_NE(log()[3].find("SEV_FEATURES 0x21"), std::string::npos) << log()[3];
  EXPECT_NE(log()[4].find("unknown request"), std::string::npos) << log()[4];
}

TEST_F(GuestRun, ApDestroy_TheApCannotRun) {
  SnpVmConfig cfg;
  cfg.vcpus = 2;
  launch(cfg);
  load({GuestOp::ap_create(1, 0, model::kvm::kApDestroy), GuestOp::halt()});
  EXPECT_EQ(run().exit_reason, uapi::KVM_EXIT_HLT);
  auto e = vm_->vcpu(1).run();
  ASSERT_FALSE(e.has_value());
  EXPECT_EQ(e.error().errno_value, EINVAL);
}

}  // namespace
}  // namespace snplab::api

// ---- 2 MiB guest_memfd folios: sev_gmem_prepare's 2M entries and the RMP-fault PSMASH ------

namespace snplab::api {
namespace {

class HugeGuestRun : public GuestRun {
 protected:
  void SetUp() override {
    model::kvm::HostConfig cfg;
    cfg.gmem_huge_folios = true;
    backend_ = std::move(*make_sim_backend(cfg));
  }
  SnpVmConfig big() {
    SnpVmConfig c;
    c.mem = 8ULL << 20;  // four 2 MiB folios; the launch touches only the first
    return c;
  }
  model::RmpEntryRaw head_of(std::uint64_t gpa) {
    model::kvm::Vm* v = host().vm(host().vm_ids().front());
    const auto slot = v->gfn_to_memslot(gpa >> model::kPageShift);
    const auto pfn = v->gmem_pfn(*slot, gpa >> model::kPageShift);
    return host().sev()->rmp().inspect(model::huge_base(*pfn));
  }
};

TEST_F(HugeGuestRun, Pvalidate4KOn2MEntry_RmpFaultPsmashThenSuccess) {
  launch(big());
  constexpr std::uint64_t kGpa = 0x200000 + 5 * kPageSize;  // inside the second folio
  load({GuestOp::read(kGpa, true), GuestOp::halt()});  // first touch: sev_gmem_prepare, no PVALIDATE
  EXPECT_EQ(run().exit_reason, uapi::KVM_EXIT_SYSTEM_EVENT);  // #VC: not validated
  const auto before = head_of(kGpa);
  EXPECT_TRUE(before.assigned());
  EXPECT_EQ(before.page_size(), model::PageSize::Size2M);  // one 2M entry for the folio
  vm_->close();
  vm_.reset();

  launch(big());
  load({GuestOp::pvalidate(kGpa), GuestOp::write(kGpa, true, 0x3C), GuestOp::read(kGpa, true), GuestOp::halt()});
  EXPECT_EQ(run().exit_reason, uapi::KVM_EXIT_HLT);
  ASSERT_EQ(log().size(), 3u);
  EXPECT_EQ(log()[0], "PVALIDATE 0x205000: SUCCESS (after RMP fault: PSMASH)");
  EXPECT_EQ(log()[2], "read 0x205000 (private): 0x3c");
  const auto after = head_of(kGpa);
  EXPECT_TRUE(after.assigned());
  EXPECT_EQ(after.page_size(), model::PageSize::Size4K);  // smashed into 512 4K entries
}

TEST_F(HugeGuestRun, Pvalidate2M_NoFaultEntryStays2M) {
  launch(big());
  load({GuestOp::pvalidate(0x400000, true, /*huge=*/true), GuestOp::read(0x4FF000, true), GuestOp::halt()});
  EXPECT_EQ(run().exit_reason, uapi::KVM_EXIT_HLT) << fmt::format("{}", fmt::join(log(), " | "));
  EXPECT_EQ(log()[0], "PVALIDATE 0x400000 (2M): SUCCESS");
  EXPECT_EQ(head_of(0x400000).page_size(), model::PageSize::Size2M);
  EXPECT_TRUE(head_of(0x400000).validated());
}

TEST_F(HugeGuestRun, PartlySharedFolio_4KEntries) {
  launch(big());
  ASSERT_TRUE(vm_->convert(0x600000, kPageSize, false));  // one page of the last folio shared
  load({GuestOp::pvalidate(0x601000), GuestOp::halt()});
  EXPECT_EQ(run().exit_reason, uapi::KVM_EXIT_HLT);
  EXPECT_EQ(log()[0], "PVALIDATE 0x601000: SUCCESS");  // no 2M entry, so no fault
}

TEST_F(HugeGuestRun, PunchHoleInsideA2MEntry_PsmashThenOnlyThatPageGoesBack) {
  launch(big());
  load({GuestOp::pvalidate(0x400000, true, true), GuestOp::halt()});
  EXPECT_EQ(run().exit_reason, uapi::KVM_EXIT_HLT);
  ASSERT_TRUE(vm_->convert(0x401000, kPageSize, false));  // discard one 4K page of the 2M entry
  const auto head = head_of(0x400000);
  EXPECT_EQ(head.page_size(), model::PageSize::Size4K);
  EXPECT_TRUE(head.assigned());
  EXPECT_TRUE(head.validated());  // PSMASH keeps Validated
  // TearDown: the rest goes back on teardown, and the leak detector stays silent.
}

}  // namespace
}  // namespace snplab::api
