// End to end on the simulator: a VMM launches an SNP guest from a firmware image plus kernel
// hashes (the synthetic image of ../shared/vectors/measure/firmware, with a kernel-hashes
// section), the guest validates memory, converts pages back and forth, and fetches an
// attestation report with certificates through the extended guest request. The report
// verifies, and its MEASUREMENT equals what `snplab measure` prints for the same inputs.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "snp/api/kvm.h"
#include "snp/api/sim_backend.h"
#include "snp/model/attest/attestation.h"
#include "snp/model/attest/cert_table.h"
#include "snp/model/host/kvm_host.h"
#include "snp/scenarios/measure_cli.h"
#include "ovmf_vm.h"

namespace snplab::api {
namespace {

namespace fs = std::filesystem;
using model::kPageSize;
using model::kvm::GuestOp;
using model::kvm::GuestRequestPages;

fs::path shared_dir() {
  if (const char* env = std::getenv("SNPLAB_SHARED_DIR")) return env;
  return SNPLAB_SHARED_DIR;
}

std::vector<std::uint8_t> slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// `snplab measure ARGS` as a user runs it; the printed line, without the newline.
std::string snplab_measure(std::vector<std::string> args) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  std::FILE* out = std::tmpfile();
  std::FILE* err = std::tmpfile();
  const int rc = scenarios::measure_main(static_cast<int>(argv.size()), argv.data(), out, err);
  std::string text, etext;
  std::rewind(out);
  for (int c; (c = std::fgetc(out)) != EOF;) text.push_back(static_cast<char>(c));
  std::rewind(err);
  for (int c; (c = std::fgetc(err)) != EOF;) etext.push_back(static_cast<char>(c));
  std::fclose(out);
  std::fclose(err);
  EXPECT_EQ(rc, 0) << etext;
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

std::string hex(std::span<const std::uint8_t> b) {
  std::string s;
  for (std::uint8_t x : b) s += fmt::format("{:02x}", x);
  return s;
}

TEST(EndToEnd, LaunchFromFirmwareAndKernelHashes_GuestAttests_MeasurementEqualsSnplabMeasure) {
  const fs::path dir = shared_dir() / "vectors" / "measure";
  const fs::path fw_path = dir / "firmware" / "fw-kh-1m.bin";
  const fs::path kernel_path = dir / "inputs" / "kernel.bin", initrd_path = dir / "inputs" / "initrd.bin";
  ASSERT_TRUE(fs::exists(fw_path)) << fw_path << " (the shared/ folder beside the project)";
  const auto image = slurp(fw_path), kernel = slurp(kernel_path), initrd = slurp(initrd_path);
  const std::string cmdline = "console=ttyS0 root=/dev/vda";

  auto backend = std::move(*make_sim_backend());
  testsupport::OvmfVmConfig cfg;
  cfg.kernel = model::KernelHashInputs{kernel, initrd, cmdline};
  auto launched = testsupport::OvmfVm::launch(*backend, image, cfg);
  ASSERT_TRUE(launched) << launched.error().to_string();
  testsupport::OvmfVm& vm = **launched;
  ASSERT_NE(vm.secrets_gpa(), 0u) << "the image has no SNP_SECRETS section";

  // The guest: validate fresh RAM, convert one page private -> shared -> private, make the
  // request/response/certificate pages shared, then the extended guest request.
  constexpr std::uint64_t kData = 0x200000, kReq = 0x300000, kResp = 0x301000, kCerts = 0x302000;
  GuestRequestPages pages;
  pages.secrets = vm.secrets_gpa();
  pages.req = kReq;
  pages.resp = kResp;
  pages.certs = kCerts;
  pages.cert_pages = 4;
  std::vector<GuestOp> prog;
  for (std::uint64_t i = 0; i < 16; ++i) prog.push_back(GuestOp::pvalidate(kData + i * kPageSize));
  prog.push_back(GuestOp::write(kData, true, 0x42));
  prog.push_back(GuestOp::pvalidate(kData, false));
  prog.push_back(GuestOp::map_gpa_range(kData, 1, false));
  prog.push_back(GuestOp::write(kData, false, 0x43));
  prog.push_back(GuestOp::map_gpa_range(kData, 1, true));
  prog.push_back(GuestOp::pvalidate(kData));
  prog.push_back(GuestOp::read(kData, true));
  prog.push_back(GuestOp::map_gpa_range(kReq, 6, false));
  prog.push_back(GuestOp::ext_guest_request(pages, 0x5C));
  prog.push_back(GuestOp::halt());
  ASSERT_TRUE(sim_load_guest(*backend, vm.vcpu().handle(), prog));

  // The VMM's run loop.
  model::kvm::Host& host = *sim_host(*backend);
  int exits = 0;
  for (;; ++exits) {
    ASSERT_LT(exits, 32) << "the guest does not finish";
    auto e = vm.vcpu().run();
    ASSERT_TRUE(e) << e.error().to_string();
    if (e->exit_reason == uapi::KVM_EXIT_HLT) break;
    if (e->exit_reason == uapi::KVM_EXIT_HYPERCALL) {
      ASSERT_EQ(e->hypercall.nr, uapi::KVM_HC_MAP_GPA_RANGE);
      const bool to_private = (e->hypercall.args[2] & uapi::KVM_MAP_GPA_RANGE_ENCRYPTED) != 0;
      ASSERT_TRUE(vm.convert(e->hypercall.args[0], e->hypercall.args[1] * kPageSize, to_private));
      ASSERT_TRUE(vm.vcpu().set_exit_ret(0));
    } else if (e->exit_reason == uapi::KVM_EXIT_SNP_REQ_CERTS) {
      const model::Firmware& fw = host.sev()->fw();
      const std::vector<model::CertTableBlob> blobs = {{model::kGuidVcek, fw.chip().vcek_cert(fw.reported_tcb())},
                                                       {model::kGuidAsk, fw.chip().ask_cert()},
                                                       {model::kGuidArk, fw.chip().ark_cert()}};
      auto table = model::encode_cert_table(blobs);
      ASSERT_TRUE(table);
      ASSERT_LE(table->size(), e->snp_req_certs.npages * kPageSize);
      ASSERT_TRUE(vm.ram_shared().write(e->snp_req_certs.gpa, *table));
      ASSERT_TRUE(vm.vcpu().set_exit_ret(0));
    } else {
      FAIL() << "unexpected exit " << e->exit_reason;
    }
  }
  const auto& log = *sim_guest_log(*backend, vm.vcpu().handle());
  ASSERT_FALSE(log.empty());
  for (const auto& line : log) EXPECT_EQ(line.find("#VC"), std::string::npos) << line;
  EXPECT_EQ(log.back(), "extended guest request: report verified (3 certificates, VCEK)");
  EXPECT_NE(std::find(log.begin(), log.end(), "read 0x200000 (private): 0x00"), log.end());  // fresh after the round trip

  const auto* raw = sim_guest_report(*backend, vm.vcpu().handle());
  ASSERT_NE(raw, nullptr);
  const auto report = model::parse_attestation_report(*raw);
  ASSERT_TRUE(report) << report.error().message;
  const std::string want = snplab_measure({"--mode", "snp", "--vcpus", "1", "--vcpu-sig",
                                           fmt::format("{:#x}", model::kvm::SevPlatform::kVcpuSignature), "--ovmf",
                                           fw_path.string(), "--kernel", kernel_path.string(), "--initrd",
                                           initrd_path.string(), "--append", cmdline});
  EXPECT_EQ(hex(report->measurement), want);

  vm.close();
  for (const auto& f : host.sev()->detectors().findings()) ADD_FAILURE() << f.describe();
}

// Several vCPUs: the VMM points the APs at the firmware's SEV-ES reset block with
// KVM_SET_SREGS/KVM_SET_REGS, and the launch digest equals `snplab measure --vcpus 4`.
TEST(EndToEnd, FourVcpus_ApsAtTheResetBlock_MeasurementEqualsSnplabMeasure) {
  const fs::path dir = shared_dir() / "vectors" / "measure";
  const fs::path fw_path = dir / "firmware" / "fw-kh-1m.bin";
  const auto image = slurp(fw_path);
  ASSERT_FALSE(image.empty()) << fw_path;
  auto backend = std::move(*make_sim_backend());
  testsupport::OvmfVmConfig cfg;
  cfg.vcpus = 4;
  auto launched = testsupport::OvmfVm::launch(*backend, image, cfg);
  ASSERT_TRUE(launched) << launched.error().to_string();
  model::kvm::Host& host = *sim_host(*backend);
  model::kvm::Vm* v = host.vm(host.vm_ids().front());
  const auto& m = host.sev()->fw().guest(model::pfn_to_spa(v->sev().gctx))->measurement;
  const std::string want = snplab_measure({"--mode", "snp", "--vcpus", "4", "--vcpu-sig",
                                           fmt::format("{:#x}", model::kvm::SevPlatform::kVcpuSignature), "--ovmf",
                                           fw_path.string()});
  EXPECT_EQ(hex(m), want);
  // The registers are the guest's now: KVM refuses them after LAUNCH_FINISH.
  auto regs = (*launched)->vcpu(1).get_regs();
  ASSERT_FALSE(regs.has_value());
  EXPECT_EQ(regs.error().errno_value, EINVAL);
  (*launched)->close();
  for (const auto& f : host.sev()->detectors().findings()) ADD_FAILURE() << f.describe();
}

}  // namespace
}  // namespace snplab::api
