// verify_report(): the checks of ../shared/vectors/reports/README.md, in the order the header
// lists them. Each check records Pass/Fail/Skipped and a message that says what was compared.
#include "snp/model/attest/report_verify.h"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

namespace snplab::model {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string short_hex(std::span<const std::uint8_t> b, std::size_t max_bytes = 8) {
  const auto shown = b.first(std::min(b.size(), max_bytes));
  return to_hex(shown) + (b.size() > max_bytes ? "..." : "");
}

/// Picks, among `chain`, a certificate that issued `child` by name (and is not `child`
/// itself); prefers one whose signature over `child` verifies.
std::optional<Certificate> find_issuer(const Certificate& child, std::span<const Certificate> chain,
                                       bool want_self_issued, const Certificate& leaf) {
  std::optional<Certificate> first;
  for (const auto& c : chain) {
    if (c.der() == leaf.der()) continue;
    if (c.der() == child.der() && !want_self_issued) continue;
    if (!child.names_as_issuer(c) || c.self_issued() != want_self_issued) continue;
    if (child.verify_signed_by(c).ok) return c;
    if (!first) first = c;
  }
  return first;
}

constexpr Sha256Digest digest_from_hex(const char (&hex)[65]) {
  auto nibble = [](char c) -> std::uint8_t {
    return static_cast<std::uint8_t>(c <= '9' ? c - '0' : c - 'a' + 10);
  };
  Sha256Digest d{};
  for (std::size_t i = 0; i < d.size(); ++i) {
    d[i] = static_cast<std::uint8_t>(nibble(hex[2 * i]) << 4 | nibble(hex[2 * i + 1]));
  }
  return d;
}

}  // namespace

std::span<const TrustedRoot> amd_roots() {
  // SHA-256 of each ARK's DER SubjectPublicKeyInfo. Milan and Genoa: the ARKs in
  // ../shared/vectors/reports/oak/ (a test recomputes both); Turin: the ARK of KDS's Turin
  // chain as go-sev-guest ships it (verify/trust/ask_ark_turin_vlek.pem).
  static const TrustedRoot kRoots[] = {
      {"AMD ARK-Milan", digest_from_hex("9f056bee44377e29308cb5ffa895bdfb62d18881fa6bed8d6f075b0204089cb9"),
       "AMD's published Milan root key", Product::Milan},
      {"AMD ARK-Genoa", digest_from_hex("429a69c9422aa258ee4d8db5fcda9c6470ef15f8cd5a9cebd6cbc7d90b863831"),
       "AMD's published Genoa root key", Product::Genoa},
      {"AMD ARK-Turin", digest_from_hex("4f125410563a2ab9a50356f9243f6fe0b6f73de98603f53f90339c70e9d7ad08"),
       "AMD's published Turin root key", Product::Turin},
  };
  return kRoots;
}

TrustedRoot trusted_root_of(const Certificate& cert, std::string name, std::string why, Product product) {
  return TrustedRoot{std::move(name), sha256(cert.public_key_der()), std::move(why), product};
}

std::string_view to_string(LeafKind k) {
  switch (k) {
    case LeafKind::Unknown: return "unknown";
    case LeafKind::Vcek: return "VCEK";
    case LeafKind::Vlek: return "VLEK";
  }
  return "invalid";
}

std::string_view to_string(CheckStatus s) {
  switch (s) {
    case CheckStatus::Pass: return "PASS";
    case CheckStatus::Fail: return "FAIL";
    case CheckStatus::Skipped: return "SKIP";
  }
  return "invalid";
}

LeafKind leaf_kind_of(const Certificate& leaf) {
  const std::string cn = leaf.subject_cn();
  if (cn == "SEV-VCEK") return LeafKind::Vcek;
  if (cn == "SEV-VLEK") return LeafKind::Vlek;
  const auto ext = leaf.amd_extensions();
  if (ext && ext->hwid) return LeafKind::Vcek;
  if (ext && ext->csp_id) return LeafKind::Vlek;
  return LeafKind::Unknown;
}

bool VerifyResult::ok() const {
  return std::none_of(checks.begin(), checks.end(), [](const CheckResult& c) { return c.status == CheckStatus::Fail; });
}

std::vector<const CheckResult*> VerifyResult::failures() const {
  std::vector<const CheckResult*> out;
  for (const auto& c : checks) {
    if (c.status == CheckStatus::Fail) out.push_back(&c);
  }
  return out;
}

const CheckResult* VerifyResult::find(CheckId id) const {
  for (const auto& c : checks) {
    if (c.id == id) return &c;
  }
  return nullptr;
}

std::string VerifyResult::failure_summary() const {
  std::string s;
  for (const auto* c : failures()) {
    if (!s.empty()) s += "; ";
    s += c->name + ": " + c->message;
  }
  return s;
}

VerifyResult verify_report(std::span<const std::uint8_t> report_bytes, const Certificate& leaf,
                           std::span<const Certificate> chain, UnixTime at_time, const VerifyOptions& options) {
  VerifyResult r;
  r.at_time = at_time;
  auto add = [&r](CheckId id, CheckStatus st, std::string name, std::string msg) {
    r.checks.push_back(CheckResult{id, st, std::move(name), std::move(msg)});
  };
  auto pass = [&add](CheckId id, std::string name, std::string msg) {
    add(id, CheckStatus::Pass, std::move(name), std::move(msg));
  };
  auto fail = [&add](CheckId id, std::string name, std::string msg) {
    add(id, CheckStatus::Fail, std::move(name), std::move(msg));
  };
  auto skip = [&add](CheckId id, std::string name, std::string msg) {
    add(id, CheckStatus::Skipped, std::move(name), std::move(msg));
  };

  // --- The report itself -------------------------------------------------------------------
  if (auto parsed = parse_attestation_report(report_bytes)) {
    r.report = std::move(*parsed);
    pass(CheckId::ReportFormat, "report.format", fmt::format("{} bytes", kReportSize));
  } else {
    fail(CheckId::ReportFormat, "report.format", parsed.error().message);
  }
  const AttestationReport* rep = r.report ? &*r.report : nullptr;
  if (rep == nullptr) {
    skip(CheckId::ReportVersion, "report.version", "no report");
  } else if (rep->version_known()) {
    pass(CheckId::ReportVersion, "report.version", fmt::format("VERSION {} is known", rep->version));
  } else {
    fail(CheckId::ReportVersion, "report.version",
         fmt::format("VERSION {} is not one this verifier knows ({}..{})", rep->version, kMinKnownReportVersion,
                     kMaxKnownReportVersion));
  }

  // --- Roles ---------------------------------------------------------------------------------
  r.leaf_kind = leaf_kind_of(leaf);
  const std::string leaf_role = r.leaf_kind == LeafKind::Unknown ? "leaf" : std::string(to_string(r.leaf_kind));
  const std::string mid_role = r.leaf_kind == LeafKind::Vlek ? "ASVK" : "ASK";
  const std::string leaf_l = lower(leaf_role);
  const std::string mid_l = lower(mid_role);

  const std::optional<Certificate> ask = find_issuer(leaf, chain, /*want_self_issued=*/false, leaf);
  const std::optional<Certificate> ark =
      ask ? find_issuer(*ask, chain, /*want_self_issued=*/true, leaf) : std::optional<Certificate>{};
  r.chain.push_back({leaf_role, leaf});
  if (ask) r.chain.push_back({mid_role, *ask});
  if (ark) r.chain.push_back({"ARK", *ark});

  // --- Chain signatures and the root ---------------------------------------------------------
  // The ARK must be one of the caller's roots by key: names and a self-signature prove nothing,
  // since anyone can make a self-signed "ARK-Milan".
  auto check_ark_trusted = [&](const Certificate& ark_cert) {
    const Sha256Digest key = sha256(ark_cert.public_key_der());
    for (const TrustedRoot& root : options.roots) {
      if (root.spki_sha256 != key) continue;
      r.trusted_root = root;
      pass(CheckId::ChainArkTrusted, "chain.ark_trusted",
           fmt::format("ARK key sha256 {} is {} ({})", short_hex(key), root.name, root.why));
      return;
    }
    fail(CheckId::ChainArkTrusted, "chain.ark_trusted",
         fmt::format("ARK '{}' key sha256 {} is none of the {} trusted roots (AMD's ARKs unless --ark or "
                     "--trust-simulated names another): the chain is anchored in a key nobody vouches for",
                     ark_cert.subject_cn(), to_hex(key), options.roots.size()));
  };
  const std::string ark_sign_name = "chain.ark_signs_" + mid_l;
  const std::string ask_sign_name = fmt::format("chain.{}_signs_{}", mid_l, leaf_l);
  if (!ask) {
    const std::string why = fmt::format("no certificate in the chain has the subject '{}' that issued the {}",
                                        leaf.issuer(), leaf_role);
    fail(CheckId::ChainArkSelfSigned, "chain.ark_self_signed", "no ARK: the " + mid_role + " is missing");
    fail(CheckId::ChainArkTrusted, "chain.ark_trusted", "no ARK: the " + mid_role + " is missing");
    fail(CheckId::ChainArkSignsAsk, ark_sign_name, "no " + mid_role + ": " + why);
    fail(CheckId::ChainAskSignsLeaf, ask_sign_name, why);
  } else {
    if (!ark) {
      fail(CheckId::ChainArkSelfSigned, "chain.ark_self_signed",
           fmt::format("no self-issued certificate in the chain has the subject '{}' that issued the {}",
                       ask->issuer(), mid_role));
      fail(CheckId::ChainArkTrusted, "chain.ark_trusted", "no ARK in the chain to compare with the trusted roots");
      fail(CheckId::ChainArkSignsAsk, ark_sign_name, "no ARK in the chain");
    } else {
      const auto self = ark->verify_signed_by(*ark);
      add(CheckId::ChainArkSelfSigned, self.ok ? CheckStatus::Pass : CheckStatus::Fail, "chain.ark_self_signed",
          fmt::format("ARK '{}' self-signature: {}", ark->subject_cn(), self.message));
      check_ark_trusted(*ark);
      const auto down = ask->verify_signed_by(*ark);
      add(CheckId::ChainArkSignsAsk, down.ok ? CheckStatus::Pass : CheckStatus::Fail, ark_sign_name,
          fmt::format("ARK '{}' -> {} '{}': {}", ark->subject_cn(), mid_role, ask->subject_cn(), down.message));
    }
    const auto leafsig = leaf.verify_signed_by(*ask);
    add(CheckId::ChainAskSignsLeaf, leafsig.ok ? CheckStatus::Pass : CheckStatus::Fail, ask_sign_name,
        fmt::format("{} '{}' -> {} '{}': {}", mid_role, ask->subject_cn(), leaf_role, leaf.subject_cn(),
                    leafsig.message));
  }

  // --- Validity at the given time ------------------------------------------------------------
  auto validity = [&](CheckId id, const std::string& role, const std::optional<Certificate>& c) {
    const std::string name = "validity." + lower(role);
    if (!c) {
      skip(id, name, "no " + role + " certificate");
      return;
    }
    const std::string window = fmt::format("valid {} .. {} UTC", format_utc(c->not_before()), format_utc(c->not_after()));
    if (at_time < c->not_before()) {
      fail(id, name, fmt::format("{} '{}' is not yet valid at {} UTC ({})", role, c->subject_cn(), format_utc(at_time),
                                 window));
    } else if (at_time > c->not_after()) {
      fail(id, name, fmt::format("{} '{}' expired at {} UTC (checked at {} UTC)", role, c->subject_cn(),
                                 format_utc(c->not_after()), format_utc(at_time)));
    } else {
      pass(id, name, fmt::format("{} at {} UTC", window, format_utc(at_time)));
    }
  };
  validity(CheckId::ValidityArk, "ARK", ark);
  validity(CheckId::ValidityAsk, mid_role, ask);
  validity(CheckId::ValidityLeaf, leaf_role, leaf);

  // --- Leaf extensions (needed by the product, chip id and TCB checks) -----------------------
  std::string ext_error;
  if (auto ext = leaf.amd_extensions()) {
    r.leaf_extensions = std::move(*ext);
  } else {
    ext_error = ext.error().message;
  }
  const AmdCertExtensions* ext = r.leaf_extensions ? &*r.leaf_extensions : nullptr;

  // --- KEY_INFO.SIGNING_KEY vs the certificate -----------------------------------------------
  if (rep == nullptr) {
    skip(CheckId::SigningKey, "report.signing_key", "no report");
  } else {
    const auto key = rep->signing_key();
    if (!key) {
      fail(CheckId::SigningKey, "report.signing_key",
           fmt::format("KEY_INFO.SIGNING_KEY is {}, a reserved value", rep->signing_key_raw()));
    } else if (*key == SigningKey::None) {
      fail(CheckId::SigningKey, "report.signing_key", "KEY_INFO.SIGNING_KEY is 7: no key signed this report");
    } else if (r.leaf_kind == LeafKind::Unknown) {
      fail(CheckId::SigningKey, "report.signing_key",
           fmt::format("cannot tell whether the certificate '{}' is a VCEK or a VLEK (CN is neither SEV-VCEK nor "
                       "SEV-VLEK; no hwID or cspId extension)",
                       leaf.subject()));
    } else {
      const bool match = (*key == SigningKey::Vcek) == (r.leaf_kind == LeafKind::Vcek);
      add(CheckId::SigningKey, match ? CheckStatus::Pass : CheckStatus::Fail, "report.signing_key",
          fmt::format("KEY_INFO.SIGNING_KEY is {}, the certificate is a {}", to_string(*key), to_string(r.leaf_kind)));
    }
  }

  // --- The report signature --------------------------------------------------------------------
  if (rep == nullptr) {
    skip(CheckId::ReportSignature, "report.signature", "no report");
  } else if (rep->signature_algo != kSignatureAlgoEcdsaP384Sha384) {
    fail(CheckId::ReportSignature, "report.signature",
         fmt::format("SIGNATURE_ALGO is {}, not 1 (ECDSA P-384 with SHA-384)", rep->signature_algo));
  } else {
    const auto raw = std::span<const std::uint8_t, kReportSize>(report_bytes.data(), kReportSize);
    auto sig = verify_report_signature(raw, leaf);
    std::string msg = fmt::format("with the {} key: {}", leaf_role, sig.message);
    if (!sig.ok && rep->mask_chip_key()) msg += " (KEY_INFO.MASK_CHIP_KEY is set: the firmware does not sign)";
    add(CheckId::ReportSignature, sig.ok ? CheckStatus::Pass : CheckStatus::Fail, "report.signature", std::move(msg));
  }

  // --- Product: which TCB layout applies -------------------------------------------------------
  struct Source {
    std::string what;
    Product product;
  };
  std::vector<Source> sources;
  std::string unknown_notes;
  if (rep != nullptr && rep->has_cpuid()) {
    const Product p = rep->product();
    if (p != Product::Unknown) {
      sources.push_back({"report CPUID", p});
    } else {
      unknown_notes += fmt::format(" report CPUID family 0x{:02x} model 0x{:02x} is not a known product;",
                                   rep->cpuid_fam_id, rep->cpuid_mod_id);
    }
  }
  if (ext != nullptr && ext->product_name) {
    const Product p = product_from_name(*ext->product_name);
    if (p != Product::Unknown) sources.push_back({fmt::format("{} productName '{}'", leaf_role, *ext->product_name), p});
  }
  if (ask) {
    const Product p = product_from_name(ask->subject_cn());
    if (p != Product::Unknown) sources.push_back({fmt::format("{} '{}'", mid_role, ask->subject_cn()), p});
  }
  if (ark) {
    const Product p = product_from_name(ark->subject_cn());
    if (p != Product::Unknown) sources.push_back({fmt::format("ARK '{}'", ark->subject_cn()), p});
  }
  if (r.trusted_root && r.trusted_root->product != Product::Unknown) {
    sources.push_back({fmt::format("trusted root {}", r.trusted_root->name), r.trusted_root->product});
  }
  std::optional<TcbLayout> layout;
  if (sources.empty()) {
    fail(CheckId::Product, "report.product",
         "cannot tell the product (no known CPUID in the report, no product name in the certificates);" +
             unknown_notes);
  } else {
    r.product = sources.front().product;
    r.product_source = sources.front().what;
    layout = tcb_layout_for(r.product);
    std::string listing;
    bool agree = true;
    for (const auto& s : sources) {
      if (!listing.empty()) listing += ", ";
      listing += fmt::format("{} says {}", s.what, to_string(s.product));
      agree = agree && s.product == r.product;
    }
    add(CheckId::Product, agree ? CheckStatus::Pass : CheckStatus::Fail, "report.product",
        agree ? fmt::format("{} ({})", to_string(r.product), listing)
              : fmt::format("the sources disagree: {}", listing));
  }

  // --- CHIP_ID vs hwID (VCEK) -------------------------------------------------------------------
  if (rep == nullptr) {
    skip(CheckId::ChipId, "report.chip_id", "no report");
  } else if (r.leaf_kind == LeafKind::Vlek) {
    skip(CheckId::ChipId, "report.chip_id", "VLEK-signed: a VLEK is not tied to one chip (no hwID)");
  } else if (r.leaf_kind == LeafKind::Unknown) {
    skip(CheckId::ChipId, "report.chip_id", "the certificate kind is unknown (see report.signing_key)");
  } else if (ext == nullptr) {
    fail(CheckId::ChipId, "report.chip_id", "VCEK extensions unreadable: " + ext_error);
  } else if (!ext->hwid) {
    fail(CheckId::ChipId, "report.chip_id", "the VCEK has no hwID extension (1.3.6.1.4.1.3704.1.4)");
  } else if (rep->chip_id_is_zero()) {
    if (options.allow_masked_chip_id) {
      skip(CheckId::ChipId, "report.chip_id",
           "CHIP_ID is all zero (MASK_CHIP_ID): not compared with the hwID; the VCEK signature still binds the "
           "report to the chip's key");
    } else {
      fail(CheckId::ChipId, "report.chip_id", "CHIP_ID is all zero (MASK_CHIP_ID) and masked chip ids are not allowed");
    }
  } else {
    const auto& hw = *ext->hwid;
    const std::span<const std::uint8_t> chip(rep->chip_id);
    if (hw.size() == chip.size()) {
      const bool eq = std::equal(hw.begin(), hw.end(), chip.begin());
      add(CheckId::ChipId, eq ? CheckStatus::Pass : CheckStatus::Fail, "report.chip_id",
          eq ? fmt::format("CHIP_ID {} equals the VCEK hwID", short_hex(chip))
             : fmt::format("CHIP_ID {} differs from the VCEK hwID {}: certificate and report are not from the same "
                           "chip",
                           short_hex(chip), short_hex(hw)));
    } else if (hw.size() == 8) {
      // Turin: the hwID is 8 bytes; CHIP_ID is those bytes followed by zeros (README rule 3).
      const bool head = std::equal(hw.begin(), hw.end(), chip.begin());
      const bool tail = std::all_of(chip.begin() + 8, chip.end(), [](std::uint8_t b) { return b == 0; });
      add(CheckId::ChipId, head && tail ? CheckStatus::Pass : CheckStatus::Fail, "report.chip_id",
          head && tail ? fmt::format("CHIP_ID {} equals the 8-byte (Turin) hwID, rest zero", short_hex(chip))
                       : fmt::format("CHIP_ID {} is not the 8-byte (Turin) hwID {} followed by zeros",
                                     short_hex(chip, 16), short_hex(hw)));
    } else {
      fail(CheckId::ChipId, "report.chip_id",
           fmt::format("the VCEK hwID has {} bytes (64 expected, or 8 on Turin)", hw.size()));
    }
  }

  // --- REPORTED_TCB vs the certified TCB ---------------------------------------------------------
  if (rep == nullptr) {
    skip(CheckId::ReportedTcb, "report.reported_tcb", "no report");
  } else if (ext == nullptr) {
    fail(CheckId::ReportedTcb, "report.reported_tcb", leaf_role + " extensions unreadable: " + ext_error);
  } else if (!layout) {
    fail(CheckId::ReportedTcb, "report.reported_tcb",
         fmt::format("REPORTED_TCB {} cannot be compared: the product (and so the TCB layout) is unknown",
                     tcb_hex(rep->reported_tcb)));
  } else if (!ext->has_tcb(*layout)) {
    fail(CheckId::ReportedTcb, "report.reported_tcb",
         fmt::format("the {} lacks TCB extensions the {} layout needs (blSPL, teeSPL, snpSPL, ucodeSPL{})", leaf_role,
                     to_string(*layout), *layout == TcbLayout::Turin ? ", fmcSPL" : ""));
  } else {
    const std::uint64_t certified = encode_tcb(ext->tcb_parts(), *layout);
    const bool eq = certified == rep->reported_tcb;
    add(CheckId::ReportedTcb, eq ? CheckStatus::Pass : CheckStatus::Fail, "report.reported_tcb",
        eq ? fmt::format("REPORTED_TCB {} ({}: {}) equals the {}'s TCB", tcb_hex(rep->reported_tcb),
                         to_string(*layout), describe_tcb(rep->reported_tcb, *layout), leaf_role)
           : fmt::format("REPORTED_TCB {} ({}) differs from the {}'s certified TCB {} ({}) [{} layout]",
                         tcb_hex(rep->reported_tcb), describe_tcb(rep->reported_tcb, *layout), leaf_role,
                         tcb_hex(certified), describe_tcb(certified, *layout), to_string(*layout)));
  }
  return r;
}

namespace {

template <std::size_t N>
CheckResult exact_field(CheckId id, std::string name, std::string_view field, const std::array<std::uint8_t, N>& got,
                        const std::array<std::uint8_t, N>& want) {
  const bool eq = got == want;
  return CheckResult{id, eq ? CheckStatus::Pass : CheckStatus::Fail, std::move(name),
                     eq ? fmt::format("{} is {}", field, to_hex(got))
                        : fmt::format("{} is {}, expected {}", field, to_hex(got), to_hex(want))};
}

}  // namespace

std::vector<CheckResult> check_report_policy(const AttestationReport& r, const ReportPolicy& p,
                                             std::optional<TcbLayout> layout) {
  std::vector<CheckResult> out;
  if (p.measurement) out.push_back(exact_field(CheckId::PolicyMeasurement, "policy.measurement", "MEASUREMENT", r.measurement, *p.measurement));
  if (p.report_data) out.push_back(exact_field(CheckId::PolicyReportData, "policy.report_data", "REPORT_DATA", r.report_data, *p.report_data));
  if (p.host_data) out.push_back(exact_field(CheckId::PolicyHostData, "policy.host_data", "HOST_DATA", r.host_data, *p.host_data));
  if (p.id_key_digest) {
    out.push_back(exact_field(CheckId::PolicyIdKeyDigest, "policy.id_key_digest", "ID_KEY_DIGEST", r.id_key_digest, *p.id_key_digest));
  }
  if (p.min_tcb) {
    if (!layout) {
      out.push_back({CheckId::PolicyMinTcb, CheckStatus::Fail, "policy.min_tcb",
                     "the product (and so the TCB layout) is unknown: REPORTED_TCB cannot be compared"});
    } else {
      const TcbParts got = decode_tcb(r.reported_tcb, *layout), min = decode_tcb(*p.min_tcb, *layout);
      std::string low;
      auto component = [&](std::string_view name, std::uint8_t g, std::uint8_t m) {
        if (g < m) low += fmt::format("{}{} {} < {}", low.empty() ? "" : ", ", name, g, m);
      };
      if (*layout == TcbLayout::Turin) component("FMC", got.fmc, min.fmc);
      component("BOOT_LOADER", got.boot_loader, min.boot_loader);
      component("TEE", got.tee, min.tee);
      component("SNP", got.snp, min.snp);
      component("MICROCODE", got.microcode, min.microcode);
      out.push_back({CheckId::PolicyMinTcb, low.empty() ? CheckStatus::Pass : CheckStatus::Fail, "policy.min_tcb",
                     low.empty() ? fmt::format("REPORTED_TCB {} ({}) is at least {} ({})", tcb_hex(r.reported_tcb),
                                               describe_tcb(r.reported_tcb, *layout), tcb_hex(*p.min_tcb),
                                               describe_tcb(*p.min_tcb, *layout))
                                 : fmt::format("REPORTED_TCB {} is below the minimum {}: {}", tcb_hex(r.reported_tcb),
                                               tcb_hex(*p.min_tcb), low)});
    }
  }
  if (p.policy || p.policy_require != 0 || p.policy_forbid != 0) {
    std::string bad;
    if (p.policy && r.policy != *p.policy) bad = fmt::format("POLICY 0x{:x} is not 0x{:x}", r.policy, *p.policy);
    if (const std::uint64_t missing = p.policy_require & ~r.policy; missing != 0) {
      bad += fmt::format("{}required bits 0x{:x} are clear", bad.empty() ? "" : "; ", missing);
    }
    if (const std::uint64_t set = p.policy_forbid & r.policy; set != 0) {
      bad += fmt::format("{}forbidden bits 0x{:x} are set", bad.empty() ? "" : "; ", set);
    }
    out.push_back({CheckId::PolicyGuestPolicy, bad.empty() ? CheckStatus::Pass : CheckStatus::Fail,
                   "policy.guest_policy",
                   bad.empty() ? fmt::format("POLICY 0x{:x} ({}) as required", r.policy, describe_policy(r.policy))
                               : fmt::format("{} (POLICY 0x{:x}: {})", bad, r.policy, describe_policy(r.policy))});
  }
  if (p.vmpl) {
    const bool eq = r.vmpl == *p.vmpl;
    out.push_back({CheckId::PolicyVmpl, eq ? CheckStatus::Pass : CheckStatus::Fail, "policy.vmpl",
                   eq ? fmt::format("VMPL is {}", r.vmpl) : fmt::format("VMPL is {}, expected {}", r.vmpl, *p.vmpl)});
  }
  return out;
}

}  // namespace snplab::model
