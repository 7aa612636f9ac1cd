// A simulated platform that launches a minimal SNP guest and has it ask the firmware for an
// attestation report: what `snplab report simulate` writes out, so a user (or CI) can check
// the simulator's reports with the same `snplab report verify` as real ones.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "snp/model/attest/attestation.h"

namespace snplab::scenarios {

struct SimReportOptions {
  std::uint64_t seed = 1;
  model::Product product = model::Product::Milan;
  std::array<std::uint8_t, 64> report_data{};
  bool vlek = false;                   ///< load a VLEK first and sign with it
  std::uint64_t reported_tcb_override = 0;  ///< non-zero: SNP_CONFIG to this TCB first
};

struct SimReport {
  std::vector<std::uint8_t> report;    ///< 0x4A0 bytes
  std::vector<std::uint8_t> leaf_der;  ///< the VCEK (or VLEK) certificate, DER
  std::string chain_pem;               ///< ASK+ARK (or ASVK+ARK)
  std::string error;                   ///< non-empty when a firmware step failed
};

SimReport simulate_report(const SimReportOptions& opts);

}  // namespace snplab::scenarios
