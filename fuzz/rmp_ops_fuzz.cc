// Fuzz target: bytes -> RMP command sequence (the codec the property tests use) -> model/
// and the reference model side by side. Oracle: any disagreement (return codes, faults,
// RMPREAD views, sub-page counts, detector findings), plus ASan/UBSan and the model's own
// SNPLAB_ASSERTs. A crash input replays with snplab_fuzz_rmp_ops_replay FILE.
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "support/rmp_codec.h"
#include "support/rmp_diff.h"

namespace {
// Keep each input fast: a few hundred commands reach every state of a 3-region host.
constexpr std::size_t kMaxOps = 512;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto ops = snplab::test::decode({data, size});
  if (ops.size() > kMaxOps) ops.resize(kMaxOps);
  snplab::test::RmpDiff diff;
  const std::string err = diff.run(ops);
  if (!err.empty()) {
    std::fprintf(stderr, "snplab fuzz: model and reference model disagree at %s\nprogram:\n%s", err.c_str(),
                 snplab::test::show(ops).c_str());
    std::abort();
  }
  return 0;
}
