// RMP model benchmarks: time per instruction and model memory per touched page.
//
// Targets: an RMPUPDATE+PVALIDATE pair <= 50 ns single-threaded;
// <= 24 bytes of model memory per touched 4 KiB page (hardware spends 16); a 64 TiB host
// with one million touched pages in <= 64 MiB. The memory figures are printed as counters
// (bytes_per_page, model_MiB) of the Memory* benchmarks.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <memory>

#include "snp/model/hw/access.h"
#include "snp/model/hw/detectors.h"
#include "snp/model/host/x86/sev.h"
#include "snp/model/hw/rmp_insn.h"

namespace {

using namespace snplab::model;  // NOLINT

constexpr std::uint64_t kGiB = 1ULL << 30;
constexpr Pfn kGuestBase = 0x100000;  // 4 GiB
constexpr std::uint64_t kGuestPages = 1ULL << 18;  // 1 GiB of 4K pages
constexpr Asid kAsid = 1;
const OpContext kCtx{"bench", 1};

std::unique_ptr<Rmp> make_rmp(std::uint64_t bytes) {
  return std::make_unique<Rmp>(*RmpLayout::covering(bytes));
}

/// Guest page i (mod the 1 GiB guest): the host assigns it, the guest validates it.
void assign_validate(Rmp& rmp, std::uint64_t i) {
  const Pfn pfn = kGuestBase + (i & (kGuestPages - 1));
  const Gpa gpa = pfn_to_spa(i & (kGuestPages - 1));
  benchmark::DoNotOptimize(rmp_make_private(rmp, pfn, gpa, PageSize::Size4K, kAsid, false, kCtx));
  benchmark::DoNotOptimize(pvalidate(rmp, GuestCpu{kAsid, 0}, gpa, pfn_to_spa(pfn), 0, 1, kCtx));
}

// The pair a guest page goes through: the host assigns it (RMPUPDATE), the guest validates
// it (PVALIDATE). Walks a 1 GiB guest; on the next lap RMPUPDATE re-assigns (and clears
// Validated), so every iteration does the same work.
void BM_RmpupdatePvalidatePair(benchmark::State& state) {
  auto rmp = make_rmp(64 * kGiB);
  for (std::uint64_t i = 0; auto _ : state) assign_validate(*rmp, i++);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_RmpupdatePvalidatePair);

// The same with the detectors watching, over a full page life cycle (assign, validate,
// return to the hypervisor) so no finding accumulates.
void BM_AssignValidateShare_WithDetectors(benchmark::State& state) {
  auto rmp = make_rmp(64 * kGiB);
  Detectors det;
  rmp->add_observer(&det);
  for (std::uint64_t i = 0; auto _ : state) {
    assign_validate(*rmp, i++);
    benchmark::DoNotOptimize(rmp_make_shared(*rmp, kGuestBase + ((i - 1) & (kGuestPages - 1)), PageSize::Size4K, kCtx));
  }
  if (!det.findings().empty()) state.SkipWithError("detectors fired on a clean life cycle");
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_AssignValidateShare_WithDetectors);

void BM_Rmpupdate4K(benchmark::State& state) {
  auto rmp = make_rmp(64 * kGiB);
  std::uint64_t i = 0;
  for (auto _ : state) {
    const Pfn pfn = kGuestBase + (i & (kGuestPages - 1));
    benchmark::DoNotOptimize(rmp_make_private(*rmp, pfn, pfn_to_spa(pfn), PageSize::Size4K, kAsid, false, kCtx));
    ++i;
  }
}
BENCHMARK(BM_Rmpupdate4K);

// PVALIDATE alternating validate / rescind on assigned pages (each call changes the entry).
void BM_Pvalidate(benchmark::State& state) {
  auto rmp = make_rmp(64 * kGiB);
  for (std::uint64_t i = 0; i < kGuestPages; ++i) {
    (void)rmp_make_private(*rmp, kGuestBase + i, pfn_to_spa(i), PageSize::Size4K, kAsid, false, kCtx);
  }
  std::uint64_t i = 0;
  for (auto _ : state) {
    const std::uint64_t k = i & (kGuestPages - 1);
    benchmark::DoNotOptimize(
        pvalidate(*rmp, GuestCpu{kAsid, 0}, pfn_to_spa(k), pfn_to_spa(kGuestBase + k), 0, (i >> 18) & 1 ? 0 : 1, kCtx));
    ++i;
  }
}
BENCHMARK(BM_Pvalidate);

// PSMASH of an assigned 2M page, with the RMPUPDATE that (re-)forms it: after PSMASH the
// region holds 512 assigned 4K pages, so the loop returns them to a 2M entry by making the
// region shared page by page and re-assigning it as 2M. Reported per PSMASH, the other
// work of the cycle is in the figure (see BM_Rmpupdate2M for its share).
void BM_PsmashCycle(benchmark::State& state) {
  auto rmp = make_rmp(64 * kGiB);
  const Pfn base = kGuestBase;
  for (auto _ : state) {
    (void)rmp_make_private(*rmp, base, 0, PageSize::Size2M, kAsid, false, kCtx);
    benchmark::DoNotOptimize(psmash(*rmp, pfn_to_spa(base), kCtx));
    for (unsigned i = 0; i < kPagesPerHuge; ++i) (void)rmp_make_shared(*rmp, base + i, PageSize::Size4K, kCtx);
  }
}
BENCHMARK(BM_PsmashCycle);

void BM_Rmpupdate2M(benchmark::State& state) {
  auto rmp = make_rmp(64 * kGiB);
  const Pfn base = kGuestBase;
  std::uint64_t i = 0;
  for (auto _ : state) {
    if ((i++ & 1) == 0) {
      benchmark::DoNotOptimize(rmp_make_private(*rmp, base, 0, PageSize::Size2M, kAsid, false, kCtx));
    } else {
      benchmark::DoNotOptimize(rmp_make_shared(*rmp, base, PageSize::Size2M, kCtx));
    }
  }
}
BENCHMARK(BM_Rmpupdate2M);

void BM_GuestAccessCheck(benchmark::State& state) {
  auto rmp = make_rmp(64 * kGiB);
  for (std::uint64_t i = 0; i < kGuestPages; ++i) {
    (void)rmp_make_private(*rmp, kGuestBase + i, pfn_to_spa(i), PageSize::Size4K, kAsid, false, kCtx);
    (void)pvalidate(*rmp, GuestCpu{kAsid, 0}, pfn_to_spa(i), pfn_to_spa(kGuestBase + i), 0, 1, kCtx);
  }
  std::uint64_t i = 0;
  GuestAccess a;
  a.asid = kAsid;
  a.kind = AccessKind::Write;
  for (auto _ : state) {
    const std::uint64_t k = i++ & (kGuestPages - 1);
    a.gpa = pfn_to_spa(k);
    a.spa = pfn_to_spa(kGuestBase + k);
    benchmark::DoNotOptimize(check_guest_access(*rmp, a));
  }
}
BENCHMARK(BM_GuestAccessCheck);

void BM_HostWriteCheck2M(benchmark::State& state) {
  auto rmp = make_rmp(64 * kGiB);
  for (std::uint64_t i = 0; i < kGuestPages; i += 2) {
    (void)rmp_make_private(*rmp, kGuestBase + i, pfn_to_spa(i), PageSize::Size4K, kAsid, false, kCtx);
  }
  std::uint64_t i = 0;
  for (auto _ : state) {
    const std::uint64_t k = (i++ * 512) & (kGuestPages - 1);
    benchmark::DoNotOptimize(check_host_access(*rmp, pfn_to_spa(kGuestBase + k), AccessKind::Write, MapLevel::Size2M));
  }
}
BENCHMARK(BM_HostWriteCheck2M);

// Model memory of a 1 GiB guest's pages, all assigned: dense 2 MiB regions.
void BM_MemoryDense1GiBGuest(benchmark::State& state) {
  for (auto _ : state) {
    auto rmp = make_rmp(64 * kGiB);
    for (std::uint64_t i = 0; i < kGuestPages; ++i) {
      (void)rmp_make_private(*rmp, kGuestBase + i, pfn_to_spa(i), PageSize::Size4K, kAsid, false, kCtx);
    }
    const auto& st = rmp->entries();
    state.counters["touched_pages"] = static_cast<double>(st.touched_pages());
    state.counters["model_MiB"] = static_cast<double>(st.memory_bytes()) / (1 << 20);
    state.counters["bytes_per_page"] = static_cast<double>(st.memory_bytes()) / static_cast<double>(st.touched_pages());
  }
}
BENCHMARK(BM_MemoryDense1GiBGuest)->Iterations(1)->Unit(benchmark::kMillisecond);

// One million pages touched at random across a 64 TiB host: nearly every page in its own
// 2 MiB region, the worst case for region-based storage.
void BM_MemoryScattered1M_64TiB(benchmark::State& state) {
  for (auto _ : state) {
    auto rmp = make_rmp(64ULL << 40);
    std::uint64_t x = 0x9E3779B97F4A7C15ULL;  // xorshift64: fixed sequence, no <random> in model
    const std::uint64_t pages = (64ULL << 40) >> kPageShift;
    for (std::uint64_t i = 0; i < (1ULL << 20); ++i) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      (void)rmp_make_private(*rmp, x % pages, 0, PageSize::Size4K, kAsid, false, kCtx);
    }
    const auto& st = rmp->entries();
    state.counters["touched_pages"] = static_cast<double>(st.touched_pages());
    state.counters["model_MiB"] = static_cast<double>(st.memory_bytes()) / (1 << 20);
    state.counters["bytes_per_page"] = static_cast<double>(st.memory_bytes()) / static_cast<double>(st.touched_pages());
  }
}
BENCHMARK(BM_MemoryScattered1M_64TiB)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
