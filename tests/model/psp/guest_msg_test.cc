// Guest message codec (facts §6.1): layout, the authenticated header, and every way a
// malformed message is refused without a crash.
#include <gtest/gtest.h>

#include <cstring>

#include "snp/model/psp/guest_msg.h"

namespace snplab::model {
namespace {

Aes256Key key(std::uint8_t b) {
  Aes256Key k{};
  k.fill(b);
  return k;
}

std::vector<std::uint8_t> sample() {
  ReportReq req;
  req.report_data[0] = 1;
  return seal_guest_msg(key(9), 2, 41, MsgType::ReportReq, 1, req.encode());
}

TEST(GuestMsg, Seal_LaysOutTheHeaderPerFacts) {
  const auto m = sample();
  ASSERT_EQ(m.size(), kMsgHeaderSize + 0x60);
  std::uint64_t seq = 0;
  std::memcpy(&seq, &m[0x20], 8);
  EXPECT_EQ(seq, 41U);
  EXPECT_EQ(m[0x30], 1);     // ALGO AES-256-GCM
  EXPECT_EQ(m[0x31], 1);     // HDR_VERSION
  EXPECT_EQ(m[0x32], 0x60);  // HDR_SIZE
  EXPECT_EQ(m[0x34], static_cast<std::uint8_t>(MsgType::ReportReq));
  EXPECT_EQ(m[0x36], 0x60);  // MSG_SIZE
  EXPECT_EQ(m[0x3C], 2);     // MSG_VMPCK
}

TEST(GuestMsg, Open_RoundTrips) {
  const auto opened = open_guest_msg(key(9), sample());
  ASSERT_TRUE(std::holds_alternative<OpenedMsg>(opened));
  const auto& msg = std::get<OpenedMsg>(opened);
  EXPECT_EQ(msg.hdr.seqno, 41U);
  EXPECT_EQ(ReportReq::decode(msg.payload).report_data[0], 1);
}

TEST(GuestMsg, AuthenticatedHeaderBytes_CannotBeChanged) {
  for (std::size_t off : {std::size_t{0x20}, std::size_t{0x34}, std::size_t{0x35}, std::size_t{0x3C},
                          std::size_t{0x40}, std::size_t{0x5F}, std::size_t{0x60}}) {
    auto m = sample();
    m[off] ^= 0x01;
    const auto r = open_guest_msg(key(9), m);
    ASSERT_TRUE(std::holds_alternative<MsgError>(r)) << "offset " << off;
    EXPECT_EQ(std::get<MsgError>(r), MsgError::BadAuth) << "offset " << off;
  }
}

TEST(GuestMsg, WrongKey_FailsBadAuth) {
  const auto r = open_guest_msg(key(8), sample());
  ASSERT_TRUE(std::holds_alternative<MsgError>(r));
  EXPECT_EQ(std::get<MsgError>(r), MsgError::BadAuth);
}

TEST(GuestMsg, MalformedHeaders_FailBadHeader) {
  struct Case {
    std::size_t off;
    std::uint8_t value;
  };
  for (const Case c : {Case{0x30, 2}, Case{0x31, 2}, Case{0x32, 0x61}, Case{0x36, 0}, Case{0x36, 0x21}}) {
    auto m = sample();
    m[c.off] = c.value;
    if (c.off == 0x36) m[0x37] = 0;
    const auto r = open_guest_msg(key(9), m);
    ASSERT_TRUE(std::holds_alternative<MsgError>(r)) << c.off;
    EXPECT_EQ(std::get<MsgError>(r), MsgError::BadHeader) << c.off;
  }
}

TEST(GuestMsg, TruncatedInput_FailsTruncated) {
  const auto m = sample();
  for (std::size_t n : {std::size_t{0}, std::size_t{0x20}, std::size_t{0x5F}, kMsgHeaderSize + 0x10}) {
    const auto r = open_guest_msg(key(9), std::span<const std::uint8_t>(m).first(n));
    ASSERT_TRUE(std::holds_alternative<MsgError>(r)) << n;
    EXPECT_EQ(std::get<MsgError>(r), MsgError::Truncated) << n;
  }
}

TEST(GuestMsg, GarbageInput_NeverCrashesAndNeverOpens) {
  std::vector<std::uint8_t> buf(kPageSize);
  std::uint64_t x = 0x243F6A8885A308D3ULL;
  for (int round = 0; round < 200; ++round) {
    for (auto& b : buf) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      b = static_cast<std::uint8_t>(x);
    }
    buf[0x31] = 1, buf[0x32] = 0x60, buf[0x33] = 0, buf[0x30] = 1;  // a plausible header
    EXPECT_TRUE(std::holds_alternative<MsgError>(open_guest_msg(key(9), buf)));
  }
}

TEST(GuestMsg, KeyReq_EncodeDecodeRoundTrips) {
  KeyReq k;
  k.root_key_select = true;
  k.key_sel = 2;
  k.guest_field_select = 0x2A;
  k.vmpl = 1;
  k.guest_svn = 9;
  k.tcb_version = 0x1122334455667788ULL;
  const KeyReq d = KeyReq::decode(k.encode());
  EXPECT_TRUE(d.root_key_select);
  EXPECT_EQ(d.key_sel, 2);
  EXPECT_EQ(d.guest_field_select, 0x2AU);
  EXPECT_EQ(d.vmpl, 1U);
  EXPECT_EQ(d.guest_svn, 9U);
  EXPECT_EQ(d.tcb_version, 0x1122334455667788ULL);
  EXPECT_EQ(d.reserved, 0U);
}

TEST(GuestMsg, RequestsDecodedFromNothing_AreAllZero) {
  // A guest message whose payload is empty: the request reads as zeros (no copy from an empty
  // span, whose data() may be null).
  const ReportReq r = ReportReq::decode({});
  EXPECT_EQ(r.vmpl, 0U);
  EXPECT_EQ(r.key_sel, 0U);
  EXPECT_FALSE(r.reserved_nonzero);
  for (const std::uint8_t b : r.report_data) EXPECT_EQ(b, 0);
  const KeyReq k = KeyReq::decode({});
  EXPECT_FALSE(k.root_key_select);
  EXPECT_EQ(k.guest_field_select, 0U);
  EXPECT_EQ(k.tcb_version, 0U);
}

}  // namespace
}  // namespace snplab::model
