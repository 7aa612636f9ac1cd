// The extended guest request certificate table (facts §7.4): GUID constants, encode/decode
// round trip, and every decode error.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "snp/model/attest/cert_table.h"

namespace snplab::model {
namespace {

using Bytes = std::vector<std::uint8_t>;

Bytes blob(std::size_t n, std::uint8_t fill) { return Bytes(n, fill); }

/// A table row written by hand: GUID, offset, length (little-endian).
void put_row(Bytes& buf, std::size_t row, const Guid& g, std::uint32_t off, std::uint32_t len) {
  const std::size_t at = row * kCertTableEntrySize;
  if (buf.size() < at + kCertTableEntrySize) buf.resize(at + kCertTableEntrySize);
  std::copy(g.bytes.begin(), g.bytes.end(), buf.begin() + static_cast<std::ptrdiff_t>(at));
  for (std::size_t i = 0; i < 4; ++i) {
    buf[at + 16 + i] = static_cast<std::uint8_t>(off >> (8 * i));
    buf[at + 20 + i] = static_cast<std::uint8_t>(len >> (8 * i));
  }
}

std::string decode_error(const Bytes& buf) {
  const auto t = decode_cert_table(buf);
  return t.has_value() ? std::string("<decoded>") : t.error().message;
}

// --- GUIDs -----------------------------------------------------------------------------------

TEST(CertGuid, Constants_AreTheFactsGuids_InRfc4122ByteOrder) {
  EXPECT_EQ(kGuidArk.to_string(), "c0b406a4-a803-4952-9743-3fb6014cd0ae");
  EXPECT_EQ(kGuidAsk.to_string(), "4ab7b379-bbac-4fe4-a02f-05aef327c782");
  EXPECT_EQ(kGuidVcek.to_string(), "63da758d-e664-4564-adc5-f4b93be8accd");
  EXPECT_EQ(kGuidVlek.to_string(), "a8074bc2-a25a-483e-aae6-39c045a0b8a1");
  EXPECT_EQ(kGuidCrl.to_string(), "92f81bc3-5811-4d3d-97ff-d19f88dc67ea");
  // First byte on the wire is the first textual byte (0x63 for the VCEK), not the EFI swap.
  EXPECT_EQ(kGuidVcek.bytes[0], 0x63);
  EXPECT_EQ(kGuidVcek.bytes[3], 0x8d);
  EXPECT_EQ(kGuidVcek.bytes[4], 0xe6);
  EXPECT_EQ(cert_guid_name(kGuidArk), "ARK");
  EXPECT_EQ(cert_guid_name(kGuidVlek), "VLEK");
  EXPECT_EQ(cert_guid_name(Guid{}), "");
}

TEST(CertGuid, Parse_RejectsMalformedText) {
  EXPECT_TRUE(Guid::parse("63DA758D-E664-4564-ADC5-F4B93BE8ACCD").has_value());
  EXPECT_EQ(*Guid::parse("63DA758D-E664-4564-ADC5-F4B93BE8ACCD"), kGuidVcek);
  EXPECT_FALSE(Guid::parse("").has_value());
  EXPECT_FALSE(Guid::parse("63da758de664-4564-adc5-f4b93be8accd0").has_value());
  EXPECT_FALSE(Guid::parse("63da758d-e664-4564-adc5-f4b93be8accz").has_value());
  EXPECT_FALSE(Guid::parse("{63da758d-e664-4564-adc5-f4b93be8acc}").has_value());
  EXPECT_TRUE(Guid{}.is_zero());
  EXPECT_FALSE(kGuidArk.is_zero());
}

// --- Round trip ------------------------------------------------------------------------------

TEST(CertTable, EncodeDecode_RoundTrip_LayoutPerFacts) {
  const std::vector<CertTableBlob> in{{kGuidVcek, blob(1360, 0x11)}, {kGuidAsk, blob(1600, 0x22)},
                                      {kGuidArk, blob(1500, 0x33)}};
  const auto buf = encode_cert_table(in);
  ASSERT_TRUE(buf.has_value()) << buf.error().message;
  // 3 rows + terminator, then the blobs back to back.
  EXPECT_EQ(buf->size(), 4 * 24 + 1360 + 1600 + 1500u);
  EXPECT_EQ((*buf)[0], 0x63);                 // VCEK GUID first byte
  EXPECT_EQ((*buf)[16], 96);                  // offset 96 = 0x60, little-endian
  EXPECT_EQ((*buf)[20], 1360 & 0xFF);         // length
  EXPECT_EQ((*buf)[21], 1360 >> 8);
  for (std::size_t i = 72; i < 96; ++i) EXPECT_EQ((*buf)[i], 0) << i;  // terminator
  EXPECT_EQ((*buf)[96], 0x11);

  const auto t = decode_cert_table(*buf);
  ASSERT_TRUE(t.has_value()) << t.error().message;
  ASSERT_EQ(t->entries.size(), 3u);
  EXPECT_EQ(t->entries[0], (CertTableEntry{kGuidVcek, 96, 1360}));
  EXPECT_EQ(t->entries[1], (CertTableEntry{kGuidAsk, 96 + 1360, 1600}));
  EXPECT_EQ(t->entries[2], (CertTableEntry{kGuidArk, 96 + 1360 + 1600, 1500}));
  for (std::size_t i = 0; i < in.size(); ++i) EXPECT_EQ(t->blobs[i], in[i].data);
  ASSERT_NE(t->find(kGuidAsk), nullptr);
  EXPECT_EQ(*t->find(kGuidAsk), in[1].data);
  EXPECT_EQ(t->find(kGuidVlek), nullptr);
}

TEST(CertTable, EmptyTable_IsJustTheTerminator) {
  const auto buf = encode_cert_table({});
  ASSERT_TRUE(buf.has_value());
  EXPECT_EQ(*buf, Bytes(24, 0));
  const auto t = decode_cert_table(*buf);
  ASSERT_TRUE(t.has_value());
  EXPECT_TRUE(t->entries.empty());
  // KVM's "no certificates" answer: 24 zero bytes in a larger (page-sized) buffer.
  EXPECT_TRUE(decode_cert_table(Bytes(4096, 0)).has_value());
}

TEST(CertTable, Decode_SlackAndGapsAfterBlobs_Accepted) {
  auto buf = *encode_cert_table(std::vector<CertTableBlob>{{kGuidVlek, blob(10, 1)}});
  buf.resize(4096, 0xEE);  // the guest's buffer is bigger than needed
  const auto t = decode_cert_table(buf);
  ASSERT_TRUE(t.has_value()) << t.error().message;
  EXPECT_EQ(t->blobs[0], blob(10, 1));
}

TEST(CertTable, Decode_HandWrittenOrderIndependentOffsets) {
  Bytes buf;
  put_row(buf, 0, kGuidArk, 200, 10);
  put_row(buf, 1, kGuidAsk, 72, 50);
  put_row(buf, 2, Guid{}, 0, 0);
  buf.resize(210, 0xAB);
  const auto t = decode_cert_table(buf);
  ASSERT_TRUE(t.has_value()) << t.error().message;
  EXPECT_EQ(t->find(kGuidArk)->size(), 10u);
}

// --- Encode errors ---------------------------------------------------------------------------

TEST(CertTable, Encode_Rejects_ZeroGuidDuplicateAndEmpty) {
  const auto zero = encode_cert_table(std::vector<CertTableBlob>{{Guid{}, blob(3, 1)}});
  ASSERT_FALSE(zero.has_value());
  EXPECT_NE(zero.error().message.find("terminator"), std::string::npos);

  const auto dup = encode_cert_table(std::vector<CertTableBlob>{{kGuidAsk, blob(3, 1)}, {kGuidAsk, blob(3, 2)}});
  ASSERT_FALSE(dup.has_value());
  EXPECT_NE(dup.error().message.find("ASK"), std::string::npos);

  const auto empty = encode_cert_table(std::vector<CertTableBlob>{{kGuidVcek, {}}});
  ASSERT_FALSE(empty.has_value());
  EXPECT_NE(empty.error().message.find("empty"), std::string::npos);
}

// --- Decode errors ---------------------------------------------------------------------------

TEST(CertTable, Decode_MissingTerminator) {
  EXPECT_NE(decode_error({}).find("terminator"), std::string::npos);
  EXPECT_NE(decode_error(Bytes(23, 0)).find("terminator"), std::string::npos);
  Bytes buf;
  put_row(buf, 0, kGuidVcek, 48, 8);
  buf.resize(56, 1);  // a row, then 32 non-zero bytes: no terminator row
  EXPECT_NE(decode_error(buf).find("terminator"), std::string::npos) << decode_error(buf);
  // A terminator cut short by the end of the buffer is no terminator.
  Bytes cut;
  put_row(cut, 0, kGuidVcek, 48, 8);
  cut.resize(24 + 20, 0);
  EXPECT_NE(decode_error(cut).find("terminator"), std::string::npos);
}

TEST(CertTable, Decode_OffsetBeyondBuffer) {
  Bytes buf;
  put_row(buf, 0, kGuidVcek, 48, 100);
  put_row(buf, 1, Guid{}, 0, 0);
  buf.resize(120, 7);
  const std::string e = decode_error(buf);
  EXPECT_NE(e.find("run past the end"), std::string::npos) << e;
  EXPECT_NE(e.find("VCEK"), std::string::npos) << e;
  // u32 wrap-around does not sneak past the check.
  Bytes wrap;
  put_row(wrap, 0, kGuidAsk, 0xFFFFFFF0U, 0x20);
  put_row(wrap, 1, Guid{}, 0, 0);
  EXPECT_NE(decode_error(wrap).find("run past the end"), std::string::npos) << decode_error(wrap);
}

TEST(CertTable, Decode_OffsetInsideTheTable) {
  Bytes buf;
  put_row(buf, 0, kGuidVcek, 10, 4);
  put_row(buf, 1, Guid{}, 0, 0);
  buf.resize(100, 7);
  EXPECT_NE(decode_error(buf).find("inside the table"), std::string::npos) << decode_error(buf);
}

TEST(CertTable, Decode_Overlap) {
  Bytes buf;
  put_row(buf, 0, kGuidVcek, 72, 40);
  put_row(buf, 1, kGuidAsk, 100, 40);
  put_row(buf, 2, Guid{}, 0, 0);
  buf.resize(200, 7);
  const std::string e = decode_error(buf);
  EXPECT_NE(e.find("overlaps"), std::string::npos) << e;
  EXPECT_NE(e.find("VCEK"), std::string::npos) << e;
  EXPECT_NE(e.find("ASK"), std::string::npos) << e;
}

TEST(CertTable, Decode_ZeroLength_DuplicateGuid_TornTerminator) {
  Bytes zero_len;
  put_row(zero_len, 0, kGuidArk, 48, 0);
  put_row(zero_len, 1, Guid{}, 0, 0);
  EXPECT_NE(decode_error(zero_len).find("length 0"), std::string::npos);

  Bytes dup;
  put_row(dup, 0, kGuidArk, 72, 4);
  put_row(dup, 1, kGuidArk, 76, 4);
  put_row(dup, 2, Guid{}, 0, 0);
  dup.resize(100, 1);
  EXPECT_NE(decode_error(dup).find("repeats"), std::string::npos);

  Bytes torn;
  put_row(torn, 0, Guid{}, 48, 4);
  torn.resize(100, 0);
  EXPECT_NE(decode_error(torn).find("torn terminator"), std::string::npos) << decode_error(torn);
}

TEST(CertTable, Decode_ArbitraryBytes_NeverCrash) {
  // Every prefix of a valid table and a few byte flips: decode either succeeds or explains.
  const auto good = *encode_cert_table(std::vector<CertTableBlob>{{kGuidVcek, blob(30, 1)}, {kGuidAsk, blob(20, 2)}});
  for (std::size_t n = 0; n <= good.size(); ++n) {
    const auto t = decode_cert_table(std::span(good).first(n));
    if (!t.has_value()) {
      EXPECT_FALSE(t.error().message.empty());
    }
  }
  for (std::size_t i = 0; i < 72; ++i) {
    auto b = good;
    b[i] ^= 0xFF;
    const auto t = decode_cert_table(b);
    if (!t.has_value()) {
      EXPECT_FALSE(t.error().message.empty()) << i;
    }
  }
}

TEST(CertTable, ManyRows_DistinctGuidsDecodeAndARepeatNamesTheFirstEntry) {
  // 20,000 rows (a 480 KB table): every GUID distinct, each blob one byte after the table.
  constexpr std::size_t kRows = 20000;
  Bytes buf;
  const std::size_t table_end = (kRows + 1) * kCertTableEntrySize;
  auto guid = [](std::size_t i) {
    Guid g;
    for (std::size_t b = 0; b < 8; ++b) g.bytes[b] = static_cast<std::uint8_t>((i + 1) >> (8 * b));
    return g;
  };
  for (std::size_t i = 0; i < kRows; ++i) put_row(buf, i, guid(i), static_cast<std::uint32_t>(table_end + i), 1);
  put_row(buf, kRows, Guid{}, 0, 0);  // the terminator
  buf.resize(table_end + kRows, 0xab);
  const auto t = decode_cert_table(buf);
  ASSERT_TRUE(t.has_value()) << t.error().message;
  EXPECT_EQ(t->entries.size(), kRows);
  // The last row repeats row 12,345's GUID: the error names that entry.
  put_row(buf, kRows - 1, guid(12345), static_cast<std::uint32_t>(table_end + kRows - 1), 1);
  const std::string e = decode_error(buf);
  EXPECT_NE(e.find("repeats entry 12345"), std::string::npos) << e;
}

}  // namespace
}  // namespace snplab::model
