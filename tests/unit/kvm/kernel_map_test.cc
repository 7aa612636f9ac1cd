// docs/kernel-map.md names every function the kernel model defines: each one is a kernel
// function's stand-in (with its kernel name beside it) or listed as model-only. A function
// added to model/src/kvm/ without a line in the map fails here.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <set>
#include <sstream>
#include <string>

namespace {

std::string read(const std::filesystem::path& p) {
  std::ifstream in(p);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// Names of the functions defined at namespace scope in `src`: "Vm::run_vcpu", "sev_init2".
std::set<std::string> defined_functions(const std::string& src) {
  // A definition starts a line: a return type, then the (qualified) name and "(".
  static const std::regex def(R"(^[A-Za-z_][A-Za-z_0-9:<>, *&]*[ *&]((?:[A-Z][A-Za-z]*::)?[a-z_][a-z_0-9]*)\()");
  std::set<std::string> out;
  std::istringstream lines(src);
  std::smatch m;
  for (std::string line; std::getline(lines, line);) {
    if (std::regex_search(line, m, def)) out.insert(m[1].str());
  }
  return out;
}

TEST(KernelMap, EveryModelFunctionIsListed) {
  const std::filesystem::path root = SNPLAB_SOURCE_DIR;
  const std::string map = read(root / "docs/kernel-map.md");
  ASSERT_FALSE(map.empty()) << "docs/kernel-map.md";
  std::size_t checked = 0;
  for (const auto& e : std::filesystem::directory_iterator(root / "model/src/kvm")) {
    if (e.path().extension() != ".cc") continue;
    for (const std::string& fn : defined_functions(read(e.path()))) {
      ++checked;
      EXPECT_NE(map.find("`" + fn + "`"), std::string::npos)
          << fn << " (" << e.path().filename().string() << ") is not in docs/kernel-map.md";
    }
  }
  EXPECT_GT(checked, 50U) << "the scan found too few functions: the pattern no longer matches the code";
}

TEST(KernelMap, ScanFindsQualifiedAndFreeDefinitions) {
  const auto fns = defined_functions(
      "int Vm::create_vcpu(unsigned long id) {\n"
      "std::optional<Exit> Vm::step(VcpuRun& v) {\n"
      "int sev_init2(Vm& vm, const SevInit2Args& a) {\n"
      "  if (x) foo(1);\n");
  EXPECT_EQ(fns, (std::set<std::string>{"Vm::create_vcpu", "Vm::step", "sev_init2"}));
}

}  // namespace
