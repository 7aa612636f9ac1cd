// The command-line framework every snplab command uses: CLI11, with the exit-code scheme of
// docs/cli.md (0 / 1 / 2) and strict numbers. CLI11 2.1's own unsigned conversion takes "-1"
// as 2^64-1, saturates past 2^64 and reads a leading 0 as octal, so numeric options here are
// parsed by strict_u64(): decimal, or 0x and hex digits, within a range the error names.
#pragma once

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>

namespace snplab::scenarios::cli {

/// Exit codes shared by every command (docs/cli.md).
inline constexpr int kExitOk = 0;        ///< the command did what was asked, the expectation held
inline constexpr int kExitNo = 1;        ///< it ran, and the answer is no (a failed check, a finding not reproduced)
inline constexpr int kExitUsage = 2;     ///< bad usage or bad input: nothing was decided

/// `text` as an unsigned number in [lo, hi]: decimal digits, or 0x/0X and hex digits.
std::optional<std::uint64_t> strict_u64(std::string_view text, std::uint64_t lo, std::uint64_t hi);

/// An unsigned option parsed by strict_u64(); out of range or not a number is a usage error
/// naming the option and the range.
CLI::Option* add_u64(CLI::App& app, const std::string& name, std::optional<std::uint64_t>& target, std::uint64_t lo,
                     std::uint64_t hi, const std::string& description);
CLI::Option* add_u64(CLI::App& app, const std::string& name, std::uint64_t& target, std::uint64_t lo, std::uint64_t hi,
                     const std::string& description);

/// Parses the arguments after the command's name with `app`. nullopt: go on. Otherwise the
/// exit code: 0 after --help (the help of the (sub)command asked, on `out`), 2 after a usage
/// error (the message, prefixed with `prog` and `error_word`, and where to find help, on `err`).
std::optional<int> parse(CLI::App& app, std::string_view prog, int argc, char** argv, std::FILE* out, std::FILE* err,
                         std::string_view error_word = {});

}  // namespace snplab::scenarios::cli
