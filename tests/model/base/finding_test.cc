// FindingKind: one name per kind, stable and distinct, and the name reads back as the kind -
// traces, JSON results and oracles all rely on it.
#include <gtest/gtest.h>

#include <cctype>
#include <set>
#include <sstream>
#include <string>

#include <fmt/format.h>

#include "snp/model/base/finding.h"

namespace snplab::model {
namespace {

TEST(FindingKind, EveryKindHasADistinctKebabCaseNameThatReadsBack) {
  std::set<std::string> names;
  ASSERT_EQ(finding_kinds().size(), kFindingKinds);
  for (const FindingKind k : finding_kinds()) {
    const std::string n(to_string(k));
    EXPECT_TRUE(names.insert(n).second) << n << " names two kinds";
    ASSERT_FALSE(n.empty());
    for (char c : n) EXPECT_TRUE(std::islower(static_cast<unsigned char>(c)) || c == '-') << n;
    EXPECT_EQ(finding_kind_from(n), k) << n;
    EXPECT_EQ(fmt::format("{}", k), n);
    std::ostringstream os;
    os << k;
    EXPECT_EQ(os.str(), n);
  }
  EXPECT_EQ(finding_kind_from("no-such-finding"), std::nullopt);
  EXPECT_EQ(to_string(FindingKind::DataRace), "data-race");
  EXPECT_EQ(to_string(FindingKind::HostRmpFault), "host-rmp-fault");
}

}  // namespace
}  // namespace snplab::model
