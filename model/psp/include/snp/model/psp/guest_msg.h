// SNP guest messages (facts §6.1, §6.2): the 0x60-byte header, AES-256-GCM under a VMPCK with
// the IV taken from the sequence number and header bytes 0x30..0x5F authenticated, and the
// REPORT_REQ/RSP and KEY_REQ/RSP payloads. Pure functions over bytes: the firmware, the
// simulated guest and the fuzz targets all use them.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "snp/model/crypto/aead.h"
#include "snp/model/base/types.h"

namespace snplab::model {

enum class MsgType : std::uint8_t {
  Invalid = 0,
  CpuidReq = 1,
  CpuidRsp = 2,
  KeyReq = 3,
  KeyRsp = 4,
  ReportReq = 5,
  ReportRsp = 6,
  ExportReq = 7,
  ExportRsp = 8,
  ImportReq = 9,
  ImportRsp = 10,
  AbsorbReq = 11,
  AbsorbRsp = 12,
  VmrkReq = 13,
  VmrkRsp = 14,
  AbsorbNomaReq = 15,
  AbsorbNomaRsp = 16,
  TscInfoReq = 17,
  TscInfoRsp = 18,
};

inline constexpr std::size_t kMsgHeaderSize = 0x60;
inline constexpr std::size_t kMsgAadOffset = 0x30;
inline constexpr std::size_t kMsgAadSize = 0x30;
inline constexpr std::uint8_t kMsgAlgoAes256Gcm = 1;
inline constexpr std::uint8_t kMsgHdrVersion = 1;

/// The header fields (offsets in facts §6.1). Reserved bytes are not modelled: encode()
/// writes zeros there.
struct MsgHeader {
  std::array<std::uint8_t, 32> authtag{};  ///< 0x00 (16 bytes used)
  std::uint64_t seqno = 0;                 ///< 0x20
  std::uint8_t algo = kMsgAlgoAes256Gcm;   ///< 0x30
  std::uint8_t hdr_version = kMsgHdrVersion;  ///< 0x31
  std::uint16_t hdr_size = kMsgHeaderSize;    ///< 0x32
  std::uint8_t msg_type = 0;               ///< 0x34
  std::uint8_t msg_version = 1;            ///< 0x35
  std::uint16_t msg_size = 0;              ///< 0x36 payload bytes
  std::uint8_t msg_vmpck = 0;              ///< 0x3C

  std::array<std::uint8_t, kMsgHeaderSize> encode() const;
  static MsgHeader decode(std::span<const std::uint8_t, kMsgHeaderSize> bytes);
};

/// Seals `payload` into a complete message (header + ciphertext) under `vmpck`.
std::vector<std::uint8_t> seal_guest_msg(const Aes256Key& vmpck, std::uint8_t vmpck_id, std::uint64_t seqno,
                                         MsgType type, std::uint8_t version, std::span<const std::uint8_t> payload);

struct OpenedMsg {
  MsgHeader hdr;
  std::vector<std::uint8_t> payload;
};

/// Why a message could not be opened.
enum class MsgError : std::uint8_t {
  Truncated,     ///< shorter than the header, or header + MSG_SIZE beyond the buffer
  BadHeader,     ///< HDR_VERSION != 1, HDR_SIZE != 0x60, ALGO != 1, MSG_SIZE 0 or not 16-aligned
  BadAuth,       ///< the AES-GCM tag does not verify under this key
};
std::string_view to_string(MsgError e);

/// Checks the header the way the firmware does and authenticates/decrypts the payload.
std::variant<OpenedMsg, MsgError> open_guest_msg(const Aes256Key& vmpck, std::span<const std::uint8_t> bytes);

/// MSG_REPORT_REQ payload (0x60 bytes; facts §6.2).
struct ReportReq {
  std::array<std::uint8_t, 64> report_data{};
  std::uint32_t vmpl = 0;
  std::uint8_t key_sel = 0;         ///< bits 1:0: 0 VLEK if loaded else VCEK, 1 VCEK, 2 VLEK
  std::uint32_t reserved_bits = 0;  ///< bits 31:2 of the word at 0x44
  bool reserved_nonzero = false;    ///< any of bytes 0x48..0x5F set
  std::array<std::uint8_t, 0x60> encode() const;
  static ReportReq decode(std::span<const std::uint8_t> payload);  ///< zero-fills a short payload
};

/// MSG_KEY_REQ payload (0x20 bytes; facts §6.2).
struct KeyReq {
  bool root_key_select = false;  ///< bit 0: 0 VCEK/VLEK, 1 VMRK
  std::uint8_t key_sel = 0;      ///< bits 2:1
  std::uint32_t reserved = 0;    ///< bits 31:3 and the next word
  std::uint64_t guest_field_select = 0;
  std::uint32_t vmpl = 0;
  std::uint32_t guest_svn = 0;
  std::uint64_t tcb_version = 0;
  std::array<std::uint8_t, 0x20> encode() const;
  static KeyReq decode(std::span<const std::uint8_t> payload);
};

/// GUEST_FIELD_SELECT bits of KEY_REQ (ASPFW SNP_GUEST_FIELD_*).
namespace guest_field {
inline constexpr std::uint64_t kPolicy = 1U << 0;
inline constexpr std::uint64_t kImageId = 1U << 1;
inline constexpr std::uint64_t kFamilyId = 1U << 2;
inline constexpr std::uint64_t kMeasurement = 1U << 3;
inline constexpr std::uint64_t kGuestSvn = 1U << 4;
inline constexpr std::uint64_t kTcbVersion = 1U << 5;
inline constexpr std::uint64_t kAll = 0x3F;
}  // namespace guest_field

}  // namespace snplab::model
