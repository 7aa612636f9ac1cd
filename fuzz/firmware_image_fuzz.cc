// Fuzz target: bytes -> FirmwareImage::parse() (an OVMF image and its footer table and SEV
// metadata, untrusted) and, when it parses, the SNP launch measurement over it
// (measure_guest, one vCPU). Oracle: ASan/UBSan; every outcome is a value or an error message.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <variant>

#include "snp/model/measure/guest_measure.h"
#include "snp/model/measure/ovmf.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace m = snplab::model;
  const std::span<const std::uint8_t> bytes{data, size};
  const auto parsed = m::FirmwareImage::parse(bytes);
  if (const auto* e = std::get_if<m::ParseError>(&parsed); e != nullptr) {
    if (e->message.empty()) std::abort();  // an error says why
    return 0;
  }
  m::MeasureInput in;
  in.mode = m::GuestMode::Snp;
  in.ovmf = bytes;
  in.vcpus = 1;
  const auto r = m::measure_guest(in);
  if (const auto* e = std::get_if<m::MeasureError>(&r); e != nullptr && e->message.empty()) std::abort();
  return 0;
}
