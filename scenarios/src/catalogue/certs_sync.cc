// certs-sync: the VMM's certificate file and the firmware's reported TCB change apart.
#include <memory>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "builtin.h"
#include "snp/model/kern/sync.h"
#include "snp/scenarios/vmm.h"

namespace snplab::scenarios::builtin {

namespace {

constexpr std::string_view kCertLock = "vmm-cert-lock";

class CertsSync final : public Scenario {
 public:
  const ScenarioInfo& info() const override { return info_; }

  ScheduleBody set_up(Lab& lab, std::string* error) const override {
    if (lab.kernel().cert_exit != model::kvm::CertExit::VmgExit) {
      *error = fmt::format("certs-sync needs a profile with the seed's KVM_EXIT_VMGEXIT (v15-vmgexit-certs), not '{}'",
                           lab.profile().text);
      return {};
    }
    auto req = launch_requester_with_sev(lab);
    if (!req) {
      *error = req.error().to_string();
      return {};
    }
    // The VMM's certificate file: the table for the current TCB, then the updater's, for a
    // lower boot-loader SVN.
    const std::uint64_t tcb = lab.view().reported_tcb();
    const std::uint64_t new_tcb = (tcb & ~0xFFULL) | ((tcb & 0xFF) - 1);
    auto tables = std::make_shared<const std::pair<std::vector<std::uint8_t>, std::vector<std::uint8_t>>>(
        cert_table(lab.view(), tcb), cert_table(lab.view(), new_tcb));
    std::shared_ptr<SnpVm> vm = req->vm;
    std::shared_ptr<api::SevDevice> dev = req->sev;
    const bool locked = lab.profile().has(kCertLock);
    return [vm, dev, tables, locked, new_tcb](ScheduleContext& ctx) {
      namespace u = uapi;
      // The file and its lock are the VMM's (userspace state, accessed like a file: marked).
      model::kern::Shared<std::vector<std::uint8_t>> file(ctx.sched(), "vmm:certs-file", tables->first);
      model::kern::Mutex file_lock(ctx.sched(), "vmm:certs-file-lock");
      ctx.run({{"vcpu0",
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
                      (void)serve_req_certs(*vm, vcpu, *e, file.read_once(), locked);
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
                  (void)dev->snp_set_config(c);
                  file.write_once(tables->second);
                  if (locked) file_lock.unlock();
                }}});
      // The finding is raised where the guest checks its report; name the racing steps too:
      // the VMM's read of the file, the updater's SNP_CONFIG, the firmware signing the report.
      ctx.cite(model::FindingKind::CertsOutOfSync, {{"vmm:certs-file", model::kern::PointKind::MarkedLoad},
                                                   {"SNP_CONFIG", model::kern::PointKind::FirmwareCall},
                                                   {"SNP_GUEST_REQUEST", model::kern::PointKind::FirmwareCall}});
    };
  }

 private:
  ScenarioInfo info_{
      .name = "certs-sync",
      .summary = "the VMM serves an extended guest request's certificates from its certificate file while an "
                 "updater runs SNP_SET_CONFIG (a new reported TCB, so a new VCEK) and rewrites the file: the "
                 "firmware signs the report with the new key, and the guest's certificates are the old ones",
      .source = "[PATCH v15 19/20] KVM: SEV: Provide support for SNP_EXTENDED_GUEST_REQUEST NAE event "
                "(KVM_EXIT_VMGEXIT, KVM_USER_VMGEXIT_REQ_CERTS with NOTIFY_DONE), "
                "https://lore.kernel.org/r/20240501085210.2213060-20-michael.roth@amd.com; facts §8.6",
      .agents = "vcpu0: the guest's extended guest request and the VMM's exit handling (read the certificate file, "
                "write it to the guest, complete); updater: /dev/sev SNP_SET_CONFIG, then the new certificate file. "
                "The fixed VMM (+vmm-cert-lock) holds the file lock from the certificate exit to the NOTIFY_DONE "
                "exit; the updater takes it",
      .buggy_profile = "v15-vmgexit-certs",
      .fixed_profile = "v15-vmgexit-certs+vmm-cert-lock",
      .finding = model::FindingKind::CertsOutOfSync,
      .buggy_budget = 500,
      .fixed_bound = 300,
      .vmm_switches = {{"vmm-cert-lock",
                        "the VMM holds its certificate file's lock from the certificate exit to the NOTIFY_DONE "
                        "exit, and the updater takes it around SNP_SET_CONFIG and the rewrite"}},
  };
};

}  // namespace

std::unique_ptr<Scenario> certs_sync() { return std::make_unique<CertsSync>(); }

}  // namespace snplab::scenarios::builtin
