// `snplab report`: show an attestation report's fields; verify it against its certificates.
#pragma once

#include <cstdio>

namespace snplab::scenarios {

/// Runs `snplab report show FILE` or `snplab report verify FILE --cert C --chain P [--chain P]
/// [--at TIME]` with the arguments after "report". Returns 0 only when the command succeeded
/// (verify: every check held); otherwise 1 with the failing check named on `err`, or 2 for
/// bad usage.
int report_main(int argc, char** argv, std::FILE* out, std::FILE* err);

}  // namespace snplab::scenarios
