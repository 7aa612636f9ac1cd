// The SEV-SNP launch digest (facts §5): the PAGE_INFO structure that SNP_LAUNCH_UPDATE
// hashes for every 4 KiB page, the page types, and the running digest itself.
//
// Used twice: by the offline calculator (guest_measure.h, `snplab measure`) and by the
// firmware model's SNP_LAUNCH_UPDATE, which feeds the same class page by page. Everything
// here is deterministic; the only parallel code (measure_normal_pages_parallel) hashes page
// contents on several cores and then chains them in order, so it cannot change a result.
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <type_traits>

#include "snp/model/crypto/crypto.h"
#include "snp/model/base/types.h"

namespace snplab::model {

/// LAUNCH_UPDATE page types (facts §5.1; KVM_SEV_SNP_PAGE_TYPE_*). 0 is reserved/invalid and
/// has no enumerator: decode raw values with page_type_from_raw().
enum class PageType : std::uint8_t {
  Normal = 1,      ///< contents = SHA-384 of the page
  Vmsa = 2,        ///< contents = SHA-384 of the VMSA page
  Zero = 3,        ///< contents = 48 zero bytes
  Unmeasured = 4,  ///< contents = 48 zero bytes
  Secrets = 5,     ///< contents = 48 zero bytes
  Cpuid = 6,       ///< contents = 48 zero bytes
};

/// The ABI spelling (`"NORMAL"`, `"VMSA"`, ...), as the firmware spec names the types.
constexpr std::string_view to_string(PageType t) {
  switch (t) {
    case PageType::Normal: return "NORMAL";
    case PageType::Vmsa: return "VMSA";
    case PageType::Zero: return "ZERO";
    case PageType::Unmeasured: return "UNMEASURED";
    case PageType::Secrets: return "SECRETS";
    case PageType::Cpuid: return "CPUID";
  }
  return "?";
}

/// Decodes a raw PAGE_TYPE byte: 1..6 are page types, anything else (0 = reserved, 7..255)
/// is not (SNP_LAUNCH_UPDATE rejects those with INVALID_PARAM).
constexpr std::optional<PageType> page_type_from_raw(std::uint8_t raw) {
  if (raw >= 1 && raw <= 6) return static_cast<PageType>(raw);
  return std::nullopt;
}

/// True for the types whose PAGE_INFO.CONTENTS is the SHA-384 of the page (NORMAL, VMSA);
/// the others contribute 48 zero bytes (facts §5.1).
constexpr bool hashes_contents(PageType t) {
  switch (t) {
    case PageType::Normal:
    case PageType::Vmsa: return true;
    case PageType::Zero:
    case PageType::Unmeasured:
    case PageType::Secrets:
    case PageType::Cpuid: return false;
  }
  return false;
}

/// The 48 zero bytes used as CONTENTS by ZERO, UNMEASURED, SECRETS and CPUID pages, and the
/// launch digest's starting value (facts §5.3 step 1).
inline constexpr Sha384Digest kZeroDigest{};

/// The per-page fields of PAGE_INFO besides type, GPA and contents: the IMI bit and the
/// VMPL1..3 permission masks SNP_LAUNCH_UPDATE was given. KVM passes all zero.
struct PageInfoFlags {
  bool imi_page = false;
  std::uint8_t vmpl1_perms = 0;
  std::uint8_t vmpl2_perms = 0;
  std::uint8_t vmpl3_perms = 0;
};

/// PAGE_INFO, the 0x70-byte structure whose SHA-384 becomes the next launch digest
/// (facts §5.2, ASPFW `snp_mcmd_launch_update_page_info_t`). Laid out as the firmware header
/// has it: 0x64 reserved, then VMPL1, VMPL2, VMPL3 perms.
///
/// sev-snp-measure packs bytes 0x64..0x67 as vmpl3, vmpl2, vmpl1, 0 instead; the two agree
/// whenever the permissions are zero, which is every launch it models (and every KVM launch,
/// as KVM never passes VMPL permissions). Where they differ this follows the firmware.
struct PageInfo {
  Sha384Digest digest_cur{};       ///< 0x00 DIGEST_CUR: the launch digest before this page
  Sha384Digest contents{};         ///< 0x30 CONTENTS: per facts §5.1
  std::uint16_t length = 0x70;     ///< 0x60 LENGTH: always 0x70
  std::uint8_t page_type = 0;      ///< 0x62 PAGE_TYPE
  std::uint8_t imi_page = 0;       ///< 0x63 bit 0 IMI_PAGE, bits 7:1 reserved
  std::uint8_t reserved_64 = 0;    ///< 0x64 reserved
  std::uint8_t vmpl1_perms = 0;    ///< 0x65 VMPL1_PERMS
  std::uint8_t vmpl2_perms = 0;    ///< 0x66 VMPL2_PERMS
  std::uint8_t vmpl3_perms = 0;    ///< 0x67 VMPL3_PERMS
  std::uint64_t gpa = 0;           ///< 0x68 GPA: byte address (from the page's RMP entry)
};

inline constexpr std::size_t kPageInfoSize = 0x70;
static_assert(sizeof(PageInfo) == kPageInfoSize, "PAGE_INFO is 0x70 bytes (facts §5.2)");
static_assert(std::is_standard_layout_v<PageInfo> && std::is_trivially_copyable_v<PageInfo>);
static_assert(std::has_unique_object_representations_v<PageInfo>, "PAGE_INFO has no padding");
static_assert(offsetof(PageInfo, digest_cur) == 0x00);
static_assert(offsetof(PageInfo, contents) == 0x30);
static_assert(offsetof(PageInfo, length) == 0x60);
static_assert(offsetof(PageInfo, page_type) == 0x62);
static_assert(offsetof(PageInfo, imi_page) == 0x63);
static_assert(offsetof(PageInfo, reserved_64) == 0x64);
static_assert(offsetof(PageInfo, vmpl1_perms) == 0x65);
static_assert(offsetof(PageInfo, vmpl2_perms) == 0x66);
static_assert(offsetof(PageInfo, vmpl3_perms) == 0x67);
static_assert(offsetof(PageInfo, gpa) == 0x68);
// The in-memory struct is the wire format only on a little-endian host (all SEV hosts are).
static_assert(std::endian::native == std::endian::little, "PAGE_INFO bytes assume little-endian");

/// Builds the PAGE_INFO for one page (facts §5.2). `contents` is used as given.
PageInfo make_page_info(const Sha384Digest& digest_cur, PageType type, Gpa gpa, const Sha384Digest& contents,
                        const PageInfoFlags& flags = {});

/// The 0x70 bytes of `info` exactly as the firmware hashes them.
std::array<std::uint8_t, kPageInfoSize> to_bytes(const PageInfo& info);

/// CONTENTS for a page of type `t` (facts §5.1): SHA-384 of `page` for NORMAL and VMSA,
/// 48 zero bytes otherwise (`page` is then not read). For VMSA pages the firmware hashes the
/// page with GUEST_TSC_SCALE/OFFSET zeroed; callers pass the page in that form.
Sha384Digest page_contents(PageType t, std::span<const std::uint8_t, kPageSize> page);

/// The launch digest of an SNP guest (facts §5.3): starts as 48 zero bytes (GCTX_CREATE)
/// or a given value, and every update sets it to SHA-384(PAGE_INFO). Order matters.
///
/// Copying copies the digest (not the hashing scratch state), so a copy is a snapshot.
class LaunchDigest {
 public:
  /// Starts at 48 zero bytes, as SNP_LAUNCH_START leaves it.
  LaunchDigest();
  /// Starts at `start` (e.g. sev-snp-measure's --snp-ovmf-hash: the digest after the
  /// firmware pages, computed elsewhere).
  explicit LaunchDigest(const Sha384Digest& start);
  ~LaunchDigest();
  LaunchDigest(const LaunchDigest& other);
  LaunchDigest& operator=(const LaunchDigest& other);
  LaunchDigest(LaunchDigest&&) noexcept;
  LaunchDigest& operator=(LaunchDigest&&) noexcept;

  /// One SNP_LAUNCH_UPDATE step for the 4 KiB `page` of type `t` at `gpa` (facts §5.3
  /// step 2): CONTENTS from page_contents(), then ld = SHA-384(PAGE_INFO). Returns the
  /// PAGE_INFO that was hashed (the firmware reuses it for the IMD when IMI_PAGE is set).
  PageInfo update_page(PageType t, Gpa gpa, std::span<const std::uint8_t, kPageSize> page,
                       const PageInfoFlags& flags = {});

  /// Same, with CONTENTS given directly (e.g. a page hash computed in parallel, or
  /// kZeroDigest for types 3..6). The caller is responsible for CONTENTS matching the type.
  PageInfo update_contents(PageType t, Gpa gpa, const Sha384Digest& contents, const PageInfoFlags& flags = {});

  /// The current launch digest (the report's MEASUREMENT once the launch finishes).
  const Sha384Digest& digest() const { return ld_; }

 private:
  Sha384Digest ld_{};  ///< hashing uses sha384()'s per-thread context: nothing allocated per page
};

/// Measures `data` as consecutive NORMAL pages at `start_gpa`, `start_gpa + 4 KiB`, ...
/// Precondition: `data.size()` is a multiple of 4 KiB and the GPAs do not wrap.
void measure_normal_pages(LaunchDigest& ld, Gpa start_gpa, std::span<const std::uint8_t> data);

/// The same result as measure_normal_pages(), with the page hashes computed on all cores
/// (TBB) in bounded batches and then chained in page order on the calling thread.
void measure_normal_pages_parallel(LaunchDigest& ld, Gpa start_gpa, std::span<const std::uint8_t> data);

/// SHA-384 of each 4 KiB page of `data`, on all cores (page i's digest in out[i]).
/// Precondition: data.size() == out.size() * 4096.
void sha384_pages_parallel(std::span<const std::uint8_t> data, std::span<Sha384Digest> out);

}  // namespace snplab::model
