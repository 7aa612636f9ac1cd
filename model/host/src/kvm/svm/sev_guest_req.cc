// Guest requests on the simulated host: KVM's handling of VMGEXIT 0x80000011/0x80000012 with
// the certificate paths of the kernel profile (facts §7.3, §7.4, §8.6, §9(a), §9(c)), and the
// guest's steps around it, which call its sev-guest driver (snp/model/guest/sev_guest.h: seal
// MSG_REPORT_REQ under VMPCK0, open the response, check the report and its certificates).
#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "snp/model/attest/cert_table.h"
#include "snp/model/guest/sev_guest.h"
#include "snp/model/host/kvm_host.h"
#include "snp/model/hw/access.h"
#include "snp/model/psp/guest_msg.h"

namespace snplab::model::kvm {

namespace {

constexpr std::uint64_t kPageMask = kPageSize - 1;
constexpr std::size_t kMsgTypeOffset = 0x34;   // facts §6.1
constexpr std::uint64_t kEnospc = ENOSPC, kEagain = EAGAIN, kEio = EIO;

std::string hex_err(std::uint64_t exitinfo2) {
  return fmt::format("vmm 0x{:x}, fw 0x{:x}", exitinfo2 >> 32, exitinfo2 & 0xFFFFFFFFU);
}

}  // namespace

std::optional<Exit> Vm::step_guest_request(VcpuRun& v, const GuestOp& op) {
  const kern::FunctionScope fs(host_->sched(), op.kind == GuestOpKind::ExtGuestRequest ? "snp_handle_ext_guest_req" : "snp_handle_guest_req");
  const bool ext = op.kind == GuestOpKind::ExtGuestRequest;
  const char* what = ext ? "extended guest request" : "guest request";
  SevPlatform* sev = host_->sev();
  const bool snp = is_snp() && sev != nullptr;
  if (!v.req_sealed) {
    // The guest driver: VMPCK0 from the secrets page (a private, validated page), then the
    // sealed MSG_REPORT_REQ written into the shared request page.
    Aes256Key key{};
    if (snp && op.req.secrets != 0) {
      const auto pfn = private_pfn(op.req.secrets);
      if (!pfn) return terminate(v, fmt::format("{}: no secrets page at 0x{:x}", what, op.req.secrets));
      GuestAccess a;
      a.spa = pfn_to_spa(*pfn);
      a.gpa = op.req.secrets;
      a.asid = sev_.asid;
      a.kind = AccessKind::Read;
      if (const Fault f = check_guest_access(sev->rmp(), a); f.raised()) {
        return terminate(v, fmt::format("{}: secrets page 0x{:x}: {} 0x{:x}", what, op.req.secrets,
                                        to_string(f.kind), f.code));
      }
      key = snp_vmpck0(sev->mem().page(*pfn));
    }
    v.req_seqno = guest_seqno_ + 1;
    const std::vector<std::uint8_t> page = snp_seal_report_req(key, v.req_seqno, op.value);
    if (!write_guest(op.req.req, page)) {
      return terminate(v, fmt::format("{}: request page 0x{:x} is not mapped", what, op.req.req));
    }
    v.req_sealed = true;
    v.busy_left = op.req.busy_retries;
    v.rbx = op.req.cert_pages;
  }

  // ---- VMGEXIT: KVM's side (sev_handle_vmgexit) ----
  v.exitinfo1 = 0;
  v.exitinfo2 = 0;
  const KernelProfile& prof = host_->config().profile;
  const Gpa req = op.req.req, resp = op.req.resp;
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
      v.exitinfo2 = 0;
    } else {
      v.exitinfo2 = static_cast<std::uint32_t>(FwStatus::InvalidGuest);
    }
    finish_guest_request(v, op);
    return std::nullopt;
  }
  if (!snp || !gpas_ok) {
    // sev_es_validate_vmgexit(): malformed input, MISSING_INPUT (facts §7.3, §9(c) fix).
    v.exitinfo1 = kGhcbMalformedInput;
    v.exitinfo2 = kGhcbErrMissingInput;
    finish_guest_request(v, op);
    return std::nullopt;
  }
  std::uint32_t fw_err = 0;
  if (ext) {
    std::uint8_t msg_type = 0;
    if (!read_guest(req + kMsgTypeOffset, {&msg_type, 1})) return Exit{-EFAULT};
    if (msg_type == static_cast<std::uint8_t>(MsgType::ReportReq)) {
      const Gpa data_gpa = op.req.certs;
      const std::uint64_t data_npages = v.rbx;
      if (prof.cert_exit == CertExit::KernelCerts) {
        // v10: certificates the kernel holds (the global blob from /dev/sev).
        if ((data_gpa & kPageMask) != 0) {
          v.exitinfo2 = static_cast<std::uint32_t>(FwStatus::InvalidAddress);
          finish_guest_request(v, op);
          return std::nullopt;
        }
        SnpCerts* certs = sev->global_certs_get(host_->sched(), prof.global_certs_reload);
        if (certs != nullptr && (data_npages << kPageShift) < certs->data.size()) {
          v.rbx = certs->data.size() >> kPageShift;  // v10 rounds down (kept as it was)
          v.exitinfo2 = snp_guest_err(kVmmErrInvalidLen, 0);
        } else {
          const int r = snp_issue_guest_req(*this, req, resp, &fw_err);
          if (r < 0) {
            sev->certs_put(certs);
            return Exit{r};
          }
          v.exitinfo2 = fw_err;
          if (fw_err == 0 && certs != nullptr && !write_guest(data_gpa, certs->data)) {
            v.exitinfo2 = static_cast<std::uint32_t>(FwStatus::InvalidAddress);
          }
        }
        sev->certs_put(certs);
        finish_guest_request(v, op);
        return std::nullopt;
      }
      if ((data_gpa & kPageMask) != 0) {  // KVM only checks alignment (facts §8.6)
        v.exitinfo2 = snp_guest_err(kVmmErrGeneric, 0);
        finish_guest_request(v, op);
        return std::nullopt;
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
        v.pending = Pending::VmgexitCerts;
        v.pending_exit = e;
        v.completion = UserCompletion{};
        return e;
      }
      if (sev_.req_certs) {
        // Merged: KVM_EXIT_SNP_REQ_CERTS, ret pre-zeroed (facts §8.6).
        Exit e;
        e.reason = kExitSnpReqCerts;
        e.certs_gpa = data_gpa;
        e.certs_npages = data_npages;
        v.pending = Pending::SnpReqCerts;
        v.pending_exit = e;
        v.completion = UserCompletion{};
        return e;
      }
      // Userspace has not asked for the exit: an empty certificate table (24 zero bytes)
      // when the guest gave a buffer, then the plain request (facts §7.3).
      if (data_npages != 0) {
        const std::array<std::uint8_t, 24> terminator{};
        if (!write_guest(data_gpa, terminator)) {
          v.exitinfo2 = snp_guest_err(kVmmErrGeneric, 0);
          finish_guest_request(v, op);
          return std::nullopt;
        }
      }
    }
  }
  const int r = snp_issue_guest_req(*this, req, resp, &fw_err);
  if (r < 0) return Exit{r};
  v.exitinfo2 = snp_guest_err(0, fw_err);
  finish_guest_request(v, op);
  return std::nullopt;
}

std::optional<Exit> Vm::complete_cert_exit(VcpuRun& v) {
  const kern::FunctionScope fs(host_->sched(), "snp_complete_req_certs");
  const GuestOp& op = v.program[v.pc];
  const Pending was = v.pending;
  v.pending = Pending::None;
  std::uint32_t fw_err = 0;
  if (was == Pending::VmgexitDone) {  // only the completion notification: resume the guest
    finish_guest_request(v, op);
    return std::nullopt;
  }
  if (was == Pending::SnpReqCerts) {
    // snp_complete_req_certs() (facts §8.6): 0 / ENOSPC / EAGAIN / EIO, anything else EINVAL.
    const std::uint64_t ret = v.completion.ret;
    if (ret == 0) {
      const int r = snp_issue_guest_req(*this, op.req.req, op.req.resp, &fw_err);
      v.exitinfo2 = r < 0 ? snp_guest_err(kVmmErrGeneric, 0) : snp_guest_err(0, fw_err);
    } else if (ret == kEnospc) {
      v.rbx = v.completion.set_npages ? v.completion.npages : v.pending_exit.certs_npages;
      v.exitinfo2 = snp_guest_err(kVmmErrInvalidLen, 0);
    } else if (ret == kEagain) {
      v.exitinfo2 = snp_guest_err(kVmmErrBusy, 0);
    } else if (ret == kEio) {
      v.exitinfo2 = snp_guest_err(kVmmErrGeneric, 0);
    } else {
      // KVM_RUN fails; the guest's VMGEXIT is not completed and runs again next time.
      v.req_sealed = true;
      Exit e;
      e.ret = -EINVAL;
      return e;
    }
    finish_guest_request(v, op);
    return std::nullopt;
  }
  // Seed KVM_USER_VMGEXIT_REQ_CERTS, status PENDING (snp_complete_ext_guest_req in v15 19/20).
  const auto vmm_ret = static_cast<std::uint32_t>(v.completion.ret);
  if (vmm_ret != 0) {
    if (vmm_ret == kVmmErrInvalidLen) v.rbx = v.completion.set_npages ? v.completion.npages : v.rbx;
    v.exitinfo2 = snp_guest_err(vmm_ret, 0);
  } else {
    const int r = snp_issue_guest_req(*this, op.req.req, op.req.resp, &fw_err);
    v.exitinfo2 = r < 0 ? snp_guest_err(kVmmErrGeneric, 0) : snp_guest_err(0, fw_err);
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
  finish_guest_request(v, op);
  return std::nullopt;
}


void Vm::finish_guest_request(VcpuRun& v, const GuestOp& op) {
  const bool ext = op.kind == GuestOpKind::ExtGuestRequest;
  const char* what = ext ? "extended guest request" : "guest request";
  if (v.exitinfo1 == kGhcbMalformedInput) {
    v.log.push_back(fmt::format("{}: malformed input (GHCB error {})", what, v.exitinfo2));
    v.req_sealed = false;
    ++v.pc;
    return;
  }
  const auto vmm = static_cast<std::uint32_t>(v.exitinfo2 >> 32);
  const auto fw = static_cast<std::uint32_t>(v.exitinfo2);
  if (vmm == kVmmErrBusy && v.busy_left > 0) {
    // Retry the same message: the firmware never saw it, so its sequence number still fits.
    --v.busy_left;
    v.log.push_back(fmt::format("{}: busy, retrying", what));
    return;  // req_sealed stays set: the next step re-issues the VMGEXIT
  }
  v.req_sealed = false;
  ++v.pc;
  if (vmm == kVmmErrInvalidLen) {
    v.log.push_back(fmt::format("{}: certificate buffer too small ({} pages given, {} needed)", what,
                                op.req.cert_pages, v.rbx));
    return;
  }
  if (vmm != 0 || fw != 0) {
    v.log.push_back(fmt::format("{}: failed ({})", what, hex_err(v.exitinfo2)));
    return;
  }
  // Success as far as KVM says: open the response with VMPCK0.
  SevPlatform* sev = host_->sev();
  Aes256Key key{};
  if (sev != nullptr && is_snp() && op.req.secrets != 0) {
    if (const auto pfn = private_pfn(op.req.secrets)) key = snp_vmpck0(sev->mem().page(*pfn));
  }
  std::vector<std::uint8_t> rsp(kPageSize);
  if (!read_guest(op.req.resp, rsp)) {
    v.log.push_back(fmt::format("{}: response page 0x{:x} unreadable", what, op.req.resp));
    return;
  }
  ReportResponse r = snp_open_report_rsp(key, rsp, v.req_seqno);
  if (r.seqno != 0) guest_seqno_ = r.seqno;  // the driver advances by two per request
  if (!r.error.empty()) {
    v.log.push_back(fmt::format("{}: {}", what, r.error));
    return;
  }
  v.report = std::move(r.report);
  if (!ext || op.req.cert_pages == 0) {
    v.log.push_back(fmt::format("{}: report received", what));
    return;
  }
  std::vector<std::uint8_t> buf(op.req.cert_pages << kPageShift);
  if (!read_guest(op.req.certs, buf)) {
    v.log.push_back(fmt::format("{}: report received; certificate buffer unreadable", what));
    return;
  }
  const CertsCheck check = snp_check_report_certs(v.report, buf, sev->fw().chip());
  v.log.push_back(fmt::format("{}: {}", what, check.outcome));
  if (check.out_of_sync) {
    // Detector (DESIGN.md): the certificates the guest was given do not match the key/TCB
    // that signed its report, e.g. a SNP_SET_CONFIG between the certificate fetch and the
    // firmware's signature.
    host_->sched().report(FindingKind::CertsOutOfSync,
                         fmt::format("the guest's report does not verify with the certificates it was given: {}",
                                     check.failure));
  }
}

}  // namespace snplab::model::kvm
