// certs-toctou: the v10 series' global certificate pointer, reloaded around its kref.
#include <memory>
#include <vector>

#include "builtin.h"
#include "snp/scenarios/vmm.h"

namespace snplab::scenarios::builtin {

namespace {

class CertsToctou final : public Scenario {
 public:
  const ScenarioInfo& info() const override { return info_; }

  ScheduleBody set_up(Lab& lab, std::string* error) const override {
    auto req = launch_requester_with_sev(lab);
    if (!req) {
      *error = req.error().to_string();
      return {};
    }
    const std::uint64_t tcb = lab.view().reported_tcb();
    // Two tables that differ in a CRL blob: the one published now, the one the ioctl installs.
    auto table = [&](std::uint8_t tag) {
      return cert_table(lab.view(), tcb, {{model::kGuidCrl, std::vector<std::uint8_t>(16, tag)}});
    };
    if (auto s = set_ext_config(lab.backend(), *req->sev, table(1)); !s) {
      *error = "SNP_SET_EXT_CONFIG in the set-up: " + s.error().to_string();
      return {};
    }
    std::shared_ptr<SnpVm> vm = req->vm;
    std::shared_ptr<api::SevDevice> dev = req->sev;
    auto next = std::make_shared<const std::vector<std::uint8_t>>(table(2));
    return [vm, dev, next](ScheduleContext& ctx) {
      ctx.run({{"vcpu0",
                [&] {
                  for (int i = 0; i < 4; ++i) {
                    auto e = vm->vcpu().run();
                    if (!e || e->exit_reason == uapi::KVM_EXIT_HLT) break;
                  }
                }},
               {"sev-ioctl", [&] { (void)set_ext_config(ctx.backend(), *dev, *next); }}});
      // Both agents are done: every reference must be back where it belongs. The audit's
      // findings go at the getter's kref_get (the reference never put) and at the last
      // kref_put (the one on a blob it never got).
      ctx.audit();
      ctx.place(model::FindingKind::KrefLeak, "snp_certs->kref", model::kern::PointKind::KrefGet);
      ctx.place(model::FindingKind::KrefFreedWhilePublished, "snp_certs->kref", model::kern::PointKind::KrefPut, true);
    };
  }

 private:
  ScenarioInfo info_{
      .name = "certs-toctou",
      .summary = "the global certificate pointer is replaced (SNP_SET_EXT_CONFIG) while an extended guest request's "
                 "sev_snp_global_certs_get() reloads it around kref_get_unless_zero(): a reference on one blob, "
                 "another used",
      .source = "[PATCH v10 48/50] KVM: SEV: Provide support for SNP_GUEST_REQUEST NAE event, "
                "https://lore.kernel.org/r/20231016132819.1002933-49-michael.roth@amd.com; Sean Christopherson's "
                "reply, https://lore.kernel.org/r/ZS614OSoritrE1d2@google.com (facts §9(a))",
      .agents = "vcpu0: the guest's extended guest request (KVM's handler and the global getter); "
                "sev-ioctl: /dev/sev SNP_SET_EXT_CONFIG with a new certificate blob",
      .buggy_profile = "v10-global-certs-reload",
      .fixed_profile = "v10-kernel-certs",
      .finding = model::FindingKind::KrefReloadedPointer,
      .buggy_budget = 2000,
      .fixed_bound = 500,
      .vmm_switches = {},
  };
};

}  // namespace

std::unique_ptr<Scenario> certs_toctou() { return std::make_unique<CertsToctou>(); }

}  // namespace snplab::scenarios::builtin
