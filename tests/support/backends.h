// The explicit backend list every backend-parameterised suite runs over (STYLE.md 3.5): the
// simulator and the real /dev/kvm, each with its case budget, and the fixture that opens the
// backend and /dev/kvm or skips with the reason.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>

#include "snp/api/kvm.h"
#include "snp/api/sim_backend.h"
#include "snp/hw/kvm_backend.h"

namespace snplab::test {

struct BackendCase {
  std::string name;
  std::function<api::Result<std::unique_ptr<api::Backend>>()> make;
  int max_success;  // real hardware is slow: fewer cases per property
};

/// GoogleTest prints a case by its backend's name ("sim", "hw"), not its bytes.
inline void PrintTo(const BackendCase& c, std::ostream* os) { *os << c.name; }

/// sim and hw, in that order (the same list for every suite).
inline auto all_backends() {
  return ::testing::Values(BackendCase{"sim", [] { return api::make_sim_backend(); }, 300},
                           BackendCase{"hw", [] { return hw::make_kvm_backend(); }, 200});
}

/// Opens the backend and a /dev/kvm handle on it; skips naming what failed.
class BackendTest : public ::testing::TestWithParam<BackendCase> {
 protected:
  void SetUp() override {
    auto b = GetParam().make();
    if (!b) GTEST_SKIP() << GetParam().name << ": " << b.error().to_string();
    backend_ = std::move(*b);
    auto kvm = api::Kvm::open(*backend_);
    if (!kvm) GTEST_SKIP() << GetParam().name << ": " << kvm.error().to_string();
    kvm_.emplace(std::move(*kvm));
  }

  std::unique_ptr<api::Backend> backend_;
  std::optional<api::Kvm> kvm_;
};

}  // namespace snplab::test
