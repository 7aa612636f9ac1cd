// docs/kernel-map.md names every function the kernel model defines: each one is a kernel
// function's stand-in (with its kernel name beside it) or listed as model-only. A function
// added to model/host/src/ without a line in the map fails here.
#include <gtest/gtest.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <string>
#include <string_view>

namespace {

std::string read(const std::filesystem::path& p) {
  std::ifstream in(p);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// A kernel-style function name, optionally qualified by one class: "Vm::run_vcpu", "sev_init2".
bool is_function_name(std::string_view n) {
  if (const auto colons = n.find("::"); colons != std::string_view::npos) {
    const std::string_view cls = n.substr(0, colons);
    if (cls.empty() || !std::isupper(static_cast<unsigned char>(cls[0]))) return false;
    for (char c : cls) {
      if (!std::isalnum(static_cast<unsigned char>(c))) return false;
    }
    n = n.substr(colons + 2);
  }
  if (n.empty() || !(std::islower(static_cast<unsigned char>(n[0])) || n[0] == '_')) return false;
  for (char c : n) {
    if (!(std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '_')) {
      return false;
    }
  }
  return true;
}

/// Names of the functions defined at namespace scope in `src`: a line that starts (unindented)
/// with a return type, then the (qualified) name and "(". (No <regex>: GCC 12 at -O2 warns
/// inside libstdc++'s regex, and the presets build with -Werror.)
std::set<std::string> defined_functions(const std::string& src) {
  std::set<std::string> out;
  std::istringstream lines(src);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || !std::isalpha(static_cast<unsigned char>(line[0]))) continue;
    const auto paren = line.find('(');
    if (paren == std::string::npos) continue;
    const std::string_view head(line.data(), paren);
    if (head.find('=') != std::string_view::npos) continue;
    const auto sep = head.find_last_of(" *&");
    if (sep == std::string_view::npos) continue;
    const std::string_view name = head.substr(sep + 1);
    if (is_function_name(name)) out.insert(std::string(name));
  }
  return out;
}

TEST(KernelMap, EveryModelFunctionIsListed) {
  const std::filesystem::path root = SNPLAB_SOURCE_DIR;
  const std::string map = read(root / "docs/kernel-map.md");
  ASSERT_FALSE(map.empty()) << "docs/kernel-map.md";
  std::size_t checked = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(root / "model/host/src")) {
    if (e.path().extension() != ".cc") continue;
    const std::string file = std::filesystem::relative(e.path(), root).string();
    // Each snplab file of the host is named in the map beside the kernel file it stands for.
    EXPECT_NE(map.find("`" + file + "`"), std::string::npos) << file << " is not named in docs/kernel-map.md";
    for (const std::string& fn : defined_functions(read(e.path()))) {
      ++checked;
      EXPECT_NE(map.find("`" + fn + "`"), std::string::npos) << fn << " (" << file << ") is not in docs/kernel-map.md";
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
