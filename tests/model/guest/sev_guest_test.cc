// The guest's sev-guest driver on its own: VMPCK0 from the secrets page, the sealed request,
// and every way a response page can fail the driver's checks.
#include <gtest/gtest.h>

#include <cstdint>
#include <variant>
#include <vector>

#include "snp/model/attest/attestation.h"
#include "snp/model/guest/sev_guest.h"
#include "snp/model/psp/guest_msg.h"

namespace snplab::model::kvm {
namespace {

Aes256Key key_of(std::uint8_t b) {
  Aes256Key k{};
  k.fill(b);
  return k;
}

/// A MSG_REPORT_RSP payload: status, report size, reserved, then the report.
std::vector<std::uint8_t> report_rsp_payload(std::uint32_t status, std::uint8_t fill) {
  std::vector<std::uint8_t> p(0x20 + kReportSize, 0);
  for (int i = 0; i < 4; ++i) p[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(status >> (8 * i));
  p[4] = static_cast<std::uint8_t>(kReportSize & 0xFF);
  p[5] = static_cast<std::uint8_t>(kReportSize >> 8);
  std::fill(p.begin() + 0x20, p.end(), fill);
  return p;
}

std::vector<std::uint8_t> rsp_page(const Aes256Key& k, std::uint64_t seqno, MsgType type, std::uint32_t status) {
  std::vector<std::uint8_t> page(kPageSize, 0);
  const auto msg = seal_guest_msg(k, 0, seqno, type, 1, report_rsp_payload(status, 0x5A));
  std::copy(msg.begin(), msg.end(), page.begin());
  return page;
}

TEST(SevGuest, Vmpck0IsTakenFromOffset0x20OfTheSecretsPage) {
  std::vector<std::uint8_t> secrets(kPageSize, 0);
  for (std::size_t i = 0; i < 32; ++i) secrets[0x20 + i] = static_cast<std::uint8_t>(i + 1);
  const Aes256Key k = snp_vmpck0(secrets);
  EXPECT_EQ(k[0], 1);
  EXPECT_EQ(k[31], 32);
}

TEST(SevGuest, SealedRequestOpensWithVmpck0AsAReportRequest) {
  const Aes256Key k = key_of(7);
  const auto page = snp_seal_report_req(k, 5, 0xAB);
  ASSERT_EQ(page.size(), kPageSize);
  const auto opened = open_guest_msg(k, page);
  ASSERT_TRUE(std::holds_alternative<OpenedMsg>(opened));
  const auto& m = std::get<OpenedMsg>(opened);
  EXPECT_EQ(m.hdr.seqno, 5U);
  EXPECT_EQ(m.hdr.msg_type, static_cast<std::uint8_t>(MsgType::ReportReq));
  EXPECT_EQ(m.payload[0], 0xAB);  // REPORT_DATA is filled with the byte asked for
  EXPECT_TRUE(std::holds_alternative<MsgError>(open_guest_msg(key_of(8), page)));
}

TEST(SevGuest, ResponseChecks_WrongKeyWrongSeqnoWrongTypeRefusedAndGood) {
  const Aes256Key k = key_of(7);
  EXPECT_EQ(snp_open_report_rsp(key_of(9), rsp_page(k, 6, MsgType::ReportRsp, 0), 5).error.rfind("response does not open", 0), 0U);
  EXPECT_EQ(snp_open_report_rsp(k, rsp_page(k, 8, MsgType::ReportRsp, 0), 5).error,
            "unexpected response (seqno 8, type " + std::to_string(static_cast<int>(MsgType::ReportRsp)) + ")");
  EXPECT_EQ(snp_open_report_rsp(k, rsp_page(k, 6, MsgType::ReportReq, 0), 5).error.rfind("unexpected response", 0), 0U);
  const ReportResponse refused = snp_open_report_rsp(k, rsp_page(k, 6, MsgType::ReportRsp, 0x16), 5);
  EXPECT_EQ(refused.error, "report request refused (status 0x16)");
  EXPECT_EQ(refused.seqno, 6U);
  const ReportResponse ok = snp_open_report_rsp(k, rsp_page(k, 6, MsgType::ReportRsp, 0), 5);
  EXPECT_TRUE(ok.error.empty()) << ok.error;
  ASSERT_EQ(ok.report.size(), kReportSize);
  EXPECT_EQ(ok.report[0], 0x5A);
}

}  // namespace
}  // namespace snplab::model::kvm
