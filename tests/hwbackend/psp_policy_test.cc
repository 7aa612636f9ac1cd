// The hw backend's refusal of destructive /dev/sev commands. Device paths that are not
// /dev/sev (here /dev/null, where SEV_ISSUE_CMD fails with ENOTTY) show where the refusal
// happens: EPERM means it never reached the kernel, ENOTTY that the ioctl was issued. No
// SEV hardware (and no /dev/kvm) is needed.
#include <gtest/gtest.h>

#include <cerrno>
#include <fstream>
#include <iterator>
#include <set>
#include <string>

#include "snp/api/kvm.h"
#include "snp/hw/kvm_backend.h"
#include "snp/hw/psp_policy.h"

namespace snplab::hw {
namespace {

std::unique_ptr<api::Backend> null_device_backend(bool allow_destructive) {
  KvmBackendOptions o;
  o.kvm_path = "/dev/null";
  o.sev_path = "/dev/null";
  o.allow_destructive = allow_destructive;
  auto b = make_kvm_backend(o);
  EXPECT_TRUE(b.has_value()) << b.error().to_string();
  return b ? std::move(*b) : nullptr;
}

/// What SEV_ISSUE_CMD of `id` gives on the /dev/null "device": the errno and the firmware
/// status word.
std::pair<int, std::uint32_t> issue(api::Backend& b, std::uint32_t id) {
  auto sev = api::SevDevice::open(b);
  EXPECT_TRUE(sev.has_value()) << sev.error().to_string();
  if (!sev) return {-1, 0};
  alignas(4096) static unsigned char page[4096];
  std::uint32_t fw = 0;
  const auto st = sev->issue_cmd(id, page, &fw);
  return {st.has_value() ? 0 : st.error().errno_value, fw};
}

TEST(PspPolicy, Table_CoversEveryUapiCommandOnceInOrder) {
  const auto cmds = psp_commands();
  ASSERT_EQ(cmds.size(), 13U);  // SEV_FACTORY_RESET (0) .. SNP_VLEK_LOAD (12), facts §8.7
  for (std::size_t i = 0; i < cmds.size(); ++i) EXPECT_EQ(cmds[i].id, i) << cmds[i].name;
  EXPECT_EQ(find_psp_command(13), nullptr);
}

TEST(PspPolicy, DestructiveSet_IsExactlyThePersistentAndPlatformWideCommands) {
  std::set<std::string> destructive, passing;
  for (const auto& c : psp_commands()) {
    (c.effect == PspEffect::Destructive ? destructive : passing).insert(std::string(c.name));
  }
  EXPECT_EQ(destructive, (std::set<std::string>{"SEV_FACTORY_RESET", "SEV_PEK_GEN", "SEV_PDH_GEN",
                                                "SEV_PEK_CERT_IMPORT", "SNP_COMMIT", "SNP_SET_CONFIG",
                                                "SNP_VLEK_LOAD"}));
  EXPECT_EQ(passing, (std::set<std::string>{"SEV_PLATFORM_STATUS", "SEV_PEK_CSR", "SEV_PDH_CERT_EXPORT",
                                            "SEV_GET_ID", "SEV_GET_ID2", "SNP_PLATFORM_STATUS"}));
}

TEST(PspPolicy, Refusal_NamesTheCommandWhatItDoesAndTheOptIn) {
  const auto r = check_psp_command(10, false);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->op, api::Op::SevIssueCmd);
  EXPECT_EQ(r->errno_value, EPERM);
  EXPECT_EQ(r->fw, api::FwStatus::NoFwCall);
  EXPECT_NE(r->detail.find("SNP_COMMIT (10)"), std::string::npos) << r->detail;
  EXPECT_NE(r->detail.find("rollback"), std::string::npos) << r->detail;
  EXPECT_NE(r->detail.find("allow_destructive"), std::string::npos) << r->detail;
  const auto unknown = check_psp_command(0x1234, false);
  ASSERT_TRUE(unknown.has_value());
  EXPECT_NE(unknown->detail.find("command 4660 is not one this backend knows"), std::string::npos) << unknown->detail;
  EXPECT_FALSE(check_psp_command(9, false).has_value());
  EXPECT_FALSE(check_psp_command(10, true).has_value());
  EXPECT_FALSE(check_psp_command(0x1234, true).has_value());
}

TEST(PspPolicy, ByDefault_DestructiveAndUnknownRefusedBeforeTheIoctl_OthersIssued) {
  auto b = null_device_backend(false);
  ASSERT_NE(b, nullptr);
  for (const auto& c : psp_commands()) {
    const auto [err, fw] = issue(*b, c.id);
    if (c.effect == PspEffect::Destructive) {
      EXPECT_EQ(err, EPERM) << c.name << " must be refused without reaching the device";
    } else {
      EXPECT_EQ(err, ENOTTY) << c.name << " must reach the device (/dev/null answers ENOTTY)";
    }
    EXPECT_EQ(fw, 0xFFFFFFFFU) << c.name << ": the firmware never ran";
  }
  for (std::uint32_t id : {13U, 14U, 0x100U, 0xFFFFFFFFU}) EXPECT_EQ(issue(*b, id).first, EPERM) << id;
}

TEST(PspPolicy, AllowDestructive_IssuesEveryCommand) {
  auto b = null_device_backend(true);
  ASSERT_NE(b, nullptr);
  for (const auto& c : psp_commands()) EXPECT_EQ(issue(*b, c.id).first, ENOTTY) << c.name;
  EXPECT_EQ(issue(*b, 13).first, ENOTTY);
}

TEST(PspPolicy, DefaultFactory_RefusesDestructive) {
  // make_kvm_backend(paths) has the default options: safe.
  auto b = make_kvm_backend("/dev/null", "/dev/null");
  ASSERT_TRUE(b.has_value()) << b.error().to_string();
  EXPECT_EQ(issue(**b, 11).first, EPERM);  // SNP_SET_CONFIG
}

TEST(PspPolicy, Docs_ListTheSameTable) {
  std::ifstream in(std::string(SNPLAB_SOURCE_DIR) + "/docs/hw-backend.md");
  ASSERT_TRUE(in) << "docs/hw-backend.md";
  const std::string doc{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  for (const auto& c : psp_commands()) {
    const std::string row = "| " + std::to_string(c.id) + " | `" + std::string(c.name) + "` | " +
                            std::string(to_string(c.effect)) + " |";
    EXPECT_NE(doc.find(row), std::string::npos) << "docs/hw-backend.md lacks the row starting " << row;
  }
}

}  // namespace
}  // namespace snplab::hw
