// The hw backend's probe against the real /dev/kvm of this machine. Skips, naming the
// missing device, where there is none.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "snp/hw/probe.h"

namespace snplab::hw {
namespace {

bool have_kvm() {
  const int fd = ::open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (fd < 0) return false;
  ::close(fd);
  return true;
}

TEST(Probe, DevKvm_AnswersApiVersion12) {
  if (!have_kvm()) GTEST_SKIP() << "hw: open /dev/kvm: errno=" << errno;
  auto r = probe();
  ASSERT_TRUE(r.has_value()) << r.error().to_string();
  EXPECT_EQ(r->api_version, 12);  // KVM_API_VERSION, unchanged since 2.6.22
}

TEST(Probe, DevKvm_ReportsEveryCapabilityItAsked) {
  if (!have_kvm()) GTEST_SKIP() << "hw: open /dev/kvm: errno=" << errno;
  auto r = probe();
  ASSERT_TRUE(r.has_value()) << r.error().to_string();
  ASSERT_FALSE(r->caps.empty());
  for (const CapValue& c : r->caps) {
    EXPECT_GE(c.value, 0) << c.name << " failed with errno " << c.errno_value;
  }
  // KVM_CAP_VM_TYPES always includes the default VM type when present.
  EXPECT_NE(r->vm_types & 1U, 0U);
}

TEST(Probe, SnpMissing_NamesTheFirstMissingPiece) {
  if (!have_kvm()) GTEST_SKIP() << "hw: open /dev/kvm: errno=" << errno;
  auto r = probe("/dev/kvm", "/nonexistent/sev");
  ASSERT_TRUE(r.has_value()) << r.error().to_string();
  EXPECT_FALSE(r->sev.present);
  const std::string why = r->snp_missing();
  // With no /dev/sev SNP cannot be supported, whatever else this kernel offers.
  EXPECT_FALSE(why.empty());
  EXPECT_NE(r->describe().find("SNP guests: unsupported"), std::string::npos);
}

TEST(Probe, MissingKvmDevice_FailsWithOpenErrno) {
  auto r = probe("/nonexistent/kvm", "/nonexistent/sev");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().op, snplab::api::Op::OpenDevKvm);
  EXPECT_EQ(r.error().errno_value, ENOENT);
  EXPECT_EQ(r.error().fw, api::FwStatus::NoFwCall);
  EXPECT_NE(r.error().to_string().find("errno=2"), std::string::npos);
}

}  // namespace
}  // namespace snplab::hw
