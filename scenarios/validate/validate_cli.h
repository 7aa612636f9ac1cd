// `snplab validate`'s command line (validate_cli.cc).
#pragma once

#include <cstdio>

namespace snplab::validate {

/// Runs `snplab validate` with the arguments after "validate"; the exit code.
int validate_main(int argc, char** argv, std::FILE* out, std::FILE* err);

}  // namespace snplab::validate
