// Certificate table codec (facts §7.4).
#include "snp/model/attest/cert_table.h"

#include <algorithm>
#include <array>
#include <map>
#include <limits>

#include <fmt/format.h>

namespace snplab::model {

namespace {

std::uint32_t load_u32(std::span<const std::uint8_t> b, std::size_t off) {
  return static_cast<std::uint32_t>(b[off]) | (static_cast<std::uint32_t>(b[off + 1]) << 8) |
         (static_cast<std::uint32_t>(b[off + 2]) << 16) | (static_cast<std::uint32_t>(b[off + 3]) << 24);
}

void store_u32(std::vector<std::uint8_t>& b, std::size_t off, std::uint32_t v) {
  for (std::size_t i = 0; i < 4; ++i) b[off + i] = static_cast<std::uint8_t>(v >> (8 * i));
}

std::string entry_label(std::size_t index, const Guid& g) {
  const std::string_view name = cert_guid_name(g);
  return name.empty() ? fmt::format("entry {} ({})", index, g.to_string())
                      : fmt::format("entry {} ({} {})", index, name, g.to_string());
}

}  // namespace

std::string Guid::to_string() const {
  std::string s;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) s += '-';
    s += fmt::format("{:02x}", bytes[i]);
  }
  return s;
}

std::string_view cert_guid_name(const Guid& g) {
  if (g == kGuidArk) return "ARK";
  if (g == kGuidAsk) return "ASK";
  if (g == kGuidVcek) return "VCEK";
  if (g == kGuidVlek) return "VLEK";
  if (g == kGuidCrl) return "CRL";
  return "";
}

const std::vector<std::uint8_t>* CertTable::find(const Guid& guid) const {
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (entries[i].guid == guid) return &blobs[i];
  }
  return nullptr;
}

AttestResult<std::vector<std::uint8_t>> encode_cert_table(std::span<const CertTableBlob> blobs) {
  const std::size_t table_size = (blobs.size() + 1) * kCertTableEntrySize;
  std::size_t total = table_size;
  for (std::size_t i = 0; i < blobs.size(); ++i) {
    const auto& b = blobs[i];
    if (b.guid.is_zero()) return AttestError{fmt::format("entry {}: the zero GUID would read as the terminator", i)};
    if (b.data.empty()) return AttestError{fmt::format("{}: empty certificate", entry_label(i, b.guid))};
    for (std::size_t j = 0; j < i; ++j) {
      if (blobs[j].guid == b.guid) {
        return AttestError{fmt::format("{}: GUID already used by entry {}", entry_label(i, b.guid), j)};
      }
    }
    total += b.data.size();
    if (total > std::numeric_limits<std::uint32_t>::max()) {
      return AttestError{"certificate table would exceed 4 GiB (offsets are u32)"};
    }
  }
  std::vector<std::uint8_t> out(total, 0);
  std::size_t at = table_size;
  for (std::size_t i = 0; i < blobs.size(); ++i) {
    const std::size_t row = i * kCertTableEntrySize;
    std::copy(blobs[i].guid.bytes.begin(), blobs[i].guid.bytes.end(), out.begin() + static_cast<std::ptrdiff_t>(row));
    store_u32(out, row + 16, static_cast<std::uint32_t>(at));
    store_u32(out, row + 20, static_cast<std::uint32_t>(blobs[i].data.size()));
    std::copy(blobs[i].data.begin(), blobs[i].data.end(), out.begin() + static_cast<std::ptrdiff_t>(at));
    at += blobs[i].data.size();
  }
  // The terminator row is already zero.
  return out;
}

AttestResult<CertTable> decode_cert_table(std::span<const std::uint8_t> buffer) {
  CertTable t;
  std::map<std::array<std::uint8_t, 16>, std::size_t> seen;  ///< GUID -> its entry
  std::size_t row = 0;
  bool terminated = false;
  while (row + kCertTableEntrySize <= buffer.size()) {
    const auto raw = buffer.subspan(row, kCertTableEntrySize);
    if (std::all_of(raw.begin(), raw.end(), [](std::uint8_t b) { return b == 0; })) {
      terminated = true;
      break;
    }
    CertTableEntry e;
    std::copy_n(raw.begin(), 16, e.guid.bytes.begin());
    e.offset = load_u32(raw, 16);
    e.length = load_u32(raw, 20);
    const std::size_t index = t.entries.size();
    if (e.guid.is_zero()) {
      return AttestError{fmt::format("entry {}: zero GUID with a non-zero offset/length (a torn terminator)", index)};
    }
    // A GUID seen before: one lookup per entry, not a scan (a 1 MiB table has 43,690 rows).
    if (const auto [it, fresh] = seen.emplace(e.guid.bytes, index); !fresh) {
      return AttestError{fmt::format("{}: GUID repeats entry {}", entry_label(index, e.guid), it->second)};
    }
    t.entries.push_back(e);
    row += kCertTableEntrySize;
  }
  if (!terminated) {
    return AttestError{fmt::format("no all-zero 24-byte terminator within the {}-byte buffer (after {} entries)",
                                   buffer.size(), t.entries.size())};
  }
  const std::size_t table_end = row + kCertTableEntrySize;
  for (std::size_t i = 0; i < t.entries.size(); ++i) {
    const auto& e = t.entries[i];
    const std::uint64_t end = std::uint64_t{e.offset} + e.length;
    if (e.length == 0) return AttestError{fmt::format("{}: length 0", entry_label(i, e.guid))};
    if (e.offset < table_end) {
      return AttestError{fmt::format("{}: offset {} lies inside the table (which ends at {})", entry_label(i, e.guid),
                                     e.offset, table_end)};
    }
    if (end > buffer.size()) {
      return AttestError{fmt::format("{}: bytes {}..{} run past the end of the {}-byte buffer",
                                     entry_label(i, e.guid), e.offset, end, buffer.size())};
    }
  }
  // Overlap: sort the ranges by offset and compare neighbours.
  std::vector<std::size_t> order(t.entries.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&t](std::size_t a, std::size_t b) { return t.entries[a].offset < t.entries[b].offset; });
  for (std::size_t k = 1; k < order.size(); ++k) {
    const auto& prev = t.entries[order[k - 1]];
    const auto& cur = t.entries[order[k]];
    if (std::uint64_t{prev.offset} + prev.length > cur.offset) {
      return AttestError{fmt::format("{} overlaps {}: bytes {}..{} and {}..{}", entry_label(order[k - 1], prev.guid),
                                     entry_label(order[k], cur.guid), prev.offset,
                                     std::uint64_t{prev.offset} + prev.length, cur.offset,
                                     std::uint64_t{cur.offset} + cur.length)};
    }
  }
  for (const auto& e : t.entries) {
    const auto blob = buffer.subspan(e.offset, e.length);
    t.blobs.emplace_back(blob.begin(), blob.end());
  }
  return t;
}

}  // namespace snplab::model
