// The guest's sev-guest driver (drivers/virt/coco/sev-guest/sev-guest.c, and the guest
// owner's check of what it returns), apart from the host: VMPCK0 from the secrets page,
// MSG_REPORT_REQ sealed under it, the response opened and checked, and the report verified
// with the certificates the extended request brought back (facts §6, §7.3, §7.4). The host
// model's guest interpreter calls these around the VMGEXIT that KVM handles.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "snp/model/crypto/aead.h"
#include "snp/model/psp/sim_chip.h"

namespace snplab::model::kvm {

/// VMPCK0 out of the secrets page (offset 0x20, facts §6.5).
Aes256Key snp_vmpck0(std::span<const std::uint8_t> secrets_page);

/// The request page: MSG_REPORT_REQ with REPORT_DATA filled with `report_data`, sealed under
/// VMPCK0 with sequence number `seqno` (VMPL 0), the rest of the page zero.
std::vector<std::uint8_t> snp_seal_report_req(const Aes256Key& vmpck0, std::uint64_t seqno,
                                              std::uint8_t report_data);

/// What the driver makes of the response page of the request sealed with `req_seqno`: the
/// report, or `error` saying why not ("response does not open (...)", "unexpected response
/// (...)", "report request refused (...)").
struct ReportResponse {
  std::string error;
  std::vector<std::uint8_t> report;
  std::uint64_t seqno = 0;  ///< the response's sequence number (req_seqno + 1)
};
ReportResponse snp_open_report_rsp(const Aes256Key& vmpck0, std::span<const std::uint8_t> page,
                                   std::uint64_t req_seqno);

/// The guest owner's check of `report` with the certificate table the extended request
/// returned, anchored in the root of the simulated chip the guest runs on and at the
/// guest's fixed clock. `outcome` is the guest's log text; `out_of_sync`: the certificates do
/// not match the key or TCB that signed the report (`failure` says how).
struct CertsCheck {
  std::string outcome;
  bool out_of_sync = false;
  std::string failure;
};
CertsCheck snp_check_report_certs(std::span<const std::uint8_t> report, std::span<const std::uint8_t> certs_buf,
                                  const SimChip& chip);

}  // namespace snplab::model::kvm
