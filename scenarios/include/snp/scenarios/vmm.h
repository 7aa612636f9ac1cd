// What a VMM does around an SNP guest, for the body of a scenario: the launch steps a race
// starts from, LAUNCH_UPDATE of one range, certificate tables and SNP_SET_EXT_CONFIG, the
// extended-guest-request guest, KVM_RUN with the conversions QEMU makes on
// KVM_EXIT_MEMORY_FAULT, and the answer to the seed's certificate exit. Every step returns
// its error (errno and firmware status), none hides one. SnpVm (snp_vm.h) is the guest.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "snp/api/kvm.h"
#include "snp/model/attest/cert_table.h"
#include "snp/model/guest/program.h"
#include "snp/scenarios/scenario.h"
#include "snp/scenarios/snp_vm.h"

namespace snplab::scenarios {

/// A guest after KVM_SEV_SNP_LAUNCH_START and its memory set-up (a guest_memfd slot, all
/// private): nothing measured, no secrets page, no vCPU, no LAUNCH_FINISH.
SnpVmConfig launch_started();

/// KVM_SEV_SNP_LAUNCH_UPDATE of `pages` pages from `uaddr` into gfn `gfn` on, as `type`
/// (KVM_SEV_SNP_PAGE_TYPE_*); `fw_error` gets the firmware status.
api::Status launch_update(api::Vm& vm, std::uint64_t gfn, std::uint64_t uaddr, std::uint64_t pages,
                          std::uint8_t type, std::uint32_t* fw_error = nullptr);

/// A certificate table in the GHCB layout (facts §7.4): the simulated chip's VCEK for `tcb`,
/// its ASK and ARK, then `extra`.
std::vector<std::uint8_t> cert_table(const SimView& view, std::uint64_t tcb,
                                     const std::vector<model::CertTableBlob>& extra = {});

/// /dev/sev SNP_SET_EXT_CONFIG (the v10 series) with `table` as the host's certificates,
/// from user memory of its own.
api::Status set_ext_config(api::Backend& b, api::SevDevice& sev, const std::vector<std::uint8_t>& table);

/// Where the requester guest's buffers are: request, response, four certificate pages from
/// GPA 0x80000, made shared; the secrets page where SnpVmConfig puts it.
model::kvm::GuestRequestPages requester_pages();

/// A launched SNP guest whose vCPU 0 makes one extended guest request (requester_pages())
/// with report data `report_data` and halts.
api::Result<std::unique_ptr<SnpVm>> launch_requester(Lab& lab, std::uint8_t report_data = 1);

/// What a certificate race starts from: launch_requester()'s guest and /dev/sev opened beside
/// it (SNP_SET_EXT_CONFIG, SNP_SET_CONFIG), both ready to be shared with the schedule body.
struct Requester {
  std::shared_ptr<SnpVm> vm;
  std::shared_ptr<api::SevDevice> sev;
};
api::Result<Requester> launch_requester_with_sev(Lab& lab, std::uint8_t report_data = 1);

/// KVM_RUN on vCPU `vcpu` of `vm` until an exit other than KVM_EXIT_MEMORY_FAULT (converted
/// the way QEMU converts, noted on `ctx`; a failed conversion is noted and the vCPU run again,
/// so the guest's next access shows what it left) or `max_exits` exits; the last exit or the
/// KVM_RUN error.
api::Result<api::RunExit> run_converting(SnpVm& vm, ScheduleContext& ctx, unsigned vcpu = 0, unsigned max_exits = 8);

/// The seed's KVM_EXIT_VMGEXIT certificate request (KVM_USER_VMGEXIT_REQ_CERTS): writes
/// `table` to the guest's certificate buffer (exit.vmgexit.data_gpa, in the shared memory)
/// and completes the exit; `notify_done` asks for the second exit once the firmware answered.
api::Status serve_req_certs(SnpVm& vm, api::Vcpu& vcpu, const api::RunExit& exit, const std::vector<std::uint8_t>& table,
                            bool notify_done);

/// Copies the guest's log of `vcpu` into `ctx`'s notes ("guest: ...").
void note_guest_log(ScheduleContext& ctx, const api::Vcpu& vcpu);

}  // namespace snplab::scenarios
