// What a launch-measurement tool reads from an OVMF or SVSM firmware image: the GUIDed
// footer table at the end of the image, the SEV metadata block ("ASEV") it points to, and
// the few table entries the measurement needs (SEV-ES reset block, kernel hash table, SVSM
// info). The rules are those of sev-snp-measure 0.0.13, restated in
// shared/vectors/measure/FIRMWARE-FORMAT.md §1 (cited below as FW §1).
//
// Parsing never throws and never reads outside the given bytes: any input, truncated or
// garbage, gives either a FirmwareImage or a ParseError saying what is wrong.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "snp/model/base/types.h"

namespace snplab::model {

/// A GUID as its 16 bytes in EFI byte order (first three fields little-endian; Python's
/// `uuid.bytes_le`), which is how firmware images store them.
using OvmfGuid = std::array<std::uint8_t, 16>;

/// Parses the canonical text form `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` into EFI byte order.
/// Usable at compile time; malformed text gives the all-zero GUID.
constexpr OvmfGuid guid_from_string(std::string_view s) {
  OvmfGuid g{};
  if (s.size() != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-') return OvmfGuid{};
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::array<std::uint8_t, 16> text_order{};  // bytes in the order the text shows them
  std::size_t n = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '-') continue;
    const int hi = nibble(s[i]);
    const int lo = (i + 1 < s.size()) ? nibble(s[i + 1]) : -1;
    if (hi < 0 || lo < 0 || n >= 16) return OvmfGuid{};
    text_order[n++] = static_cast<std::uint8_t>(hi * 16 + lo);
    ++i;
  }
  if (n != 16) return OvmfGuid{};
  // data1 (4 bytes), data2 (2) and data3 (2) are stored little-endian; data4 as is.
  constexpr std::array<std::size_t, 16> kOrder{3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15};
  for (std::size_t i = 0; i < 16; ++i) g[i] = text_order[kOrder[i]];
  return g;
}

/// The canonical lower-case text form of `g`.
std::string to_string(const OvmfGuid& g);

/// GUIDs of the footer table and of the entries the measurement uses (FW §1).
namespace ovmf_guid {
inline constexpr OvmfGuid kFooterTable = guid_from_string("96b582de-1fb2-45f7-baea-a366c55a082d");
inline constexpr OvmfGuid kSevEsResetBlock = guid_from_string("00f771de-1a7e-4fcb-890e-68c77e2fb44e");
inline constexpr OvmfGuid kSevMetadata = guid_from_string("dc886566-984a-4798-a75e-5585a7bf67cc");
inline constexpr OvmfGuid kSevHashTableRv = guid_from_string("7255371f-3a3b-4b04-927b-1da6efa8d454");
inline constexpr OvmfGuid kSvsmInfo = guid_from_string("a789a612-0597-4c4b-a49f-cbb1fe9d1ddd");
}  // namespace ovmf_guid

/// SEV metadata section types (FW §1; edk2 OvmfSevMetadata.asm).
enum class SectionType : std::uint32_t {
  SnpSecMem = 1,
  SnpSecrets = 2,
  Cpuid = 3,
  SvsmCaa = 4,
  SnpKernelHashes = 0x10,
};

/// The edk2 spelling, e.g. "SNP_SEC_MEM".
constexpr std::string_view to_string(SectionType t) {
  switch (t) {
    case SectionType::SnpSecMem: return "SNP_SEC_MEM";
    case SectionType::SnpSecrets: return "SNP_SECRETS";
    case SectionType::Cpuid: return "CPUID";
    case SectionType::SvsmCaa: return "SVSM_CAA";
    case SectionType::SnpKernelHashes: return "SNP_KERNEL_HASHES";
  }
  return "?";
}

/// Decodes a raw section type; other values parse but cannot be measured (FW §1).
constexpr std::optional<SectionType> section_type_from_raw(std::uint32_t raw) {
  switch (raw) {
    case 1: return SectionType::SnpSecMem;
    case 2: return SectionType::SnpSecrets;
    case 3: return SectionType::Cpuid;
    case 4: return SectionType::SvsmCaa;
    case 0x10: return SectionType::SnpKernelHashes;
    default: return std::nullopt;  // a raw number, not an enum: any u32 may appear
  }
}

/// One 12-byte item of the SEV metadata block: u32 gpa, u32 size, u32 type.
struct MetadataSection {
  std::uint32_t gpa = 0;
  std::uint32_t size = 0;
  std::uint32_t raw_type = 0;
  std::optional<SectionType> type() const { return section_type_from_raw(raw_type); }
};

/// One entry of the footer table: its GUID, its data (the bytes in front of its 18-byte
/// header) and where that data starts in the image.
struct FooterEntry {
  OvmfGuid guid{};
  std::uint64_t data_offset = 0;
  std::vector<std::uint8_t> data;
};

/// Why an image could not be parsed; `message` says what and where.
struct ParseError {
  std::string message;
};

/// The parsed layout of a firmware image (its bytes are not kept).
class FirmwareImage {
 public:
  /// Footer table header position: it sits at [N-50, N-32); the last 32 bytes are not read.
  static constexpr std::uint64_t kFooterGap = 32;
  static constexpr std::uint64_t kEntryHeaderSize = 18;
  static constexpr std::uint64_t kMetadataHeaderSize = 16;
  static constexpr std::uint64_t kMetadataItemSize = 12;

  /// Parses `image` (FW §1): the footer table if its GUID is there (no table is not an
  /// error), then the SEV metadata block if the table has an entry for it.
  /// Errors: image shorter than the footer header, footer size larger than the image,
  /// an entry size below 18 ("Invalid entry size"), metadata offset out of the image,
  /// wrong signature or version, more items than the block holds.
  static std::variant<FirmwareImage, ParseError> parse(std::span<const std::uint8_t> image);

  /// Length of the image in bytes.
  std::uint64_t size() const { return size_; }
  /// Whether the footer table GUID was found.
  bool has_footer_table() const { return has_table_; }
  /// Every footer entry in the order the walk met them (highest address first).
  const std::vector<FooterEntry>& entries() const { return entries_; }
  /// The entry for `guid`; with duplicates, the one at the lowest address (it is read last
  /// and wins in sev-snp-measure, FW §1). nullptr if absent.
  const FooterEntry* find(const OvmfGuid& guid) const;
  /// The first u32 (little-endian) of the entry's data; an entry with fewer than 4 data
  /// bytes gives the bytes it has, zero-extended (as sev-snp-measure reads it).
  std::optional<std::uint32_t> entry_u32(const OvmfGuid& guid) const;

  /// The AP start address from the SEV-ES reset block entry.
  std::optional<std::uint32_t> sev_es_reset_eip() const { return entry_u32(ovmf_guid::kSevEsResetBlock); }
  /// The GPA of the kernel hash table (QEMU also stores a size after it; not used).
  std::optional<std::uint32_t> sev_hash_table_gpa() const { return entry_u32(ovmf_guid::kSevHashTableRv); }
  /// The SVSM entry point as an offset into the SVSM image.
  std::optional<std::uint32_t> svsm_info_offset() const { return entry_u32(ovmf_guid::kSvsmInfo); }

  /// Whether the table has a SEV metadata entry (and so a parsed block).
  bool has_metadata() const { return has_metadata_; }
  /// The metadata sections in block order (empty without metadata).
  const std::vector<MetadataSection>& sections() const { return sections_; }
  /// Whether any section has type `t`.
  bool has_section(SectionType t) const;

  /// The GPA of an image of `size` bytes mapped to end at `end` (OVMF ends at 4 GiB).
  /// Precondition: size <= end.
  static constexpr Gpa gpa_ending_at(Gpa end, std::uint64_t size) { return end - size; }

 private:
  std::uint64_t size_ = 0;
  bool has_table_ = false;
  bool has_metadata_ = false;
  std::vector<FooterEntry> entries_;
  std::vector<MetadataSection> sections_;
};

/// Where OVMF ends in guest physical memory: its last byte is just below 4 GiB.
inline constexpr Gpa kFirmwareEndGpa = 0x1'0000'0000ULL;

}  // namespace snplab::model
