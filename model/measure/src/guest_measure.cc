#include "snp/model/measure/guest_measure.h"

#include <algorithm>
#include <utility>

#include <fmt/format.h>

#include "snp/model/measure/measure.h"
#include "snp/model/measure/ovmf.h"

namespace snplab::model {

namespace {

constexpr OvmfGuid kHashTableHeaderGuid = guid_from_string("9438d606-4f22-4cc9-b479-a793d411fd21");
constexpr OvmfGuid kCmdlineEntryGuid = guid_from_string("97d02dd8-bd20-4c94-aa78-e7714d36ab2a");
constexpr OvmfGuid kInitrdEntryGuid = guid_from_string("44baf731-3a2f-4bd7-9af1-41e29169781d");
constexpr OvmfGuid kKernelEntryGuid = guid_from_string("4de79437-abd2-427f-b835-d5b172d2045b");
constexpr std::size_t kHashEntrySize = 16 + 2 + 32;                   // 50
constexpr std::size_t kHashTableUsed = 16 + 2 + 3 * kHashEntrySize;  // 168
static_assert(kSevHashTableSize == (kHashTableUsed + 15) / 16 * 16);

constexpr std::uint64_t kMaxImage = kFirmwareEndGpa;  // an image must fit below 4 GiB

MeasureError fail(std::string message) { return MeasureError{std::move(message)}; }

std::string hex32(std::uint64_t v) { return fmt::format("{:#x}", v); }

/// Parses an image or says which image is bad and why.
std::variant<FirmwareImage, MeasureError> parse_image(std::span<const std::uint8_t> bytes, std::string_view what) {
  auto parsed = FirmwareImage::parse(bytes);
  if (auto* e = std::get_if<ParseError>(&parsed)) {
    return fail(fmt::format("bad {} image: {}", what, e->message));
  }
  if (bytes.size() > kMaxImage) {
    return fail(fmt::format("{} image is {} bytes; it must fit below 4 GiB", what, bytes.size()));
  }
  return std::get<FirmwareImage>(std::move(parsed));
}

std::optional<MeasureError> check_page_multiple(std::span<const std::uint8_t> bytes, std::string_view what) {
  if (bytes.size() % kPageSize == 0) return std::nullopt;
  return fail(fmt::format("{} image is {} bytes, not a multiple of 4096: SNP measures it as whole 4 KiB pages",
                          what, bytes.size()));
}

std::string describe(std::size_t index, const MetadataSection& s) {
  return fmt::format("SEV metadata section {} (type {:#x}, gpa {:#x}, size {:#x})", index, s.raw_type, s.gpa,
                     s.size);
}

/// ZERO (or UNMEASURED) pages over a section's size (FW "How the sections are measured").
std::optional<MeasureError> measure_blank_pages(LaunchDigest& ld, PageType t, std::size_t index,
                                                const MetadataSection& s) {
  if (s.size % kPageSize != 0) {
    return fail(fmt::format("{}: size is not a multiple of 4096, so it cannot be measured as {} pages",
                            describe(index, s), to_string(t)));
  }
  for (std::uint64_t off = 0; off < s.size; off += kPageSize) ld.update_contents(t, s.gpa + off, kZeroDigest);
  return std::nullopt;
}

/// The kernel-hashes page: the hash table at (table GPA & 0xfff), zeros elsewhere.
std::optional<MeasureError> measure_kernel_hashes(LaunchDigest& ld, const FirmwareImage& img, std::size_t index,
                                                  const MetadataSection& s,
                                                  const std::array<std::uint8_t, kSevHashTableSize>& table) {
  const std::optional<std::uint32_t> table_gpa = img.sev_hash_table_gpa();
  if (!table_gpa) {
    return fail(fmt::format("a kernel is given, but the OVMF footer table has no SEV hash table entry ({}), "
                            "so the place of the kernel hashes is unknown",
                            to_string(ovmf_guid::kSevHashTableRv)));
  }
  const std::uint64_t offset = *table_gpa & (kPageSize - 1);
  if (offset + kSevHashTableSize > kPageSize) {
    return fail(fmt::format("the SEV hash table GPA {} puts the {}-byte table at page offset {}, so it would "
                            "cross the end of the kernel-hashes page (largest offset is {:#x})",
                            hex32(*table_gpa), kSevHashTableSize, hex32(offset), kPageSize - kSevHashTableSize));
  }
  if (s.size != kPageSize) {
    return fail(fmt::format("{}: a kernel-hashes section must be exactly one 4096-byte page when a kernel is "
                            "hashed",
                            describe(index, s)));
  }
  std::array<std::uint8_t, kPageSize> page{};
  std::copy(table.begin(), table.end(), page.begin() + static_cast<std::ptrdiff_t>(offset));
  ld.update_page(PageType::Normal, s.gpa, page);
  return std::nullopt;
}

/// The metadata sections of `img` in block order (FW "How the sections are measured").
std::optional<MeasureError> measure_sections(LaunchDigest& ld, const FirmwareImage& img, VmmType vmm,
                                             const std::optional<std::array<std::uint8_t, kSevHashTableSize>>& table) {
  const auto& sections = img.sections();
  // Every section lies below 4 GiB (an image's GPAs are 32-bit), so pages measured over more
  // than that are overlapping or bogus: refused before the work, not after minutes of it.
  std::uint64_t total = 0;
  for (const MetadataSection& s : sections) total += s.size;
  if (total > kFirmwareEndGpa) {
    return fail(fmt::format("the {} SEV metadata sections cover {:#x} bytes, more than the 4 GiB ({:#x}) below "
                            "which they must all lie",
                            sections.size(), total, kFirmwareEndGpa));
  }
  for (std::size_t i = 0; i < sections.size(); ++i) {
    const MetadataSection& s = sections[i];
    const std::optional<SectionType> type = s.type();
    if (!type) {
      return fail(fmt::format("{}: unknown section type (known: 1 SNP_SEC_MEM, 2 SNP_SECRETS, 3 CPUID, "
                              "4 SVSM_CAA, 0x10 SNP_KERNEL_HASHES)",
                              describe(i, s)));
    }
    std::optional<MeasureError> err;
    switch (*type) {
      case SectionType::SnpSecMem:
        err = measure_blank_pages(ld, vmm == VmmType::Gce ? PageType::Unmeasured : PageType::Zero, i, s);
        break;
      case SectionType::SnpSecrets:
        ld.update_contents(PageType::Secrets, s.gpa, kZeroDigest);  // one page, whatever the size
        break;
      case SectionType::Cpuid:
        if (vmm != VmmType::Ec2) ld.update_contents(PageType::Cpuid, s.gpa, kZeroDigest);
        break;
      case SectionType::SvsmCaa:
        err = measure_blank_pages(ld, PageType::Zero, i, s);
        break;
      case SectionType::SnpKernelHashes:
        err = table ? measure_kernel_hashes(ld, img, i, s, *table) : measure_blank_pages(ld, PageType::Zero, i, s);
        break;
    }
    if (err) return err;
  }
  if (vmm == VmmType::Ec2) {  // ec2 measures its CPUID pages after every other section
    for (const MetadataSection& s : sections) {
      if (s.type() == SectionType::Cpuid) ld.update_contents(PageType::Cpuid, s.gpa, kZeroDigest);
    }
  }
  if (table && !img.has_section(SectionType::SnpKernelHashes)) {
    return fail("a kernel is given, but the OVMF SEV metadata has no SNP_KERNEL_HASHES section to hold its "
                "hashes");
  }
  return std::nullopt;
}

/// The AP start address from the reset block, required by snp and seves.
std::variant<std::uint32_t, MeasureError> reset_eip(const FirmwareImage& img, std::uint64_t vcpus) {
  const std::optional<std::uint32_t> eip = img.sev_es_reset_eip();
  if (!eip) {
    return fail(fmt::format("the OVMF footer table has no SEV-ES reset block entry ({}), so the APs' start "
                            "address is unknown{}",
                            to_string(ovmf_guid::kSevEsResetBlock),
                            img.has_footer_table() ? "" : " (the image has no footer table at all)"));
  }
  if (*eip == 0 && vcpus > 1) {
    return fail(fmt::format("the SEV-ES reset block gives AP start address 0, so no AP VMSA can be built; only "
                            "--vcpus 1 can be measured with this image (asked for {})",
                            vcpus));
  }
  return *eip;
}

/// Page i of a launch's VMSAs: the BSP's for vCPU 0, the AP's for the rest.
std::vector<VmsaPage> keep_pages(const MeasureInput& in, const VmsaPage& bsp, const VmsaPage& ap) {
  std::vector<VmsaPage> pages;
  if (!in.keep_vmsa_pages) return pages;
  pages.reserve(in.vcpus);
  for (std::uint64_t i = 0; i < in.vcpus; ++i) pages.push_back(i == 0 ? bsp : ap);
  return pages;
}

std::variant<Measurement, MeasureError> measure_ovmf_hash(const MeasureInput& in) {
  auto img = parse_image(in.ovmf, "OVMF");
  if (auto* e = std::get_if<MeasureError>(&img)) return std::move(*e);
  if (auto e = check_page_multiple(in.ovmf, "OVMF")) return std::move(*e);
  LaunchDigest ld;
  measure_normal_pages_parallel(ld, FirmwareImage::gpa_ending_at(kFirmwareEndGpa, in.ovmf.size()), in.ovmf);
  return Measurement{{ld.digest().begin(), ld.digest().end()}, {}};
}

std::variant<Measurement, MeasureError> measure_snp(const MeasureInput& in) {
  auto parsed = parse_image(in.ovmf, "OVMF");
  if (auto* e = std::get_if<MeasureError>(&parsed)) return std::move(*e);
  const FirmwareImage& img = std::get<FirmwareImage>(parsed);

  LaunchDigest ld;
  if (in.snp_ovmf_hash) {
    ld = LaunchDigest(*in.snp_ovmf_hash);  // the firmware's pages were measured elsewhere
  } else {
    if (auto e = check_page_multiple(in.ovmf, "OVMF")) return std::move(*e);
    measure_normal_pages_parallel(ld, FirmwareImage::gpa_ending_at(kFirmwareEndGpa, in.ovmf.size()), in.ovmf);
  }

  std::optional<std::array<std::uint8_t, kSevHashTableSize>> table;
  if (in.kernel) table = sev_hash_table(*in.kernel);
  if (auto e = measure_sections(ld, img, in.vmm, table)) return std::move(*e);

  auto eip = reset_eip(img, in.vcpus);
  if (auto* e = std::get_if<MeasureError>(&eip)) return std::move(*e);
  const VmsaPage bsp = to_page(reset_save_area(kBspEip, in.guest_features, in.vcpu_sig, in.vmm));
  const VmsaPage ap = to_page(reset_save_area(std::get<std::uint32_t>(eip), in.guest_features, in.vcpu_sig, in.vmm));
  const Sha384Digest bsp_hash = sha384(bsp);
  const Sha384Digest ap_hash = sha384(ap);
  for (std::uint64_t i = 0; i < in.vcpus; ++i) {
    ld.update_contents(PageType::Vmsa, kVmsaGpa, i == 0 ? bsp_hash : ap_hash);
  }
  return Measurement{{ld.digest().begin(), ld.digest().end()}, keep_pages(in, bsp, ap)};
}

std::variant<Measurement, MeasureError> measure_svsm(const MeasureInput& in) {
  if (in.vmm != VmmType::Qemu) {
    return fail(fmt::format("snp:svsm mode is only defined for the QEMU VMM type, not {}", to_string(in.vmm)));
  }
  auto ovmf_parsed = parse_image(in.ovmf, "OVMF");
  if (auto* e = std::get_if<MeasureError>(&ovmf_parsed)) return std::move(*e);
  auto svsm_parsed = parse_image(in.svsm, "SVSM");
  if (auto* e = std::get_if<MeasureError>(&svsm_parsed)) return std::move(*e);
  const FirmwareImage& svsm = std::get<FirmwareImage>(svsm_parsed);

  // The SVSM image ends where the OVMF_VARS area (just below OVMF) starts.
  const Gpa ovmf_gpa = FirmwareImage::gpa_ending_at(kFirmwareEndGpa, in.ovmf.size());
  if (in.vars_size > ovmf_gpa || in.svsm.size() > ovmf_gpa - in.vars_size) {
    return fail(fmt::format("the SVSM image ({} bytes) and the vars area ({} bytes) do not fit below the OVMF "
                            "image at {}",
                            in.svsm.size(), in.vars_size, hex32(ovmf_gpa)));
  }
  const Gpa svsm_gpa = FirmwareImage::gpa_ending_at(ovmf_gpa - in.vars_size, in.svsm.size());
  const std::optional<std::uint32_t> entry = svsm.svsm_info_offset();
  if (!entry) {
    return fail(fmt::format("the SVSM image's footer table has no SVSM info entry ({}), so its entry point is "
                            "unknown",
                            to_string(ovmf_guid::kSvsmInfo)));
  }
  if (auto e = check_page_multiple(in.ovmf, "OVMF")) return std::move(*e);
  if (auto e = check_page_multiple(in.svsm, "SVSM")) return std::move(*e);

  LaunchDigest ld;
  measure_normal_pages_parallel(ld, ovmf_gpa, in.ovmf);
  measure_normal_pages_parallel(ld, svsm_gpa, in.svsm);
  // The SVSM's sections, always the QEMU way and never with kernel hashes.
  if (auto e = measure_sections(ld, svsm, VmmType::Qemu, std::nullopt)) return std::move(*e);

  const VmsaPage page = to_page(svsm_save_area(*entry + svsm_gpa, in.vcpu_sig));
  const Sha384Digest page_hash = sha384(page);
  for (std::uint64_t i = 0; i < in.vcpus; ++i) ld.update_contents(PageType::Vmsa, kVmsaGpa, page_hash);
  return Measurement{{ld.digest().begin(), ld.digest().end()}, keep_pages(in, page, page)};
}

/// sev and seves: one SHA-256 over firmware, optional hash table and (seves) the VMSAs.
std::variant<Measurement, MeasureError> measure_sev(const MeasureInput& in, bool es) {
  auto parsed = parse_image(in.ovmf, "OVMF");
  if (auto* e = std::get_if<MeasureError>(&parsed)) return std::move(*e);
  const FirmwareImage& img = std::get<FirmwareImage>(parsed);

  Sha256 h;
  h.update(in.ovmf);
  if (in.kernel) {
    const std::optional<std::uint32_t> gpa = img.sev_hash_table_gpa();
    if (!gpa || *gpa == 0) {
      return fail(fmt::format("a kernel is given, but the OVMF image does not support kernel/initrd/cmdline "
                              "measurement: {}",
                              gpa ? "its SEV hash table GPA is 0"
                                  : "its footer table has no SEV hash table entry (" +
                                        to_string(ovmf_guid::kSevHashTableRv) + ")"));
    }
    h.update(sev_hash_table(*in.kernel));
  }
  std::vector<VmsaPage> kept;
  if (es) {
    auto eip = reset_eip(img, in.vcpus);
    if (auto* e = std::get_if<MeasureError>(&eip)) return std::move(*e);
    // SEV-ES VMSAs carry no SEV features (sev-snp-measure builds them with 0).
    const VmsaPage bsp = to_page(reset_save_area(kBspEip, 0, in.vcpu_sig, in.vmm));
    const VmsaPage ap = to_page(reset_save_area(std::get<std::uint32_t>(eip), 0, in.vcpu_sig, in.vmm));
    for (std::uint64_t i = 0; i < in.vcpus; ++i) h.update(i == 0 ? bsp : ap);
    kept = keep_pages(in, bsp, ap);
  }
  const Sha256Digest d = h.finish();
  return Measurement{{d.begin(), d.end()}, std::move(kept)};
}

}  // namespace

std::optional<GuestMode> guest_mode_from_string(std::string_view s) {
  for (GuestMode m : {GuestMode::Sev, GuestMode::SevEs, GuestMode::Snp, GuestMode::SnpOvmfHash, GuestMode::SnpSvsm}) {
    if (to_string(m) == s) return m;
  }
  return std::nullopt;
}

std::array<std::uint8_t, kSevHashTableSize> sev_hash_table(const KernelHashInputs& in) {
  std::array<std::uint8_t, kSevHashTableSize> t{};
  std::size_t at = 0;
  auto put_guid = [&](const OvmfGuid& g) {
    std::copy(g.begin(), g.end(), t.begin() + static_cast<std::ptrdiff_t>(at));
    at += g.size();
  };
  auto put_u16 = [&](std::size_t v) {
    t[at++] = static_cast<std::uint8_t>(v & 0xff);
    t[at++] = static_cast<std::uint8_t>(v >> 8);
  };
  auto put_entry = [&](const OvmfGuid& g, const Sha256Digest& d) {
    put_guid(g);
    put_u16(kHashEntrySize);
    std::copy(d.begin(), d.end(), t.begin() + static_cast<std::ptrdiff_t>(at));
    at += d.size();
  };
  // QEMU hashes the command line with its terminating NUL; no --append is just the NUL.
  Sha256 cmdline;
  cmdline.update({reinterpret_cast<const std::uint8_t*>(in.cmdline.data()), in.cmdline.size()});
  constexpr std::array<std::uint8_t, 1> kNul{0};
  cmdline.update(kNul);

  put_guid(kHashTableHeaderGuid);
  put_u16(kHashTableUsed);
  put_entry(kCmdlineEntryGuid, cmdline.finish());
  put_entry(kInitrdEntryGuid, sha256(in.initrd));
  put_entry(kKernelEntryGuid, sha256(in.kernel));
  return t;  // bytes 168..175 stay zero (padding)
}

std::variant<Measurement, MeasureError> measure_guest(const MeasureInput& in) {
  if (in.snp_ovmf_hash && in.mode != GuestMode::Snp && in.mode != GuestMode::SnpOvmfHash) {
    return fail(fmt::format("--snp-ovmf-hash only works with --mode snp, not {}", to_string(in.mode)));
  }
  switch (in.mode) {
    case GuestMode::Sev: return measure_sev(in, false);
    case GuestMode::SevEs: return measure_sev(in, true);
    case GuestMode::Snp: return measure_snp(in);
    case GuestMode::SnpOvmfHash: return measure_ovmf_hash(in);
    case GuestMode::SnpSvsm: return measure_svsm(in);
  }
  return fail("corrupt GuestMode");
}

}  // namespace snplab::model
