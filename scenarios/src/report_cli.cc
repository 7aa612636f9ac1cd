// `snplab report show|verify|fetch-url|simulate`: the attestation report of facts §6.3 on the
// command line. The library (model/attestation.h, x509.h, report_verify.h) does the work; this
// file reads files, the clock and the arguments (CLI11, cli.h), and prints text or JSON.
#include "snp/scenarios/report_cli.h"

#include <sys/stat.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli.h"

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

constexpr std::string_view kProg = "snplab report";

int usage(std::FILE* err, const std::string& msg) {
  fmt::print(err, "{}: {}\nRun '{} --help' for the options.\n", kProg, msg, kProg);
  return cli::kExitUsage;
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

/// One field of `report show`: its name, the text line, and the JSON value.
struct Field {
  std::string name;
  std::string text;
  nlohmann::json json;
};

nlohmann::json tcb_json(std::uint64_t tcb, std::optional<m::TcbLayout> layout) {
  const m::TcbLayout l = layout.value_or(m::TcbLayout::MilanGenoa);
  const m::TcbParts p = m::decode_tcb(tcb, l);
  nlohmann::json j = {{"hex", m::tcb_hex(tcb)}, {"layout", std::string(m::to_string(l))},
                      {"boot_loader", p.boot_loader}, {"tee", p.tee}, {"snp", p.snp}, {"microcode", p.microcode}};
  if (l == m::TcbLayout::Turin) j["fmc"] = p.fmc;
  return j;
}

/// The fields of `report show`, in report order (facts §6.3).
std::vector<Field> report_fields(const m::AttestationReport& r, m::Product product, const std::string& product_from) {
  const auto layout = m::tcb_layout_for(product);
  std::vector<Field> f;
  auto num = [&](std::string name, std::uint64_t v, std::string text) { f.push_back({std::move(name), std::move(text), v}); };
  auto bytes = [&](std::string name, std::span<const std::uint8_t> b, std::string suffix = {}) {
    f.push_back({std::move(name), hex(b) + suffix, hex(b)});
  };
  auto tcb = [&](std::string name, std::uint64_t v) { f.push_back({std::move(name), tcb_text(v, layout), tcb_json(v, layout)}); };
  num("VERSION", r.version, fmt::format("{}{}", r.version, r.version_known() ? "" : " (UNKNOWN: this tool knows 2..5)"));
  num("GUEST_SVN", r.guest_svn, fmt::format("{}", r.guest_svn));
  f.push_back({"POLICY", fmt::format("0x{:x} ({})", r.policy, m::describe_policy(r.policy)),
               {{"value", r.policy}, {"description", m::describe_policy(r.policy)}}});
  bytes("FAMILY_ID", r.family_id);
  bytes("IMAGE_ID", r.image_id);
  num("VMPL", r.vmpl, fmt::format("{}", r.vmpl));
  num("SIGNATURE_ALGO", r.signature_algo,
      fmt::format("{}{}", r.signature_algo,
                  r.signature_algo == m::kSignatureAlgoEcdsaP384Sha384 ? " (ECDSA P-384 with SHA-384)" : " (unknown)"));
  tcb("CURRENT_TCB", r.current_tcb);
  f.push_back({"PLATFORM_INFO", fmt::format("0x{:x} ({})", r.platform_info, m::describe_platform_info(r.platform_info)),
               {{"value", r.platform_info}, {"description", m::describe_platform_info(r.platform_info)}}});
  const auto key = r.signing_key();
  const std::string key_name = key ? std::string(m::to_string(*key)) : fmt::format("reserved({})", r.signing_key_raw());
  f.push_back({"KEY_INFO",
               fmt::format("0x{:x} (AUTHOR_KEY_EN={} MASK_CHIP_KEY={} SIGNING_KEY={})", r.key_info,
                           r.author_key_en() ? 1 : 0, r.mask_chip_key() ? 1 : 0, key_name),
               {{"value", r.key_info}, {"author_key_en", r.author_key_en()}, {"mask_chip_key", r.mask_chip_key()},
                {"signing_key", key_name}}});
  bytes("REPORT_DATA", r.report_data);
  bytes("MEASUREMENT", r.measurement);
  bytes("HOST_DATA", r.host_data);
  bytes("ID_KEY_DIGEST", r.id_key_digest);
  bytes("AUTHOR_KEY_DIGEST", r.author_key_digest);
  bytes("REPORT_ID", r.report_id);
  bytes("REPORT_ID_MA", r.report_id_ma);
  tcb("REPORTED_TCB", r.reported_tcb);
  if (r.has_cpuid()) {
    num("CPUID_FAM_ID", r.cpuid_fam_id, fmt::format("0x{:02x}", r.cpuid_fam_id));
    num("CPUID_MOD_ID", r.cpuid_mod_id, fmt::format("0x{:02x}", r.cpuid_mod_id));
    num("CPUID_STEP", r.cpuid_step, fmt::format("0x{:02x}", r.cpuid_step));
  } else {
    f.push_back({"CPUID_FAM/MOD/STEP",
                 fmt::format("reserved in v{} ({:02x} {:02x} {:02x})", r.version, r.cpuid_fam_id, r.cpuid_mod_id,
                             r.cpuid_step),
                 nullptr});
  }
  f.push_back({"PRODUCT", fmt::format("{} ({})", m::to_string(product), product_from),
               {{"name", std::string(m::to_string(product))}, {"from", product_from}}});
  bytes("CHIP_ID", r.chip_id, r.chip_id_is_zero() ? " (all zero: masked or VLEK)" : "");
  tcb("COMMITTED_TCB", r.committed_tcb);
  f.push_back({"CURRENT_VERSION", fmt::format("{}.{}.{} (major.minor.build)", r.current_major, r.current_minor, r.current_build),
               fmt::format("{}.{}.{}", r.current_major, r.current_minor, r.current_build)});
  f.push_back({"COMMITTED_VERSION",
               fmt::format("{}.{}.{} (major.minor.build)", r.committed_major, r.committed_minor, r.committed_build),
               fmt::format("{}.{}.{}", r.committed_major, r.committed_minor, r.committed_build)});
  tcb("LAUNCH_TCB", r.launch_tcb);
  if (r.has_mitigation_vectors()) {
    num("LAUNCH_MIT_VECTOR", r.launch_mit_vector, fmt::format("0x{:x}", r.launch_mit_vector));
    num("CURRENT_MIT_VECTOR", r.current_mit_vector, fmt::format("0x{:x}", r.current_mit_vector));
  } else {
    f.push_back({"MIT_VECTORS",
                 fmt::format("reserved in v{} (0x{:x} 0x{:x})", r.version, r.launch_mit_vector, r.current_mit_vector),
                 nullptr});
  }
  bytes("SIGNATURE_R (LE)", r.signature.r);
  bytes("SIGNATURE_S (LE)", r.signature.s);
  auto nonzero = [](std::span<const std::uint8_t> b) {
    std::size_t n = 0;
    for (auto x : b) n += x != 0 ? 1U : 0U;
    return n;
  };
  const std::size_t reserved_nz = nonzero(r.reserved_18b) + nonzero(r.reserved_208) + nonzero(r.signature_reserved) +
                                  (r.reserved_04c != 0 ? 1U : 0U) + (r.reserved_1eb != 0 ? 1U : 0U) +
                                  (r.reserved_1ef != 0 ? 1U : 0U);
  f.push_back({"reserved bytes", reserved_nz == 0 ? "all zero" : fmt::format("{} non-zero", reserved_nz), reserved_nz});
  return f;
}

/// The parsed report FILE[@OFFSET] names, for show and fetch-url. Prints why not on `err`.
std::optional<m::AttestationReport> load_parsed(const std::string& file, std::FILE* err) {
  const auto bytes = load_report(file, err);
  if (!bytes) return std::nullopt;
  auto report = m::parse_attestation_report(*bytes);
  if (!report) {
    fmt::print(err, "{}: {}\n", kProg, report.error().message);
    return std::nullopt;
  }
  return std::move(*report);
}

/// --product: the choices and their products.
const std::map<std::string, m::Product>& product_names() {
  static const std::map<std::string, m::Product> names = {
      {"milan", m::Product::Milan}, {"genoa", m::Product::Genoa}, {"turin", m::Product::Turin}};
  return names;
}

CLI::Option* add_product(CLI::App& app, std::optional<m::Product>& target, const std::string& what) {
  return app
      .add_option_function<std::string>(
          "--product", [&target](const std::string& v) { target = product_names().at(v); }, what)
      ->check(CLI::IsMember({"milan", "genoa", "turin"}))
      ->type_name("milan|genoa|turin");
}

/// The product a report's TCB is read with: --product, else CPUID (v3+).
std::pair<m::Product, std::string> product_of(const m::AttestationReport& r, std::optional<m::Product> forced) {
  if (forced) return {*forced, "--product"};
  return {r.product(), r.has_cpuid() ? "from CPUID_FAM_ID/MOD_ID" : "v2 report: no CPUID; pass --product"};
}

int cmd_show(const std::string& file, std::optional<m::Product> forced, bool json, std::FILE* out, std::FILE* err) {
  const auto loaded = load_parsed(file, err);
  if (!loaded) return cli::kExitUsage;
  const auto [product, from] = product_of(*loaded, forced);
  const std::vector<Field> fields = report_fields(*loaded, product, from);
  if (json) {
    // Schema snplab.report.show/1 (docs/attestation.md).
    nlohmann::json f = nlohmann::json::object();
    for (const Field& x : fields) f[x.name] = x.json;
    const nlohmann::json doc = {{"schema", "snplab.report.show/1"}, {"file", file}, {"size", m::kReportSize}, {"fields", f}};
    fmt::print(out, "{}\n", doc.dump(2));
    return cli::kExitOk;
  }
  fmt::print(out, "report {} ({} bytes)\n", file, m::kReportSize);
  for (const Field& x : fields) line(out, x.name, x.text);
  return cli::kExitOk;
}

std::string cert_line(const m::Certificate& c) {
  return fmt::format("{} [{}; signed {}]", c.subject(), c.public_key_description(), c.signature_algorithm());
}

/// `report verify`'s arguments as parsed.
struct VerifyArgs {
  std::string file;
  std::optional<std::string> cert, certs_dir, at;
  std::vector<std::string> chains, arks;
  bool trust_simulated = false, strict_chip_id = false, json = false;
  std::optional<std::uint64_t> sim_seed;
  // policy checks, as typed (validated after parsing)
  std::optional<std::string> measurement, report_data, host_data, id_key_digest, min_tcb;
  std::optional<std::uint64_t> policy, policy_require, policy_forbid, vmpl;
};

/// Hex text of exactly N bytes into `target`; the message on failure names the option.
template <std::size_t N>
bool exact_hex(const std::optional<std::string>& text, std::string_view option,
               std::optional<std::array<std::uint8_t, N>>& target, std::string* why) {
  if (!text) return true;
  const auto b = m::decode_hex_text(*text);
  if (!b || b->size() != N) {
    *why = fmt::format("verify: {} needs {} bytes as {} hex digits{}", option, N, 2 * N,
                       b ? fmt::format(", not {} bytes", b->size()) : std::string(", and has a character that is not hex"));
    return false;
  }
  target.emplace();
  std::copy(b->begin(), b->end(), target->begin());
  return true;
}

/// snpguest's certificate directory: ark, ask (or asvk) and vcek (or vlek), each .pem or .der.
/// Prints why not on `err`.
bool load_certs_dir(const std::string& dir, std::vector<m::Certificate>* leaf, std::vector<m::Certificate>* chain,
                    std::FILE* err) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    fmt::print(err, "{}: --certs-dir '{}' is not a directory\n", kProg, dir);
    return false;
  }
  auto find = [&](std::string_view stem) -> std::optional<std::string> {
    for (const char* ext : {".pem", ".der"}) {
      const std::string p = fmt::format("{}/{}{}", dir, stem, ext);
      if (file_exists(p)) return p;
    }
    return std::nullopt;
  };
  for (const char* stem : {"vcek", "vlek"}) {
    if (const auto p = find(stem)) {
      auto certs = load_certs(*p, err);
      if (!certs) return false;
      *leaf = std::move(*certs);
      break;
    }
  }
  if (leaf->empty()) {
    fmt::print(err, "{}: --certs-dir '{}' holds no vcek.pem, vcek.der, vlek.pem or vlek.der\n", kProg, dir);
    return false;
  }
  for (const char* stem : {"ask", "asvk", "ark"}) {
    if (const auto p = find(stem)) {
      auto certs = load_certs(*p, err);
      if (!certs) return false;
      chain->insert(chain->end(), certs->begin(), certs->end());
    }
  }
  return true;
}

int cmd_verify(const VerifyArgs& a, std::FILE* out, std::FILE* err) {
  if (!a.certs_dir && !a.cert) return usage(err, "verify: --cert VCEK_OR_VLEK (or --certs-dir DIR) is required");
  if (!a.certs_dir && a.chains.empty()) return usage(err, "verify: at least one --chain PEM (or --certs-dir DIR) is required");
  if (a.sim_seed && !a.trust_simulated) return usage(err, "verify: --seed is the seed of --trust-simulated");
  std::optional<m::UnixTime> at;
  if (a.at) {
    at = m::parse_utc(*a.at);
    if (!at) return usage(err, fmt::format("verify: --at '{}' is not a UTC time like 2024-05-01T00:00:00Z", *a.at));
  }
  m::ReportPolicy policy;
  std::string why;
  if (!exact_hex(a.measurement, "--measurement", policy.measurement, &why) ||
      !exact_hex(a.report_data, "--report-data", policy.report_data, &why) ||
      !exact_hex(a.host_data, "--host-data", policy.host_data, &why) ||
      !exact_hex(a.id_key_digest, "--id-key-digest", policy.id_key_digest, &why)) {
    return usage(err, why);
  }
  if (a.min_tcb) {
    const auto b = m::decode_hex_text(*a.min_tcb);
    if (!b || b->size() != 8) {
      return usage(err, fmt::format("verify: --min-tcb needs a TCB_VERSION as 16 hex digits in report byte order "
                                    "(as `report show` prints it), not '{}'", *a.min_tcb));
    }
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < 8; ++i) v |= std::uint64_t{(*b)[i]} << (8 * i);
    policy.min_tcb = v;
  }
  policy.policy = a.policy;
  policy.policy_require = a.policy_require.value_or(0);
  policy.policy_forbid = a.policy_forbid.value_or(0);
  if (a.vmpl) policy.vmpl = static_cast<std::uint32_t>(*a.vmpl);

  m::VerifyOptions options;
  options.allow_masked_chip_id = !a.strict_chip_id;
  const auto bytes = load_report(a.file, err);
  if (!bytes) return cli::kExitUsage;
  std::vector<m::Certificate> leaf_certs, chain;
  if (a.certs_dir && !load_certs_dir(*a.certs_dir, &leaf_certs, &chain, err)) return cli::kExitUsage;
  if (a.cert) {
    auto certs = load_certs(*a.cert, err);
    if (!certs) return cli::kExitUsage;
    leaf_certs = std::move(*certs);
  }
  for (const auto& c : a.chains) {
    auto certs = load_certs(c, err);
    if (!certs) return cli::kExitUsage;
    chain.insert(chain.end(), certs->begin(), certs->end());
  }
  for (const auto& path : a.arks) {
    auto roots = load_certs(path, err);
    if (!roots) return cli::kExitUsage;
    for (const auto& root : *roots) {
      options.roots.push_back(m::trusted_root_of(root, fmt::format("'{}' ({})", root.subject_cn(), path),
                                                 "named by --ark"));
    }
  }
  if (a.trust_simulated) {
    const std::uint64_t seed = a.sim_seed.value_or(SimReportOptions{}.seed);
    const m::SimChip chip(seed, m::Product::Milan);  // the ARK key is the same for every product
    options.roots.push_back(m::TrustedRoot{fmt::format("the snplab simulated chip's root for seed {}", seed),
                                           chip.ark_key_sha256(),
                                           "--trust-simulated: a simulator's key, not AMD's"});
  }
  const bool now = !at;
  const m::UnixTime when =
      at ? *at
         : std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();

  m::VerifyResult r = m::verify_report(*bytes, leaf_certs.front(), chain, when, options);
  if (r.report) {  // no report: report.format has already failed the verdict
    for (auto& c : m::check_report_policy(*r.report, policy, m::tcb_layout_for(r.product))) r.checks.push_back(std::move(c));
  }
  const bool ok = r.ok();

  if (a.json) {
    // Schema snplab.report.verify/1 (docs/attestation.md).
    nlohmann::json chain_json = nlohmann::json::array(), checks = nlohmann::json::array();
    for (const auto& role : r.chain) {
      chain_json.push_back({{"role", role.role}, {"subject", role.cert.subject()},
                            {"sha256", m::to_hex(role.cert.fingerprint_sha256())},
                            {"not_before", m::format_utc(role.cert.not_before())},
                            {"not_after", m::format_utc(role.cert.not_after())}});
    }
    for (const auto& c : r.checks) {
      checks.push_back({{"name", c.name}, {"status", std::string(m::to_string(c.status))}, {"message", c.message}});
    }
    const nlohmann::json doc = {
        {"schema", "snplab.report.verify/1"},
        {"file", a.file},
        {"verdict", ok ? "VALID" : "INVALID"},
        {"product", {{"name", std::string(m::to_string(r.product))}, {"from", r.product_source}}},
        {"root", r.trusted_root ? nlohmann::json{{"name", r.trusted_root->name}, {"why", r.trusted_root->why}}
                                : nlohmann::json(nullptr)},
        {"time", m::format_utc(when)},
        {"time_from", now ? "now" : "--at"},
        {"chain", chain_json},
        {"checks", checks}};
    fmt::print(out, "{}\n", doc.dump(2));
  } else {
    fmt::print(out, "report {}\n", a.file);
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
    fmt::print(out, "verdict: {}\n", ok ? "VALID" : "INVALID");
  }
  if (ok) return cli::kExitOk;
  for (const auto* f : r.failures()) fmt::print(err, "snplab report verify: FAILED {}: {}\n", f->name, f->message);
  return cli::kExitNo;
}

/// The AMD KDS URL of the VCEK that signs `r` (AMD's VCEK specification 57230, the KDS
/// interface; the form snpguest's `fetch vcek` requests): /vcek/v1/{product}/{hwid}?SPLs, the
/// SPLs of REPORTED_TCB in decimal, two digits at least; Turin's hwid is the first 8 bytes of
/// CHIP_ID and its query starts with fmcSPL (docs/attestation.md).
std::string kds_vcek_url(const m::AttestationReport& r, m::Product product) {
  const m::TcbLayout layout = product == m::Product::Turin ? m::TcbLayout::Turin : m::TcbLayout::MilanGenoa;
  const m::TcbParts t = m::decode_tcb(r.reported_tcb, layout);
  const std::span<const std::uint8_t> chip(r.chip_id);
  const std::string hwid = m::to_hex(product == m::Product::Turin ? chip.first(8) : chip);
  return fmt::format("https://kdsintf.amd.com/vcek/v1/{}/{}?{}blSPL={:02}&teeSPL={:02}&snpSPL={:02}&ucodeSPL={:02}",
                     m::to_string(product), hwid,
                     product == m::Product::Turin ? fmt::format("fmcSPL={:02}&", t.fmc) : std::string(), t.boot_loader,
                     t.tee, t.snp, t.microcode);
}

int cmd_fetch_url(const std::string& file, std::optional<m::Product> forced, std::FILE* out, std::FILE* err) {
  const auto loaded = load_parsed(file, err);
  if (!loaded) return cli::kExitUsage;
  const m::AttestationReport& r = *loaded;
  const auto [product, from] = product_of(r, forced);
  if (product == m::Product::Unknown) {
    fmt::print(err, "{} fetch-url: the report does not say its product ({}); pass --product\n", kProg, from);
    return cli::kExitUsage;
  }
  const auto key = r.signing_key();
  if (!key || *key != m::SigningKey::Vcek) {
    fmt::print(err, "{} fetch-url: the report is signed with {}, not a VCEK: KDS serves VLEKs only to cloud "
                    "providers, and there is no public URL for them\n",
               kProg, key ? std::string(m::to_string(*key)) : "a reserved key");
    return cli::kExitNo;
  }
  if (r.chip_id_is_zero()) {
    fmt::print(err, "{} fetch-url: CHIP_ID is all zero (MASK_CHIP_ID): the report does not name its chip\n", kProg);
    return cli::kExitNo;
  }
  fmt::print(out, "{}\n", kds_vcek_url(r, product));
  return cli::kExitOk;
}

int cmd_simulate(const SimReportOptions& opts, const std::string& dir, std::FILE* out, std::FILE* err) {
  const SimReport r = simulate_report(opts);
  if (!r.error.empty()) {
    fmt::print(err, "snplab report simulate: firmware refused: {}\n", r.error);
    return cli::kExitNo;
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
    return cli::kExitNo;
  }
  fmt::print(out, "wrote {0}/report.bin, {1}, {0}/chain.pem\n", dir, leaf);
  return cli::kExitOk;
}

constexpr const char* kFileHelp =
    "the report: 1184 bytes, binary or hex text; FILE@OFFSET takes it at that byte offset of a larger file "
    "(an Azure HCL report holds it at @32)";

}  // namespace

int report_main(int argc, char** argv, std::FILE* out, std::FILE* err) {
  CLI::App app{"Attestation reports (facts §6.3): print one, verify it against a chain rooted in AMD's keys, name the "
               "KDS URL of its VCEK, or make one on a simulated chip.",
               std::string(kProg)};
  app.require_subcommand(1);
  app.footer("Exit codes: 0 done (verify: VALID), 1 the answer is no (verify: INVALID; fetch-url: no URL), 2 bad usage "
             "or input.");

  std::string file;
  std::optional<m::Product> product;
  bool json = false;
  auto* show = app.add_subcommand("show", "print a report's fields");
  show->add_option("FILE", file, kFileHelp)->required();
  add_product(*show, product, "read the TCB in this product's layout (a v2 report has no CPUID)");
  show->add_flag("--json", json, "one JSON document (schema snplab.report.show/1)");

  VerifyArgs va;
  auto* verify = app.add_subcommand("verify", "verify a report against its VCEK/VLEK and AMD's chain, then the policy");
  verify->add_option("FILE", va.file, kFileHelp)->required();
  auto* cert = verify->add_option("--cert", va.cert, "the VCEK or VLEK (PEM or DER; the first certificate in the file)");
  auto* chain = verify->add_option("--chain", va.chains, "the ASK (or ASVK) and ARK, in any order and number of files");
  verify->add_option("--certs-dir", va.certs_dir,
                     "snpguest's certificate directory: vcek or vlek, ask or asvk, ark, each .pem or .der")
      ->excludes(cert)
      ->excludes(chain);
  verify->add_option("--at", va.at, "verify at this UTC instant (YYYY-MM-DDTHH:MM:SSZ) instead of now");
  verify->add_flag("--strict-chip-id", va.strict_chip_id, "reject VCEK reports whose CHIP_ID is masked (all zero)");
  verify->add_option("--ark", va.arks, "trust the root key(s) in this file as well as AMD's")->type_name("FILE");
  auto* trust_sim = verify->add_flag("--trust-simulated", va.trust_simulated,
                                     "trust the simulated chip's root (for `report simulate` output; no AMD key)");
  cli::add_u64(*verify, "--seed", va.sim_seed, 0, UINT64_MAX, "the simulated chip's seed for --trust-simulated (default 1)")
      ->needs(trust_sim);
  verify->add_option("--measurement", va.measurement, "policy: MEASUREMENT is this (48 bytes of hex)")->type_name("HEX");
  verify->add_option("--report-data", va.report_data, "policy: REPORT_DATA is this (64 bytes of hex)")->type_name("HEX");
  verify->add_option("--host-data", va.host_data, "policy: HOST_DATA is this (32 bytes of hex)")->type_name("HEX");
  verify->add_option("--id-key-digest", va.id_key_digest, "policy: ID_KEY_DIGEST is this (48 bytes of hex)")->type_name("HEX");
  verify->add_option("--min-tcb", va.min_tcb,
                     "policy: each SPL of REPORTED_TCB is at least this TCB's (16 hex digits, report byte order)")
      ->type_name("HEX");
  cli::add_u64(*verify, "--policy", va.policy, 0, UINT64_MAX, "policy: POLICY is exactly this");
  cli::add_u64(*verify, "--policy-require", va.policy_require, 0, UINT64_MAX, "policy: POLICY has every bit of this mask");
  cli::add_u64(*verify, "--policy-forbid", va.policy_forbid, 0, UINT64_MAX, "policy: POLICY has no bit of this mask");
  cli::add_u64(*verify, "--vmpl", va.vmpl, 0, 3, "policy: the report is for this VMPL");
  verify->add_flag("--json", va.json, "one JSON document (schema snplab.report.verify/1)");

  std::string url_file;
  std::optional<m::Product> url_product;
  auto* url = app.add_subcommand("fetch-url", "print the AMD KDS URL of the VCEK that signs a report (no network access)");
  url->add_option("FILE", url_file, kFileHelp)->required();
  add_product(*url, url_product, "the product, for a v2 report (no CPUID)");

  SimReportOptions so;
  std::string dir;
  std::optional<m::Product> sim_product;
  std::string report_data;
  auto* sim = app.add_subcommand("simulate", "write DIR/report.bin, DIR/vcek.der (or vlek.der) and DIR/chain.pem from a "
                                             "simulated chip (one seed, the same bytes every time)");
  sim->add_option("--out", dir, "the directory to write into")->required()->type_name("DIR");
  cli::add_u64(*sim, "--seed", so.seed, 0, UINT64_MAX, "the simulated chip's seed");
  add_product(*sim, sim_product, "the simulated chip's product");
  sim->add_flag("--vlek", so.vlek, "sign with a VLEK instead of the VCEK");
  sim->add_option("--report-data", report_data, "REPORT_DATA, up to 64 bytes of hex")->type_name("HEX");

  if (const auto rc = cli::parse(app, kProg, argc, argv, out, err)) return *rc;
  if (show->parsed()) return cmd_show(file, product, json, out, err);
  if (verify->parsed()) return cmd_verify(va, out, err);
  if (url->parsed()) return cmd_fetch_url(url_file, url_product, out, err);
  if (sim_product) so.product = *sim_product;
  if (!report_data.empty()) {
    const auto bytes = m::decode_hex_text(report_data);
    if (!bytes || bytes->size() > 64) return usage(err, "simulate: --report-data needs up to 64 bytes of hex");
    std::copy(bytes->begin(), bytes->end(), so.report_data.begin());
  }
  return cmd_simulate(so, dir, out, err);
}

}  // namespace snplab::scenarios
