#include "snp/model/guest/sev_guest.h"

#include <algorithm>
#include <cstring>
#include <variant>

#include <fmt/format.h>

#include "snp/model/attest/attestation.h"
#include "snp/model/attest/cert_table.h"
#include "snp/model/attest/report_verify.h"
#include "snp/model/attest/x509.h"
#include "snp/model/crypto/memo.h"
#include "snp/model/psp/guest_msg.h"

namespace snplab::model::kvm {

namespace {

constexpr std::size_t kSecretsVmpck0 = 0x20;    // facts §6.5
constexpr std::size_t kReportRspReport = 0x20;  // MSG_REPORT_RSP: status, size, rsvd, report
/// The instant the guest checks certificate validity at: inside the simulated chain's window
/// and fixed, so that a run never depends on the wall clock (2025-01-01T00:00:00Z).
constexpr UnixTime kGuestNow = 1735689600;

/// What the guest takes from verify_report(): the verdict, the failure and the leaf.
struct GuestVerdict {
  bool ok = false;
  std::string failure_summary;
  LeafKind leaf_kind = LeafKind::Unknown;
};

/// verify_report() at the guest's clock, anchored in the platform chip's root (the guest
/// owner of a simulated platform trusts that chip's ARK as a real one trusts AMD's),
/// memoized by the report, the root and the certificates' bytes (memo.h): every exploration
/// schedule checks the same report with the same chain.
GuestVerdict guest_check_report(std::span<const std::uint8_t> report, const Certificate& leaf,
                                const std::vector<Certificate>& chain, const SimChip& chip) {
  thread_local memo::Cache<GuestVerdict> cache;
  std::string k = memo::key(report, leaf.der(), chip.ark_key_sha256());
  for (const Certificate& c : chain) k += memo::key(c.der());
  if (const GuestVerdict* hit = cache.find(k)) return *hit;
  VerifyOptions options;
  options.roots = {TrustedRoot{"the platform's simulated ARK", chip.ark_key_sha256(),
                               "the root of the simulated chip this guest runs on"}};
  const VerifyResult vr = verify_report(report, leaf, chain, kGuestNow, options);
  GuestVerdict v{vr.ok(), vr.ok() ? std::string() : vr.failure_summary(), vr.leaf_kind};
  cache.put(std::move(k), v);
  return v;
}

}  // namespace

Aes256Key snp_vmpck0(std::span<const std::uint8_t> secrets_page) {
  Aes256Key key{};
  if (secrets_page.size() >= kSecretsVmpck0 + key.size()) {
    std::copy_n(secrets_page.begin() + kSecretsVmpck0, key.size(), key.begin());
  }
  return key;
}

std::vector<std::uint8_t> snp_seal_report_req(const Aes256Key& vmpck0, std::uint64_t seqno,
                                              std::uint8_t report_data) {
  ReportReq rr;
  rr.report_data.fill(report_data);
  const auto payload = rr.encode();
  const auto msg = seal_guest_msg(vmpck0, 0, seqno, MsgType::ReportReq, 1, payload);
  std::vector<std::uint8_t> page(kPageSize, 0);
  std::copy(msg.begin(), msg.end(), page.begin());
  return page;
}

ReportResponse snp_open_report_rsp(const Aes256Key& vmpck0, std::span<const std::uint8_t> page,
                                   std::uint64_t req_seqno) {
  ReportResponse out;
  const auto opened = open_guest_msg(vmpck0, page);
  if (const auto* e = std::get_if<MsgError>(&opened)) {
    out.error = fmt::format("response does not open ({})", to_string(*e));
    return out;
  }
  const OpenedMsg& m = std::get<OpenedMsg>(opened);
  if (m.hdr.seqno != req_seqno + 1 || m.hdr.msg_type != static_cast<std::uint8_t>(MsgType::ReportRsp)) {
    out.error = fmt::format("unexpected response (seqno {}, type {})", m.hdr.seqno, m.hdr.msg_type);
    return out;
  }
  out.seqno = m.hdr.seqno;
  std::uint32_t status = 0;
  std::memcpy(&status, m.payload.data(), sizeof(status));
  if (status != 0 || m.payload.size() < kReportRspReport + kReportSize) {
    out.error = fmt::format("report request refused (status 0x{:x})", status);
    return out;
  }
  out.report.assign(m.payload.begin() + kReportRspReport, m.payload.begin() + kReportRspReport + kReportSize);
  return out;
}

CertsCheck snp_check_report_certs(std::span<const std::uint8_t> report, std::span<const std::uint8_t> certs_buf,
                                  const SimChip& chip) {
  CertsCheck out;
  const auto table = decode_cert_table(certs_buf);
  if (!table) {
    out.outcome = fmt::format("report received; certificate table invalid ({})", table.error().message);
    return out;
  }
  if (table->entries.empty()) {
    out.outcome = "report received; no certificates";
    return out;
  }
  // The guest checks the report with the certificates it was given, as `snplab report verify`.
  const std::vector<std::uint8_t>* leaf = table->find(kGuidVcek);
  if (leaf == nullptr) leaf = table->find(kGuidVlek);
  std::vector<Certificate> chain;
  for (const Guid& g : {kGuidAsk, kGuidArk}) {
    if (const auto* der = table->find(g)) {
      if (auto c = Certificate::from_der(*der)) chain.push_back(std::move(*c));
    }
  }
  if (leaf == nullptr) {
    out.outcome = "report received; no VCEK or VLEK in the certificates";
    return out;
  }
  auto leaf_cert = Certificate::from_der(*leaf);
  if (!leaf_cert) {
    out.outcome = "report received; leaf certificate invalid";
    return out;
  }
  const GuestVerdict vr = guest_check_report(report, *leaf_cert, chain, chip);
  if (vr.ok) {
    out.outcome = fmt::format("report verified ({} certificates, {})", table->entries.size(), to_string(vr.leaf_kind));
  } else {
    out.outcome = fmt::format("report does not verify: {}", vr.failure_summary);
    out.out_of_sync = true;
    out.failure = vr.failure_summary;
  }
  return out;
}

}  // namespace snplab::model::kvm
