#include "snp/model/measure/ovmf.h"

#include <algorithm>

#include <fmt/format.h>

namespace snplab::model {

namespace {

std::uint16_t le16(std::span<const std::uint8_t> b, std::uint64_t off) {
  return static_cast<std::uint16_t>(b[off] | (b[off + 1] << 8));
}

std::uint32_t le32(std::span<const std::uint8_t> b, std::uint64_t off) {
  std::uint32_t v = 0;
  for (unsigned i = 0; i < 4; ++i) v |= static_cast<std::uint32_t>(b[off + i]) << (8 * i);
  return v;
}

OvmfGuid guid_at(std::span<const std::uint8_t> b, std::uint64_t off) {
  OvmfGuid g{};
  std::copy_n(b.begin() + static_cast<std::ptrdiff_t>(off), g.size(), g.begin());
  return g;
}

ParseError error(std::string message) { return ParseError{std::move(message)}; }

}  // namespace

std::string to_string(const OvmfGuid& g) {
  // Text order: data1..data3 little-endian in storage, data4 as stored.
  return fmt::format("{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-"
                     "{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
                     g[3], g[2], g[1], g[0], g[5], g[4], g[7], g[6], g[8], g[9], g[10], g[11], g[12], g[13],
                     g[14], g[15]);
}

const FooterEntry* FirmwareImage::find(const OvmfGuid& guid) const {
  // The walk goes downwards, so the last match in walk order is the lowest one.
  const FooterEntry* found = nullptr;
  for (const FooterEntry& e : entries_) {
    if (e.guid == guid) found = &e;
  }
  return found;
}

std::optional<std::uint32_t> FirmwareImage::entry_u32(const OvmfGuid& guid) const {
  const FooterEntry* e = find(guid);
  if (e == nullptr) return std::nullopt;
  std::uint32_t v = 0;
  const std::size_t n = std::min<std::size_t>(4, e->data.size());
  for (std::size_t i = 0; i < n; ++i) v |= static_cast<std::uint32_t>(e->data[i]) << (8 * i);
  return v;
}

bool FirmwareImage::has_section(SectionType t) const {
  return std::any_of(sections_.begin(), sections_.end(), [t](const MetadataSection& s) { return s.type() == t; });
}

std::variant<FirmwareImage, ParseError> FirmwareImage::parse(std::span<const std::uint8_t> image) {
  FirmwareImage out;
  const std::uint64_t n = image.size();
  out.size_ = n;

  // ---- GUIDed footer table (FW §1) ----
  if (n < kFooterGap + kEntryHeaderSize) {
    return error(fmt::format("image is {} bytes, too small to hold the footer table header ({} bytes "
                             "ending {} bytes before the end)",
                             n, kEntryHeaderSize, kFooterGap));
  }
  const std::uint64_t footer = n - kFooterGap - kEntryHeaderSize;
  if (guid_at(image, footer + 2) != ovmf_guid::kFooterTable) return out;  // no table: not an error
  const std::uint16_t footer_size = le16(image, footer);
  if (footer_size < kEntryHeaderSize) return out;  // an empty table, as sev-snp-measure reads it
  out.has_table_ = true;
  const std::uint64_t table_size = footer_size - kEntryHeaderSize;
  if (table_size > footer) {
    return error(fmt::format("footer table size {:#x} is larger than the {:#x} bytes in front of its header",
                             footer_size, footer));
  }
  const std::uint64_t low = footer - table_size;
  std::uint64_t end = footer;  // the walk goes downwards: each entry's header ends at `end`
  while (end - low >= kEntryHeaderSize) {
    const std::uint64_t header = end - kEntryHeaderSize;
    const std::uint16_t entry_size = le16(image, header);
    if (entry_size < kEntryHeaderSize) {
      return error(fmt::format("Invalid entry size: footer table entry at offset {:#x} has size {} (the "
                               "18-byte entry header alone needs 18)",
                               header, entry_size));
    }
    FooterEntry e;
    e.guid = guid_at(image, header + 2);
    // An entry larger than what is left takes everything below its header and ends the walk.
    const std::uint64_t data_start = (end - low >= entry_size) ? end - entry_size : low;
    e.data_offset = data_start;
    e.data.assign(image.begin() + static_cast<std::ptrdiff_t>(data_start),
                  image.begin() + static_cast<std::ptrdiff_t>(header));
    out.entries_.push_back(std::move(e));
    end = data_start;
  }

  // ---- SEV metadata block ----
  const std::optional<std::uint32_t> meta_offset = out.entry_u32(ovmf_guid::kSevMetadata);
  if (!meta_offset) return out;
  out.has_metadata_ = true;
  if (*meta_offset > n) {
    return error(fmt::format("SEV metadata offset {:#x} (counted from the end) is larger than the image "
                             "({:#x} bytes)",
                             *meta_offset, n));
  }
  const std::uint64_t start = n - *meta_offset;
  if (n - start < kMetadataHeaderSize) {
    return error(fmt::format("SEV metadata header at offset {:#x} needs {} bytes but only {} are left in the "
                             "image",
                             start, kMetadataHeaderSize, n - start));
  }
  if (image[start] != 'A' || image[start + 1] != 'S' || image[start + 2] != 'E' || image[start + 3] != 'V') {
    return error(fmt::format("Wrong SEV metadata signature at offset {:#x}: {:02x} {:02x} {:02x} {:02x} "
                             "(expected \"ASEV\")",
                             start, image[start], image[start + 1], image[start + 2], image[start + 3]));
  }
  const std::uint32_t block_size = le32(image, start + 4);
  const std::uint32_t version = le32(image, start + 8);
  const std::uint32_t count = le32(image, start + 12);
  if (version != 1) return error(fmt::format("Wrong SEV metadata version {} (expected 1)", version));
  // The items may use the block only, and only what of it lies inside the image.
  const std::uint64_t items_begin = start + kMetadataHeaderSize;
  const std::uint64_t items_end = std::min<std::uint64_t>(start + block_size, n);
  const std::uint64_t available = items_end > items_begin ? items_end - items_begin : 0;
  if (std::uint64_t{count} * kMetadataItemSize > available) {
    return error(fmt::format("SEV metadata block at offset {:#x} lists {} sections ({} bytes) but its size "
                             "{:#x} leaves room for {} bytes of sections",
                             start, count, std::uint64_t{count} * kMetadataItemSize, block_size, available));
  }
  out.sections_.reserve(count);
  for (std::uint64_t i = 0; i < count; ++i) {
    const std::uint64_t at = items_begin + i * kMetadataItemSize;
    out.sections_.push_back(MetadataSection{le32(image, at), le32(image, at + 4), le32(image, at + 8)});
  }
  return out;
}

}  // namespace snplab::model
