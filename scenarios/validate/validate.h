// `snplab validate`: the property suite run against one backend from the command line, with
// a table, JSON and JUnit XML. The same properties run under GoogleTest
// (tests/property/kvm_stateful.cc), so a validation run on an EPYC host and CI check the same
// things. Written only against the API (api/kvm.h); the backend comes from a factory, so the
// suite runs unchanged on the simulator and on the real /dev/kvm and /dev/sev.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "snp/api/backend.h"

namespace snplab::validate {

using MakeBackend = std::function<api::Result<std::unique_ptr<api::Backend>>()>;

/// What a property run is given.
struct Context {
  std::string backend;     ///< "sim" or "hw"
  MakeBackend make;        ///< a fresh backend (a property may make several)
  int cases = 100;         ///< rapidcheck cases for the random properties
  std::uint64_t seed = 1;  ///< rapidcheck's seed: the same seed, the same cases
  bool allow_destructive = false;  ///< the hw backend was made with allow_destructive
  /// Why SNP cannot run here ("" when it can): the probe's snp_missing() on hw.
  std::string snp_missing;
};

struct Outcome {
  enum class Status { Passed, Failed, Skipped };
  Status status = Status::Passed;
  std::string detail;  ///< the counter-example (failed) or the exact reason (skipped)
  double seconds = 0;
};
std::string_view to_string(Outcome::Status s);

struct Property {
  std::string name;     ///< "kvm.command_sequences"
  std::string summary;  ///< one line
  std::function<Outcome(const Context&)> run;
};

/// Every property of the suite, in the order they run.
const std::vector<Property>& properties();

/// The stateful command-sequence property on one backend, or on several side by side (the
/// differential: every command's success, errno and bytes must agree). Passed, or Failed
/// with the shrunk sequence; Skipped when the first backend cannot open /dev/kvm.
Outcome command_sequences(const std::vector<std::pair<std::string, MakeBackend>>& backends, int cases,
                          std::uint64_t seed);

/// A simulator configured like the host behind `real` for the plain-KVM commands of the
/// differential: no SEV (default VMs only) and the memslot address spaces the real KVM reports
/// (2 with CONFIG_KVM_SMM, 1 without).
api::Result<std::unique_ptr<api::Backend>> sim_like(api::Backend& real);

}  // namespace snplab::validate
