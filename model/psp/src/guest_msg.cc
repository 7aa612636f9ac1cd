#include "snp/model/psp/guest_msg.h"

#include <algorithm>
#include <cstring>

#include "snp/model/base/assert.h"
#include "snp/model/base/bytes.h"

namespace snplab::model {

namespace {

GcmIv iv_for(std::uint64_t seqno) {
  GcmIv iv{};  // facts §6.1: SEQNO little-endian in bytes 0..7, bytes 8..11 zero
  put_le(iv.data(), seqno);
  return iv;
}

}  // namespace

std::string_view to_string(MsgError e) {
  switch (e) {
    case MsgError::Truncated: return "message truncated";
    case MsgError::BadHeader: return "malformed message header";
    case MsgError::BadAuth: return "message authentication failed";
  }
  SNPLAB_UNREACHABLE("corrupt MsgError");
}

std::array<std::uint8_t, kMsgHeaderSize> MsgHeader::encode() const {
  std::array<std::uint8_t, kMsgHeaderSize> b{};
  std::memcpy(b.data(), authtag.data(), authtag.size());
  put_le(&b[0x20], seqno);
  b[0x30] = algo;
  b[0x31] = hdr_version;
  put_le(&b[0x32], hdr_size);
  b[0x34] = msg_type;
  b[0x35] = msg_version;
  put_le(&b[0x36], msg_size);
  b[0x3C] = msg_vmpck;
  return b;
}

MsgHeader MsgHeader::decode(std::span<const std::uint8_t, kMsgHeaderSize> b) {
  MsgHeader h;
  std::memcpy(h.authtag.data(), b.data(), h.authtag.size());
  h.seqno = get_le<std::uint64_t>(&b[0x20]);
  h.algo = b[0x30];
  h.hdr_version = b[0x31];
  h.hdr_size = get_le<std::uint16_t>(&b[0x32]);
  h.msg_type = b[0x34];
  h.msg_version = b[0x35];
  h.msg_size = get_le<std::uint16_t>(&b[0x36]);
  h.msg_vmpck = b[0x3C];
  return h;
}

std::vector<std::uint8_t> seal_guest_msg(const Aes256Key& vmpck, std::uint8_t vmpck_id, std::uint64_t seqno,
                                         MsgType type, std::uint8_t version, std::span<const std::uint8_t> payload) {
  SNPLAB_ASSERT(payload.size() <= kPageSize - kMsgHeaderSize, "guest message payload larger than a page");
  MsgHeader h;
  h.seqno = seqno;
  h.msg_type = static_cast<std::uint8_t>(type);
  h.msg_version = version;
  h.msg_size = static_cast<std::uint16_t>(payload.size());
  h.msg_vmpck = vmpck_id;
  auto hdr = h.encode();
  const Sealed s = aes256gcm_seal(vmpck, iv_for(seqno), std::span(hdr).subspan(kMsgAadOffset, kMsgAadSize), payload);
  std::memcpy(hdr.data(), s.tag.data(), s.tag.size());
  // Header then ciphertext, sized once (GCC 12's LTO misreads an insert after the header copy
  // as a write past an empty buffer).
  std::vector<std::uint8_t> out(hdr.size() + s.ciphertext.size());
  std::memcpy(out.data(), hdr.data(), hdr.size());
  if (!s.ciphertext.empty()) std::memcpy(out.data() + hdr.size(), s.ciphertext.data(), s.ciphertext.size());
  return out;
}

std::variant<OpenedMsg, MsgError> open_guest_msg(const Aes256Key& vmpck, std::span<const std::uint8_t> bytes) {
  if (bytes.size() < kMsgHeaderSize) return MsgError::Truncated;
  const MsgHeader h = MsgHeader::decode(bytes.first<kMsgHeaderSize>());
  if (h.hdr_version != kMsgHdrVersion || h.hdr_size != kMsgHeaderSize || h.algo != kMsgAlgoAes256Gcm ||
      h.msg_size == 0 || h.msg_size % 16 != 0) {
    return MsgError::BadHeader;
  }
  if (kMsgHeaderSize + std::size_t{h.msg_size} > bytes.size()) return MsgError::Truncated;
  GcmTag tag{};
  std::memcpy(tag.data(), h.authtag.data(), tag.size());
  auto plain = aes256gcm_open(vmpck, iv_for(h.seqno), bytes.subspan(kMsgAadOffset, kMsgAadSize),
                              bytes.subspan(kMsgHeaderSize, h.msg_size), tag);
  if (!plain) return MsgError::BadAuth;
  return OpenedMsg{h, std::move(*plain)};
}

std::array<std::uint8_t, 0x60> ReportReq::encode() const {
  std::array<std::uint8_t, 0x60> b{};
  std::memcpy(b.data(), report_data.data(), 64);
  put_le(&b[0x40], vmpl);
  put_le(&b[0x44], static_cast<std::uint32_t>((key_sel & 3U) | (reserved_bits << 2)));
  if (reserved_nonzero) b[0x5F] = 1;
  return b;
}

ReportReq ReportReq::decode(std::span<const std::uint8_t> p) {
  std::array<std::uint8_t, 0x60> b{};
  if (!p.empty()) std::memcpy(b.data(), p.data(), std::min(p.size(), b.size()));  // an empty span's data() may be null
  ReportReq r;
  std::memcpy(r.report_data.data(), b.data(), 64);
  r.vmpl = get_le<std::uint32_t>(&b[0x40]);
  const auto w = get_le<std::uint32_t>(&b[0x44]);
  r.key_sel = static_cast<std::uint8_t>(w & 3U);
  r.reserved_bits = w >> 2;
  for (std::size_t i = 0x48; i < b.size(); ++i) r.reserved_nonzero = r.reserved_nonzero || b[i] != 0;
  return r;
}

std::array<std::uint8_t, 0x20> KeyReq::encode() const {
  std::array<std::uint8_t, 0x20> b{};
  put_le(&b[0], static_cast<std::uint32_t>((root_key_select ? 1U : 0U) | ((key_sel & 3U) << 1) | (reserved << 3)));
  put_le(&b[8], guest_field_select);
  put_le(&b[0x10], vmpl);
  put_le(&b[0x14], guest_svn);
  put_le(&b[0x18], tcb_version);
  return b;
}

KeyReq KeyReq::decode(std::span<const std::uint8_t> p) {
  std::array<std::uint8_t, 0x20> b{};
  if (!p.empty()) std::memcpy(b.data(), p.data(), std::min(p.size(), b.size()));
  KeyReq k;
  const auto w = get_le<std::uint32_t>(&b[0]);
  k.root_key_select = (w & 1U) != 0;
  k.key_sel = static_cast<std::uint8_t>((w >> 1) & 3U);
  k.reserved = (w >> 3) | get_le<std::uint32_t>(&b[4]);
  k.guest_field_select = get_le<std::uint64_t>(&b[8]);
  k.vmpl = get_le<std::uint32_t>(&b[0x10]);
  k.guest_svn = get_le<std::uint32_t>(&b[0x14]);
  k.tcb_version = get_le<std::uint64_t>(&b[0x18]);
  return k;
}

}  // namespace snplab::model
