// Launch measurement (facts §5): PAGE_INFO layout, LaunchDigest known answers, parallel
// page hashing, the VMSA builder against sev-snp-measure's own VMSA dumps, the OVMF parser
// on good, bad, truncated and random images, and the SEV hash table.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "snp/model/crypto/crypto.h"
#include "snp/model/measure/guest_measure.h"
#include "snp/model/measure/measure.h"
#include "snp/model/measure/ovmf.h"
#include "snp/model/measure/vmsa.h"

namespace snplab::model {
namespace {

namespace fs = std::filesystem;

#ifndef SNPLAB_SHARED_DIR
#error "SNPLAB_SHARED_DIR must point at the shared/ folder beside the project"
#endif

fs::path vectors_dir() {
  const char* env = std::getenv("SNPLAB_SHARED_DIR");
  const fs::path shared = (env != nullptr && *env != '\0') ? fs::path(env) : fs::path(SNPLAB_SHARED_DIR);
  return shared / "vectors" / "measure";
}

std::vector<std::uint8_t> read_or_die(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot open " << p;
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<std::uint8_t> firmware(const std::string& name) { return read_or_die(vectors_dir() / "firmware" / name); }

Sha384Digest digest_from_hex(const std::string& hex) {
  Sha384Digest d{};
  for (std::size_t i = 0; i < d.size(); ++i) {
    d[i] = static_cast<std::uint8_t>(std::stoul(hex.substr(2 * i, 2), nullptr, 16));
  }
  return d;
}

std::array<std::uint8_t, kPageSize> patterned_page(std::uint8_t seed) {
  std::array<std::uint8_t, kPageSize> p{};
  for (std::size_t i = 0; i < p.size(); ++i) p[i] = static_cast<std::uint8_t>(i * 7 + seed);
  return p;
}

/// The parsed image (by value: callers pass temporaries). A parse error fails the test.
FirmwareImage value_or_die(const std::variant<FirmwareImage, ParseError>& v) {
  if (const auto* e = std::get_if<ParseError>(&v)) {
    ADD_FAILURE() << "parse error: " << e->message;
    return FirmwareImage{};
  }
  return std::get<FirmwareImage>(v);
}

// =======================================================================================
// PAGE_INFO (facts §5.2)

TEST(PageInfo, ToBytes_PutsEveryFieldAtItsFirmwareOffset) {
  Sha384Digest cur{};
  Sha384Digest contents{};
  for (std::size_t i = 0; i < 48; ++i) {
    cur[i] = static_cast<std::uint8_t>(i + 1);
    contents[i] = static_cast<std::uint8_t>(0x80 + i);
  }
  const PageInfoFlags flags{true, 0x11, 0x22, 0x33};

  const auto b = to_bytes(make_page_info(cur, PageType::Cpuid, 0x0102030405060708ULL, contents, flags));

  ASSERT_EQ(b.size(), 0x70u);
  EXPECT_TRUE(std::equal(cur.begin(), cur.end(), b.begin()));
  EXPECT_TRUE(std::equal(contents.begin(), contents.end(), b.begin() + 0x30));
  EXPECT_EQ(b[0x60], 0x70);  // LENGTH, little-endian u16
  EXPECT_EQ(b[0x61], 0x00);
  EXPECT_EQ(b[0x62], 6);     // PAGE_TYPE CPUID
  EXPECT_EQ(b[0x63], 1);     // IMI_PAGE
  EXPECT_EQ(b[0x64], 0);     // reserved
  EXPECT_EQ(b[0x65], 0x11);  // VMPL1 (the firmware layout, not sev-snp-measure's vmpl3-first order)
  EXPECT_EQ(b[0x66], 0x22);
  EXPECT_EQ(b[0x67], 0x33);
  const std::array<std::uint8_t, 8> gpa{8, 7, 6, 5, 4, 3, 2, 1};
  EXPECT_TRUE(std::equal(gpa.begin(), gpa.end(), b.begin() + 0x68));
}

TEST(PageType, RawValues_DecodeOneToSixOnly) {
  EXPECT_FALSE(page_type_from_raw(0).has_value());
  EXPECT_EQ(page_type_from_raw(1), PageType::Normal);
  EXPECT_EQ(page_type_from_raw(6), PageType::Cpuid);
  EXPECT_FALSE(page_type_from_raw(7).has_value());
  EXPECT_EQ(to_string(PageType::Unmeasured), "UNMEASURED");
  EXPECT_TRUE(hashes_contents(PageType::Vmsa));
  EXPECT_FALSE(hashes_contents(PageType::Secrets));
}

// =======================================================================================
// LaunchDigest (facts §5.3)

TEST(LaunchDigest, Fresh_IsFortyEightZeroBytes) {
  const LaunchDigest ld;

  EXPECT_EQ(ld.digest(), kZeroDigest);
}

TEST(LaunchDigest, OneZeroPage_MatchesKnownAnswer) {
  // SHA-384 of 96 zero bytes, 70 00 03 00 00 00 00 00, GPA 0 (computed with Python hashlib).
  LaunchDigest ld;

  ld.update_contents(PageType::Zero, 0, kZeroDigest);

  EXPECT_EQ(to_hex(ld.digest()),
            "70c0ecaab9608f14ebf8ac6f0f07bcd8728f4e2ab30382b539b4de4de904ca9f8ebdf4b2cd3cd84dd996bd55dd794676");
}

TEST(LaunchDigest, NormalThenVmsaPage_MatchesKnownAnswer) {
  // NORMAL page of bytes i & 0xff at 0x1000, then a VMSA page of 0xaa at 0xFFFFFFFFF000
  // (computed with Python hashlib).
  std::array<std::uint8_t, kPageSize> normal{};
  for (std::size_t i = 0; i < normal.size(); ++i) normal[i] = static_cast<std::uint8_t>(i & 0xff);
  std::array<std::uint8_t, kPageSize> vmsa{};
  vmsa.fill(0xaa);
  LaunchDigest ld;

  ld.update_page(PageType::Normal, 0x1000, normal);
  ld.update_page(PageType::Vmsa, kVmsaGpa, vmsa);

  EXPECT_EQ(to_hex(ld.digest()),
            "2f3ec06a0cfc03e58aa84679d83181037193876cee0c778835c2998423ba35e23b14261527726da344cb4f01bc4890ae");
}

TEST(LaunchDigest, UpdatePage_EqualsSha384OfHandBuiltPageInfo) {
  const auto page = patterned_page(3);
  Sha384Digest start{};
  start.fill(0x5c);
  LaunchDigest ld(start);

  const PageInfo info = ld.update_page(PageType::Normal, 0xfffff000, page);

  std::vector<std::uint8_t> manual(start.begin(), start.end());
  const Sha384Digest contents = sha384(page);
  manual.insert(manual.end(), contents.begin(), contents.end());
  // LENGTH 0x70, type 1, IMI 0, reserved and perms 0, GPA 0xfffff000 (little-endian)
  const std::array<std::uint8_t, 16> tail{0x70, 0, 1, 0, 0, 0, 0, 0, 0x00, 0xf0, 0xff, 0xff, 0, 0, 0, 0};
  manual.insert(manual.end(), tail.begin(), tail.end());
  EXPECT_EQ(ld.digest(), sha384(manual));
  EXPECT_EQ(info.digest_cur, start);
  EXPECT_EQ(info.contents, contents);
}

TEST(LaunchDigest, NonHashedTypes_IgnoreThePageBytes) {
  const auto a = patterned_page(1);
  const auto b = patterned_page(2);
  for (PageType t : {PageType::Zero, PageType::Unmeasured, PageType::Secrets, PageType::Cpuid}) {
    LaunchDigest x;
    LaunchDigest y;

    x.update_page(t, 0x5000, a);
    y.update_page(t, 0x5000, b);

    EXPECT_EQ(x.digest(), y.digest()) << to_string(t);
  }
}

TEST(LaunchDigest, SingleFirmwarePage_MatchesSevSnpMeasureVector) {
  // H/ovmf-hash/fw-tiny-4k: the 4 KiB image as one NORMAL page at 0xfffff000.
  const auto image = firmware("fw-tiny-4k.bin");
  ASSERT_EQ(image.size(), kPageSize);
  LaunchDigest ld;

  measure_normal_pages(ld, 0xfffff000, image);

  EXPECT_EQ(to_hex(ld.digest()),
            "5f5ed73858c596a9449023815151305c98fadc3c4b5c49a9333da1b413fbe38cecb644de8431dd1a8151d1a5c77ed8e1");
}

TEST(LaunchDigest, Copy_IsAnIndependentSnapshot) {
  LaunchDigest a;
  a.update_contents(PageType::Secrets, 0x1000, kZeroDigest);
  LaunchDigest b = a;

  b.update_contents(PageType::Cpuid, 0x2000, kZeroDigest);

  EXPECT_NE(a.digest(), b.digest());
  LaunchDigest c;
  c = b;
  EXPECT_EQ(c.digest(), b.digest());
}

TEST(LaunchDigest, StartValue_ReplacesTheFirmwarePass) {
  // What --snp-ovmf-hash relies on: starting from the digest after a run gives the same
  // result as measuring the run.
  std::vector<std::uint8_t> data(8 * kPageSize);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>(i * 13);
  LaunchDigest full;
  measure_normal_pages(full, 0x100000, data);
  LaunchDigest resumed(full.digest());

  full.update_contents(PageType::Secrets, 0x9000, kZeroDigest);
  resumed.update_contents(PageType::Secrets, 0x9000, kZeroDigest);

  EXPECT_EQ(full.digest(), resumed.digest());
}

class ParallelPages : public ::testing::TestWithParam<std::size_t> {};

TEST_P(ParallelPages, Parallel_EqualsSequential) {
  const std::size_t pages = GetParam();
  std::vector<std::uint8_t> data(pages * kPageSize);
  std::mt19937_64 rng(pages);
  for (auto& b : data) b = static_cast<std::uint8_t>(rng());
  LaunchDigest seq;
  LaunchDigest par;

  measure_normal_pages(seq, 0x7fff0000, data);
  measure_normal_pages_parallel(par, 0x7fff0000, data);

  EXPECT_EQ(seq.digest(), par.digest());
}

// Around the small-run cut-over (64) and the batch size (8192).
INSTANTIATE_TEST_SUITE_P(Counts, ParallelPages, ::testing::Values(0, 1, 63, 64, 65, 1000, 8192, 8197));

TEST(LaunchDigestDeathTest, PartialPage_Aborts) {
  std::vector<std::uint8_t> data(kPageSize + 1);
  LaunchDigest ld;

  EXPECT_DEATH(measure_normal_pages(ld, 0, data), "whole 4 KiB pages");
}

// =======================================================================================
// VMSA pages against sev-snp-measure's --dump-vmsa output (vmsa/index.json)

struct DumpConfig {
  VmmType vmm = VmmType::Qemu;
  std::uint64_t vcpu_sig = 0;
  std::uint64_t guest_features = 0x1;
};

DumpConfig config_from_args(const nlohmann::json& args) {
  DumpConfig c;
  for (std::size_t i = 0; i + 1 < args.size(); ++i) {
    const std::string a = args[i].get<std::string>();
    const std::string v = args[i + 1].get<std::string>();
    if (a == "--vmm-type") c.vmm = *vmm_type_from_string(v);
    if (a == "--vcpu-type") c.vcpu_sig = *vcpu_type_signature(v);
    if (a == "--guest-features") c.guest_features = std::stoull(v, nullptr, 0);
  }
  return c;
}

std::uint64_t hex_field(const nlohmann::json& f, const char* key) {
  return std::stoull(f.at(key).get<std::string>(), nullptr, 16);
}

TEST(Vmsa, BuiltPages_EqualSevSnpMeasureDumpsByteForByte) {
  const auto index_bytes = read_or_die(vectors_dir() / "vmsa" / "index.json");
  const auto index = nlohmann::json::parse(index_bytes.begin(), index_bytes.end());
  ASSERT_GE(index.size(), 12u);
  for (const auto& entry : index) {
    const std::string name = entry["name"].get<std::string>();
    SCOPED_TRACE(name);
    const DumpConfig c = config_from_args(entry["args"]);
    // The AP's start address is in its dump: cs.base | rip (0x80b004 for Debian's OVMF.fd).
    const auto& ap_fields = entry["pages"]["vmsa1.bin"]["nonzero_fields"];
    const auto ap_eip = static_cast<std::uint32_t>(hex_field(ap_fields["cs"], "base") | hex_field(ap_fields["rip"], "value"));
    ASSERT_EQ(ap_eip, 0x80b004u);

    const VmsaPage bsp = to_page(reset_save_area(kBspEip, c.guest_features, c.vcpu_sig, c.vmm));
    const VmsaPage ap = to_page(reset_save_area(ap_eip, c.guest_features, c.vcpu_sig, c.vmm));

    const auto want_bsp = read_or_die(vectors_dir() / "vmsa" / name / "vmsa0.bin");
    const auto want_ap = read_or_die(vectors_dir() / "vmsa" / name / "vmsa1.bin");
    ASSERT_EQ(want_bsp.size(), kVmsaSize);
    ASSERT_EQ(want_ap.size(), kVmsaSize);
    EXPECT_TRUE(std::equal(bsp.begin(), bsp.end(), want_bsp.begin())) << "BSP page differs";
    EXPECT_TRUE(std::equal(ap.begin(), ap.end(), want_ap.begin())) << "AP page differs";
    EXPECT_EQ(to_hex(sha384(bsp)), entry["pages"]["vmsa0.bin"]["sha384"].get<std::string>());
    EXPECT_EQ(to_hex(sha384(ap)), entry["pages"]["vmsa1.bin"]["sha384"].get<std::string>());
  }
}

TEST(Vmsa, Ec2ApAtResetVector_GetsTheBspPage) {
  const VmsaPage bsp = to_page(reset_save_area(kBspEip, 1, 0, VmmType::Ec2));

  const VmsaPage ap = to_page(reset_save_area(0xfffffff0, 1, 0, VmmType::Ec2));

  EXPECT_EQ(bsp, ap);
  EXPECT_EQ(reset_save_area(0x80b004, 1, 0, VmmType::Ec2).cs.attrib, 0x9b);
  EXPECT_EQ(reset_save_area(kBspEip, 1, 0, VmmType::Ec2).cs.attrib, 0x9a);
}

TEST(Vmsa, SvsmPage_HasTheDocumentedFields) {
  const VmsaPage p = to_page(svsm_save_area(0xffaea000, 0xa00f11));
  auto u64 = [&](std::size_t off) {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < 8; ++i) v |= static_cast<std::uint64_t>(p[off + i]) << (8 * i);
    return v;
  };

  EXPECT_EQ(u64(0x010), 0xffffffff'0c9b'0008ULL);  // cs: selector 8, attrib 0xc9b, limit 4 GiB - 1
  EXPECT_EQ(u64(0x000), 0xffffffff'0c93'0010ULL);  // es: selector 16, attrib 0xc93
  EXPECT_EQ(u64(0x050), 0x0000ffff'0093'0000ULL);  // gs stays real-mode-like
  EXPECT_EQ(u64(0x158), 0x11u);                    // cr0
  EXPECT_EQ(u64(0x178), 0xffaea000u);              // rip: the full entry point
  EXPECT_EQ(u64(0x310), 0xa00f11u);                // rdx
  EXPECT_EQ(u64(0x3b0), 0x1u);                     // sev_features fixed
  EXPECT_EQ(u64(0x408) & 0xffffffffU, 0x1f80u);    // mxcsr
  EXPECT_EQ(p[0x410], 0);                          // x87_fcw left at 0, as sev-snp-measure does
  EXPECT_EQ(p[0x411], 0);
}

TEST(VcpuTypes, Signatures_MatchTheTable) {
  EXPECT_EQ(vcpu_types().size(), 16u);
  EXPECT_EQ(vcpu_type_signature("EPYC"), 0x800f12u);
  EXPECT_EQ(vcpu_type_signature("EPYC-IBPB"), 0x800f12u);
  EXPECT_EQ(vcpu_type_signature("EPYC-Rome-v3"), 0x830f10u);
  EXPECT_EQ(vcpu_type_signature("EPYC-Milan-v2"), 0xa00f11u);
  EXPECT_EQ(vcpu_type_signature("EPYC-Genoa-v1"), 0xa10f10u);
  EXPECT_EQ(vcpu_type_signature("EPYC-Turin"), 0xb00f00u);
  EXPECT_FALSE(vcpu_type_signature("EPYC-Bogus").has_value());
  EXPECT_FALSE(vcpu_type_signature("epyc").has_value());
  EXPECT_EQ(cpu_signature(25, 17, 0), 0xa10f10u);
  EXPECT_EQ(cpu_signature(0xF, 0, 0), 0xf00u);
  EXPECT_FALSE(cpu_signature(0x10F, 0, 0).has_value());
  EXPECT_FALSE(cpu_signature(25, 0x100, 0).has_value());
  EXPECT_FALSE(cpu_signature(25, 1, 0x10).has_value());
}

// =======================================================================================
// OVMF / SVSM image parser (FIRMWARE-FORMAT.md §1)

TEST(OvmfGuid, TextForm_RoundTripsInEfiByteOrder) {
  const OvmfGuid g = guid_from_string("96b582de-1fb2-45f7-baea-a366c55a082d");

  EXPECT_EQ(g[0], 0xde);  // data1 little-endian
  EXPECT_EQ(g[4], 0xb2);  // data2 little-endian
  EXPECT_EQ(g[8], 0xba);  // data4 as written
  EXPECT_EQ(to_string(g), "96b582de-1fb2-45f7-baea-a366c55a082d");
  EXPECT_EQ(guid_from_string("not-a-guid"), OvmfGuid{});
}

TEST(FirmwareImage, WellFormedImage_GivesEntriesAndSectionsInOrder) {
  const auto image = firmware("fw-kh-1m.bin");

  const auto parsed = FirmwareImage::parse(image);

  const FirmwareImage img = value_or_die(parsed);
  EXPECT_TRUE(img.has_footer_table());
  EXPECT_EQ(img.size(), 0x100000u);
  EXPECT_EQ(img.sev_es_reset_eip(), 0x80b004u);
  EXPECT_EQ(img.sev_hash_table_gpa(), 0x810c00u);
  EXPECT_FALSE(img.svsm_info_offset().has_value());
  ASSERT_EQ(img.sections().size(), 7u);
  EXPECT_EQ(img.sections()[0].gpa, 0x800000u);
  EXPECT_EQ(img.sections()[0].size, 0x9000u);
  EXPECT_EQ(img.sections()[0].type(), SectionType::SnpSecMem);
  EXPECT_EQ(img.sections()[5].type(), SectionType::SnpKernelHashes);
  EXPECT_TRUE(img.has_section(SectionType::SvsmCaa));
}

TEST(FirmwareImage, SvsmImage_HasItsInfoOffset) {
  const auto image = firmware("svsm-256k.bin");

  const FirmwareImage img = value_or_die(FirmwareImage::parse(image));

  EXPECT_EQ(img.svsm_info_offset(), 0x1000u);
}

TEST(FirmwareImage, DuplicateGuids_LowerEntryWins) {
  const auto image = firmware("quirk-dupguid-4k.bin");

  const FirmwareImage img = value_or_die(FirmwareImage::parse(image));

  EXPECT_EQ(img.sev_es_reset_eip(), 0x11112004u);
}

TEST(FirmwareImage, TolerantTable_ParsesLeftoversEmptyEntriesAndBigBlocks) {
  const auto image = firmware("quirk-table-4k.bin");

  const auto parsed = FirmwareImage::parse(image);

  EXPECT_TRUE(std::holds_alternative<FirmwareImage>(parsed));
}

TEST(FirmwareImage, NoFooter_IsNotAnError) {
  const auto image = firmware("bad-nofooter-4k.bin");

  const FirmwareImage img = value_or_die(FirmwareImage::parse(image));

  EXPECT_FALSE(img.has_footer_table());
  EXPECT_FALSE(img.sev_es_reset_eip().has_value());
  EXPECT_TRUE(img.sections().empty());
}

TEST(FirmwareImage, UnknownSectionType_ParsesButHasNoType) {
  const auto image = firmware("bad-section-type-4k.bin");

  const FirmwareImage img = value_or_die(FirmwareImage::parse(image));

  EXPECT_TRUE(std::any_of(img.sections().begin(), img.sections().end(),
                          [](const MetadataSection& s) { return !s.type().has_value(); }));
}

struct BadImage {
  const char* file;
  const char* says;
};

class FirmwareImageErrors : public ::testing::TestWithParam<BadImage> {};

TEST_P(FirmwareImageErrors, BrokenImage_IsAParseErrorSayingWhy) {
  const auto image = firmware(GetParam().file);

  const auto parsed = FirmwareImage::parse(image);

  ASSERT_TRUE(std::holds_alternative<ParseError>(parsed)) << GetParam().file;
  EXPECT_NE(std::get<ParseError>(parsed).message.find(GetParam().says), std::string::npos)
      << std::get<ParseError>(parsed).message;
}

INSTANTIATE_TEST_SUITE_P(Vectors, FirmwareImageErrors,
                         ::testing::Values(BadImage{"bad-sig-4k.bin", "signature"},
                                           BadImage{"bad-version-4k.bin", "version"},
                                           BadImage{"bad-entry-size-4k.bin", "Invalid entry size"},
                                           BadImage{"bad-meta-items-4k.bin", "room for"}));

TEST(FirmwareImage, TinyImages_AreErrorsNotCrashes) {
  for (std::size_t n = 0; n < 50; ++n) {
    const std::vector<std::uint8_t> bytes(n, 0xff);

    const auto parsed = FirmwareImage::parse(bytes);

    EXPECT_TRUE(std::holds_alternative<ParseError>(parsed)) << n;
  }
}

TEST(FirmwareImage, EveryTruncation_ParsesOrFailsCleanly) {
  // Cut the last 8 KiB of a real image at every length, from the front and from the back:
  // the table and the metadata block slide over every boundary.
  const auto image = firmware("fw-kh-16k.bin");
  const std::span<const std::uint8_t> all(image);
  std::size_t ok = 0;
  for (std::size_t n = 0; n <= 8192; ++n) {
    const std::vector<std::uint8_t> tail(all.end() - static_cast<std::ptrdiff_t>(n), all.end());
    const std::vector<std::uint8_t> head(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(image.size() - n));

    if (std::holds_alternative<FirmwareImage>(FirmwareImage::parse(tail))) ++ok;
    if (std::holds_alternative<FirmwareImage>(FirmwareImage::parse(head))) ++ok;
  }
  EXPECT_GT(ok, 0u);
}

TEST(FirmwareImage, RandomGarbageWithAPlantedFooter_NeverCrashes) {
  // Random bytes with the footer GUID planted and random table/entry/metadata numbers:
  // every outcome must be a value, and parsed entries must lie inside the image.
  std::mt19937_64 rng(20240601);
  std::size_t parsed_ok = 0;
  for (int round = 0; round < 20000; ++round) {
    const std::size_t n = 50 + rng() % 600;
    std::vector<std::uint8_t> b(n);
    for (auto& x : b) x = static_cast<std::uint8_t>(rng());
    const std::size_t footer = n - 50;
    const auto table = static_cast<std::uint16_t>(rng() % (n + 40));
    b[footer] = static_cast<std::uint8_t>(table);
    b[footer + 1] = static_cast<std::uint8_t>(table >> 8);
    std::copy(ovmf_guid::kFooterTable.begin(), ovmf_guid::kFooterTable.end(), b.begin() + static_cast<std::ptrdiff_t>(footer + 2));
    if (rng() % 2 == 0 && footer >= 18) {  // a metadata entry just below the footer
      const std::size_t e = footer - 18;
      const auto off = static_cast<std::uint32_t>(rng() % (n + 20));
      b[e] = 22;
      b[e + 1] = 0;
      std::copy(ovmf_guid::kSevMetadata.begin(), ovmf_guid::kSevMetadata.end(), b.begin() + static_cast<std::ptrdiff_t>(e + 2));
      if (e >= 4) {
        for (unsigned i = 0; i < 4; ++i) b[e - 4 + i] = static_cast<std::uint8_t>(off >> (8 * i));
      }
      if (off <= n && off >= 16 && rng() % 2 == 0) {  // room for the 16-byte header
        const std::size_t s = n - off;
        b[s] = 'A';
        b[s + 1] = 'S';
        b[s + 2] = 'E';
        b[s + 3] = 'V';
        b[s + 8] = 1;
        b[s + 9] = b[s + 10] = b[s + 11] = 0;
      }
    }

    const auto parsed = FirmwareImage::parse(b);

    if (const auto* img = std::get_if<FirmwareImage>(&parsed)) {
      ++parsed_ok;
      for (const FooterEntry& e : img->entries()) ASSERT_LE(e.data_offset + e.data.size(), n);
    } else {
      ASSERT_FALSE(std::get<ParseError>(parsed).message.empty());
    }
  }
  EXPECT_GT(parsed_ok, 0u);
}

// =======================================================================================
// The whole calculation (guest_measure.h); the vectors test covers it end to end.

TEST(SevHashTable, Layout_IsQemusTable) {
  const std::vector<std::uint8_t> kernel{1, 2, 3};

  const auto t = sev_hash_table(KernelHashInputs{kernel, {}, ""});

  const OvmfGuid header = guid_from_string("9438d606-4f22-4cc9-b479-a793d411fd21");
  EXPECT_TRUE(std::equal(header.begin(), header.end(), t.begin()));
  EXPECT_EQ(t[16], 168);  // table length
  EXPECT_EQ(t[17], 0);
  EXPECT_EQ(t[18 + 16], 50);  // first entry length
  constexpr std::array<std::uint8_t, 1> kNul{0};
  const Sha256Digest cmdline = sha256(kNul);
  EXPECT_TRUE(std::equal(cmdline.begin(), cmdline.end(), t.begin() + 18 + 18));
  const Sha256Digest kernel_hash = sha256(kernel);
  EXPECT_TRUE(std::equal(kernel_hash.begin(), kernel_hash.end(), t.begin() + 18 + 100 + 18));
  EXPECT_TRUE(std::all_of(t.begin() + 168, t.end(), [](std::uint8_t b) { return b == 0; }));
}

TEST(MeasureGuest, OvmfHashThenSnpOvmfHash_EqualsTheFullSnpMeasurement) {
  const auto image = firmware("fw-kh-1m.bin");
  MeasureInput hash_only;
  hash_only.mode = GuestMode::SnpOvmfHash;
  hash_only.ovmf = image;
  const auto h = measure_guest(hash_only);
  ASSERT_TRUE(std::holds_alternative<Measurement>(h));
  MeasureInput full;
  full.mode = GuestMode::Snp;
  full.ovmf = image;
  full.vcpus = 4;
  full.vcpu_sig = 0xa00f11;
  MeasureInput resumed = full;
  resumed.snp_ovmf_hash = digest_from_hex(to_hex(std::get<Measurement>(h).digest));

  const auto a = measure_guest(full);
  const auto b = measure_guest(resumed);

  ASSERT_TRUE(std::holds_alternative<Measurement>(a));
  ASSERT_TRUE(std::holds_alternative<Measurement>(b));
  EXPECT_EQ(std::get<Measurement>(a).digest, std::get<Measurement>(b).digest);
  // S/fw-kh-1m/QEMU/EPYC-Milan/vcpus4/gf-default in synthetic.jsonl
  EXPECT_EQ(std::get<Measurement>(a).digest.size(), 48u);
}

TEST(MeasureGuest, KeepVmsaPages_GivesBspThenAps) {
  const auto image = firmware("fw-kh-1m.bin");
  MeasureInput in;
  in.mode = GuestMode::Snp;
  in.ovmf = image;
  in.vcpus = 3;
  in.vcpu_sig = 0xa00f11;
  in.keep_vmsa_pages = true;

  const auto r = measure_guest(in);

  ASSERT_TRUE(std::holds_alternative<Measurement>(r));
  const auto& pages = std::get<Measurement>(r).vmsa_pages;
  ASSERT_EQ(pages.size(), 3u);
  EXPECT_EQ(pages[0], to_page(reset_save_area(kBspEip, 1, 0xa00f11, VmmType::Qemu)));
  EXPECT_EQ(pages[1], to_page(reset_save_area(0x80b004, 1, 0xa00f11, VmmType::Qemu)));
  EXPECT_EQ(pages[2], pages[1]);
}

TEST(MeasureGuest, SectionsCoveringMoreThan4GiB_FailBeforeMeasuring) {
  // fw-kh-1m.bin with its first two SEV metadata sections grown to 0xFFFFF000 bytes each: no
  // 32-bit GPA range holds them, so the measurement refuses, naming the limit, at once.
  auto image = firmware("fw-kh-1m.bin");
  const std::array<std::uint8_t, 4> asev{'A', 'S', 'E', 'V'};
  const auto at = std::search(image.begin(), image.end(), asev.begin(), asev.end());
  ASSERT_NE(at, image.end());
  const auto items = static_cast<std::size_t>(at - image.begin()) + 16;
  for (std::size_t i = 0; i < 2; ++i) {
    const std::size_t size_at = items + i * 12 + 4;
    image[size_at] = 0x00, image[size_at + 1] = 0xF0, image[size_at + 2] = 0xFF, image[size_at + 3] = 0xFF;
  }
  MeasureInput in;
  in.mode = GuestMode::Snp;
  in.ovmf = image;
  in.vcpus = 1;
  const auto r = measure_guest(in);
  ASSERT_TRUE(std::holds_alternative<MeasureError>(r));
  EXPECT_NE(std::get<MeasureError>(r).message.find("more than the 4 GiB"), std::string::npos)
      << std::get<MeasureError>(r).message;
}

TEST(MeasureGuest, InconsistentOptions_AreErrors) {
  const auto image = firmware("svsm-ovmf-192k.bin");
  const auto svsm = firmware("svsm-256k.bin");
  MeasureInput in;
  in.mode = GuestMode::SnpSvsm;
  in.ovmf = image;
  in.svsm = svsm;
  in.vars_size = 0x20000;
  in.vcpus = 1;
  in.vmm = VmmType::Ec2;
  EXPECT_TRUE(std::holds_alternative<MeasureError>(measure_guest(in)));  // SVSM is QEMU only

  in.vmm = VmmType::Qemu;
  in.vars_size = 0xffff'0000;
  EXPECT_TRUE(std::holds_alternative<MeasureError>(measure_guest(in)));  // SVSM below GPA 0

  in.mode = GuestMode::SevEs;
  in.vars_size = 0;
  in.snp_ovmf_hash = kZeroDigest;
  EXPECT_TRUE(std::holds_alternative<MeasureError>(measure_guest(in)));  // SNP-only option
}

TEST(MeasureGuest, ModeNames_RoundTrip) {
  for (GuestMode m : {GuestMode::Sev, GuestMode::SevEs, GuestMode::Snp, GuestMode::SnpOvmfHash, GuestMode::SnpSvsm}) {
    EXPECT_EQ(guest_mode_from_string(to_string(m)), m);
  }
  EXPECT_FALSE(guest_mode_from_string("SNP").has_value());
  EXPECT_EQ(vmm_type_from_string("ec2"), VmmType::Ec2);
  EXPECT_FALSE(vmm_type_from_string("EC2").has_value());
}

}  // namespace
}  // namespace snplab::model
