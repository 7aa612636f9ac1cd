#include "cli.h"

#include <algorithm>
#include <charconv>
#include <sstream>
#include <vector>

#include <fmt/format.h>

namespace snplab::scenarios::cli {

std::optional<std::uint64_t> strict_u64(std::string_view text, std::uint64_t lo, std::uint64_t hi) {
  int base = 10;
  if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
    text.remove_prefix(2);
    base = 16;
  }
  if (text.empty()) return std::nullopt;
  std::uint64_t v = 0;
  const char* end = text.data() + text.size();
  const auto r = std::from_chars(text.data(), end, v, base);
  if (r.ec != std::errc{} || r.ptr != end || v < lo || v > hi) return std::nullopt;
  return v;
}

namespace {

CLI::Option* add_strict(CLI::App& app, const std::string& name, std::uint64_t lo, std::uint64_t hi,
                        const std::string& description, std::function<void(std::uint64_t)> store) {
  const std::string flag = name.substr(0, name.find(','));
  auto* opt = app.add_option_function<std::string>(
      name,
      [=](const std::string& s) {
        const auto v = strict_u64(s, lo, hi);
        if (!v) {
          throw CLI::ValidationError(flag, fmt::format("'{}' is not a number from {} to {} (decimal, or 0x hex)", s, lo, hi));
        }
        store(*v);
      },
      description);
  opt->type_name("N");
  return opt;
}

}  // namespace

CLI::Option* add_u64(CLI::App& app, const std::string& name, std::optional<std::uint64_t>& target, std::uint64_t lo,
                     std::uint64_t hi, const std::string& description) {
  return add_strict(app, name, lo, hi, description, [&target](std::uint64_t v) { target = v; });
}

CLI::Option* add_u64(CLI::App& app, const std::string& name, std::uint64_t& target, std::uint64_t lo, std::uint64_t hi,
                     const std::string& description) {
  return add_strict(app, name, lo, hi, description, [&target](std::uint64_t v) { target = v; });
}

std::optional<int> parse(CLI::App& app, std::string_view prog, int argc, char** argv, std::FILE* out, std::FILE* err,
                         std::string_view error_word) {
  std::vector<std::string> args(argv, argv + argc);
  if (!args.empty() && args[0] == "help") args[0] = "--help";  // `snplab help`, `snplab report help`
  if (!args.empty() && args[0] == "version") args[0] = "--version";
  std::reverse(args.begin(), args.end());  // CLI11 takes a vector last argument first
  try {
    app.parse(args);
  } catch (const CLI::Success& e) {  // --help, --help-all, --version
    std::ostringstream o, x;
    (void)app.exit(e, o, x);
    fmt::print(out, "{}{}", o.str(), x.str());
    return kExitOk;
  } catch (const CLI::ParseError& e) {
    // Help for the (sub)command the error is in: the deepest one parsed so far.
    std::string where(prog);
    for (const CLI::App* a = &app; !a->get_subcommands().empty();) {
      a = a->get_subcommands().front();
      where += " " + a->get_name();
    }
    fmt::print(err, "{}: {}{}\nRun '{} --help' for the options.\n", prog, error_word, e.what(), where);
    return kExitUsage;
  }
  return std::nullopt;
}

}  // namespace snplab::scenarios::cli
