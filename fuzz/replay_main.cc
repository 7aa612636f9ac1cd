// Runs LLVMFuzzerTestOneInput over files and directories, without libFuzzer: the checked-in
// corpus becomes a CTest test under g++ (STYLE.md 3.5), and a crash file replays as
// `snplab_fuzz_<target>_replay crash-XXXX`.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

bool run_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "replay: cannot read %s\n", p.c_str());
    return false;
  }
  const std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  LLVMFuzzerTestOneInput(bytes.data(), bytes.size());
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s FILE_OR_DIR...\n", argv[0]);
    return 2;
  }
  std::size_t n = 0;
  for (int i = 1; i < argc; ++i) {
    const std::filesystem::path p(argv[i]);
    std::error_code ec;
    if (std::filesystem::is_directory(p, ec)) {
      for (const auto& e : std::filesystem::directory_iterator(p)) {
        if (e.is_regular_file() && !run_file(e.path())) return 1;
        n += e.is_regular_file() ? 1U : 0U;
      }
    } else {
      if (!run_file(p)) return 1;
      ++n;
    }
  }
  std::printf("replayed %zu inputs: %zu passed, 0 failed\n", n, n);
  return n == 0 ? 1 : 0;
}
