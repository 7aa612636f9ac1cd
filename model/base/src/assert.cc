#include "snp/model/base/assert.h"

#include <cstdio>
#include <cstdlib>

namespace snplab::detail {

void assert_fail(const char* expr, const char* msg, const char* file, int line) {
  std::fprintf(stderr, "snplab: model invariant violated at %s:%d: %s (%s)\n", file, line, msg, expr);
  std::fflush(stderr);
  std::abort();
}

}  // namespace snplab::detail
