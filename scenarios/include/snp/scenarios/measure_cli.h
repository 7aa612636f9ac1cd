// `snplab measure`: a drop-in for sev-snp-measure (same arguments, same output).
#pragma once

#include <cstdio>

namespace snplab::scenarios {

/// Runs `snplab measure` with the arguments after "measure". Prints the measurement (the
/// last line of stdout, hex or base64) and returns 0, or prints a message that says what is
/// wrong to `err` and returns 1 (bad input) or 2 (bad usage), like sev-snp-measure.
int measure_main(int argc, char** argv, std::FILE* out, std::FILE* err);

}  // namespace snplab::scenarios
