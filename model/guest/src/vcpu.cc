// The guest program interpreter (vcpu.h): each operation asked of the machine, the answer
// logged as the guest saw it.
#include "snp/model/guest/vcpu.h"

#include <array>

#include <fmt/format.h>

#include "snp/model/guest/sev_guest.h"

namespace snplab::model::kvm {

void GuestVcpu::give_up(GuestMachine& m, std::string why, std::uint64_t ghcb_msr) {
  // A guest that gives up on a failed operation gives the general reason and says the
  // specific one in its log; GuestOp::terminate names its own (docs/kvm.md).
  log_.push_back(std::move(why));
  terminated_ = true;
  m.terminate_request(ghcb_msr);
}

void GuestVcpu::step(GuestMachine& m) {
  if (pc_ >= program_.size()) {  // the program ran out: the guest idles
    m.hlt();
    return;
  }
  const GuestOp& op = program_[pc_];
  switch (op.kind) {
    case GuestOpKind::Halt:
      ++pc_;
      m.hlt();
      return;
    case GuestOpKind::MapGpaRange: {
      const InsnResult r = m.map_gpa_range(op.gpa & ~(kPageSize - 1), op.npages, op.to_private);
      if (r.outcome == Outcome::Fatal) {
        give_up(m, fmt::format("page-state change 0x{:x}+{}: refused ({})", op.gpa & ~(kPageSize - 1), op.npages, r.why));
      }
      return;
    }
    case GuestOpKind::GuestRequest:
    case GuestOpKind::ExtGuestRequest: step_request(m, op); return;
    case GuestOpKind::GhcbPsc: {
      const InsnResult r = m.page_state_change(op.psc);
      if (r.outcome == Outcome::Fatal) {
        give_up(m, fmt::format("GHCB page-state change: {}: terminating", r.why));
      } else if (r.outcome == Outcome::Retired) {
        log_.push_back(fmt::format("GHCB page-state change ({} entries): done", op.psc.size()));
        ++pc_;
      }
      return;
    }
    case GuestOpKind::ApCreate: step_ap_creation(m, op); return;
    case GuestOpKind::Terminate: {
      ++pc_;
      const std::uint64_t msr =
          kGhcbTermGeneral | (std::uint64_t{op.reason_set} & 0xF) << 12 | std::uint64_t{op.reason_code} << 16;
      give_up(m, fmt::format("GHCB termination request: reason set {}, code {}", op.reason_set, op.reason_code), msr);
      return;
    }
    case GuestOpKind::Pvalidate:
    case GuestOpKind::Read:
    case GuestOpKind::Write:
    case GuestOpKind::Rmpadjust: step_memory(m, op); return;
  }
}

void GuestVcpu::step_memory(GuestMachine& m, const GuestOp& op) {
  const Gpa gpa = op.gpa & ~(kPageSize - 1);
  InsnResult r;
  switch (op.kind) {
    case GuestOpKind::Pvalidate: r = m.pvalidate(gpa, op.huge, op.validate); break;
    case GuestOpKind::Rmpadjust: r = m.rmpadjust(gpa, op.vmsa); break;
    default: r = m.access(gpa, op.c_bit, op.kind == GuestOpKind::Write, op.value); break;
  }
  switch (r.outcome) {
    case Outcome::Again:
    case Outcome::Exited: return;  // the same operation runs again when the guest is back
    case Outcome::Fatal: give_up(m, std::move(r.why)); return;
    case Outcome::Retired: break;
  }
  switch (op.kind) {
    case GuestOpKind::Pvalidate:
      log_.push_back(fmt::format("PVALIDATE 0x{:x}{}: {}{}{}", gpa, op.huge ? " (2M)" : "", to_string(r.status),
                                 r.cf ? " (no change)" : "", r.after_psmash ? " (after RMP fault: PSMASH)" : ""));
      break;
    case GuestOpKind::Rmpadjust:
      log_.push_back(fmt::format("RMPADJUST 0x{:x}{}: {}", gpa, op.vmsa ? " (VMSA)" : "", to_string(r.status)));
      break;
    default:
      log_.push_back(fmt::format("{} 0x{:x} ({}): 0x{:02x}", op.kind == GuestOpKind::Write ? "write" : "read", gpa,
                                 r.is_private ? "private" : "shared", op.kind == GuestOpKind::Write ? op.value : r.value));
      break;
  }
  ++pc_;
}

void GuestVcpu::complete_hypercall(GuestMachine& m, std::uint64_t ret) {
  const GuestOp& op = program_[pc_];
  if (ret != 0) {
    give_up(m, fmt::format("page-state change 0x{:x}+{}: failed (ret {})", op.gpa, op.npages, static_cast<std::int64_t>(ret)));
    return;
  }
  log_.push_back(
      fmt::format("page-state change 0x{:x}+{} to {}: done", op.gpa, op.npages, op.to_private ? "private" : "shared"));
  ++pc_;
}

void GuestVcpu::step_ap_creation(GuestMachine& m, const GuestOp& op) {
  const std::string refused = m.ap_creation(op, ghcb_);
  if (!refused.empty()) {
    log_.push_back(fmt::format("AP creation for APIC {}: refused ({}; GHCB error {})", op.apic_id, refused,
                               ghcb_.sw_exitinfo2));
  } else if (op.ap_request == kApDestroy) {
    log_.push_back(fmt::format("AP destroy for APIC {}: done", op.apic_id));
  } else {
    log_.push_back(fmt::format("AP creation for APIC {} with VMSA 0x{:x}: done", op.apic_id, op.gpa));
  }
  ++pc_;
}

namespace {
const char* request_name(const GuestOp& op) {
  return op.kind == GuestOpKind::ExtGuestRequest ? "extended guest request" : "guest request";
}
}  // namespace

void GuestVcpu::step_request(GuestMachine& m, const GuestOp& op) {
  const char* what = request_name(op);
  if (!req_sealed_) {
    // The sev-guest driver: VMPCK0 from the secrets page (a private, validated page; the
    // driver keeps the key), then the sealed MSG_REPORT_REQ written into the shared request page.
    req_key_ = Aes256Key{};
    if (m.snp_active() && op.req.secrets != 0) {
      std::array<std::uint8_t, kPageSize> secrets{};
      if (auto err = m.read_private(op.req.secrets, secrets)) {
        give_up(m, fmt::format("{}: {}", what, *err));
        return;
      }
      req_key_ = snp_vmpck0(secrets);
    }
    req_seqno_ = m.driver_seqno() + 1;
    const std::vector<std::uint8_t> page = snp_seal_report_req(req_key_, req_seqno_, op.value);
    if (!m.write_shared(op.req.req, page)) {
      give_up(m, fmt::format("{}: request page 0x{:x} is not mapped", what, op.req.req));
      return;
    }
    req_sealed_ = true;
    busy_left_ = op.req.busy_retries;
    ghcb_.rbx = op.req.cert_pages;
  }
  if (m.guest_request(op.kind == GuestOpKind::ExtGuestRequest, op.req, ghcb_) == Outcome::Retired) complete_request(m);
}

void GuestVcpu::complete_request(GuestMachine& m) {
  const GuestOp& op = program_[pc_];
  const bool ext = op.kind == GuestOpKind::ExtGuestRequest;
  const char* what = request_name(op);
  if (ghcb_.sw_exitinfo1 == kGhcbMalformedInput) {
    log_.push_back(fmt::format("{}: malformed input (GHCB error {})", what, ghcb_.sw_exitinfo2));
    req_sealed_ = false;
    ++pc_;
    return;
  }
  const auto vmm = static_cast<std::uint32_t>(ghcb_.sw_exitinfo2 >> 32);
  const auto fw = static_cast<std::uint32_t>(ghcb_.sw_exitinfo2);
  if (vmm == kVmmErrBusy && busy_left_ > 0) {
    // Retry the same message: the firmware never saw it, so its sequence number still fits.
    --busy_left_;
    log_.push_back(fmt::format("{}: busy, retrying", what));
    return;  // still sealed: the next step issues the VMGEXIT again
  }
  req_sealed_ = false;
  ++pc_;
  if (vmm == kVmmErrInvalidLen) {
    log_.push_back(fmt::format("{}: certificate buffer too small ({} pages given, {} needed)", what, op.req.cert_pages,
                               ghcb_.rbx));
    return;
  }
  if (vmm != 0 || fw != 0) {
    log_.push_back(fmt::format("{}: failed (vmm 0x{:x}, fw 0x{:x})", what, vmm, fw));
    return;
  }
  // Success as far as KVM says: open the response with VMPCK0.
  std::vector<std::uint8_t> rsp(kPageSize);
  if (!m.read_shared(op.req.resp, rsp)) {
    log_.push_back(fmt::format("{}: response page 0x{:x} unreadable", what, op.req.resp));
    return;
  }
  ReportResponse r = snp_open_report_rsp(req_key_, rsp, req_seqno_);
  if (r.seqno != 0) m.driver_seqno() = r.seqno;  // the driver advances by two per request
  if (!r.error.empty()) {
    log_.push_back(fmt::format("{}: {}", what, r.error));
    return;
  }
  report_ = std::move(r.report);
  if (!ext || op.req.cert_pages == 0) {
    log_.push_back(fmt::format("{}: report received", what));
    return;
  }
  if (op.req.cert_pages > kMaxCheckedCertPages) {
    log_.push_back(fmt::format("{}: report received; certificate buffer of {} pages not checked (limit {})", what,
                               op.req.cert_pages, kMaxCheckedCertPages));
    return;
  }
  std::vector<std::uint8_t> buf(op.req.cert_pages << kPageShift);
  if (!m.read_shared(op.req.certs, buf)) {
    log_.push_back(fmt::format("{}: report received; certificate buffer unreadable", what));
    return;
  }
  const SimChip* chip = m.chip();
  if (chip == nullptr) {
    log_.push_back(fmt::format("{}: report received; no chip to check the certificates against", what));
    return;
  }
  const CertsCheck check = snp_check_report_certs(report_, buf, *chip);
  log_.push_back(fmt::format("{}: {}", what, check.outcome));
  if (check.out_of_sync) {
    // Detector (DESIGN.md): the certificates the guest was given do not match the key/TCB
    // that signed its report, e.g. a SNP_SET_CONFIG between the certificate fetch and the
    // firmware's signature.
    m.report(FindingKind::CertsOutOfSync,
             fmt::format("the guest's report does not verify with the certificates it was given: {}", check.failure));
  }
}

}  // namespace snplab::model::kvm
