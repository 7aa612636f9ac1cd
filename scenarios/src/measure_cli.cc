// `snplab measure`: sev-snp-measure 0.0.13's command line in front of the pure calculator in
// model/guest_measure.h. This layer parses arguments, reads the files and prints; every
// byte of the measurement comes from model/. Choices where sev-snp-measure's behaviour is
// odd are listed in docs/measure.md.
#include "snp/scenarios/measure_cli.h"


#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <variant>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli.h"

#include "snp/model/crypto/crypto.h"
#include "snp/model/measure/guest_measure.h"
#include "snp/model/measure/ovmf.h"
#include "snp/model/measure/vmsa.h"
#include "snp/scenarios/input_file.h"

namespace snplab::scenarios {

namespace {

namespace m = snplab::model;

constexpr int kUsageError = 2;  // argparse's exit code for bad usage
constexpr int kInputError = 1;  // any other failure
constexpr std::uint64_t kMaxVcpus = 4096;  // KVM's largest KVM_MAX_VCPUS on x86

/// A failure with the exit code sev-snp-measure would use for it.
struct CliError {
  int rc = kInputError;
  std::string message;
};

CliError usage(std::string message) { return CliError{kUsageError, std::move(message)}; }
CliError input(std::string message) { return CliError{kInputError, std::move(message)}; }

// ---- arguments ----------------------------------------------------------------------------

/// The arguments as typed; run() checks and converts them in sev-snp-measure's order.
struct Args {
  std::optional<std::string> mode, vcpus, vcpu_type, vcpu_sig, vcpu_family, vcpu_model, vcpu_stepping, vmm_type,
      ovmf, kernel, initrd, append, guest_features, output_format, snp_ovmf_hash, svsm, vars_size, vars_file;
  bool verbose = false, dump_vmsa = false, json = false;
};

// ---- values -------------------------------------------------------------------------------

/// An integer as Python's int() reads it: sign, magnitude, and whether it exceeds 64 bits.
struct PyInt {
  bool negative = false;
  std::uint64_t magnitude = 0;
  bool overflow = false;
};

int digit_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'z') return c - 'a' + 10;
  if (c >= 'A' && c <= 'Z') return c - 'A' + 10;
  return 99;
}

/// Python's int(s) (base 10; leading zeros allowed) or int(s, 0) (`auto_base`: 0x/0o/0b
/// prefixes, no leading zeros in decimal). Both allow surrounding whitespace, a sign and
/// single underscores between digits.
std::optional<PyInt> parse_py_int(std::string_view s, bool auto_base) {
  constexpr std::string_view kSpace = " \t\n\r\f\v";
  const auto first = s.find_first_not_of(kSpace);
  if (first == std::string_view::npos) return std::nullopt;
  s = s.substr(first, s.find_last_not_of(kSpace) - first + 1);
  PyInt r;
  if (s.front() == '+' || s.front() == '-') {
    r.negative = s.front() == '-';
    s.remove_prefix(1);
  }
  unsigned base = 10;
  bool underscore_ok = false;  // an underscore may follow a digit or a base prefix
  if (auto_base && s.size() >= 2 && s[0] == '0') {
    const char p = static_cast<char>(s[1] | 0x20);
    if (p == 'x' || p == 'o' || p == 'b') {
      base = p == 'x' ? 16 : p == 'o' ? 8 : 2;
      s.remove_prefix(2);
      underscore_ok = true;
    }
  }
  if (s.empty()) return std::nullopt;
  bool any_digit = false;
  bool nonzero_seen = false;
  bool leading_zero = false;
  for (const char c : s) {
    if (c == '_') {
      if (!underscore_ok) return std::nullopt;
      underscore_ok = false;
      continue;
    }
    const int d = digit_value(c);
    if (d >= static_cast<int>(base)) return std::nullopt;
    if (auto_base && base == 10) {  // int(x, 0) rejects "033": a decimal may not start with 0
      if (!any_digit && d == 0) leading_zero = true;
      if (leading_zero && d != 0) return std::nullopt;
    }
    any_digit = true;
    underscore_ok = true;
    nonzero_seen = nonzero_seen || d != 0;
    const auto ud = static_cast<std::uint64_t>(d);
    if (r.magnitude > (UINT64_MAX - ud) / base) {
      r.overflow = true;
    } else {
      r.magnitude = r.magnitude * base + ud;
    }
  }
  if (!any_digit || !underscore_ok) return std::nullopt;  // trailing underscore
  if (!nonzero_seen) r.negative = false;
  return r;
}

/// A non-negative integer option no larger than `max`.
std::variant<std::uint64_t, CliError> int_option(std::string_view option, const std::string& text, bool auto_base,
                                                 std::uint64_t max, std::string_view what) {
  const std::optional<PyInt> v = parse_py_int(text, auto_base);
  if (!v) {
    return usage(fmt::format("argument {}: invalid value '{}' (expected {})", option, text,
                             auto_base ? "an integer: decimal, or hex/octal/binary with 0x/0o/0b" : "a decimal integer"));
  }
  if (v->negative) return usage(fmt::format("argument {}: {} must not be negative (got '{}')", option, what, text));
  if (v->overflow || v->magnitude > max) {
    return usage(fmt::format("argument {}: {} must be at most {} (got '{}')", option, what,
                             auto_base ? fmt::format("{:#x}", max) : fmt::format("{}", max), text));
  }
  return v->magnitude;
}

/// bytes.fromhex(): pairs of hex digits, whitespace allowed between pairs.
std::variant<m::Sha384Digest, CliError> parse_ovmf_hash(std::string_view text) {
  std::vector<std::uint8_t> bytes;
  for (std::size_t i = 0; i < text.size();) {
    const char c = text[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
      ++i;
      continue;
    }
    const int hi = digit_value(c);
    const int lo = i + 1 < text.size() ? digit_value(text[i + 1]) : 99;
    if (hi >= 16 || lo >= 16) {
      const std::size_t bad = hi >= 16 ? i : i + 1;
      return input(bad < text.size()
                       ? fmt::format("--snp-ovmf-hash is not hexadecimal: '{}' at position {}", text[bad], bad)
                       : std::string("--snp-ovmf-hash has an odd number of hex digits"));
    }
    bytes.push_back(static_cast<std::uint8_t>(hi * 16 + lo));
    i += 2;
  }
  m::Sha384Digest d{};
  if (bytes.size() != d.size()) {
    return input(fmt::format("--snp-ovmf-hash must be a SHA-384 digest of {} bytes ({} hex digits), got {} bytes",
                             d.size(), 2 * d.size(), bytes.size()));
  }
  std::copy(bytes.begin(), bytes.end(), d.begin());
  return d;
}

std::string base64(std::span<const std::uint8_t> data) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (std::size_t i = 0; i < data.size(); i += 3) {
    const std::size_t n = std::min<std::size_t>(3, data.size() - i);
    std::uint32_t v = static_cast<std::uint32_t>(data[i]) << 16;
    if (n > 1) v |= static_cast<std::uint32_t>(data[i + 1]) << 8;
    if (n > 2) v |= data[i + 2];
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(n > 1 ? kAlphabet[(v >> 6) & 63] : '=');
    out.push_back(n > 2 ? kAlphabet[v & 63] : '=');
  }
  return out;
}

// ---- files --------------------------------------------------------------------------------

std::variant<std::vector<std::uint8_t>, CliError> read_file(std::string_view option, const std::string& path) {
  const std::uint64_t limit = option == "--initrd"   ? kMaxInitrdFile
                              : option == "--kernel" ? kMaxKernelFile
                                                     : kMaxFirmwareFile;
  std::string why;
  auto data = read_input_file(path, limit, fmt::format("the {} file", option), &why);
  if (!data) return input(why);
  return std::move(*data);
}

// ---- the command line (CLI11) -------------------------------------------------------------

/// The CLI11 check of an integer option read as Python's int() reads it (int_option()).
CLI::Validator py_int(std::string option, bool auto_base, std::uint64_t max, std::string what) {
  return CLI::Validator(
      [=](std::string& text) {
        auto v = int_option(option, text, auto_base, max, what);
        const auto* e = std::get_if<CliError>(&v);
        return e == nullptr ? std::string() : e->message.substr(e->message.find(": ") + 2);
      },
      "");
}

/// sev-snp-measure's options, with its help texts' meaning. Every value is kept as typed
/// (the last one given wins, as in argparse); run() reads them.
void define(CLI::App& app, Args& a) {
  app.set_help_flag("-h,--help", "show this help and exit");
  app.set_version_flag("--version", std::string("snplab measure ") + SNPLAB_VERSION + " (follows sev-snp-measure 0.0.13)",
                       "show the version and the sev-snp-measure version this follows, and exit");
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.add_flag("-v,--verbose", a.verbose, "print 'Calculated <MODE> guest measurement: <value>'")
      ->disable_flag_override();
  app.add_option("--mode", a.mode, "sev, seves, snp, snp:ovmf-hash (the firmware pages only) or snp:svsm (required)")
      ->type_name("MODE");
  app.add_option("--vcpus", a.vcpus, "number of guest vCPUs (all modes but sev; at most 4096, KVM's KVM_MAX_VCPUS)")
      ->check(py_int("--vcpus", false, kMaxVcpus, "the number of vCPUs"))
      ->type_name("N");
  std::string types;
  for (const m::VcpuType& t : m::vcpu_types()) types += fmt::format("{}{}", types.empty() ? "" : ", ", t.name);
  app.add_option("--vcpu-type", a.vcpu_type, "guest vCPU type: " + types)->type_name("CPUTYPE");
  app.add_option("--vcpu-sig", a.vcpu_sig, "guest vCPU signature (CPUID Fn0000_0001_EAX), e.g. 0xa00f11")
      ->check(py_int("--vcpu-sig", true, UINT32_MAX, "a CPUID signature (32 bits)"))
      ->type_name("INT");
  app.add_option("--vcpu-family", a.vcpu_family, "guest vCPU family (with --vcpu-model and --vcpu-stepping)")
      ->check(py_int("--vcpu-family", false, 0xF + 0xFF, "the family"))
      ->type_name("N");
  app.add_option("--vcpu-model", a.vcpu_model, "guest vCPU model")->check(py_int("--vcpu-model", false, 0xFF, "the model"))
      ->type_name("N");
  app.add_option("--vcpu-stepping", a.vcpu_stepping, "guest vCPU stepping")
      ->check(py_int("--vcpu-stepping", false, 0xF, "the stepping"))
      ->type_name("N");
  app.add_option("--vmm-type", a.vmm_type, "QEMU (default), ec2 or gce")->type_name("VMMTYPE");
  app.add_option("--ovmf", a.ovmf, "the OVMF firmware image (required)")->type_name("PATH");
  app.add_option("--kernel", a.kernel, "kernel whose hash QEMU puts in the SEV hash table")->type_name("PATH");
  app.add_option("--initrd", a.initrd, "initrd (needs --kernel)")->type_name("PATH");
  app.add_option("--append", a.append, "kernel command line (needs --kernel)")->type_name("CMDLINE");
  app.add_option("--guest-features", a.guest_features, "SEV_FEATURES of SNP VMSAs, decimal or 0x-hex (default 0x1)")
      ->check(py_int("--guest-features", true, UINT64_MAX, "the 64-bit SEV_FEATURES value"))
      ->type_name("INT");
  app.add_option("--output-format", a.output_format, "hex (default) or base64")->type_name("FMT");
  app.add_option("--snp-ovmf-hash", a.snp_ovmf_hash, "the 48-byte digest of the firmware pages (snp:ovmf-hash), hex")
      ->type_name("HASH");
  app.add_flag("--dump-vmsa", a.dump_vmsa, "write each measured VMSA to vmsa<N>.bin (seves, snp, snp:svsm)")
      ->disable_flag_override();
  app.add_option("--svsm", a.svsm, "snp:svsm: the SVSM image")->type_name("PATH");
  app.add_option("--vars-size", a.vars_size, "snp:svsm: the size of the OVMF_VARS area in bytes")
      ->check(py_int("--vars-size", false, m::kFirmwareEndGpa, "the vars size"))
      ->type_name("SIZE");
  app.add_option("--vars-file", a.vars_file, "snp:svsm: the OVMF_VARS file (only its size is used)")->type_name("PATH");
  app.add_flag("--json", a.json, "one JSON document instead of the measurement line (schema snplab.measure/1; "
                                 "not in sev-snp-measure)")
      ->disable_flag_override();
  app.footer("Exit status: 0 with the measurement printed, 2 for bad usage, 1 for any other error (as "
             "sev-snp-measure). Options may be abbreviated to a unique prefix, as argparse allows.");
}

/// What argparse reads differently from CLI11, rewritten before CLI11 parses: a unique prefix
/// of a long option is the option (`--vcpu-t` is --vcpu-type; an ambiguous one is an error),
/// `--opt=` is an empty value, and a flag given a value (`--help=yes`) is an error.
std::optional<CliError> argparse_words(const CLI::App& app, std::vector<std::string>& args) {
  struct Name {
    std::string name;
    bool flag;
  };
  std::vector<Name> names;
  for (const CLI::Option* o : app.get_options()) {
    for (const std::string& n : o->get_lnames()) names.push_back({"--" + n, o->get_expected_max() == 0});
  }
  std::vector<std::string> words;
  for (const std::string& arg : args) {
    if (arg.size() <= 2 || arg.compare(0, 2, "--") != 0) {
      words.push_back(arg);
      continue;
    }
    const std::size_t eq = arg.find('=');
    const std::string word = arg.substr(0, eq);
    std::vector<const Name*> matches;
    for (const Name& n : names) {
      if (n.name == word) {
        matches = {&n};
        break;
      }
      if (n.name.compare(0, word.size(), word) == 0) matches.push_back(&n);
    }
    if (matches.empty()) {  // CLI11 names it as an argument it did not expect
      words.push_back(arg);
      continue;
    }
    if (matches.size() > 1) {
      std::string list;
      for (const Name* n : matches) list += fmt::format("{}{}", list.empty() ? "" : ", ", n->name);
      return usage(fmt::format("ambiguous option '{}' could match {}", word, list));
    }
    const Name& n = *matches.front();
    if (eq == std::string::npos) {
      words.push_back(n.name);
    } else if (n.flag) {
      return usage(fmt::format("argument {}: ignored explicit argument '{}'", n.name, arg.substr(eq + 1)));
    } else {
      words.push_back(n.name);
      words.push_back(arg.substr(eq + 1));
    }
  }
  args = std::move(words);
  return std::nullopt;
}

// ---- the command --------------------------------------------------------------------------

/// The name sev-snp-measure's --verbose prints (its SevMode enum).
std::string_view verbose_name(m::GuestMode mode) {
  switch (mode) {
    case m::GuestMode::Sev: return "SEV";
    case m::GuestMode::SevEs: return "SEV_ES";
    case m::GuestMode::Snp:
    case m::GuestMode::SnpOvmfHash: return "SEV_SNP";
    case m::GuestMode::SnpSvsm: return "SEV_SNP_SVSM";
  }
  return "?";
}

/// The vCPU signature (RDX) sev-snp-measure would use: family/model/stepping first, then
/// --vcpu-sig, then --vcpu-type; required for QEMU (ec2 and gce put 0x600 in RDX).
std::variant<std::uint64_t, CliError> resolve_vcpu_sig(const Args& a, m::GuestMode mode, m::VmmType vmm) {
  if (mode == m::GuestMode::Sev) return std::uint64_t{0};
  const bool any_fms = a.vcpu_family || a.vcpu_model || a.vcpu_stepping;
  if (any_fms) {
    if (!a.vcpu_family || !a.vcpu_model || !a.vcpu_stepping) {
      return usage("--vcpu-family, --vcpu-model and --vcpu-stepping must be given together");
    }
    auto fam = int_option("--vcpu-family", *a.vcpu_family, false, 0xF + 0xFF, "the family");
    if (auto* e = std::get_if<CliError>(&fam)) return std::move(*e);
    auto mod = int_option("--vcpu-model", *a.vcpu_model, false, 0xFF, "the model");
    if (auto* e = std::get_if<CliError>(&mod)) return std::move(*e);
    auto step = int_option("--vcpu-stepping", *a.vcpu_stepping, false, 0xF, "the stepping");
    if (auto* e = std::get_if<CliError>(&step)) return std::move(*e);
    return std::uint64_t{*m::cpu_signature(static_cast<std::uint32_t>(std::get<std::uint64_t>(fam)),
                                           static_cast<std::uint32_t>(std::get<std::uint64_t>(mod)),
                                           static_cast<std::uint32_t>(std::get<std::uint64_t>(step)))};
  }
  if (a.vcpu_sig) return int_option("--vcpu-sig", *a.vcpu_sig, true, UINT32_MAX, "a CPUID signature (32 bits)");
  if (a.vcpu_type) return std::uint64_t{*m::vcpu_type_signature(*a.vcpu_type)};  // checked in run()
  if (vmm == m::VmmType::Qemu) {
    return usage(fmt::format("missing --vcpu-type or --vcpu-sig or --vcpu-family in guest mode '{}'",
                             m::to_string(mode)));
  }
  return std::uint64_t{0};  // unused: ec2 and gce fix RDX
}

struct Output {
  std::vector<std::string> warnings;
  std::string line;  ///< the measurement line
  nlohmann::json json;  ///< what --json prints: the measurement and what it was made from
};

std::variant<Output, CliError> run(const Args& a) {
  Output out;
  // ---- argparse-level checks (exit 2), in sev-snp-measure's order ----
  if (!a.mode) return usage("the following argument is required: --mode");
  const std::optional<m::GuestMode> mode = m::guest_mode_from_string(*a.mode);
  if (!mode) {
    return usage(fmt::format("argument --mode: invalid choice '{}' (choose from sev, seves, snp, snp:ovmf-hash, "
                             "snp:svsm)",
                             *a.mode));
  }
  if (!a.ovmf) return usage("the following argument is required: --ovmf");
  if (a.vcpu_type && !m::vcpu_type_signature(*a.vcpu_type)) {
    std::string names;
    for (const m::VcpuType& t : m::vcpu_types()) names += fmt::format("{}{}", names.empty() ? "" : ", ", t.name);
    return usage(fmt::format("argument --vcpu-type: invalid choice '{}' (choose from {})", *a.vcpu_type, names));
  }
  const bool base64_out = a.output_format && *a.output_format == "base64";
  if (a.output_format && *a.output_format != "hex" && !base64_out) {
    return usage(fmt::format("argument --output-format: invalid choice '{}' (choose from hex, base64)",
                             *a.output_format));
  }
  if (a.vars_size && a.vars_file) return usage("argument --vars-file: not allowed with argument --vars-size");
  std::optional<std::uint64_t> vcpus;
  if (a.vcpus) {
    auto v = int_option("--vcpus", *a.vcpus, false, kMaxVcpus, "the number of vCPUs");
    if (auto* e = std::get_if<CliError>(&v)) return std::move(*e);
    vcpus = std::get<std::uint64_t>(v);
  }
  std::uint64_t guest_features = 0x1;
  if (a.guest_features) {
    auto v = int_option("--guest-features", *a.guest_features, true, UINT64_MAX, "the 64-bit SEV_FEATURES value");
    if (auto* e = std::get_if<CliError>(&v)) return std::move(*e);
    guest_features = std::get<std::uint64_t>(v);
  }
  std::optional<std::uint64_t> vars_size;
  if (a.vars_size) {
    auto v = int_option("--vars-size", *a.vars_size, false, m::kFirmwareEndGpa, "the vars size");
    if (auto* e = std::get_if<CliError>(&v)) return std::move(*e);
    vars_size = std::get<std::uint64_t>(v);
  }

  m::MeasureInput in;
  in.mode = *mode;
  std::vector<std::uint8_t> ovmf_bytes, kernel_bytes, initrd_bytes, svsm_bytes;
  auto load = [](std::string_view option, const std::string& path,
                 std::vector<std::uint8_t>& into) -> std::optional<CliError> {
    auto r = read_file(option, path);
    if (auto* e = std::get_if<CliError>(&r)) return std::move(*e);
    into = std::move(std::get<std::vector<std::uint8_t>>(r));
    return std::nullopt;
  };

  // The measurement's error says what is wrong; the files it was measuring are named here.
  auto measure_failed = [&](const m::MeasureError& e) {
    std::string files = fmt::format("--ovmf '{}'", *a.ovmf);
    if (a.svsm && *mode == m::GuestMode::SnpSvsm) files += fmt::format(", --svsm '{}'", *a.svsm);
    const bool with_kernel = *mode != m::GuestMode::SnpSvsm && *mode != m::GuestMode::SnpOvmfHash;
    if (a.kernel && with_kernel) files += fmt::format(", --kernel '{}'", *a.kernel);
    if (a.initrd && !a.initrd->empty() && with_kernel) {
      files += fmt::format(", --initrd '{}'", *a.initrd);
    }
    return input(fmt::format("{} ({})", e.message, files));
  };

  if (*mode == m::GuestMode::SnpOvmfHash) {
    // Like sev-snp-measure: only --ovmf matters, and the digest is always printed as hex
    // (it is the input format of --snp-ovmf-hash).
    if (auto e = load("--ovmf", *a.ovmf, ovmf_bytes)) return std::move(*e);
    in.ovmf = ovmf_bytes;
    auto r = m::measure_guest(in);
    if (auto* e = std::get_if<m::MeasureError>(&r)) return measure_failed(*e);
    out.line = m::to_hex(std::get<m::Measurement>(r).digest);
    out.json = {{"mode", m::to_string(*mode)}, {"measurement", out.line}, {"inputs", {{"ovmf", *a.ovmf}}}};
    return out;
  }

  if (a.initrd && !a.initrd->empty() && !a.kernel) return usage("--kernel required when using --initrd");
  if (a.append && !a.append->empty() && !a.kernel) return usage("--kernel required when using --append");
  if (*mode != m::GuestMode::Sev && !vcpus) {
    return usage(fmt::format("missing --vcpus N in guest mode '{}'", m::to_string(*mode)));
  }
  const std::optional<m::VmmType> vmm = m::vmm_type_from_string(a.vmm_type.value_or("QEMU"));
  if (!vmm) return usage(fmt::format("unknown VMM type '{}' (choose from QEMU, ec2, gce)", *a.vmm_type));
  auto sig = resolve_vcpu_sig(a, *mode, *vmm);
  if (auto* e = std::get_if<CliError>(&sig)) return std::move(*e);

  if (*mode == m::GuestMode::SnpSvsm) {
    if (!a.svsm) return usage("snp:svsm mode requires --svsm");
    if (a.vars_file) {
      std::error_code ec;
      const std::uintmax_t size = std::filesystem::file_size(*a.vars_file, ec);
      if (ec) return input(fmt::format("cannot stat the --vars-file file '{}': {}", *a.vars_file, ec.message()));
      in.vars_size = size;
    } else if (vars_size && *vars_size != 0) {
      in.vars_size = *vars_size;
    } else {
      return usage("snp:svsm mode requires --vars-size or --vars-file (a --vars-size of 0 counts as missing)");
    }
  }
  if (a.dump_vmsa && *mode == m::GuestMode::Sev) return usage("--dump-vmsa is not available in mode sev");

  // ---- inputs ----
  if (auto e = load("--ovmf", *a.ovmf, ovmf_bytes)) return std::move(*e);
  in.ovmf = ovmf_bytes;
  in.vcpus = vcpus.value_or(0);
  in.vcpu_sig = std::get<std::uint64_t>(sig);
  in.vmm = *vmm;
  in.guest_features = guest_features;
  in.keep_vmsa_pages = a.dump_vmsa;
  if (*mode == m::GuestMode::SnpSvsm) {
    if (auto e = load("--svsm", *a.svsm, svsm_bytes)) return std::move(*e);
    in.svsm = svsm_bytes;
    if (a.kernel || a.initrd || a.append) {
      out.warnings.push_back("warning: snp:svsm mode does not measure --kernel, --initrd or --append; ignored");
    }
  } else if (a.kernel) {
    if (auto e = load("--kernel", *a.kernel, kernel_bytes)) return std::move(*e);
    if (a.initrd && !a.initrd->empty()) {
      if (auto e = load("--initrd", *a.initrd, initrd_bytes)) return std::move(*e);
    }
    in.kernel = m::KernelHashInputs{kernel_bytes, initrd_bytes, a.append ? std::string_view(*a.append) : ""};
  }
  if (a.snp_ovmf_hash && !a.snp_ovmf_hash->empty()) {  // an empty value counts as absent
    auto h = parse_ovmf_hash(*a.snp_ovmf_hash);
    if (auto* e = std::get_if<CliError>(&h)) return std::move(*e);
    in.snp_ovmf_hash = std::get<m::Sha384Digest>(h);
  }
  if (*mode != m::GuestMode::Sev && in.vcpus == 0) {
    out.warnings.push_back("warning: --vcpus 0: no VMSA page is measured, so no guest can launch with this value");
  }

  auto r = m::measure_guest(in);
  if (auto* e = std::get_if<m::MeasureError>(&r)) return measure_failed(*e);
  const m::Measurement& meas = std::get<m::Measurement>(r);

  nlohmann::json vmsa_files = nlohmann::json::array();
  for (std::size_t i = 0; i < meas.vmsa_pages.size(); ++i) {
    const std::string name = fmt::format("vmsa{}.bin", i);
    vmsa_files.push_back(name);
    std::FILE* f = std::fopen(name.c_str(), "wb");
    const bool ok = f != nullptr && std::fwrite(meas.vmsa_pages[i].data(), 1, m::kVmsaSize, f) == m::kVmsaSize;
    const int saved = errno;
    if (f != nullptr && std::fclose(f) != 0) return input(fmt::format("cannot write '{}': {}", name, std::strerror(errno)));
    if (!ok) return input(fmt::format("cannot write '{}': {}", name, std::strerror(saved)));
  }

  const std::string value = base64_out ? base64(meas.digest) : m::to_hex(meas.digest);
  out.line = a.verbose ? fmt::format("Calculated {} guest measurement: {}", verbose_name(*mode), value) : value;
  nlohmann::json inputs = {{"ovmf", *a.ovmf}};
  if (*mode == m::GuestMode::SnpSvsm) {
    inputs["svsm"] = *a.svsm;
  } else if (a.kernel) {
    inputs["kernel"] = *a.kernel;
    if (a.initrd && !a.initrd->empty()) inputs["initrd"] = *a.initrd;
    inputs["append"] = a.append.value_or("");
  }
  const bool sev = *mode == m::GuestMode::Sev;
  out.json = {{"mode", m::to_string(*mode)},
              {"measurement", m::to_hex(meas.digest)},
              {"measurement_base64", base64(meas.digest)},
              {"vcpus", sev ? nlohmann::json(nullptr) : nlohmann::json(in.vcpus)},
              {"vcpu_sig", sev ? nlohmann::json(nullptr) : nlohmann::json(in.vcpu_sig)},
              {"vmm_type", a.vmm_type.value_or("QEMU")},
              {"guest_features", in.guest_features},
              {"snp_ovmf_hash", in.snp_ovmf_hash ? nlohmann::json(m::to_hex(*in.snp_ovmf_hash)) : nlohmann::json(nullptr)},
              {"inputs", inputs},
              {"vmsa_files", vmsa_files}};
  return out;
}

}  // namespace

int measure_main(int argc, char** argv, std::FILE* out, std::FILE* err) {
  constexpr std::string_view kProg = "snplab measure";
  CLI::App app{"Calculate the launch measurement of an AMD SEV / SEV-ES / SEV-SNP guest offline, with the arguments "
               "and output of sev-snp-measure 0.0.13. The measurement is the last line printed on stdout.",
               std::string(kProg)};
  Args a;
  define(app, a);
  auto fail = [&](const CliError& e) {
    fmt::print(err, "{}: error: {}\n", kProg, e.message);
    if (e.rc == kUsageError) fmt::print(err, "Run '{} --help' for the options.\n", kProg);
    std::fflush(err);
    return e.rc;
  };
  std::vector<std::string> args(argv, argv + argc);
  if (auto e = argparse_words(app, args)) return fail(*e);
  std::vector<char*> words;
  for (std::string& w : args) words.push_back(w.data());
  if (const auto rc = cli::parse(app, kProg, static_cast<int>(words.size()), words.data(), out, err, "error: ")) {
    return *rc;
  }
  auto r = run(a);
  if (auto* e = std::get_if<CliError>(&r)) return fail(*e);
  const Output& o = std::get<Output>(r);
  for (const std::string& w : o.warnings) fmt::print(err, "{}: {}\n", kProg, w);
  if (a.json) {
    nlohmann::json j = o.json;
    j["schema"] = "snplab.measure/1";
    j["warnings"] = o.warnings;
    fmt::print(out, "{}\n", j.dump(2));
  } else {
    fmt::print(out, "{}\n", o.line);
  }
  std::fflush(out);
  return 0;
}

}  // namespace snplab::scenarios
