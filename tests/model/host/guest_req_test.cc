// Guest requests and extended guest requests on the simulated host (facts §7.3, §8.6, §9(a),
// §9(c)): the firmware round trip under VMPCK0, certificates fetched from userspace through
// KVM_EXIT_SNP_REQ_CERTS (ret 0 / ENOSPC / EAGAIN / EIO / other), the seed's KVM_EXIT_VMGEXIT
// with NOTIFY_DONE, the v10 kernel-held global certificates, and the profiles' historical bugs.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "snp/api/kvm.h"
#include "snp/api/sim_backend.h"
#include "snp/model/attest/attestation.h"
#include "snp/model/attest/cert_table.h"
#include "snp/model/host/kvm_host.h"
#include "snp/scenarios/snp_vm.h"

namespace snplab::api {
namespace {

using model::kPageSize;
using model::kvm::GuestOp;
using model::kvm::GuestRequestPages;
using scenarios::SnpVm;
using scenarios::SnpVmConfig;

constexpr std::uint64_t kReq = 0x80000, kResp = 0x81000, kCerts = 0x82000;

model::kvm::HostConfig with_profile(std::string_view name) {
  model::kvm::HostConfig cfg;
  const model::kvm::KernelProfile* p = model::kvm::find_profile(name);
  EXPECT_NE(p, nullptr) << name;
  if (p != nullptr) cfg.profile = *p;
  return cfg;
}

class GuestReq : public ::testing::Test {
 protected:
  void SetUp() override { use_profile("upstream"); }

  void use_profile(std::string_view name) {
    vm_.reset();
    backend_ = std::move(*make_sim_backend(with_profile(name)));
  }

  void launch(SnpVmConfig cfg = {}) {
    auto vm = SnpVm::launch(*backend_, cfg);
    ASSERT_TRUE(vm) << vm.error().to_string();
    vm_ = std::move(*vm);
    // The request, response and certificate pages are shared, as the guest driver makes them.
    ASSERT_TRUE(vm_->convert(kReq, 6 * kPageSize, false));
  }

  GuestRequestPages pages(std::uint64_t cert_pages = 4) const {
    GuestRequestPages p;
    p.secrets = 0xF000;
    p.req = kReq;
    p.resp = kResp;
    p.certs = kCerts;
    p.cert_pages = cert_pages;
    return p;
  }

  void load(std::vector<GuestOp> ops) { ASSERT_TRUE(sim_load_guest(*backend_, vm_->vcpu().handle(), std::move(ops))); }

  RunExit run() {
    auto e = vm_->vcpu().run();
    EXPECT_TRUE(e) << e.error().to_string();
    return e ? *e : RunExit{};
  }

  const model::kvm::GuestLog& log() { return *sim_guest_log(*backend_, vm_->vcpu().handle()); }
  model::kvm::Host& host() { return *sim_host(*backend_); }

  /// What a VMM serves: VCEK (for the TCB the firmware reports), ASK, ARK.
  std::vector<std::uint8_t> cert_blob() {
    const model::Firmware& fw = host().sev()->fw();
    const model::SimChip& chip = fw.chip();
    const std::vector<model::CertTableBlob> blobs = {{model::kGuidVcek, chip.vcek_cert(fw.reported_tcb())},
                                                     {model::kGuidAsk, chip.ask_cert()},
                                                     {model::kGuidArk, chip.ark_cert()}};
    auto t = model::encode_cert_table(blobs);
    EXPECT_TRUE(t);
    return t ? *t : std::vector<std::uint8_t>{};
  }

  /// The VMM writes the table into the guest's (shared) certificate buffer.
  void serve_certs(std::uint64_t gpa) {
    const auto blob = cert_blob();
    ASSERT_TRUE(vm_->shared().write(gpa, blob));
  }

  void TearDown() override {
    if (vm_) vm_->close();
    vm_.reset();
    if (backend_ && sim_host(*backend_) != nullptr) {
      for (const auto& f : host().sev()->detectors().findings()) ADD_FAILURE() << f.describe();
    }
  }

  std::unique_ptr<Backend> backend_;
  std::unique_ptr<SnpVm> vm_;
};

TEST_F(GuestReq, GuestRequest_ReportCarriesReportDataAndTheLaunchMeasurement) {
  launch();
  load({GuestOp::guest_request(pages(), 0xA5), GuestOp::halt()});
  EXPECT_EQ(run().exit_reason, uapi::KVM_EXIT_HLT);
  EXPECT_EQ(log().back(), "guest request: report received");
  const auto* raw = sim_guest_report(*backend_, vm_->vcpu().handle());
  ASSERT_NE(raw, nullptr);
  ASSERT_EQ(raw->size(), model::kReportSize);
  const auto rep = model::parse_attestation_report(*raw);
  ASSERT_TRUE(rep) << rep.error().message;
  for (std::uint8_t b : rep->report_data) ASSERT_EQ(b, 0xA5);
  model::kvm::Vm* v = host().vm(host().vm_ids().front());
  const model::GuestContext* g = host().sev()->fw().guest(model::pfn_to_spa(v->sev().gctx));
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(rep->measurement, g->measurement);
}

TEST_F(GuestReq, TwoRequests_TheSequenceNumbersAdvance) {
  launch();
  load({GuestOp::guest_request(pages(), 1), GuestOp::guest_request(pages(), 2), GuestOp::halt()});
  EXPECT_EQ(run().exit_reason, uapi::KVM_EXIT_HLT);
  ASSERT_EQ(log().size(), 2u);
  EXPECT_EQ(log()[1], "guest request: report received");
}

TEST_F(GuestReq, ExtRequestWithoutReqCerts_EmptyTable) {
  launch();
  ASSERT_TRUE(vm_->shared().write(kCerts, std::vector<std::uint8_t>(64, 0xEE)));  // stale bytes
  load({GuestOp::ext_guest_request(pages(), 3), GuestOp::halt()});
  EXPECT_EQ(run().exit_reason, uapi::KVM_EXIT_HLT);
  EXPECT_EQ(log().back(), "extended guest request: report received; no certificates");
}

TEST_F(GuestReq, ExtRequest_SnpReqCertsExit_ThenTheGuestVerifiesTheReport) {
  SnpVmConfig cfg;
  cfg.req_certs = true;
  launch(cfg);
  load({GuestOp::ext_guest_request(pages(), 7), GuestOp::halt()});
  const RunExit e = run();
  ASSERT_EQ(e.exit_reason, uapi::KVM_EXIT_SNP_REQ_CERTS);
  EXPECT_EQ(e.snp_req_certs.gpa, kCerts);
  EXPECT_EQ(e.snp_req_certs.npages, 4u);
  EXPECT_EQ(e.snp_req_certs.ret, 0u);
  serve_certs(e.snp_req_certs.gpa);
  ASSERT_TRUE(vm_->vcpu().set_exit_ret(0));
  EXPECT_EQ(run().exit_reason, uapi::KVM_EXIT_HLT);
  EXPECT_EQ(log().back(), "extended guest request: report verified (3 certificates, VCEK)");
}

TEST_F(GuestReq, ExtRequest_Enospc_GuestLearnsTheNeededPageCount) {
  SnpVmConfig cfg;
  cfg.req_certs = true;
  launch(cfg);
  load({GuestOp::ext_guest_request(pages(1), 7), GuestOp::halt()});
  ASSERT_EQ(run().exit_reason, uapi::KVM_EXIT_SNP_REQ_CERTS);
  ASSERT_TRUE(vm_->vcpu().complete(RunCompletion{ENOSPC, 3, 0}));
  EXPECT_EQ(run().exit_reason, uapi::KVM_EXIT_HLT);
  EXPECT_EQ(log().back(), "extended guest request: certificate buffer too small (1 pages given, 3 needed)");
}

TEST_F(GuestReq, ExtRequest_EagainThenSuccess_GuestRetries) {
  SnpVmConfig cfg;
  cfg.req_certs = true;
  launch(cfg);
  load({GuestOp::ext_guest_request(pages(), 7), GuestOp::halt()});
  ASSERT_EQ(run().exit_reason, uapi::KVM_EXIT_SNP_REQ_CERTS);
  ASSERT_TRUE(vm_->vcpu().set_exit_ret(EAGAIN));
  const RunExit again = run();  // the guest retries the same request
  ASSERT_EQ(again.exit_reason, uapi::KVM_EXIT_SNP_REQ_CERTS);
  serve_certs(kCerts);
  ASSERT_TRUE(vm_->vcpu().set_exit_ret(0));
  EXPECT_EQ(run().exit_reason, uapi::KVM_EXIT_HLT);
  ASSERT_EQ(log().size(), 2u);
  EXPECT_EQ(log()[0], "extended guest request: busy, retrying");
  EXPECT_EQ(log()[1], "extended guest request: report verified (3 certificates, VCEK)");
}

TEST_F(GuestReq, ExtRequest_Eio_GenericErrorToTheGuest) {
  SnpVmConfig cfg;
  cfg.req_certs = true;
  launch(cfg);
  load({GuestOp::ext_guest_request(pages(), 7), GuestOp::halt()});
  ASSERT_EQ(run().exit_reason, uapi::KVM_EXIT_SNP_REQ_CERTS);
  ASSERT_TRUE(vm_->vcpu().set_exit_ret(EIO));
  EXPECT_EQ(run().exit_reason, uapi::KVM_EXIT_HLT);
  EXPECT_EQ(log().back(), "extended guest request: failed (vmm 0xffffffff, fw 0x0)");
}

TEST_F(GuestReq, ExtRequest_OtherRet_KvmRunFailsEinval) {
  SnpVmConfig cfg;
  cfg.req_certs = true;
  launch(cfg);
  load({GuestOp::ext_guest_request(pages(), 7), GuestOp::halt()});
  ASSERT_EQ(run().exit_reason, uapi::KVM_EXIT_SNP_REQ_CERTS);
  ASSERT_TRUE(vm_->vcpu().set_exit_ret(1));
  auto e = vm_->vcpu().run();
  ASSERT_FALSE(e.has_value());
  EXPECT_EQ(e.error().errno_value, EINVAL);
  EXPECT_EQ(run().exit_reason, uapi::KVM_EXIT_SNP_REQ_CERTS);  // the VMGEXIT runs again
}

TEST_F(GuestReq, EnableReqCerts_Rules) {
  launch();  // vCPUs exist now
  const Status late = vm_->vm().memory_encrypt_op(uapi::KVM_SEV_SNP_ENABLE_REQ_CERTS, nullptr, 0);
  ASSERT_FALSE(late.has_value());
  EXPECT_EQ(late.error().errno_value, EINVAL);
  auto kvm = Kvm::open(*backend_);
  auto plain = kvm->create_vm(uapi::KVM_X86_DEFAULT_VM);
  ASSERT_TRUE(plain);
  const Status not_snp = plain->memory_encrypt_op(uapi::KVM_SEV_SNP_ENABLE_REQ_CERTS, nullptr, 0);
  ASSERT_FALSE(not_snp.has_value());
  EXPECT_EQ(not_snp.error().errno_value, ENOTTY);  // not an SEV guest at all
}

TEST_F(GuestReq, MalformedRequestPages_MissingInput) {
  launch();
  GuestRequestPages p = pages();
  p.resp = p.req;  // request and response must differ
  load({GuestOp::guest_request(p, 1), GuestOp::halt()});
  EXPECT_EQ(run().exit_reason, uapi::KVM_EXIT_HLT);
  EXPECT_EQ(log().back(), "guest request: malformed input (GHCB error 4)");
}

// ---- the seed's KVM_EXIT_VMGEXIT (profile v15-vmgexit-certs) ------------------------------

TEST_F(GuestReq, SeedVmgexit_NotifyDone_SecondExitWithStatusDone) {
  use_profile("v15-vmgexit-certs");
  launch();
  load({GuestOp::ext_guest_request(pages(), 9), GuestOp::halt()});
  const RunExit e = run();
  ASSERT_EQ(e.exit_reason, uapi::KVM_EXIT_VMGEXIT_SEED);
  EXPECT_EQ(e.vmgexit.type, uapi::KVM_USER_VMGEXIT_REQ_CERTS);
  EXPECT_EQ(e.vmgexit.data_gpa, kCerts);
  EXPECT_EQ(e.vmgexit.data_npages, 4u);
  EXPECT_EQ(e.vmgexit.status, uapi::KVM_USER_VMGEXIT_REQ_CERTS_STATUS_PENDING);
  serve_certs(kCerts);
  ASSERT_TRUE(vm_->vcpu().complete(RunCompletion{0, {}, uapi::KVM_USER_VMGEXIT_REQ_CERTS_FLAGS_NOTIFY_DONE}));
  const RunExit done = run();
  ASSERT_EQ(done.exit_reason, uapi::KVM_EXIT_VMGEXIT_SEED);
  EXPECT_EQ(done.vmgexit.status, uapi::KVM_USER_VMGEXIT_REQ_CERTS_STATUS_DONE);
  EXPECT_EQ(done.vmgexit.flags, 0u);
  // The request went to the firmware before the DONE exit; the guest reads the answer only
  // when it resumes.
  EXPECT_TRUE(log().empty());
  ASSERT_TRUE(vm_->vcpu().complete(RunCompletion{0, {}, 0}));
  EXPECT_EQ(run().exit_reason, uapi::KVM_EXIT_HLT);
  ASSERT_FALSE(log().empty());
  EXPECT_EQ(log().back(), "extended guest request: report verified (3 certificates, VCEK)");
}

TEST_F(GuestReq, SeedVmgexit_WithoutNotifyDone_OneExit) {
  use_profile("v15-vmgexit-certs");
  launch();
  load({GuestOp::ext_guest_request(pages(), 9), GuestOp::halt()});
  ASSERT_EQ(run().exit_reason, uapi::KVM_EXIT_VMGEXIT_SEED);
  serve_certs(kCerts);
  ASSERT_TRUE(vm_->vcpu().complete(RunCompletion{0, {}, 0}));
  EXPECT_EQ(run().exit_reason, uapi::KVM_EXIT_HLT);
  EXPECT_EQ(log().back(), "extended guest request: report verified (3 certificates, VCEK)");
}

TEST_F(GuestReq, SeedVmgexit_InvalidLen_RbxFromDataNpages) {
  use_profile("v15-vmgexit-certs");
  launch();
  load({GuestOp::ext_guest_request(pages(1), 9), GuestOp::halt()});
  ASSERT_EQ(run().exit_reason, uapi::KVM_EXIT_VMGEXIT_SEED);
  ASSERT_TRUE(vm_->vcpu().complete(
      RunCompletion{uapi::KVM_USER_VMGEXIT_REQ_CERTS_ERROR_INVALID_LEN, 5, 0}));
  EXPECT_EQ(run().exit_reason, uapi::KVM_EXIT_HLT);
  EXPECT_EQ(log().back(), "extended guest request: certificate buffer too small (1 pages given, 5 needed)");
}

// ---- v10 kernel-held certificates -----------------------------------------------------------

class V10Certs : public GuestReq {
 protected:
  void set_global(const std::vector<std::uint8_t>& blob) {
    auto sev = SevDevice::open(*backend_);
    ASSERT_TRUE(sev);
    auto mem = UserMemory::alloc(*backend_, 64 << 10);
    ASSERT_TRUE(mem);
    ASSERT_TRUE(mem->write(0, blob));
    uapi::sev_user_data_ext_snp_config c;
    c.certs_address = mem->addr();
    c.certs_len = static_cast<std::uint32_t>(blob.size());
    std::uint32_t fw = 0;
    ASSERT_TRUE(sev->issue_cmd(uapi::SNP_SET_EXT_CONFIG_V10, &c, &fw));
  }
};

TEST_F(V10Certs, GlobalCertsCopiedByTheKernel_NoExit) {
  use_profile("v10-kernel-certs");
  launch();
  set_global(cert_blob());
  load({GuestOp::ext_guest_request(pages(), 4), GuestOp::halt()});
  EXPECT_EQ(run().exit_reason, uapi::KVM_EXIT_HLT);
  EXPECT_EQ(log().back(), "extended guest request: report verified (3 certificates, VCEK)");
}

TEST_F(V10Certs, SmallBuffer_InvalidLenWithThePageCount) {
  use_profile("v10-kernel-certs");
  launch();
  const auto blob = cert_blob();
  set_global(blob);
  load({GuestOp::ext_guest_request(pages(0), 4), GuestOp::halt()});
  EXPECT_EQ(run().exit_reason, uapi::KVM_EXIT_HLT);
  EXPECT_EQ(log().back(), fmt::format("extended guest request: certificate buffer too small (0 pages given, {} needed)",
                                      blob.size() >> model::kPageShift));
}

TEST_F(V10Certs, NewerSevIoctls_AreNotThere) {
  use_profile("v10-kernel-certs");
  auto sev = SevDevice::open(*backend_);
  ASSERT_TRUE(sev);
  uapi::sev_user_data_snp_vlek_load v;
  const Status s = sev->snp_vlek_load(v);
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().errno_value, EINVAL);
}

/// Runs `inject` once, at the `nth` plain load of sev->snp_certs: a concurrent
/// SNP_SET_EXT_CONFIG landing between the getter's loads, as the engine would
/// schedule it. The hook is the scheduling point every access goes through.
class InjectAtLoad : public model::kern::SchedHook {
 public:
  InjectAtLoad(int nth, std::function<void()> inject) : nth_(nth), inject_(std::move(inject)) {}
  void on_point(const model::kern::Point& p) override {
    if (busy_ || p.name != "sev->snp_certs" || p.kind != model::kern::PointKind::PlainLoad) return;
    if (++seen_ == nth_) {
      busy_ = true;
      inject_();
      busy_ = false;
    }
  }
  bool block_until(const model::kern::Point&, bool (*)(const void*), const void*) override { return false; }
  /// The compiler reloads at every use: the v10 getter loads sev->snp_certs three times.
  bool choose_reload(const model::kern::Point&) override { return true; }

 private:
  int nth_;
  int seen_ = 0;
  bool busy_ = false;
  std::function<void()> inject_;
};

std::size_t count_findings(model::kvm::Host& h, model::FindingKind kind) {
  std::size_t n = 0;
  for (const auto& f : h.sched().findings()) n += f.kind == kind ? 1U : 0U;
  return n;
}

TEST_F(V10Certs, GlobalCertsReload_ReplacedBetweenLoads_RefOnOneObjectAnotherReturned) {
  use_profile("v10-global-certs-reload");
  launch();
  set_global(cert_blob());
  // The second plain load (the one kref_get_unless_zero works on) sees the old blob; the
  // replacement lands right after it, before the third load returns the pointer.
  InjectAtLoad hook(3, [&] { host().sev()->set_global_certs(host().sched(), cert_blob(), false); });
  host().sched().set_hook(&hook);
  load({GuestOp::ext_guest_request(pages(), 4), GuestOp::halt()});
  EXPECT_EQ(run().exit_reason, uapi::KVM_EXIT_HLT);
  host().sched().set_hook(nullptr);
  EXPECT_EQ(count_findings(host(), snplab::model::FindingKind::KrefReloadedPointer), 1u);
}

TEST_F(V10Certs, FixedGetter_SameInterleaving_NoFinding) {
  use_profile("v10-kernel-certs");
  launch();
  set_global(cert_blob());
  int marked = 0;
  // The replacement lands right before the getter takes sev->snp_certs_lock.
  struct AtMarked : model::kern::SchedHook {
    std::function<void()> f;
    int* n;
    bool busy = false;
    void on_point(const model::kern::Point& p) override {
      if (busy || p.name != "sev->snp_certs_lock" || p.kind != model::kern::PointKind::Lock) return;
      if (++*n == 1) {
        busy = true;
        f();
        busy = false;
      }
    }
    bool block_until(const model::kern::Point&, bool (*)(const void*), const void*) override { return false; }
  } hook;
  hook.n = &marked;
  hook.f = [&] { host().sev()->set_global_certs(host().sched(), cert_blob(), true); };
  host().sched().set_hook(&hook);
  load({GuestOp::ext_guest_request(pages(), 4), GuestOp::halt()});
  EXPECT_EQ(run().exit_reason, uapi::KVM_EXIT_HLT);
  host().sched().set_hook(nullptr);
  EXPECT_GE(marked, 1);
  EXPECT_EQ(count_findings(host(), snplab::model::FindingKind::KrefReloadedPointer), 0u);
  EXPECT_EQ(log().back(), "extended guest request: report verified (3 certificates, VCEK)");
}

// ---- a non-SNP guest's extended request (facts §9(c)) -------------------------------------

class NonSnpGuest : public GuestReq {
 protected:
  /// A non-SNP VM with plain memory and one vCPU: no SNP context, no secrets. The thread's
  /// guest was SEV-ES; the simulated host runs default and SNP VMs only, and the v10 check
  /// is `!sev_snp_guest(kvm)`, which a default VM fails the same way.
  void start() {
    auto kvm = Kvm::open(*backend_);
    ASSERT_TRUE(kvm);
    auto vm = kvm->create_vm(uapi::KVM_X86_DEFAULT_VM);
    ASSERT_TRUE(vm) << vm.error().to_string();
    es_vm_.emplace(std::move(*vm));
    auto mem = UserMemory::alloc(*backend_, 1 << 20);
    ASSERT_TRUE(mem);
    es_mem_.emplace(std::move(*mem));
    uapi::kvm_userspace_memory_region2 r;
    r.memory_size = 1 << 20;
    r.userspace_addr = es_mem_->addr();
    ASSERT_TRUE(es_vm_->set_user_memory_region2(r));
    auto vcpu = es_vm_->create_vcpu(0);
    ASSERT_TRUE(vcpu);
    es_vcpu_.emplace(std::move(*vcpu));
    GuestRequestPages p;
    p.req = kReq;
    p.resp = kResp;
    p.certs = kCerts;
    p.cert_pages = 4;
    ASSERT_TRUE(sim_load_guest(*backend_, es_vcpu_->handle(), {GuestOp::ext_guest_request(p, 1), GuestOp::halt()}));
    auto e = es_vcpu_->run();
    ASSERT_TRUE(e);
    EXPECT_EQ(e->exit_reason, uapi::KVM_EXIT_HLT);
  }
  const model::kvm::GuestLog& es_log() { return *sim_guest_log(*backend_, es_vcpu_->handle()); }
  void TearDown() override {
    es_vcpu_.reset();
    es_vm_.reset();
    es_mem_.reset();
    GuestReq::TearDown();
  }
  std::optional<Vm> es_vm_;
  std::optional<UserMemory> es_mem_;
  std::optional<Vcpu> es_vcpu_;
};

TEST_F(NonSnpGuest, Upstream_MalformedInput) {
  start();
  EXPECT_EQ(es_log().back(), "extended guest request: malformed input (GHCB error 4)");
  EXPECT_EQ(count_findings(host(), snplab::model::FindingKind::GuestRequestFalseSuccess), 0u);
}

TEST_F(NonSnpGuest, V10Fixed_InvalidGuest) {
  use_profile("v10-kernel-certs");
  start();
  EXPECT_EQ(es_log().back(), "extended guest request: failed (vmm 0x0, fw 0x10)");
  EXPECT_EQ(count_findings(host(), snplab::model::FindingKind::GuestRequestFalseSuccess), 0u);
}

TEST_F(NonSnpGuest, V10RcBug_GuestToldSuccess_Finding) {
  use_profile("v10-nonsnp-guest-req-rc");
  start();
  EXPECT_EQ(count_findings(host(), snplab::model::FindingKind::GuestRequestFalseSuccess), 1u);
  // The guest believed it and found no valid response.
  EXPECT_NE(es_log().back().find("response does not open"), std::string::npos) << es_log().back();
}

// ---- profiles --------------------------------------------------------------------------------

TEST(KernelProfiles, DefaultIsUpstreamAndNamesAreUnique) {
  EXPECT_EQ(model::kvm::default_profile().name, "upstream");
  std::set<std::string_view> names;
  for (const auto& p : model::kvm::kernel_profiles()) {
    EXPECT_TRUE(names.insert(p.name).second) << p.name;
    EXPECT_FALSE(p.summary.empty());
    EXPECT_FALSE(p.source.empty());
    EXPECT_EQ(model::kvm::find_profile(p.name), &p);
  }
  EXPECT_EQ(model::kvm::find_profile("no-such-kernel"), nullptr);
}

TEST(KernelProfiles, DebugSwapForced_ChangesTheMeasuredVmsa) {
  std::array<std::uint8_t, 48> m[2];
  int i = 0;
  for (const char* name : {"upstream", "debug-swap-forced"}) {
    auto b = make_sim_backend(with_profile(name));
    ASSERT_TRUE(b);
    auto vm = SnpVm::launch(**b, SnpVmConfig{});
    ASSERT_TRUE(vm) << vm.error().to_string();
    model::kvm::Host& h = *sim_host(**b);
    model::kvm::Vm* v = h.vm(h.vm_ids().front());
    EXPECT_EQ((v->sev().vmsa_features >> 5) & 1, i == 0 ? 0u : 1u);
    m[i++] = h.sev()->fw().guest(model::pfn_to_spa(v->sev().gctx))->measurement;
    (*vm)->close();
  }
  EXPECT_NE(m[0], m[1]);  // the VMM asked for no features; the kernel changed the digest anyway
}

// ---- the LAUNCH_UPDATE profiles (facts §9(b)) -------------------------------------------------

namespace launch_profiles {

using model::FindingKind;

/// An SNP VM after LAUNCH_START with 64 KiB of private guest_memfd memory.
struct Launched {
  explicit Launched(std::string_view profile) : backend(std::move(*make_sim_backend(with_profile(profile)))) {
    SnpVmConfig cfg;
    cfg.launched = 0;
    cfg.secrets_gpa = 0;
    cfg.vcpus = 0;
    // LAUNCH_FINISH is left out: these tests issue LAUNCH_UPDATE themselves.
    auto kvm = Kvm::open(*backend);
    vm.emplace(std::move(*kvm->create_vm(uapi::KVM_X86_SNP_VM)));
    sev.emplace(std::move(*SevDevice::open(*backend)));
    uapi::kvm_sev_init init;
    EXPECT_TRUE(vm->sev_init2(init, *sev));
    uapi::kvm_sev_snp_launch_start start;
    start.policy = 0x30000;
    EXPECT_TRUE(vm->snp_launch_start(start));
    uapi::kvm_create_guest_memfd g;
    g.size = 64 << 10;
    gmem.emplace(std::move(*vm->create_guest_memfd(g)));
    shared.emplace(std::move(*UserMemory::alloc(*backend, 64 << 10)));
    src.emplace(std::move(*UserMemory::alloc(*backend, 16 * kPageSize)));
    uapi::kvm_userspace_memory_region2 r;
    r.flags = uapi::KVM_MEM_GUEST_MEMFD;
    r.memory_size = 64 << 10;
    r.userspace_addr = shared->addr();
    r.guest_memfd = static_cast<std::uint32_t>(gmem->handle());
    EXPECT_TRUE(vm->set_user_memory_region2(r));
    uapi::kvm_memory_attributes a;
    a.size = 64 << 10;
    a.attributes = uapi::KVM_MEMORY_ATTRIBUTE_PRIVATE;
    EXPECT_TRUE(vm->set_memory_attributes(a));
  }
  Status update(std::uint64_t gfn, std::uint64_t n, std::uint8_t type, std::uint64_t uaddr = 0) {
    uapi::kvm_sev_snp_launch_update u;
    u.gfn_start = gfn;
    u.uaddr = uaddr != 0 ? uaddr : src->addr();
    u.len = n * kPageSize;
    u.type = type;
    return vm->snp_launch_update(u);
  }
  std::size_t findings(FindingKind k) {
    std::size_t n = 0;
    for (const auto& f : sim_host(*backend)->sev()->detectors().findings()) n += f.kind == k ? 1U : 0U;
    return n;
  }
  ~Launched() {
    gmem.reset();
    vm.reset();
  }
  std::unique_ptr<Backend> backend;
  std::optional<Vm> vm;
  std::optional<SevDevice> sev;  ///< the /dev/sev the launch commands go through
  std::optional<GuestMemfd> gmem;
  std::optional<UserMemory> shared, src;
};

TEST(LaunchProfiles, NoAssignedCheck_CopyIntoAssignedPageFaults_InPlaceReassigns) {
  Launched fixed("upstream");
  ASSERT_TRUE(fixed.update(2, 1, uapi::KVM_SEV_SNP_PAGE_TYPE_NORMAL));
  const Status again = fixed.update(2, 1, uapi::KVM_SEV_SNP_PAGE_TYPE_NORMAL);
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().errno_value, EIO);  // sev_gmem_post_populate's EEXIST, reported as EIO
  EXPECT_EQ(fixed.findings(snplab::model::FindingKind::DoubleAssignment), 0u);

  // Without the check, guest_memfd's copy of the source into the already-assigned page is a
  // host write to a guest page: an RMP #PF, an oops on a real host (the in-place RFC v4
  // variant, which reassigns silently, is rfc-v4-pinned-no-check).
  Launched buggy("launch-update-no-assigned-check");
  ASSERT_TRUE(buggy.update(2, 1, uapi::KVM_SEV_SNP_PAGE_TYPE_NORMAL));
  const Status copy = buggy.update(2, 1, uapi::KVM_SEV_SNP_PAGE_TYPE_NORMAL);
  ASSERT_FALSE(copy.has_value());
  EXPECT_EQ(copy.error().errno_value, EIO);  // the copy's EFAULT, reported as EIO
  const auto& found = sim_host(*buggy.backend)->sched().findings();
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].kind, snplab::model::FindingKind::HostRmpFault);
  EXPECT_NE(found[0].message.find("sev_gmem_post_populate()"), std::string::npos) << found[0].message;
  EXPECT_EQ(buggy.findings(snplab::model::FindingKind::DoubleAssignment), 0u);

  Launched in_place("rfc-v4-pinned-no-check");
  ASSERT_TRUE(in_place.update(2, 1, uapi::KVM_SEV_SNP_PAGE_TYPE_NORMAL));
  EXPECT_TRUE(in_place.update(2, 1, uapi::KVM_SEV_SNP_PAGE_TYPE_NORMAL));  // RMPUPDATE lets it through
  EXPECT_EQ(in_place.findings(snplab::model::FindingKind::DoubleAssignment), 1u);
}

TEST(LaunchProfiles, RevertAll_FirmwareErrorRevertsAnotherCallsPage_ErroneousRevert) {
  for (const char* name : {"upstream", "launch-update-revert-all"}) {
    Launched l(name);
    ASSERT_TRUE(l.update(5, 1, uapi::KVM_SEV_SNP_PAGE_TYPE_NORMAL));  // gfn 5: measured by call A
    // Call B covers gfn 3..5 with a CPUID table the firmware refuses at gfn 3 (count 65).
    std::vector<std::uint8_t> bad(kPageSize, 0);
    bad[0] = 65;
    ASSERT_TRUE(l.src->write(0, bad));
    const Status b = l.update(3, 3, uapi::KVM_SEV_SNP_PAGE_TYPE_CPUID);
    ASSERT_FALSE(b.has_value()) << name;
    EXPECT_EQ(b.error().errno_value, EIO) << name;
    EXPECT_EQ(b.error().fw, FwStatus::InvalidParam) << name;
    const bool buggy = std::string_view(name) != "upstream";
    EXPECT_EQ(l.findings(snplab::model::FindingKind::ErroneousRevert), buggy ? 1u : 0u) << name;
  }
}

TEST(LaunchProfiles, HvaLookup_GpaComesFromTheSourceAddress) {
  Launched l("launch-update-hva-lookup");
  // The source is the slot's own shared memory at offset 7 pages: the page measured is gfn 7,
  // whatever gfn_start says (the RFC v4 ABI took only the hva).
  ASSERT_TRUE(l.update(1, 1, uapi::KVM_SEV_SNP_PAGE_TYPE_NORMAL, l.shared->addr() + 7 * kPageSize));
  model::kvm::Host& h = *sim_host(*l.backend);
  model::kvm::Vm* v = h.vm(h.vm_ids().front());
  const auto slot = v->gfn_to_memslot(7);
  ASSERT_TRUE(slot);
  EXPECT_TRUE(h.sev()->rmp().inspect(*v->gmem_pfn(*slot, 7)).assigned());
  EXPECT_FALSE(h.sev()->rmp().inspect(*v->gmem_pfn(*slot, 1)).assigned());
  // An address outside every slot: EINVAL.
  const Status outside = l.update(1, 1, uapi::KVM_SEV_SNP_PAGE_TYPE_NORMAL, l.src->addr());
  ASSERT_FALSE(outside.has_value());
  EXPECT_EQ(outside.error().errno_value, EINVAL);
}

}  // namespace launch_profiles

}  // namespace
}  // namespace snplab::api

namespace snplab::api {
namespace {
TEST(KernelProfiles, DocsEmbedTheGeneratedTable) {
  std::ifstream in(SNPLAB_SOURCE_DIR "/docs/kvm.md");
  ASSERT_TRUE(in) << "cannot read docs/kvm.md";
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string doc = ss.str();
  const std::string begin = "<!-- BEGIN GENERATED PROFILES -->\n", end = "<!-- END GENERATED PROFILES -->";
  const auto b = doc.find(begin), e = doc.find(end);
  ASSERT_NE(b, std::string::npos);
  ASSERT_NE(e, std::string::npos);
  EXPECT_EQ(doc.substr(b + begin.size(), e - b - begin.size()), model::kvm::profiles_markdown())
      << "docs/kvm.md is out of date: paste `snplab profiles --markdown`";
}

// Each switch says where its kernel function is modelled: that file must name the function
// and test the flag. Every switch is used by a profile, and every profile but upstream turns
// on one at least.
TEST(KernelProfiles, EverySwitchIsTestedWhereItsFunctionIsModelled) {
  std::set<std::string_view> names, used;
  for (const model::kvm::KernelSwitch& s : model::kvm::kernel_switches()) {
    EXPECT_TRUE(names.insert(s.name).second) << s.name;
    std::ifstream in(std::string(SNPLAB_SOURCE_DIR "/") + std::string(s.model_file));
    ASSERT_TRUE(in) << s.name << ": no file " << s.model_file;
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string text = ss.str();
    std::string fn(s.kernel_function);
    if (fn.ends_with("()")) fn.resize(fn.size() - 2);
    EXPECT_NE(text.find(fn), std::string::npos) << s.model_file << " does not name " << fn;
    EXPECT_NE(text.find(std::string(s.member)), std::string::npos) << s.model_file << " never tests " << s.member;
  }
  for (const model::kvm::KernelProfile& p : model::kvm::kernel_profiles()) {
    const std::string on = model::kvm::switches_of(p);
    if (p.name == "upstream") {
      EXPECT_TRUE(on.empty()) << on;
      continue;
    }
    EXPECT_TRUE(!on.empty() || p.cert_exit != model::kvm::CertExit::SnpReqCerts) << p.name << " switches nothing";
    for (const model::kvm::KernelSwitch& s : model::kvm::kernel_switches()) {
      if (on.find(s.name) != std::string::npos) used.insert(s.name);
    }
  }
  EXPECT_EQ(used, names) << "a switch no profile turns on";
}
}  // namespace
}  // namespace snplab::api
