// Fuzz target: bytes -> parse_attestation_report() (a report from a guest or a file, untrusted).
// Oracle: ASan/UBSan, and a report that parses parses the same way again (no hidden state).
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "snp/model/attest/attestation.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace m = snplab::model;
  const auto r = m::parse_attestation_report({data, size});
  if (!r) return 0;
  const auto again = m::parse_attestation_report({data, size});
  if (!again || again->report_data != r->report_data || again->measurement != r->measurement) {
    std::fprintf(stderr, "snplab fuzz: the same bytes parsed twice differ\n");
    std::abort();
  }
  return 0;
}
