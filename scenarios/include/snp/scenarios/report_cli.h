// `snplab report`: show an attestation report's fields; verify it against its certificates.
#pragma once

#include <cstdio>

namespace snplab::scenarios {

/// Runs `snplab report show|verify|fetch-url|simulate` with the arguments after "report"
/// (docs/attestation.md). Returns 0 when the command did what was asked (verify: every check
/// held), 1 when the answer is no (verify: a check failed, named on `err`; fetch-url: no URL),
/// 2 for bad usage or an input file that cannot be read or parsed.
int report_main(int argc, char** argv, std::FILE* out, std::FILE* err);

}  // namespace snplab::scenarios
