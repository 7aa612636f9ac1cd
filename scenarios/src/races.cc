#include "snp/scenarios/races.h"

#include <algorithm>
#include <array>
#include <initializer_list>
#include <chrono>
#include <memory>
#include <cstdio>
#include <string>

#include <fmt/format.h>

#include "snp/api/kvm.h"
#include "snp/api/sim_backend.h"
#include "snp/model/attest/cert_table.h"
#include "snp/model/hw/detectors.h"
#include "snp/model/host/kvm_host.h"
#include "snp/model/measure/measure.h"
#include "snp/model/measure/vmsa.h"
#include "snp/scenarios/snp_vm.h"

namespace snplab::scenarios {

namespace {

constexpr RaceScenario kRaces[] = {
    {"certs-toctou",
     "the global certificate pointer is replaced (SNP_SET_EXT_CONFIG) while an extended guest request's "
     "sev_snp_global_certs_get() reloads it around kref_get_unless_zero(): a reference on one blob, another used",
     "[PATCH v10 48/50] KVM: SEV: Provide support for SNP_GUEST_REQUEST NAE event; Sean Christopherson's reply "
     "2023-10-17 (facts §9(a))",
     "vcpu0: the guest's extended guest request (KVM's handler and the global getter); "
     "sev-ioctl: /dev/sev SNP_SET_EXT_CONFIG with a new certificate blob",
     "v10-global-certs-reload", "v10-kernel-certs", model::FindingKind::KrefReloadedPointer, 2000, 500},
    {"launch-update-revert",
     "one SNP_LAUNCH_UPDATE measures a page while another, over a range that includes it, fails in the firmware; "
     "the RFC v4 error path returns every page of its range to the hypervisor, the other call's page too",
     "[PATCH Part2 RFC v4 24/40] KVM: SVM: Add KVM_SEV_SNP_LAUNCH_UPDATE command, review 2021-07-16 (facts §9(b))",
     "vmm-a: LAUNCH_UPDATE of gfn 5 (NORMAL); vmm-b: LAUNCH_UPDATE of gfns 3-5 as a CPUID page the firmware "
     "refuses", "launch-update-revert-all", "upstream", model::FindingKind::ErroneousRevert, 200, 200},
    {"nonsnp-guest-req",
     "a non-SNP guest issues an extended guest request; the v10 handler sets rc instead of the exit code, so the "
     "guest is told its request succeeded",
     "[PATCH v10 48/50] snp_handle_ext_guest_request() (facts §9(c))",
     "vcpu0: a non-SNP guest's extended guest request", "v10-nonsnp-guest-req-rc", "v10-kernel-certs",
     model::FindingKind::GuestRequestFalseSuccess, 10, 10},
    {"vmsa-features",
     "the VMM launches with vmsa_features 0 and computes the launch digest it expects; a kernel that ORs "
     "DEBUG_SWAP into the VMSA features makes the firmware's digest differ",
     "Paolo Bonzini, \"[PATCH v2 06/11] KVM: SEV: disable DEBUG_SWAP by default\", 2024-02-23 (facts §9(d))",
     "vmm: INIT2 (features 0), LAUNCH_START, LAUNCH_UPDATE of 4 pages, LAUNCH_FINISH, then the expected digest "
     "from the same pages and the VMSA for its features", "debug-swap-forced", "upstream", model::FindingKind::MeasurementMismatch, 10, 10},
    {"memslot-change",
     "SNP_LAUNCH_UPDATE finds the guest page from the source address through the memslots (hva->gpa) with a plain "
     "load of kvm->memslots outside SRCU and without kvm->slots_lock, while another thread adds a memslot: the "
     "lookup races with the publication of the new array (and may use one synchronize_srcu() has freed)",
     "[PATCH Part2 RFC v4 24/40] KVM: SVM: Add KVM_SEV_SNP_LAUNCH_UPDATE command, review 2021-07-16 (\"needs srcu "
     "for the hva->gpa lookup\"; facts §9(b)); fixed upstream: userspace passes gfn_start, lookups under SRCU",
     "vmm-launch: LAUNCH_UPDATE of one NORMAL page (RFC v4: by its hva in the shared mapping; upstream: gfn 7); "
     "vmm-memslot: KVM_SET_USER_MEMORY_REGION2 adds slot 1 at 4 GiB",
     "launch-update-hva-lookup", "upstream", model::FindingKind::DataRace, 200, 200},
    {"certs-sync",
     "the VMM serves an extended guest request's certificates from its certificate file while an updater runs "
     "SNP_SET_CONFIG (a new reported TCB, so a new VCEK) and rewrites the file: the firmware signs the report with "
     "the new key, and the guest's certificates are the old ones",
     "[PATCH v15 19/20] KVM: SEV: Provide support for SNP_EXTENDED_GUEST_REQUEST NAE event (KVM_EXIT_VMGEXIT, "
     "KVM_USER_VMGEXIT_REQ_CERTS with NOTIFY_DONE), 2024-05-01; facts §8.6",
     "vcpu0: the guest's extended guest request and the VMM's exit handling (read the certificate file, write it to "
     "the guest, complete); updater: /dev/sev SNP_SET_CONFIG, then the new certificate file. The fixed VMM "
     "(+vmm-cert-lock) holds the file lock from the certificate exit to the NOTIFY_DONE exit; the updater takes it",
     "v15-vmgexit-certs", "v15-vmgexit-certs+vmm-cert-lock", model::FindingKind::CertsOutOfSync, 500, 300},
    {"gmem-punch",
     "userspace punches a hole in guest_memfd over a page the guest has validated and uses as private: without the "
     "arch invalidate hook the page returns to the allocator still assigned to the guest; with it, the page is made "
     "shared first and the guest's next private access finds a fresh, unvalidated page (#VC 0x404, termination), "
     "while a shared access to the private GPA is an implicit conversion that exits as KVM_EXIT_MEMORY_FAULT",
     "fd-based private memory / guest_memfd threads (UPM v7-v10, 2022; guest_memfd 6.8) and the SNP host series' "
     "\"KVM: guest_memfd: Add hook for invalidating memory\" (6.11); facts §8.5 (sev_gmem_invalidate)",
     "vcpu0: guest PVALIDATE, private write, private read, shared read of GPA 0x10000, with the VMM converting on "
     "KVM_EXIT_MEMORY_FAULT; vmm-punch: fallocate(PUNCH_HOLE) of that page in the guest_memfd",
     "gmem-no-invalidate-hook", "upstream", model::FindingKind::FreedPrivatePage, 200, 200},
    {"double-assignment",
     "the VMM hands the same user buffer to SNP_LAUNCH_UPDATE of two guests; the RFC v4 command pins the page behind "
     "it and RMPUPDATE silently reassigns it from the first guest to the second",
     "[PATCH Part2 RFC v4 24/40] KVM: SVM: Add KVM_SEV_SNP_LAUNCH_UPDATE command, review by Sean Christopherson "
     "2021-07-16 (facts §9(b)): check the RMP entry before RMPUPDATE",
     "vmm-a: LAUNCH_UPDATE of guest A's gfn 2 from buffer X; vmm-b, once vmm-a's call has returned (a completion): "
     "LAUNCH_UPDATE of guest B's gfn 2 from the same X",
     "rfc-v4-pinned-no-check", "rfc-v4-pinned", model::FindingKind::DoubleAssignment, 50, 100},
    {"double-assignment-concurrent",
     "the same user buffer to two guests' SNP_LAUNCH_UPDATE at the same time: the already-assigned check and the "
     "RMPUPDATE are two steps, so both calls can pass the check before either assigns - the check is a TOCTOU "
     "across VMs; guest_memfd (upstream) gives each guest pages of its own",
     "found by this engine on top of the RFC v4 24/40 review's fix (facts §9(b)); upstream: guest_memfd, "
     "sev_gmem_post_populate()",
     "vmm-a and vmm-b: LAUNCH_UPDATE of their guest's gfn 2 from the same buffer X, concurrently",
     "rfc-v4-pinned", "upstream", model::FindingKind::DoubleAssignment, 200, 200},
};

std::vector<std::uint8_t> cert_blob(model::kvm::Host& host, std::uint8_t tag) {
  const model::Firmware& fw = host.sev()->fw();
  std::vector<std::uint8_t> vcek = fw.chip().vcek_cert(fw.reported_tcb());
  const std::vector<model::CertTableBlob> blobs = {{model::kGuidVcek, vcek},
                                                   {model::kGuidAsk, fw.chip().ask_cert()},
                                                   {model::kGuidArk, fw.chip().ark_cert()},
                                                   {model::kGuidCrl, std::vector<std::uint8_t>(16, tag)}};
  auto t = model::encode_cert_table(blobs);
  return t ? *t : std::vector<std::uint8_t>{};
}

api::Status set_ext_config(api::Backend& b, api::SevDevice& sev, const std::vector<std::uint8_t>& blob) {
  auto mem = api::UserMemory::alloc(b, blob.size());
  if (!mem) return mem.error();
  if (auto s = mem->write(0, blob); !s) return s;
  uapi::sev_user_data_ext_snp_config c;
  c.certs_address = mem->addr();
  c.certs_len = static_cast<std::uint32_t>(blob.size());
  return sev.issue_cmd(uapi::SNP_SET_EXT_CONFIG_V10, &c, nullptr);
}

constexpr std::string_view kVmmCertLock = "+vmm-cert-lock";

/// A scenario profile is a kernel profile, optionally with VMM switches ("+vmm-cert-lock").
std::string_view kernel_part(std::string_view profile) {
  return profile.ends_with(kVmmCertLock) ? profile.substr(0, profile.size() - kVmmCertLock.size()) : profile;
}

model::kvm::HostConfig config_for(std::string_view profile, std::string* error) {
  model::kvm::HostConfig cfg;
  const model::kvm::KernelProfile* p = model::kvm::find_profile(kernel_part(profile));
  if (p == nullptr) {
    *error = fmt::format("no kernel profile '{}'", profile);
  } else {
    cfg.profile = *p;
  }
  return cfg;
}

/// What every scenario starts from: a simulated backend under the profile's kernel.
struct Setup {
  model::kvm::HostConfig cfg;
  std::unique_ptr<api::Backend> backend;
  model::kvm::Host* host = nullptr;
  api::Backend& b() { return *backend; }
};

bool start(std::string_view profile, Setup& s, std::string* error) {
  s.cfg = config_for(profile, error);
  if (!error->empty()) return false;
  auto backend = api::make_sim_backend(s.cfg);
  if (!backend) {
    *error = backend.error().to_string();
    return false;
  }
  s.backend = std::move(*backend);
  s.host = api::sim_host(*s.backend);
  return true;
}

/// One schedule of a scenario that has been set up: the agents under the engine, then the
/// detectors' verdict. It starts from the state the set-up left (PreparedRace restores it
/// between schedules), so everything a schedule changes must live in the simulated backend
/// or be made inside the schedule: kern:: objects of the VMM's own (a file lock, a
/// completion) are created here, never in the set-up.
using Schedule = std::function<void(RaceRun& out, const model::engine::Options& opts)>;

/// A guest after LAUNCH_START and its memory set-up: nothing measured, no vCPU, no finish.
SnpVmConfig launch_started() {
  SnpVmConfig vc;
  vc.launched = 0;
  vc.secrets_gpa = 0;
  vc.vcpus = 0;
  vc.finish = false;
  return vc;
}

/// A launched SNP guest whose vCPU will make one extended guest request (buffers at 0x80000,
/// made shared; four certificate pages) and halt.
std::shared_ptr<SnpVm> launch_requester(api::Backend& b, std::string* error) {
  auto vm = SnpVm::launch(b, SnpVmConfig{});
  if (!vm) {
    *error = vm.error().to_string();
    return nullptr;
  }
  constexpr std::uint64_t kReq = 0x80000;
  if (auto s = (*vm)->convert(kReq, 6 * model::kPageSize, false); !s) {
    *error = s.error().to_string();
    return nullptr;
  }
  model::kvm::GuestRequestPages pages;
  pages.secrets = 0xF000;
  pages.req = kReq;
  pages.resp = kReq + model::kPageSize;
  pages.certs = kReq + 2 * model::kPageSize;
  pages.cert_pages = 4;
  if (auto s = api::sim_load_guest(b, (*vm)->vcpu().handle(),
                                   {model::kvm::GuestOp::ext_guest_request(pages, 1), model::kvm::GuestOp::halt()});
      !s) {
    *error = s.error().to_string();
    return nullptr;
  }
  return std::shared_ptr<SnpVm>(std::move(*vm));
}

template <class T>
std::shared_ptr<T> shared(T&& v) {
  return std::make_shared<T>(std::move(v));
}

/// Adds to every `kind` finding the steps of the first trace event matching each (object,
/// kind), in trace order: the accesses that made the race, for a detector that fires later.
void add_steps(model::engine::RunResult& run, model::FindingKind kind,
               std::initializer_list<std::pair<std::string_view, model::kern::PointKind>> events) {
  std::vector<std::uint64_t> steps;
  for (const auto& [object, k] : events) {
    for (const auto& e : run.trace) {
      if (e.object == object && e.kind == k) {
        steps.push_back(e.step);
        break;
      }
    }
  }
  for (auto& f : run.findings) {
    if (f.kind != kind) continue;
    std::vector<std::uint64_t> all = steps;
    all.insert(all.end(), f.steps.begin(), f.steps.end());
    std::sort(all.begin(), all.end());
    all.erase(std::unique(all.begin(), all.end()), all.end());
    f.steps = std::move(all);
  }
}

/// Sets `found`: the RMP detectors report into the host's scheduler as they fire, so the run's
/// findings hold theirs too, at the step of the instruction that raised them.
void conclude(RaceRun& out, model::FindingKind kind) {
  out.found = std::any_of(out.run.findings.begin(), out.run.findings.end(),
                          [&](const model::kern::KernelFinding& f) { return f.kind == kind; });
}

/// The agents under the engine, with the host's CPU RMP instructions as points.
model::engine::RunResult run_agents(model::kvm::Host& host, const model::engine::Options& opts,
                                    std::vector<model::engine::Agent> agents) {
  model::engine::Engine engine(host.sched(), opts);
  engine.watch(host.sev()->rmp());
  return engine.run(std::move(agents));
}

Schedule certs_toctou(Setup& setup, std::string_view, std::string* error) {
  api::Backend& b = setup.b();
  model::kvm::Host& host = *setup.host;
  std::shared_ptr<SnpVm> vm = launch_requester(b, error);
  if (!vm) return {};
  auto sev = api::SevDevice::open(b);
  if (!sev || !set_ext_config(b, *sev, cert_blob(host, 1))) {
    *error = "SNP_SET_EXT_CONFIG failed in set-up";
    return {};
  }
  auto dev = shared(std::move(*sev));
  auto next_blob = std::make_shared<const std::vector<std::uint8_t>>(cert_blob(host, 2));
  return [&b, &host, vm, dev, next_blob](RaceRun& out, const model::engine::Options& opts) {
    out.run = run_agents(host, opts, {{"vcpu0",
                           [&] {
                             for (int i = 0; i < 4; ++i) {
                               auto e = vm->vcpu().run();
                               if (!e || e->exit_reason == uapi::KVM_EXIT_HLT) break;
                             }
                           }},
                          {"sev-ioctl", [&] { (void)set_ext_config(b, *dev, *next_blob); }}});
    // Both agents are done: every reference must be back where it belongs.
    const std::size_t before = host.sched().findings().size();
    (void)host.sev()->audit_certs(host.sched());
    const auto& raised_after = host.sched().findings();
    out.run.findings.insert(out.run.findings.end(), raised_after.begin() + static_cast<std::ptrdiff_t>(before),
                            raised_after.end());
    // The audit runs after the agents: place its findings at the getter's kref_get (the
    // reference never put) and at the last kref_put (the one on a blob it never got).
    std::optional<std::uint64_t> first_get, last_put;
    for (const auto& e : out.run.trace) {
      if (e.object != "snp_certs->kref") continue;
      if (e.kind == model::kern::PointKind::KrefGet && !first_get) first_get = e.step;
      if (e.kind == model::kern::PointKind::KrefPut) last_put = e.step;
    }
    for (auto& f : out.run.findings) {
      if (f.kind == model::FindingKind::KrefLeak && first_get) f.steps = {*first_get};
      if (f.kind == model::FindingKind::KrefFreedWhilePublished && last_put) f.steps = {*last_put};
    }
    conclude(out, model::FindingKind::KrefReloadedPointer);
  };
}

Schedule launch_update_revert(Setup& setup, std::string_view, std::string* error) {
  api::Backend& b = setup.b();
  model::kvm::Host& host = *setup.host;
  auto vm = SnpVm::launch(b, launch_started());
  if (!vm) {
    *error = vm.error().to_string();
    return {};
  }
  auto src_a = api::UserMemory::alloc(b, model::kPageSize);
  auto src_b = api::UserMemory::alloc(b, 3 * model::kPageSize);
  if (!src_a || !src_b) {
    *error = "user memory";
    return {};
  }
  std::vector<std::uint8_t> bad(model::kPageSize, 0);
  bad[0] = 65;  // a CPUID table with 65 entries: the firmware refuses it (INVALID_PARAM)
  (void)src_b->write(0, bad);
  auto guest = std::shared_ptr<SnpVm>(std::move(*vm));
  auto a = shared(std::move(*src_a)), c = shared(std::move(*src_b));
  return [&host, guest, a, c](RaceRun& out, const model::engine::Options& opts) {
    auto update = [&](std::uint64_t gfn, std::uint64_t n, std::uint8_t type, std::uint64_t uaddr) {
      uapi::kvm_sev_snp_launch_update u;
      u.gfn_start = gfn;
      u.uaddr = uaddr;
      u.len = n * model::kPageSize;
      u.type = type;
      (void)guest->vm().memory_encrypt_op(uapi::KVM_SEV_SNP_LAUNCH_UPDATE, &u, 0);
    };
    out.run = run_agents(host, opts, {{"vmm-a", [&] { update(5, 1, uapi::KVM_SEV_SNP_PAGE_TYPE_NORMAL, a->addr()); }},
                          {"vmm-b", [&] { update(3, 3, uapi::KVM_SEV_SNP_PAGE_TYPE_CPUID, c->addr()); }}});
    conclude(out, model::FindingKind::ErroneousRevert);
  };
}

Schedule nonsnp_guest_req(Setup& setup, std::string_view, std::string* error) {
  api::Backend& b = setup.b();
  model::kvm::Host& host = *setup.host;
  auto kvm = api::Kvm::open(b);
  if (!kvm) {
    *error = kvm.error().to_string();
    return {};
  }
  auto vm = kvm->create_vm(uapi::KVM_X86_DEFAULT_VM);  // stands in for the thread's SEV-ES guest
  auto mem = api::UserMemory::alloc(b, 1 << 20);
  if (!vm || !mem) {
    *error = "VM set-up failed";
    return {};
  }
  uapi::kvm_userspace_memory_region2 r;
  r.memory_size = 1 << 20;
  r.userspace_addr = mem->addr();
  if (auto st = vm->set_user_memory_region2(r); !st) {
    *error = st.error().to_string();
    return {};
  }
  auto vcpu = vm->create_vcpu(0);
  if (!vcpu) {
    *error = vcpu.error().to_string();
    return {};
  }
  model::kvm::GuestRequestPages pages;
  pages.req = 0x80000;
  pages.resp = 0x81000;
  pages.certs = 0x82000;
  pages.cert_pages = 4;
  (void)api::sim_load_guest(b, vcpu->handle(), {model::kvm::GuestOp::ext_guest_request(pages, 1)});
  // The handles live as long as the schedule (vCPU closed first, as a VMM exits).
  struct Objects {
    api::Kvm kvm;
    api::Vm vm;
    api::UserMemory mem;
    api::Vcpu vcpu;
  };
  auto objs = std::make_shared<Objects>(Objects{std::move(*kvm), std::move(*vm), std::move(*mem), std::move(*vcpu)});
  return [&host, objs](RaceRun& out, const model::engine::Options& opts) {
    out.run = run_agents(host, opts, {{"vcpu0", [&] { (void)objs->vcpu.run(); }}});
    conclude(out, model::FindingKind::GuestRequestFalseSuccess);
  };
}

Schedule vmsa_features(Setup& setup, std::string_view, std::string*) {
  // The whole launch is the schedule: nothing to set up but the host.
  api::Backend& b = setup.b();
  model::kvm::Host& host = *setup.host;
  return [&b, &host](RaceRun& out, const model::engine::Options& opts) {
    std::unique_ptr<SnpVm> vm;
    out.run = run_agents(host, opts, {{"vmm", [&] {
                             SnpVmConfig vc;
                             vc.secrets_gpa = 0;
                             auto launched = SnpVm::launch(b, vc);
                             if (!launched) {
                               out.error = launched.error().to_string();
                               return;
                             }
                             vm = std::move(*launched);
                             // What the VMM expects: its 4 NORMAL pages (page i filled with i + 1)
                             // and one VMSA with SEV_FEATURES = SNP_ACTIVE, as `snplab measure` computes.
                             model::LaunchDigest ld;
                             for (std::uint64_t i = 0; i < vc.launched; ++i) {
                               std::array<std::uint8_t, model::kPageSize> page{};
                               page.fill(static_cast<std::uint8_t>(i + 1));
                               ld.update_page(model::PageType::Normal, i << model::kPageShift, page);
                             }
                             const auto vmsa = model::to_page(model::reset_save_area(
                                 0xFFFFFFF0U, 1, model::kvm::SevPlatform::kVcpuSignature, model::VmmType::Qemu));
                             ld.update_page(model::PageType::Vmsa, 0xFFFFFFFFF000ULL, vmsa);
                             model::kvm::Vm* v = host.vm(host.vm_ids().front());
                             const auto& got = host.sev()->fw().guest(model::pfn_to_spa(v->sev().gctx))->measurement;
                             if (got != ld.digest()) {
                               host.sched().report(model::FindingKind::MeasurementMismatch,
                                                   fmt::format("the launch digest is not the one the VMM computed for "
                                                               "vmsa_features 0: the VMSA's SEV_FEATURES are {:#x}",
                                                               v->sev().vmsa_features));
                             }
                           }}});
    if (!out.error.empty()) return;
    conclude(out, model::FindingKind::MeasurementMismatch);
  };
}

Schedule memslot_change(Setup& setup, std::string_view, std::string* error) {
  api::Backend& b = setup.b();
  model::kvm::Host& host = *setup.host;
  auto vm = SnpVm::launch(b, launch_started());
  auto src = api::UserMemory::alloc(b, model::kPageSize);
  auto extra = api::UserMemory::alloc(b, 1 << 20);
  if (!vm || !src || !extra) {
    *error = vm ? "user memory" : vm.error().to_string();
    return {};
  }
  const bool by_hva = setup.cfg.profile.launch_update_hva_lookup;
  const std::uint64_t uaddr = by_hva ? (*vm)->shared().addr() + 7 * model::kPageSize : src->addr();
  auto guest = std::shared_ptr<SnpVm>(std::move(*vm));
  auto s = shared(std::move(*src)), x = shared(std::move(*extra));
  return [&host, guest, s, x, uaddr](RaceRun& out, const model::engine::Options& opts) {
    out.run = run_agents(host, opts, {{"vmm-launch",
                           [&] {
                             uapi::kvm_sev_snp_launch_update u;
                             u.gfn_start = 7;
                             u.uaddr = uaddr;
                             u.len = model::kPageSize;
                             u.type = uapi::KVM_SEV_SNP_PAGE_TYPE_NORMAL;
                             (void)guest->vm().memory_encrypt_op(uapi::KVM_SEV_SNP_LAUNCH_UPDATE, &u, 0);
                           }},
                          {"vmm-memslot", [&] {
                             uapi::kvm_userspace_memory_region2 r;
                             r.slot = 1;
                             r.guest_phys_addr = 1ULL << 32;
                             r.memory_size = 1 << 20;
                             r.userspace_addr = x->addr();
                             (void)guest->vm().set_user_memory_region2(r);
                           }}});
    conclude(out, model::FindingKind::DataRace);
  };
}

Schedule certs_sync(Setup& setup, std::string_view profile, std::string* error) {
  if (setup.cfg.profile.cert_exit != model::kvm::CertExit::VmgExit) {
    *error = fmt::format("certs-sync needs a profile with the seed's KVM_EXIT_VMGEXIT (v15-vmgexit-certs), not '{}'",
                         profile);
    return {};
  }
  const bool locked = profile.ends_with(kVmmCertLock);
  api::Backend& b = setup.b();
  model::kvm::Host& host = *setup.host;
  std::shared_ptr<SnpVm> vm = launch_requester(b, error);
  if (!vm) return {};
  auto sev = api::SevDevice::open(b);
  if (!sev) {
    *error = sev.error().to_string();
    return {};
  }
  auto dev = shared(std::move(*sev));
  // The VMM's certificate file: the blob for the current TCB, then the updater's.
  const model::Firmware& fw = host.sev()->fw();
  const std::uint64_t tcb = fw.reported_tcb();
  const std::uint64_t new_tcb = (tcb & ~0xFFULL) | ((tcb & 0xFF) - 1);  // lower BL
  auto blob_for = [&](std::uint64_t t) {
    const std::vector<model::CertTableBlob> blobs = {{model::kGuidVcek, fw.chip().vcek_cert(t)},
                                                     {model::kGuidAsk, fw.chip().ask_cert()},
                                                     {model::kGuidArk, fw.chip().ark_cert()}};
    auto table = model::encode_cert_table(blobs);
    return table ? *table : std::vector<std::uint8_t>{};
  };
  auto blobs = std::make_shared<const std::pair<std::vector<std::uint8_t>, std::vector<std::uint8_t>>>(
      blob_for(tcb), blob_for(new_tcb));
  return [&host, vm, dev, blobs, locked, new_tcb](RaceRun& out, const model::engine::Options& opts) {
    namespace u = uapi;
    // The file and its lock are the VMM's (userspace state, accessed like a file: marked).
    model::kern::Shared<std::vector<std::uint8_t>> file(host.sched(), "vmm:certs-file", blobs->first);
    model::kern::Mutex file_lock(host.sched(), "vmm:certs-file-lock");
    out.run = run_agents(host, opts, {{"vcpu0",
                           [&] {
                             api::Vcpu& vcpu = vm->vcpu();
                             for (int i = 0; i < 8; ++i) {
                               auto e = vcpu.run();
                               if (!e || e->exit_reason != u::KVM_EXIT_VMGEXIT_SEED ||
                                   e->vmgexit.type != u::KVM_USER_VMGEXIT_REQ_CERTS) {
                                 break;
                               }
                               if (e->vmgexit.status == u::KVM_USER_VMGEXIT_REQ_CERTS_STATUS_PENDING) {
                                 if (locked) file_lock.lock();
                                 (void)vm->shared().write(e->vmgexit.data_gpa, file.read_once());
                                 (void)vcpu.complete(
                                     api::RunCompletion{0, {}, locked ? u::KVM_USER_VMGEXIT_REQ_CERTS_FLAGS_NOTIFY_DONE
                                                                      : std::uint8_t{0}});
                               } else {  // STATUS_DONE: the firmware has answered
                                 if (locked) file_lock.unlock();
                                 (void)vcpu.complete(api::RunCompletion{0, {}, 0});
                               }
                             }
                           }},
                          {"updater", [&] {
                             if (locked) file_lock.lock();
                             u::sev_user_data_snp_config c;
                             c.reported_tcb = new_tcb;
                             (void)dev->issue_cmd(u::SNP_SET_CONFIG, &c, nullptr);
                             file.write_once(blobs->second);
                             if (locked) file_lock.unlock();
                           }}});
    // The finding is raised where the guest checks its report; name the racing steps too:
    // the VMM's read of the file, the updater's SNP_CONFIG (SNP_SET_CONFIG), the firmware
    // signing the report.
    add_steps(out.run, model::FindingKind::CertsOutOfSync,
              {{"vmm:certs-file", model::kern::PointKind::MarkedLoad},
               {"SNP_CONFIG", model::kern::PointKind::FirmwareCall},
               {"SNP_GUEST_REQUEST", model::kern::PointKind::FirmwareCall}});
    conclude(out, model::FindingKind::CertsOutOfSync);
  };
}

Schedule gmem_punch(Setup& setup, std::string_view, std::string* error) {
  api::Backend& b = setup.b();
  model::kvm::Host& host = *setup.host;
  auto vm = SnpVm::launch(b, SnpVmConfig{});
  if (!vm) {
    *error = vm.error().to_string();
    return {};
  }
  constexpr std::uint64_t kGpa = 0x10000;
  using model::kvm::GuestOp;
  if (auto s = api::sim_load_guest(b, (*vm)->vcpu().handle(),
                                   {GuestOp::pvalidate(kGpa), GuestOp::write(kGpa, true, 0x5A),
                                    GuestOp::read(kGpa, true), GuestOp::read(kGpa, false), GuestOp::halt()});
      !s) {
    *error = s.error().to_string();
    return {};
  }
  auto guest = std::shared_ptr<SnpVm>(std::move(*vm));
  return [&b, &host, guest](RaceRun& out, const model::engine::Options& opts) {
    namespace u = uapi;
    out.run = run_agents(host, opts, {{"vcpu0",
                           [&] {
                             for (int i = 0; i < 8; ++i) {
                               auto e = guest->vcpu().run();
                               if (!e) {
                                 out.notes.push_back(fmt::format("vcpu0: KVM_RUN failed: {}", e.error().to_string()));
                                 return;
                               }
                               if (e->exit_reason == u::KVM_EXIT_MEMORY_FAULT) {
                                 const bool to_private = (e->memory_fault.flags & u::KVM_MEMORY_EXIT_FLAG_PRIVATE) != 0;
                                 out.notes.push_back(fmt::format(
                                     "vcpu0: KVM_EXIT_MEMORY_FAULT gpa 0x{:x} size 0x{:x} {}: the VMM converts it",
                                     e->memory_fault.gpa, e->memory_fault.size, to_private ? "private" : "shared"));
                                 (void)guest->convert(e->memory_fault.gpa, e->memory_fault.size, to_private);
                                 continue;
                               }
                               if (e->exit_reason == u::KVM_EXIT_SYSTEM_EVENT) {
                                 out.notes.push_back(fmt::format("vcpu0: KVM_EXIT_SYSTEM_EVENT type {} data 0x{:x}",
                                                                 e->system_event.type, e->system_event.data0));
                               }
                               return;
                             }
                           }},
                          {"vmm-punch", [&] { (void)guest->gmem().punch_hole(kGpa, model::kPageSize); }}});
    if (const auto* log = api::sim_guest_log(b, guest->vcpu().handle())) {
      for (const auto& line : *log) out.notes.push_back("guest: " + line);
    }
    conclude(out, model::FindingKind::FreedPrivatePage);
  };
}

Schedule double_assignment(Setup& setup, std::string_view profile, std::string* error, bool ordered) {
  if (ordered && !setup.cfg.profile.launch_update_pins_uaddr) {
    *error = fmt::format("double-assignment needs an RFC v4 pinned-memory profile (rfc-v4-pinned*), not '{}': with "
                         "guest_memfd each guest's pages are its own",
                         profile);
    return {};
  }
  api::Backend& b = setup.b();
  model::kvm::Host& host = *setup.host;
  auto a = SnpVm::launch(b, launch_started());
  auto c = SnpVm::launch(b, launch_started());
  auto buf = api::UserMemory::alloc(b, model::kPageSize);
  if (!a || !c || !buf) {
    *error = !a ? a.error().to_string() : !c ? c.error().to_string() : "user memory";
    return {};
  }
  (void)buf->write(0, std::vector<std::uint8_t>(model::kPageSize, 0x42));
  auto va = std::shared_ptr<SnpVm>(std::move(*a)), vc = std::shared_ptr<SnpVm>(std::move(*c));
  auto x = shared(std::move(*buf));
  return [&host, va, vc, x, ordered](RaceRun& out, const model::engine::Options& opts) {
    auto update = [&](SnpVm& vm) {
      uapi::kvm_sev_snp_launch_update u;
      u.gfn_start = 2;
      u.uaddr = x->addr();
      u.len = model::kPageSize;
      u.type = uapi::KVM_SEV_SNP_PAGE_TYPE_NORMAL;
      const api::Status st = vm.vm().memory_encrypt_op(uapi::KVM_SEV_SNP_LAUNCH_UPDATE, &u, 0);
      return st ? std::string("ok") : st.error().to_string();
    };
    model::kern::Completion a_done(host.sched(), "vmm:a-done");
    out.run = run_agents(host, opts, {{"vmm-a",
                           [&] {
                             out.notes.push_back("vmm-a: LAUNCH_UPDATE " + update(*va));
                             if (ordered) a_done.complete();
                           }},
                          {"vmm-b", [&] {
                             if (ordered) a_done.wait();
                             out.notes.push_back("vmm-b: LAUNCH_UPDATE " + update(*vc));
                           }}});
    conclude(out, model::FindingKind::DoubleAssignment);
  };
}

Schedule set_up(const RaceScenario& s, Setup& setup, std::string_view profile, std::string* error) {
  if (s.name == "certs-toctou") return certs_toctou(setup, profile, error);
  if (s.name == "launch-update-revert") return launch_update_revert(setup, profile, error);
  if (s.name == "nonsnp-guest-req") return nonsnp_guest_req(setup, profile, error);
  if (s.name == "vmsa-features") return vmsa_features(setup, profile, error);
  if (s.name == "memslot-change") return memslot_change(setup, profile, error);
  if (s.name == "certs-sync") return certs_sync(setup, profile, error);
  if (s.name == "gmem-punch") return gmem_punch(setup, profile, error);
  if (s.name == "double-assignment") return double_assignment(setup, profile, error, true);
  if (s.name == "double-assignment-concurrent") return double_assignment(setup, profile, error, false);
  *error = fmt::format("scenario '{}' is not runnable yet", s.name);
  return {};
}

}  // namespace

bool valid_profile(std::string_view profile) {
  return model::kvm::find_profile(kernel_part(profile)) != nullptr;
}

std::span<const RaceScenario> race_scenarios() { return kRaces; }

const RaceScenario* find_race(std::string_view name) {
  for (const RaceScenario& s : kRaces) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

struct PreparedRace::Impl {
  Setup setup;
  Schedule schedule;  // declared after `setup`: its api objects close before the backend goes
  std::shared_ptr<const api::SimSnapshot> snap;
  bool ran = false;
};

std::unique_ptr<PreparedRace> PreparedRace::prepare(const RaceScenario& s, std::string_view profile,
                                                    std::string* error) {
  auto impl = std::make_unique<Impl>();
  error->clear();
  if (!start(profile, impl->setup, error)) return nullptr;
  impl->schedule = set_up(s, impl->setup, profile, error);
  if (!impl->schedule) return nullptr;
  impl->snap = api::sim_snapshot(impl->setup.b());
  auto p = std::unique_ptr<PreparedRace>(new PreparedRace());
  p->impl_ = std::move(impl);
  return p;
}

PreparedRace::PreparedRace() = default;
PreparedRace::~PreparedRace() = default;

RaceRun PreparedRace::run(const model::engine::Options& opts) {
  RaceRun out;
  if (impl_->ran) {
    if (auto st = api::sim_restore(impl_->setup.b(), *impl_->snap); !st) {
      out.error = st.error().to_string();
      return out;
    }
  }
  impl_->ran = true;
  impl_->schedule(out, opts);
  return out;
}

RaceRun run_race(const RaceScenario& s, std::string_view profile, const model::engine::Options& opts) {
  std::string error;
  auto p = PreparedRace::prepare(s, profile, &error);
  if (!p) {
    RaceRun r;
    r.error = error;
    return r;
  }
  return p->run(opts);
}

std::string replay_string(const RaceScenario& s, std::string_view profile, const std::string& choices) {
  return fmt::format("{}/{}/{}", s.name, profile, choices);
}

std::optional<ParsedReplay> parse_replay(std::string_view text, std::string* why) {
  const auto a = text.find('/');
  const auto b = a == std::string_view::npos ? a : text.find('/', a + 1);
  if (b == std::string_view::npos) {
    *why = "a replay string is NAME/PROFILE/CHOICES, as `snplab scenario run` prints it";
    return std::nullopt;
  }
  ParsedReplay p;
  p.scenario = find_race(text.substr(0, a));
  if (p.scenario == nullptr) {
    *why = fmt::format("no scenario '{}' (see `snplab scenario list`)", text.substr(0, a));
    return std::nullopt;
  }
  p.profile = std::string(text.substr(a + 1, b - a - 1));
  if (!valid_profile(p.profile)) {
    *why = fmt::format("no kernel profile '{}' (see `snplab profiles`; a VMM switch is '+vmm-cert-lock')", p.profile);
    return std::nullopt;
  }
  p.choices = std::string(text.substr(b + 1));
  return p;
}

}  // namespace snplab::scenarios
