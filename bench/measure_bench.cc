// Launch-digest throughput (model/measure.h) over 1 GiB of NORMAL pages, measured in the
// same run as a plain OpenSSL SHA-384 over the same bytes on one core.
//
// Targets: the single-core launch digest reaches >= 0.8 of the plain
// SHA-384 stream (it hashes every page plus one 112-byte PAGE_INFO per page: 35 SHA-384
// blocks per page against 32, so ~0.91 is the ceiling); the TBB version is >= 1.5x the
// single-core launch digest on 2 cores. The ratios are printed after the table.
#include <benchmark/benchmark.h>

#include <openssl/evp.h>
#include <tbb/global_control.h>
#include <tbb/info.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "snp/model/measure/measure.h"

namespace {

using namespace snplab::model;  // NOLINT

constexpr std::size_t kBytes = std::size_t{1} << 30;  // 1 GiB = 262144 pages
constexpr Gpa kStartGpa = 0x1'0000'0000ULL;

/// 1 GiB of deterministic non-constant bytes (xorshift64), made once.
const std::vector<std::uint8_t>& data() {
  static const std::vector<std::uint8_t> bytes = [] {
    std::vector<std::uint8_t> d(kBytes);
    std::uint64_t x = 0x9e3779b97f4a7c15ULL;
    for (std::size_t i = 0; i < d.size(); i += 8) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      for (std::size_t b = 0; b < 8; ++b) d[i + b] = static_cast<std::uint8_t>(x >> (8 * b));
    }
    return d;
  }();
  return bytes;
}

/// Wall-clock GB/s of each benchmark's last run, for the ratios printed at the end.
struct Figures {
  double plain_stream = 0;
  double plain_pages = 0;
  double ld_one_core = 0;
  double ld_tbb = 0;
  int tbb_threads = 0;
};
Figures g_figures;

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void report(benchmark::State& state, double seconds, double& figure) {
  const double bytes = static_cast<double>(kBytes) * static_cast<double>(state.iterations());
  figure = bytes / seconds / 1e9;
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
  state.counters["GB/s"] = figure;
}

/// SHA-384 over the whole GiB in pieces of `chunk` bytes, one digest each, with a reused
/// OpenSSL context on one core; the rate goes to `figure`.
void sha384_in_chunks(benchmark::State& state, std::size_t chunk, double& figure) {
  const auto& d = data();
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  std::uint8_t out[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (auto _ : state) {
    for (std::size_t off = 0; off < d.size(); off += chunk) {
      EVP_DigestInit_ex(ctx, EVP_sha384(), nullptr);
      EVP_DigestUpdate(ctx, d.data() + off, std::min(chunk, d.size() - off));
      EVP_DigestFinal_ex(ctx, out, &len);
    }
    benchmark::DoNotOptimize(out);
  }
  report(state, seconds_since(t0), figure);
  EVP_MD_CTX_free(ctx);
}

/// The baseline: one SHA-384 over the whole GiB.
void BM_PlainSha384_Stream(benchmark::State& state) { sha384_in_chunks(state, data().size(), g_figures.plain_stream); }

/// For reference: SHA-384 of every 4 KiB page separately (the page-hash half of the work).
void BM_PlainSha384_PerPage(benchmark::State& state) { sha384_in_chunks(state, kPageSize, g_figures.plain_pages); }

/// The launch digest of 262144 NORMAL pages, sequential (one core).
void BM_LaunchDigest_OneCore(benchmark::State& state) {
  const auto& d = data();
  const auto t0 = std::chrono::steady_clock::now();
  for (auto _ : state) {
    LaunchDigest ld;
    measure_normal_pages(ld, kStartGpa, d);
    benchmark::DoNotOptimize(ld.digest());
  }
  report(state, seconds_since(t0), g_figures.ld_one_core);
}

/// The same with page hashes on state.range(0) TBB threads.
void BM_LaunchDigest_Tbb(benchmark::State& state) {
  const auto& d = data();
  const auto threads = static_cast<std::size_t>(state.range(0));
  tbb::global_control limit(tbb::global_control::max_allowed_parallelism, threads);
  const auto t0 = std::chrono::steady_clock::now();
  for (auto _ : state) {
    LaunchDigest ld;
    measure_normal_pages_parallel(ld, kStartGpa, d);
    benchmark::DoNotOptimize(ld.digest());
  }
  report(state, seconds_since(t0), g_figures.ld_tbb);
  g_figures.tbb_threads = static_cast<int>(threads);
  state.counters["threads"] = static_cast<double>(threads);
}

BENCHMARK(BM_PlainSha384_Stream)->Iterations(3)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PlainSha384_PerPage)->Iterations(3)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_LaunchDigest_OneCore)->Iterations(3)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_LaunchDigest_Tbb)
    ->Arg(std::max(1, tbb::info::default_concurrency()))
    ->Iterations(3)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  (void)data();  // build the 1 GiB input before any timing
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  const Figures& f = g_figures;
  if (f.plain_stream > 0 && f.ld_one_core > 0) {
    std::printf("launch digest, one core / plain SHA-384 stream, one core: %.3f (target >= 0.8)\n",
                f.ld_one_core / f.plain_stream);
  }
  if (f.plain_pages > 0 && f.ld_one_core > 0) {
    std::printf("launch digest, one core / plain SHA-384 per 4 KiB page:  %.3f\n", f.ld_one_core / f.plain_pages);
  }
  if (f.ld_one_core > 0 && f.ld_tbb > 0) {
    std::printf("launch digest, TBB %d threads / one core:               %.3f (target >= 1.5 on 2 cores)\n",
                f.tbb_threads, f.ld_tbb / f.ld_one_core);
  }
  return 0;
}
