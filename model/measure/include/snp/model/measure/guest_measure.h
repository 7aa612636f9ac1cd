// The offline launch-measurement calculation for every guest mode sev-snp-measure 0.0.13
// supports: what `snplab measure` computes. Pure: the caller reads the files and passes
// their bytes; the result is the digest or a message saying what is wrong.
//
// Sources: facts §5 (PAGE_INFO chain), shared/vectors/measure/FIRMWARE-FORMAT.md (FW) and
// VMSA-NOTES.md, whose statements the vectors in the same folder pin down.
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

#include "snp/model/crypto/crypto.h"
#include "snp/model/measure/vmsa.h"

namespace snplab::model {

/// The guest modes (sev-snp-measure --mode).
enum class GuestMode : std::uint8_t {
  Sev,          ///< "sev": SHA-256 over the firmware (and kernel hash table)
  SevEs,        ///< "seves": SHA-256 over firmware, hash table and the VMSA pages
  Snp,          ///< "snp": the PAGE_INFO chain of facts §5.3
  SnpOvmfHash,  ///< "snp:ovmf-hash": only the firmware's NORMAL pages (input for --snp-ovmf-hash)
  SnpSvsm,      ///< "snp:svsm": OVMF + Coconut-SVSM image, SVSM VMSAs
};

/// The --mode spelling.
constexpr std::string_view to_string(GuestMode m) {
  switch (m) {
    case GuestMode::Sev: return "sev";
    case GuestMode::SevEs: return "seves";
    case GuestMode::Snp: return "snp";
    case GuestMode::SnpOvmfHash: return "snp:ovmf-hash";
    case GuestMode::SnpSvsm: return "snp:svsm";
  }
  return "?";
}

/// Inverse of to_string(GuestMode) (exact spelling, like sev-snp-measure's --mode choices).
std::optional<GuestMode> guest_mode_from_string(std::string_view s);

/// What QEMU hashes into the SEV kernel hash table (FW "Kernel hash table").
struct KernelHashInputs {
  std::span<const std::uint8_t> kernel;
  std::span<const std::uint8_t> initrd;  ///< empty without an initrd (SHA-256 of nothing)
  std::string_view cmdline;              ///< the --append bytes (UTF-8) without the NUL QEMU adds
};

/// Size of QEMU's padded SEV hash table: 168 bytes of table, zero-padded to 16.
inline constexpr std::size_t kSevHashTableSize = 176;

/// QEMU's SEV hash table for `in`: header GUID 9438d606-... + u16 168, then the cmdline,
/// initrd and kernel entries (GUID + u16 50 + SHA-256), zero-padded to 176 bytes.
std::array<std::uint8_t, kSevHashTableSize> sev_hash_table(const KernelHashInputs& in);

/// Everything one measurement needs. Spans must stay valid during measure_guest().
struct MeasureInput {
  GuestMode mode = GuestMode::Snp;
  std::span<const std::uint8_t> ovmf;     ///< the --ovmf image
  std::uint64_t vcpus = 0;                ///< number of VMSAs measured (not used by sev)
  std::uint64_t vcpu_sig = 0;             ///< RDX for QEMU and snp:svsm (CPUID signature)
  VmmType vmm = VmmType::Qemu;
  std::uint64_t guest_features = 0x1;     ///< SEV_FEATURES of snp VMSAs
  std::optional<KernelHashInputs> kernel; ///< --kernel/--initrd/--append (ignored by snp:svsm)
  std::optional<Sha384Digest> snp_ovmf_hash;  ///< snp only: the digest after the firmware pages
  std::span<const std::uint8_t> svsm;     ///< snp:svsm only: the SVSM image
  std::uint64_t vars_size = 0;            ///< snp:svsm only: bytes of OVMF_VARS below OVMF
  bool keep_vmsa_pages = false;           ///< return each vCPU's VMSA page (--dump-vmsa)
};

/// A computed measurement.
struct Measurement {
  std::vector<std::uint8_t> digest;    ///< 48 bytes (SNP modes) or 32 (sev, seves)
  std::vector<VmsaPage> vmsa_pages;    ///< per vCPU, only with keep_vmsa_pages
};

/// Why a measurement could not be computed (bad image, inconsistent options, ...).
struct MeasureError {
  std::string message;
};

/// Computes the launch measurement sev-snp-measure 0.0.13 would print for `in`.
std::variant<Measurement, MeasureError> measure_guest(const MeasureInput& in);

}  // namespace snplab::model
