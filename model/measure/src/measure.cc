#include "snp/model/measure/measure.h"

#include <algorithm>
#include <vector>

#include <tbb/blocked_range.h>
#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_for.h>
#include <tbb/task_group.h>

#include "snp/model/base/assert.h"

namespace snplab::model {

PageInfo make_page_info(const Sha384Digest& digest_cur, PageType type, Gpa gpa, const Sha384Digest& contents,
                        const PageInfoFlags& flags) {
  PageInfo info;
  info.digest_cur = digest_cur;
  info.contents = contents;
  info.length = static_cast<std::uint16_t>(kPageInfoSize);
  info.page_type = static_cast<std::uint8_t>(type);
  info.imi_page = flags.imi_page ? 1 : 0;
  info.vmpl1_perms = flags.vmpl1_perms;
  info.vmpl2_perms = flags.vmpl2_perms;
  info.vmpl3_perms = flags.vmpl3_perms;
  info.gpa = gpa;
  return info;
}

std::array<std::uint8_t, kPageInfoSize> to_bytes(const PageInfo& info) {
  return std::bit_cast<std::array<std::uint8_t, kPageInfoSize>>(info);
}

Sha384Digest page_contents(PageType t, std::span<const std::uint8_t, kPageSize> page) {
  return hashes_contents(t) ? sha384(page) : kZeroDigest;
}

LaunchDigest::LaunchDigest() = default;
LaunchDigest::LaunchDigest(const Sha384Digest& start) : ld_(start) {}
LaunchDigest::~LaunchDigest() = default;
LaunchDigest::LaunchDigest(const LaunchDigest& other) = default;
LaunchDigest& LaunchDigest::operator=(const LaunchDigest& other) = default;
LaunchDigest::LaunchDigest(LaunchDigest&&) noexcept = default;
LaunchDigest& LaunchDigest::operator=(LaunchDigest&&) noexcept = default;

PageInfo LaunchDigest::update_page(PageType t, Gpa gpa, std::span<const std::uint8_t, kPageSize> page,
                                   const PageInfoFlags& flags) {
  return update_contents(t, gpa, page_contents(t, page), flags);
}

PageInfo LaunchDigest::update_contents(PageType t, Gpa gpa, const Sha384Digest& contents,
                                       const PageInfoFlags& flags) {
  const PageInfo info = make_page_info(ld_, t, gpa, contents, flags);
  ld_ = sha384(to_bytes(info));
  return info;
}

namespace {

void check_normal_run(Gpa start_gpa, std::span<const std::uint8_t> data) {
  SNPLAB_ASSERT(data.size() % kPageSize == 0, "NORMAL pages must be whole 4 KiB pages");
  SNPLAB_ASSERT(start_gpa <= UINT64_MAX - data.size(), "NORMAL page run wraps the GPA space");
}

std::span<const std::uint8_t, kPageSize> page_at(std::span<const std::uint8_t> data, std::size_t index) {
  return data.subspan(index * kPageSize).first<kPageSize>();
}

// Pages per batch: bounds the scratch memory (48 bytes per page) while giving each core
// enough work to amortise the fork/join.
constexpr std::size_t kBatchPages = 8192;  // 32 MiB of data, 384 KiB of hashes
// Below this many pages the parallel version is not worth the task overhead.
constexpr std::size_t kParallelMinPages = 64;
constexpr std::size_t kGrainPages = 32;

}  // namespace

void measure_normal_pages(LaunchDigest& ld, Gpa start_gpa, std::span<const std::uint8_t> data) {
  check_normal_run(start_gpa, data);
  const std::size_t pages = data.size() / kPageSize;
  for (std::size_t i = 0; i < pages; ++i) {
    ld.update_page(PageType::Normal, start_gpa + i * kPageSize, page_at(data, i));
  }
}

void measure_normal_pages_parallel(LaunchDigest& ld, Gpa start_gpa, std::span<const std::uint8_t> data) {
  check_normal_run(start_gpa, data);
  const std::size_t pages = data.size() / kPageSize;
  if (pages < kParallelMinPages) {
    measure_normal_pages(ld, start_gpa, data);
    return;
  }
  // Each page's CONTENTS depends only on the page, so the hashes may be computed in any
  // order on any core; only the chain through PAGE_INFO is sequential. Batches are
  // double-buffered: while this thread chains batch k, the workers hash batch k+1.
  tbb::enumerable_thread_specific<Sha384> hashers;
  auto hash_batch = [&](std::size_t first, std::vector<Sha384Digest>& out) {
    const std::size_t count = std::min(kBatchPages, pages - first);
    out.resize(count);
    tbb::parallel_for(tbb::blocked_range<std::size_t>(0, count, kGrainPages),
                      [&](const tbb::blocked_range<std::size_t>& r) {
                        Sha384& h = hashers.local();
                        for (std::size_t i = r.begin(); i != r.end(); ++i) {
                          h.update(page_at(data, first + i));
                          out[i] = h.finish();
                        }
                      });
  };
  std::vector<Sha384Digest> ready;
  std::vector<Sha384Digest> next;
  hash_batch(0, ready);
  for (std::size_t first = 0; first < pages; first += kBatchPages) {
    tbb::task_group workers;
    const std::size_t following = first + kBatchPages;
    if (following < pages) workers.run([&] { hash_batch(following, next); });
    for (std::size_t i = 0; i < ready.size(); ++i) {
      ld.update_contents(PageType::Normal, start_gpa + (first + i) * kPageSize, ready[i]);
    }
    workers.wait();  // this thread joins the hashing of the next batch once its chain is done
    std::swap(ready, next);
  }
}

void sha384_pages_parallel(std::span<const std::uint8_t> data, std::span<Sha384Digest> out) {
  SNPLAB_ASSERT(data.size() == out.size() * kPageSize, "one digest per 4 KiB page");
  tbb::parallel_for(tbb::blocked_range<std::size_t>(0, out.size(), kGrainPages),
                    [&](const tbb::blocked_range<std::size_t>& r) {
                      for (std::size_t i = r.begin(); i != r.end(); ++i) out[i] = sha384(page_at(data, i));
                    });
}

}  // namespace snplab::model
