// Guest requests on the simulated host: KVM's handling of VMGEXIT 0x80000011/0x80000012 with
// the certificate paths of the kernel profile (facts §7.3, §7.4, §8.6, §9(a), §9(c)). The
// guest's side (its sev-guest driver sealing the request and opening the response) is in
// model/guest (vcpu.cc, sev_guest.cc).
#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "snp/model/attest/cert_table.h"
#include "snp/model/host/kvm_host.h"
#include "snp/model/hw/access.h"
#include "snp/model/psp/guest_msg.h"

namespace snplab::model::kvm {

namespace {

constexpr std::uint64_t kPageMask = kPageSize - 1;
constexpr std::size_t kMsgTypeOffset = 0x34;   // facts §6.1
constexpr std::uint64_t kEnospc = ENOSPC, kEagain = EAGAIN, kEio = EIO;

}  // namespace

Outcome Vm::snp_handle_guest_req(VcpuMachine& m, bool ext, const GuestRequestPages& pages, Ghcb& ghcb) {
  VcpuRun& v = m.run;
  leave_guest(v);
  const kern::FunctionScope fs(host_->sched(), ext ? "snp_handle_ext_guest_req" : "snp_handle_guest_req");
  SevPlatform* sev = host_->sev();
  const bool snp = is_snp() && sev != nullptr;
  auto kernel_exit = [&](Exit e) {
    m.exit = e;
    return Outcome::Exited;
  };
  // The certificate exit to userspace: KVM waits for its completion on the next KVM_RUN.
  auto certs_exit = [&](Pending pending, Exit e) {
    v.pending = pending;
    v.pending_exit = e;
    v.pending_req = pages;
    v.completion = UserCompletion{};
    return kernel_exit(e);
  };
  ghcb.sw_exitinfo1 = 0;
  ghcb.sw_exitinfo2 = 0;
  const KernelProfile& prof = host_->config().profile;
  const Gpa req = pages.req, resp = pages.resp;
  const bool gpas_ok = (req & kPageMask) == 0 && (resp & kPageMask) == 0 && req != resp;
  if (ext && prof.cert_exit == CertExit::KernelCerts && !snp) {
    // v10 snp_handle_ext_guest_request(): not an SNP guest.
    if (prof.nonsnp_guest_req_rc) {
      // `rc = SEV_RET_INVALID_GUEST; goto e_fail;` - but e_fail writes `exitcode`, still 0:
      // the guest is told its request succeeded (facts §9(c)).
      host_->sched().report(FindingKind::GuestRequestFalseSuccess,
                           fmt::format("VM {}: extended guest request from a non-SNP guest answered SW_EXITINFO2 = 0 "
                                       "without a firmware call (rc = INVALID_GUEST was set instead of exitcode)",
                                       id_));
      ghcb.sw_exitinfo2 = 0;
    } else {
      ghcb.sw_exitinfo2 = static_cast<std::uint32_t>(FwStatus::InvalidGuest);
    }
    return Outcome::Retired;
  }
  if (!snp || !gpas_ok) {
    // sev_es_validate_vmgexit(): malformed input, MISSING_INPUT (facts §7.3, §9(c) fix).
    ghcb.sw_exitinfo1 = kGhcbMalformedInput;
    ghcb.sw_exitinfo2 = kGhcbErrMissingInput;
    return Outcome::Retired;
  }
  std::uint32_t fw_err = 0;
  if (ext) {
    std::uint8_t msg_type = 0;
    if (!read_guest(req + kMsgTypeOffset, {&msg_type, 1})) return kernel_exit(Exit{-EFAULT});
    if (msg_type == static_cast<std::uint8_t>(MsgType::ReportReq)) {
      const Gpa data_gpa = pages.certs;
      const std::uint64_t data_npages = ghcb.rbx;
      if (prof.cert_exit == CertExit::KernelCerts) {
        // v10: certificates the kernel holds (the global blob from /dev/sev).
        if ((data_gpa & kPageMask) != 0) {
          ghcb.sw_exitinfo2 = static_cast<std::uint32_t>(FwStatus::InvalidAddress);
          return Outcome::Retired;
        }
        SnpCerts* certs = sev->global_certs_get(host_->sched(), prof.global_certs_reload);
        if (certs != nullptr && (data_npages << kPageShift) < certs->data.size()) {
          ghcb.rbx = certs->data.size() >> kPageShift;  // v10 rounds down (kept as it was)
          ghcb.sw_exitinfo2 = snp_guest_err(kVmmErrInvalidLen, 0);
        } else {
          const int r = snp_issue_guest_req(*this, req, resp, &fw_err);
          if (r < 0) {
            sev->certs_put(certs);
            return kernel_exit(Exit{r});
          }
          ghcb.sw_exitinfo2 = fw_err;
          if (fw_err == 0 && certs != nullptr && !write_guest(data_gpa, certs->data)) {
            ghcb.sw_exitinfo2 = static_cast<std::uint32_t>(FwStatus::InvalidAddress);
          }
        }
        sev->certs_put(certs);
        return Outcome::Retired;
      }
      if ((data_gpa & kPageMask) != 0) {  // KVM only checks alignment (facts §8.6)
        ghcb.sw_exitinfo2 = snp_guest_err(kVmmErrGeneric, 0);
        return Outcome::Retired;
      }
      if (prof.cert_exit == CertExit::VmgExit) {
        // Seed: KVM_EXIT_VMGEXIT / KVM_USER_VMGEXIT_REQ_CERTS, status PENDING.
        Exit e;
        e.reason = kExitVmgexit;
        e.vmgexit_type = kUserVmgexitReqCerts;
        e.certs_gpa = data_gpa;
        e.certs_npages = data_npages;
        e.vmgexit_flags = 0;
        e.vmgexit_status = kReqCertsStatusPending;
        return certs_exit(Pending::VmgexitCerts, e);
      }
      if (sev_.req_certs) {
        // Merged: KVM_EXIT_SNP_REQ_CERTS, ret pre-zeroed (facts §8.6).
        Exit e;
        e.reason = kExitSnpReqCerts;
        e.certs_gpa = data_gpa;
        e.certs_npages = data_npages;
        return certs_exit(Pending::SnpReqCerts, e);
      }
      // Userspace has not asked for the exit: an empty certificate table (24 zero bytes)
      // when the guest gave a buffer, then the plain request (facts §7.3).
      if (data_npages != 0) {
        const std::array<std::uint8_t, 24> terminator{};
        if (!write_guest(data_gpa, terminator)) {
          ghcb.sw_exitinfo2 = snp_guest_err(kVmmErrGeneric, 0);
          return Outcome::Retired;
        }
      }
    }
  }
  const int r = snp_issue_guest_req(*this, req, resp, &fw_err);
  if (r < 0) return kernel_exit(Exit{r});
  ghcb.sw_exitinfo2 = snp_guest_err(0, fw_err);
  return Outcome::Retired;
}

std::optional<Exit> Vm::snp_complete_req_certs(VcpuRun& v) {
  const kern::FunctionScope fs(host_->sched(), "snp_complete_req_certs");
  VcpuMachine m(*this, v);
  Ghcb& ghcb = v.guest.ghcb();
  const GuestRequestPages& pages = v.pending_req;
  const Pending was = v.pending;
  v.pending = Pending::None;
  std::uint32_t fw_err = 0;
  if (was == Pending::VmgexitDone) {  // only the completion notification: resume the guest
    v.guest.complete_request(m);
    return std::nullopt;
  }
  if (was == Pending::SnpReqCerts) {
    // snp_complete_req_certs() (facts §8.6): 0 / ENOSPC / EAGAIN / EIO, anything else EINVAL.
    const std::uint64_t ret = v.completion.ret;
    if (ret == 0) {
      const int r = snp_issue_guest_req(*this, pages.req, pages.resp, &fw_err);
      ghcb.sw_exitinfo2 = r < 0 ? snp_guest_err(kVmmErrGeneric, 0) : snp_guest_err(0, fw_err);
    } else if (ret == kEnospc) {
      ghcb.rbx = v.completion.set_npages ? v.completion.npages : v.pending_exit.certs_npages;
      ghcb.sw_exitinfo2 = snp_guest_err(kVmmErrInvalidLen, 0);
    } else if (ret == kEagain) {
      ghcb.sw_exitinfo2 = snp_guest_err(kVmmErrBusy, 0);
    } else if (ret == kEio) {
      ghcb.sw_exitinfo2 = snp_guest_err(kVmmErrGeneric, 0);
    } else {
      // KVM_RUN fails; the guest's VMGEXIT is not completed and runs again next time.
      Exit e;
      e.ret = -EINVAL;
      return e;
    }
    v.guest.complete_request(m);
    return std::nullopt;
  }
  // Seed KVM_USER_VMGEXIT_REQ_CERTS, status PENDING (snp_complete_ext_guest_req in v15 19/20).
  const auto vmm_ret = static_cast<std::uint32_t>(v.completion.ret);
  if (vmm_ret != 0) {
    if (vmm_ret == kVmmErrInvalidLen && v.completion.set_npages) ghcb.rbx = v.completion.npages;
    ghcb.sw_exitinfo2 = snp_guest_err(vmm_ret, 0);
  } else {
    const int r = snp_issue_guest_req(*this, pages.req, pages.resp, &fw_err);
    ghcb.sw_exitinfo2 = r < 0 ? snp_guest_err(kVmmErrGeneric, 0) : snp_guest_err(0, fw_err);
  }
  if ((v.completion.flags & kReqCertsFlagNotifyDone) != 0) {
    // A second exit tells userspace the request is complete (it may drop its lock).
    Exit e = v.pending_exit;
    e.vmgexit_status = kReqCertsStatusDone;
    e.vmgexit_flags = 0;
    v.pending = Pending::VmgexitDone;
    v.pending_exit = e;
    v.completion = UserCompletion{};
    return e;
  }
  v.guest.complete_request(m);
  return std::nullopt;
}

}  // namespace snplab::model::kvm
