// The certificate table of the Extended Guest Request (facts §7.3, §7.4): 24-byte entries
// {GUID[16]; u32 offset; u32 length} terminated by an all-zero entry, the certificate blobs
// after the table, offsets relative to the start of the guest's buffer.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "snp/model/attest/attestation.h"

namespace snplab::model {

/// A GUID in the byte order it has in the table: RFC-4122 textual order, i.e. the bytes of
/// "63da758d-e664-..." are 0x63 0xda 0x75 0x8d 0xe6 0x64 ... (facts §7.4, canonical choice;
/// the mixed-endian EFI form is not used).
struct Guid {
  std::array<std::uint8_t, 16> bytes{};

  /// Parses "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" (either case) in RFC-4122 order.
  static constexpr std::optional<Guid> parse(std::string_view text);
  /// Lower-case canonical text.
  std::string to_string() const;
  constexpr bool is_zero() const {
    for (auto b : bytes) {
      if (b != 0) return false;
    }
    return true;
  }
  friend constexpr bool operator==(const Guid&, const Guid&) = default;
};

constexpr std::optional<Guid> Guid::parse(std::string_view t) {
  if (t.size() != 36 || t[8] != '-' || t[13] != '-' || t[18] != '-' || t[23] != '-') return std::nullopt;
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  Guid g;
  std::size_t n = 0;
  for (std::size_t i = 0; i < t.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) continue;
    const int hi = digit(t[i]);
    const int lo = digit(t[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    g.bytes[n++] = static_cast<std::uint8_t>((hi << 4) | lo);
    ++i;
  }
  return g;
}

/// Facts §7.4 GUIDs.
inline constexpr Guid kGuidArk = *Guid::parse("c0b406a4-a803-4952-9743-3fb6014cd0ae");
inline constexpr Guid kGuidAsk = *Guid::parse("4ab7b379-bbac-4fe4-a02f-05aef327c782");
inline constexpr Guid kGuidVcek = *Guid::parse("63da758d-e664-4564-adc5-f4b93be8accd");
inline constexpr Guid kGuidVlek = *Guid::parse("a8074bc2-a25a-483e-aae6-39c045a0b8a1");
inline constexpr Guid kGuidCrl = *Guid::parse("92f81bc3-5811-4d3d-97ff-d19f88dc67ea");

static_assert(kGuidVcek.bytes[0] == 0x63 && kGuidVcek.bytes[15] == 0xcd, "facts §7.4: RFC-4122 byte order");
static_assert(kGuidArk.bytes[0] == 0xc0 && kGuidArk.bytes[4] == 0xa8);

/// "ARK", "ASK", "VCEK", "VLEK", "CRL", or "" for another GUID.
std::string_view cert_guid_name(const Guid& g);

/// Size of one table entry and of the terminator (facts §7.4).
inline constexpr std::size_t kCertTableEntrySize = 24;

/// A certificate to put in a table.
struct CertTableBlob {
  Guid guid;
  std::vector<std::uint8_t> data;
};

/// One decoded table row (offset/length relative to the buffer start).
struct CertTableEntry {
  Guid guid;
  std::uint32_t offset = 0;
  std::uint32_t length = 0;
  friend bool operator==(const CertTableEntry&, const CertTableEntry&) = default;
};

/// A decoded table: the rows and, for each, a copy of its blob.
struct CertTable {
  std::vector<CertTableEntry> entries;
  std::vector<std::vector<std::uint8_t>> blobs;  ///< blobs[i] belongs to entries[i]

  /// The blob with `guid`, or nullptr.
  const std::vector<std::uint8_t>* find(const Guid& guid) const;
};

/// Lays out the table (entries in the given order, then the zero terminator) followed by the
/// blobs in the same order, back to back. Fails for a zero GUID (it would read as the
/// terminator), a GUID given twice, an empty blob, or a buffer beyond 4 GiB.
AttestResult<std::vector<std::uint8_t>> encode_cert_table(std::span<const CertTableBlob> blobs);

/// Reads a table from the start of `buffer`. Every entry must lie inside the buffer and after
/// the terminator, no two blobs may overlap, no GUID may repeat, and the terminator must be
/// there before the buffer ends. Each failure names the entry and the bound it breaks.
AttestResult<CertTable> decode_cert_table(std::span<const std::uint8_t> buffer);

}  // namespace snplab::model
