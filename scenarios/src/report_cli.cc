// `snplab report show|verify`: the attestation report of facts §6.3 on the command line.
// The library (model/attestation.h, x509.h, report_verify.h) does the work; this file reads
// files, the clock and the arguments, and prints.
#include "snp/scenarios/report_cli.h"

#include <sys/stat.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "snp/model/attest/attestation.h"
#include "snp/model/crypto/crypto.h"
#include "snp/model/attest/report_verify.h"
#include "snp/model/psp/sim_chip.h"
#include "snp/model/attest/x509.h"
#include "snp/scenarios/input_file.h"
#include "snp/scenarios/sim_report.h"

namespace snplab::scenarios {

namespace {

namespace m = snplab::model;

constexpr const char* kUsage =
    "usage: snplab report show FILE[@OFFSET] [--product milan|genoa|turin]\n"
    "       snplab report verify FILE[@OFFSET] --cert VCEK_OR_VLEK --chain PEM [--chain PEM]\n"
    "                            [--at YYYY-MM-DDTHH:MM:SSZ] [--strict-chip-id]\n"
    "                            [--ark FILE]... [--trust-simulated [--seed N]]\n"
    "\n"
    "FILE is a 1184-byte report, binary or hex text; FILE@OFFSET takes the report at that byte\n"
    "offset of a larger file (e.g. an Azure HCL report holds it at @32). --cert names the VCEK\n"
    "or VLEK (PEM or DER; the first certificate in the file); --chain files hold the ASK (or\n"
    "ASVK) and the ARK, in any order and number of files. --at verifies at that UTC instant\n"
    "instead of now. --strict-chip-id rejects VCEK reports whose CHIP_ID is masked (all zero).\n"
    "The chain's ARK must be one of AMD's published root keys (Milan, Genoa, Turin), pinned by\n"
    "key; --ark FILE trusts the root key(s) in FILE as well, and --trust-simulated the simulated\n"
    "chip's root for --seed N (default 1, as `report simulate`), which is no AMD key.\n"
    "verify exits 0 when every check holds, 1 when one fails (named on stderr), 2 on bad usage.\n"
    "\n"
    "       snplab report simulate --out DIR [--seed N] [--product milan|genoa|turin] [--vlek]\n"
    "                              [--report-data HEX]\n"
    "writes DIR/report.bin, DIR/vcek.der (or vlek.der) and DIR/chain.pem from a simulated chip\n"
    "(one seed, the same bytes every time) for `snplab report verify`.\n";

int usage(std::FILE* err, const std::string& msg) {
  fmt::print(err, "snplab report: {}\n\n{}", msg, kUsage);
  return 2;
}

bool file_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

/// "path@123" / "path@0x20" -> (path, offset). A path that exists as typed wins over the
/// split, so file names containing '@' still work.
struct ReportSpec {
  std::string path;
  std::optional<std::size_t> offset;
};

std::optional<ReportSpec> parse_report_spec(const std::string& arg) {
  const std::size_t at = arg.rfind('@');
  if (at == std::string::npos || file_exists(arg)) return ReportSpec{arg, std::nullopt};
  const std::string num = arg.substr(at + 1);
  if (num.empty()) return std::nullopt;
  std::size_t value = 0;
  const bool hex = num.size() > 2 && num[0] == '0' && (num[1] == 'x' || num[1] == 'X');
  for (std::size_t i = hex ? 2 : 0; i < num.size(); ++i) {
    const char c = num[i];
    unsigned d = 0;
    if (c >= '0' && c <= '9') {
      d = static_cast<unsigned>(c - '0');
    } else if (hex && c >= 'a' && c <= 'f') {
      d = static_cast<unsigned>(c - 'a' + 10);
    } else if (hex && c >= 'A' && c <= 'F') {
      d = static_cast<unsigned>(c - 'A' + 10);
    } else {
      return std::nullopt;
    }
    if (value > (std::size_t{1} << 40)) return std::nullopt;
    value = value * (hex ? 16U : 10U) + d;
  }
  return ReportSpec{arg.substr(0, at), value};
}

/// Loads the report bytes named by FILE[@OFFSET]; prints the reason and returns nullopt on
/// failure.
std::optional<std::array<std::uint8_t, m::kReportSize>> load_report(const std::string& arg, std::FILE* err) {
  const auto spec = parse_report_spec(arg);
  if (!spec) {
    fmt::print(err, "snplab report: '{}': the part after '@' is not a byte offset\n", arg);
    return std::nullopt;
  }
  std::string why;
  const auto data = read_input_file(spec->path, kMaxReportFile, "the report", &why);
  if (!data) {
    fmt::print(err, "snplab report: {}\n", why);
    return std::nullopt;
  }
  auto bytes = m::extract_report_bytes(*data, spec->offset);
  if (!bytes) {
    fmt::print(err, "snplab report: '{}': {}\n", arg, bytes.error().message);
    return std::nullopt;
  }
  return *bytes;
}

std::optional<std::vector<m::Certificate>> load_certs(const std::string& path, std::FILE* err) {
  std::string why;
  const auto data = read_input_file(path, kMaxCertFile, "the certificate file", &why);
  if (!data) {
    fmt::print(err, "snplab report: {}\n", why);
    return std::nullopt;
  }
  auto certs = m::Certificate::parse_all(*data);
  if (!certs) {
    fmt::print(err, "snplab report: '{}': {}\n", path, certs.error().message);
    return std::nullopt;
  }
  return std::move(*certs);
}

std::string hex(std::span<const std::uint8_t> b) { return m::to_hex(b); }

void line(std::FILE* out, std::string_view key, const std::string& value) {
  fmt::print(out, "{:<20}: {}\n", key, value);
}

/// TCB_VERSION as raw bytes plus its decoding.
std::string tcb_text(std::uint64_t tcb, std::optional<m::TcbLayout> layout) {
  if (layout) return fmt::format("{} ({})", m::tcb_hex(tcb), m::describe_tcb(tcb, *layout));
  return fmt::format("{} (Milan/Genoa layout assumed: {})", m::tcb_hex(tcb),
                     m::describe_tcb(tcb, m::TcbLayout::MilanGenoa));
}

void print_report(std::FILE* out, const m::AttestationReport& r, m::Product product, const std::string& product_from) {
  const auto layout = m::tcb_layout_for(product);
  line(out, "VERSION", fmt::format("{}{}", r.version, r.version_known() ? "" : " (UNKNOWN: this tool knows 2..5)"));
  line(out, "GUEST_SVN", fmt::format("{}", r.guest_svn));
  line(out, "POLICY", fmt::format("0x{:x} ({})", r.policy, m::describe_policy(r.policy)));
  line(out, "FAMILY_ID", hex(r.family_id));
  line(out, "IMAGE_ID", hex(r.image_id));
  line(out, "VMPL", fmt::format("{}", r.vmpl));
  line(out, "SIGNATURE_ALGO", fmt::format("{}{}", r.signature_algo,
                                          r.signature_algo == m::kSignatureAlgoEcdsaP384Sha384
                                              ? " (ECDSA P-384 with SHA-384)"
                                              : " (unknown)"));
  line(out, "CURRENT_TCB", tcb_text(r.current_tcb, layout));
  line(out, "PLATFORM_INFO", fmt::format("0x{:x} ({})", r.platform_info, m::describe_platform_info(r.platform_info)));
  const auto key = r.signing_key();
  line(out, "KEY_INFO",
       fmt::format("0x{:x} (AUTHOR_KEY_EN={} MASK_CHIP_KEY={} SIGNING_KEY={})", r.key_info, r.author_key_en() ? 1 : 0,
                   r.mask_chip_key() ? 1 : 0,
                   key ? std::string(m::to_string(*key)) : fmt::format("reserved({})", r.signing_key_raw())));
  line(out, "REPORT_DATA", hex(r.report_data));
  line(out, "MEASUREMENT", hex(r.measurement));
  line(out, "HOST_DATA", hex(r.host_data));
  line(out, "ID_KEY_DIGEST", hex(r.id_key_digest));
  line(out, "AUTHOR_KEY_DIGEST", hex(r.author_key_digest));
  line(out, "REPORT_ID", hex(r.report_id));
  line(out, "REPORT_ID_MA", hex(r.report_id_ma));
  line(out, "REPORTED_TCB", tcb_text(r.reported_tcb, layout));
  if (r.has_cpuid()) {
    line(out, "CPUID_FAM_ID", fmt::format("0x{:02x}", r.cpuid_fam_id));
    line(out, "CPUID_MOD_ID", fmt::format("0x{:02x}", r.cpuid_mod_id));
    line(out, "CPUID_STEP", fmt::format("0x{:02x}", r.cpuid_step));
  } else {
    line(out, "CPUID_FAM/MOD/STEP", fmt::format("reserved in v{} ({:02x} {:02x} {:02x})", r.version, r.cpuid_fam_id,
                                                r.cpuid_mod_id, r.cpuid_step));
  }
  line(out, "PRODUCT", fmt::format("{} ({})", m::to_string(product), product_from));
  line(out, "CHIP_ID", hex(r.chip_id) + (r.chip_id_is_zero() ? " (all zero: masked or VLEK)" : ""));
  line(out, "COMMITTED_TCB", tcb_text(r.committed_tcb, layout));
  line(out, "CURRENT_VERSION", fmt::format("{}.{}.{} (major.minor.build)", r.current_major, r.current_minor,
                                           r.current_build));
  line(out, "COMMITTED_VERSION", fmt::format("{}.{}.{} (major.minor.build)", r.committed_major, r.committed_minor,
                                             r.committed_build));
  line(out, "LAUNCH_TCB", tcb_text(r.launch_tcb, layout));
  if (r.has_mitigation_vectors()) {
    line(out, "LAUNCH_MIT_VECTOR", fmt::format("0x{:x}", r.launch_mit_vector));
    line(out, "CURRENT_MIT_VECTOR", fmt::format("0x{:x}", r.current_mit_vector));
  } else {
    line(out, "MIT_VECTORS", fmt::format("reserved in v{} (0x{:x} 0x{:x})", r.version, r.launch_mit_vector,
                                         r.current_mit_vector));
  }
  line(out, "SIGNATURE_R (LE)", hex(r.signature.r));
  line(out, "SIGNATURE_S (LE)", hex(r.signature.s));
  auto nonzero = [](std::span<const std::uint8_t> b) {
    std::size_t n = 0;
    for (auto x : b) n += x != 0 ? 1U : 0U;
    return n;
  };
  const std::size_t reserved_nz = nonzero(r.reserved_18b) + nonzero(r.reserved_208) + nonzero(r.signature_reserved) +
                                  (r.reserved_04c != 0 ? 1U : 0U) + (r.reserved_1eb != 0 ? 1U : 0U) +
                                  (r.reserved_1ef != 0 ? 1U : 0U);
  line(out, "reserved bytes", reserved_nz == 0 ? "all zero" : fmt::format("{} non-zero", reserved_nz));
}

int cmd_show(int argc, char** argv, std::FILE* out, std::FILE* err) {
  std::optional<std::string> file;
  std::optional<m::Product> forced;
  for (int i = 0; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--product") {
      if (i + 1 >= argc) return usage(err, "show: --product needs a value");
      const std::string_view v = argv[++i];
      if (v == "milan") {
        forced = m::Product::Milan;
      } else if (v == "genoa") {
        forced = m::Product::Genoa;
      } else if (v == "turin") {
        forced = m::Product::Turin;
      } else {
        return usage(err, fmt::format("show: --product must be milan, genoa or turin, not '{}'", v));
      }
    } else if (a.size() > 1 && a[0] == '-') {
      return usage(err, fmt::format("show: unknown option '{}'", a));
    } else if (file) {
      return usage(err, "show: one report file only");
    } else {
      file = std::string(a);
    }
  }
  if (!file) return usage(err, "show: no report file given");
  const auto bytes = load_report(*file, err);
  if (!bytes) return 1;
  const auto report = m::parse_attestation_report(*bytes);
  if (!report) {
    fmt::print(err, "snplab report: {}\n", report.error().message);
    return 1;
  }
  m::Product product = report->product();
  std::string from = report->has_cpuid() ? "from CPUID_FAM_ID/MOD_ID" : "v2 report: no CPUID; pass --product";
  if (forced) {
    product = *forced;
    from = "--product";
  }
  fmt::print(out, "report {} ({} bytes)\n", *file, m::kReportSize);
  print_report(out, *report, product, from);
  return 0;
}

std::string cert_line(const m::Certificate& c) {
  return fmt::format("{} [{}; signed {}]", c.subject(), c.public_key_description(), c.signature_algorithm());
}

int cmd_verify(int argc, char** argv, std::FILE* out, std::FILE* err) {
  std::optional<std::string> file, cert;
  std::vector<std::string> chains;
  std::optional<m::UnixTime> at;
  std::vector<std::string> arks;
  bool trust_simulated = false;
  std::optional<std::uint64_t> sim_seed;
  m::VerifyOptions options;
  for (int i = 0; i < argc; ++i) {
    const std::string_view a = argv[i];
    auto value = [&]() -> std::optional<std::string> {
      if (i + 1 >= argc) return std::nullopt;
      return std::string(argv[++i]);
    };
    if (a == "--cert") {
      auto v = value();
      if (!v) return usage(err, "verify: --cert needs a file");
      if (cert) return usage(err, "verify: --cert given twice");
      cert = *v;
    } else if (a == "--chain") {
      auto v = value();
      if (!v) return usage(err, "verify: --chain needs a file");
      chains.push_back(*v);
    } else if (a == "--at") {
      auto v = value();
      if (!v) return usage(err, "verify: --at needs a time");
      at = m::parse_utc(*v);
      if (!at) return usage(err, fmt::format("verify: --at '{}' is not a UTC time like 2024-05-01T00:00:00Z", *v));
    } else if (a == "--strict-chip-id") {
      options.allow_masked_chip_id = false;
    } else if (a == "--ark") {
      auto v = value();
      if (!v) return usage(err, "verify: --ark needs a file");
      arks.push_back(*v);
    } else if (a == "--trust-simulated") {
      trust_simulated = true;
    } else if (a == "--seed") {
      auto v = value();
      std::uint64_t n = 0;
      const char* end = v ? v->data() + v->size() : nullptr;
      if (!v || v->empty() || std::from_chars(v->data(), end, n).ptr != end) {
        return usage(err, "verify: --seed needs a decimal number from 0 to 18446744073709551615");
      }
      sim_seed = n;
    } else if (a.size() > 1 && a[0] == '-') {
      return usage(err, fmt::format("verify: unknown option '{}'", a));
    } else if (file) {
      return usage(err, "verify: one report file only");
    } else {
      file = std::string(a);
    }
  }
  if (!file) return usage(err, "verify: no report file given");
  if (!cert) return usage(err, "verify: --cert VCEK_OR_VLEK is required");
  if (chains.empty()) return usage(err, "verify: at least one --chain PEM is required");
  if (sim_seed && !trust_simulated) return usage(err, "verify: --seed is the seed of --trust-simulated");

  const auto bytes = load_report(*file, err);
  if (!bytes) return 1;
  const auto leaf_certs = load_certs(*cert, err);
  if (!leaf_certs) return 1;
  std::vector<m::Certificate> chain;
  for (const auto& c : chains) {
    auto certs = load_certs(c, err);
    if (!certs) return 1;
    chain.insert(chain.end(), certs->begin(), certs->end());
  }
  for (const auto& path : arks) {
    auto roots = load_certs(path, err);
    if (!roots) return 1;
    for (const auto& root : *roots) {
      options.roots.push_back(m::trusted_root_of(root, fmt::format("'{}' ({})", root.subject_cn(), path),
                                                 "named by --ark"));
    }
  }
  if (trust_simulated) {
    const std::uint64_t seed = sim_seed.value_or(SimReportOptions{}.seed);
    const m::SimChip chip(seed, m::Product::Milan);  // the ARK key is the same for every product
    options.roots.push_back(m::TrustedRoot{fmt::format("the snplab simulated chip's root for seed {}", seed),
                                           chip.ark_key_sha256(),
                                           "--trust-simulated: a simulator's key, not AMD's"});
  }
  const bool now = !at;
  const m::UnixTime when =
      at ? *at
         : std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();

  const auto& leaf = leaf_certs->front();
  const m::VerifyResult r = m::verify_report(*bytes, leaf, chain, when, options);

  fmt::print(out, "report {}\n", *file);
  if (r.report) {
    const auto key = r.report->signing_key();
    fmt::print(out, "  version {}, VMPL {}, signing key {}, REPORTED_TCB {}\n", r.report->version, r.report->vmpl,
               key ? std::string(m::to_string(*key)) : "reserved", m::tcb_hex(r.report->reported_tcb));
  }
  for (std::size_t i = 0; i < r.chain.size(); ++i) {
    const auto& role = r.chain[i];
    fmt::print(out, "{:<5} {}\n", role.role, cert_line(role.cert));
    fmt::print(out, "      valid {} .. {} UTC; sha256 {}\n", m::format_utc(role.cert.not_before()),
               m::format_utc(role.cert.not_after()), m::to_hex(role.cert.fingerprint_sha256()));
    if (i == 0 && r.leaf_extensions) {
      const auto& e = *r.leaf_extensions;
      const m::TcbParts t = e.tcb_parts();
      fmt::print(out, "      productName {}; blSPL {} teeSPL {} snpSPL {} ucodeSPL {}{}\n",
                 e.product_name.value_or("(none)"), t.boot_loader, t.tee, t.snp, t.microcode,
                 e.fmc_spl ? fmt::format(" fmcSPL {}", *e.fmc_spl) : std::string());
      if (e.hwid) fmt::print(out, "      hwID {}\n", m::to_hex(*e.hwid));
      if (e.csp_id) fmt::print(out, "      cspId {}\n", *e.csp_id);
    }
  }
  fmt::print(out, "product {} ({})\n", m::to_string(r.product), r.product_source.empty() ? "-" : r.product_source);
  if (r.trusted_root) {
    fmt::print(out, "root  {}: {}\n", r.trusted_root->name, r.trusted_root->why);
  } else {
    fmt::print(out, "root  none of the {} trusted roots\n", options.roots.size());
  }
  fmt::print(out, "time  {} UTC ({})\n", m::format_utc(when), now ? "now" : "--at");
  for (const auto& c : r.checks) fmt::print(out, "{} {}: {}\n", m::to_string(c.status), c.name, c.message);
  if (r.ok()) {
    fmt::print(out, "verdict: VALID\n");
    return 0;
  }
  fmt::print(out, "verdict: INVALID\n");
  for (const auto* f : r.failures()) fmt::print(err, "snplab report verify: FAILED {}: {}\n", f->name, f->message);
  return 1;
}

int cmd_simulate(int argc, char** argv, std::FILE* out, std::FILE* err) {
  SimReportOptions opts;
  std::string dir;
  for (int i = 0; i < argc; ++i) {
    const std::string_view a = argv[i];
    auto value = [&]() -> std::optional<std::string_view> {
      if (i + 1 >= argc) return std::nullopt;
      return std::string_view(argv[++i]);
    };
    if (a == "--out") {
      const auto v = value();
      if (!v) return usage(err, "simulate: --out needs a directory");
      dir = std::string(*v);
    } else if (a == "--seed") {
      const auto v = value();
      std::uint64_t n = 0;
      const auto* end = v ? v->data() + v->size() : nullptr;
      if (!v || v->empty() || std::from_chars(v->data(), end, n).ptr != end) {
        return usage(err, "simulate: --seed needs a decimal number");
      }
      opts.seed = n;
    } else if (a == "--product") {
      const auto v = value();
      if (v == "milan") {
        opts.product = m::Product::Milan;
      } else if (v == "genoa") {
        opts.product = m::Product::Genoa;
      } else if (v == "turin") {
        opts.product = m::Product::Turin;
      } else {
        return usage(err, "simulate: --product must be milan, genoa or turin");
      }
    } else if (a == "--vlek") {
      opts.vlek = true;
    } else if (a == "--report-data") {
      const auto v = value();
      const auto bytes = v ? m::decode_hex_text(*v) : std::nullopt;
      if (!bytes || bytes->size() > 64) return usage(err, "simulate: --report-data needs up to 64 bytes of hex");
      std::copy(bytes->begin(), bytes->end(), opts.report_data.begin());
    } else {
      return usage(err, fmt::format("simulate: unknown option '{}'", a));
    }
  }
  if (dir.empty()) return usage(err, "simulate: --out DIR is required");
  const SimReport r = simulate_report(opts);
  if (!r.error.empty()) {
    fmt::print(err, "snplab report simulate: firmware refused: {}\n", r.error);
    return 1;
  }
  const std::string leaf = dir + (opts.vlek ? "/vlek.der" : "/vcek.der");
  auto write = [&](const std::string& path, const void* data, std::size_t n) {
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (f == nullptr) return false;
    const bool ok = std::fwrite(data, 1, n, f) == n;
    return std::fclose(f) == 0 && ok;
  };
  if (!write(dir + "/report.bin", r.report.data(), r.report.size()) ||
      !write(leaf, r.leaf_der.data(), r.leaf_der.size()) ||
      !write(dir + "/chain.pem", r.chain_pem.data(), r.chain_pem.size())) {
    fmt::print(err, "snplab report simulate: cannot write into '{}': {}\n", dir, std::strerror(errno));
    return 1;
  }
  fmt::print(out, "wrote {0}/report.bin, {1}, {0}/chain.pem\n", dir, leaf);
  return 0;
}

}  // namespace

int report_main(int argc, char** argv, std::FILE* out, std::FILE* err) {
  if (argc < 1) return usage(err, "no subcommand (show or verify)");
  const std::string_view sub = argv[0];
  if (sub == "help" || sub == "--help" || sub == "-h") {
    std::fputs(kUsage, out);
    return 0;
  }
  if (sub == "show") return cmd_show(argc - 1, argv + 1, out, err);
  if (sub == "verify") return cmd_verify(argc - 1, argv + 1, out, err);
  if (sub == "simulate") return cmd_simulate(argc - 1, argv + 1, out, err);
  return usage(err, fmt::format("unknown subcommand '{}'", sub));
}

}  // namespace snplab::scenarios
