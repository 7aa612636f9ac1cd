// Runs a command-line entry point (`int f(int argc, char** argv, FILE* out, FILE* err)`) on
// arguments and returns its exit code and what it wrote, for CLI tests.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

namespace snplab::testsupport {

struct Captured {
  int code = -1;
  std::string out, err;
};

/// Reads `f` from the start and closes it.
inline std::string read_and_close(std::FILE* f) {
  std::string s;
  std::rewind(f);
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) s.append(buf, n);
  std::fclose(f);
  return s;
}

template <class Main>
Captured run_captured(Main&& entry, std::vector<std::string> args) {
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  std::FILE* out = std::tmpfile();
  std::FILE* err = std::tmpfile();
  Captured r;
  r.code = entry(static_cast<int>(argv.size()), argv.data(), out, err);
  r.out = read_and_close(out);
  r.err = read_and_close(err);
  return r;
}

}  // namespace snplab::testsupport
