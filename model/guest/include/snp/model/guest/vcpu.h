// The simulated guest's CPU: it runs the guest program (program.h) one operation at a time
// against the machine beneath it. The machine is the part the guest cannot see into - the
// CPU's nested page walk and RMP check, and the hypervisor that handles each #VMEXIT - and the
// host model provides it (model/host, kvm/x86.cc). The guest's side is here: what each
// operation asks of the machine, what the guest makes of the answer (its log, retries,
// giving up), and its sev-guest driver's steps around a guest request (sev_guest.h).
//
// Exits stay the machine's business: an operation that makes KVM_RUN return leaves the
// guest where it was (pc unchanged) and the host records the exit; when KVM completes it on
// the next KVM_RUN, the host hands the answer back through complete_hypercall() or
// complete_request(), as the guest reads RAX or the GHCB after VMRUN.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "snp/model/base/finding.h"
#include "snp/model/crypto/aead.h"
#include "snp/model/guest/program.h"
#include "snp/model/hw/rmp_status.h"
#include "snp/model/psp/sim_chip.h"

namespace snplab::model::kvm {

/// What one operation came to, as the guest experiences it.
enum class Outcome : std::uint8_t {
  Retired,  ///< it completed; the guest goes on with the next operation
  Again,    ///< a #VMEXIT that KVM resolved in the kernel: the guest executes it again
  Exited,   ///< KVM_RUN returned to userspace; the guest resumes at this operation
  Fatal,    ///< the guest cannot go on (a #VC, an unresolved #NPF, a page nothing backs)
};

/// The machine's answer to one operation.
struct InsnResult {
  Outcome outcome = Outcome::Retired;
  std::string why;          ///< Fatal: what the guest logs before it asks to be terminated
  std::uint8_t value = 0;   ///< Read: the byte read
  bool is_private = false;  ///< Read/Write: the access went to private memory
  RmpStatus status = RmpStatus::Success;  ///< PVALIDATE/RMPADJUST: RAX
  bool cf = false;                        ///< PVALIDATE: rFLAGS.CF (nothing changed)
  bool after_psmash = false;  ///< PVALIDATE: KVM PSMASHed the 2M entry after the first try's #NPF

  static InsnResult fatal(std::string why) {
    InsnResult r;
    r.outcome = Outcome::Fatal, r.why = std::move(why);
    return r;
  }
  static InsnResult with(Outcome o) {
    InsnResult r;
    r.outcome = o;
    return r;
  }
};

/// The GHCB fields the hypervisor answers a VMGEXIT in (facts §7.1-§7.3).
struct Ghcb {
  std::uint64_t sw_exitinfo1 = 0;
  std::uint64_t sw_exitinfo2 = 0;
  std::uint64_t rbx = 0;  ///< extended request: the certificate pages, or the count KVM asks for
};

/// The GHCB MSR protocol's termination request, general reason (set 0, code 0).
inline constexpr std::uint64_t kGhcbTermGeneral = 0x100;
/// GHCB results of the guest-request events (facts §7.1, §7.3): SW_EXITINFO1 = 2 (malformed
/// input) with SW_EXITINFO2 = 4 (missing input), and the VMM half of SW_EXITINFO2 (facts §7.4).
inline constexpr std::uint64_t kGhcbMalformedInput = 2;
inline constexpr std::uint64_t kGhcbErrMissingInput = 4;
inline constexpr std::uint32_t kVmmErrInvalidLen = 1, kVmmErrBusy = 2, kVmmErrGeneric = 0xFFFFFFFFU;

/// The largest certificate buffer the guest checks a report against (1 MiB; AMD's VCEK
/// chain is a few KiB): a program asking for more is told so in its log, not allocated.
inline constexpr std::uint64_t kMaxCheckedCertPages = 256;

/// The CPU and the hypervisor beneath the guest.
class GuestMachine {
 public:
  virtual ~GuestMachine() = default;

  // Instructions the CPU runs in the guest, through the NPT and the RMP; a #NPF is a #VMEXIT
  // that KVM resolves (Again), sends to userspace (Exited), or cannot resolve (Fatal).
  virtual InsnResult pvalidate(Gpa gpa, bool huge, bool validate) = 0;
  virtual InsnResult rmpadjust(Gpa gpa, bool vmsa) = 0;
  /// A data access of the whole page at `gpa` (a write fills it with `value`).
  virtual InsnResult access(Gpa gpa, bool c_bit, bool write, std::uint8_t value) = 0;

  // Intercepted instructions: each one is a #VMEXIT and KVM's to handle.
  virtual void hlt() = 0;
  /// VMMCALL(KVM_HC_MAP_GPA_RANGE): Exited (userspace converts), or Fatal (refused).
  virtual InsnResult map_gpa_range(Gpa gpa, std::uint64_t npages, bool to_private) = 0;
  /// VMGEXIT(PSC) with the descriptor's entries: Exited (a conversion for userspace),
  /// Retired (every entry done), Fatal (KVM refused the header or an entry).
  virtual InsnResult page_state_change(const std::vector<PscEntry>& entries) = 0;
  /// VMGEXIT(AP_CREATION): empty when done, else why KVM refused it (the GHCB says how).
  virtual std::string ap_creation(const GuestOp& op, Ghcb& ghcb) = 0;
  /// VMGEXIT(GUEST_REQUEST / EXT_GUEST_REQUEST) of the sealed request in `pages.req`: Retired
  /// when KVM answered in `ghcb`, Exited when KVM_RUN returned first.
  virtual Outcome guest_request(bool ext, const GuestRequestPages& pages, Ghcb& ghcb) = 0;
  /// GHCB MSR protocol termination request (GHCBInfo 0x100) and VMGEXIT.
  virtual void terminate_request(std::uint64_t ghcb_msr) = 0;

  // The guest kernel's own reads and writes around a request.
  /// A private page, through the RMP check: nullopt, or why it could not be read.
  virtual std::optional<std::string> read_private(Gpa gpa, std::span<std::uint8_t> out) = 0;
  virtual bool read_shared(Gpa gpa, std::span<std::uint8_t> out) = 0;
  virtual bool write_shared(Gpa gpa, std::span<const std::uint8_t> in) = 0;

  /// Whether the guest runs with SNP (private memory checked by the RMP, a secrets page).
  virtual bool snp_active() const = 0;
  /// The chip whose root anchors the guest owner's check of the certificates.
  virtual const SimChip* chip() const = 0;
  /// The sev-guest driver's message counter (one per VM: every vCPU shares VMPCK0).
  virtual std::uint64_t& driver_seqno() = 0;
  /// An oracle's finding about what the guest saw (not guest behaviour: the simulator's).
  virtual void report(FindingKind kind, std::string message) = 0;
};

/// One vCPU's guest: its program, where it is, what it saw.
class GuestVcpu {
 public:
  GuestVcpu() = default;
  explicit GuestVcpu(std::vector<GuestOp> ops) : program_(std::move(ops)) {}

  /// Runs the operation at pc (the program ran out: the guest idles in HLT).
  void step(GuestMachine& m);
  /// KVM_HC_MAP_GPA_RANGE returned `ret` (userspace's hypercall.ret).
  void complete_hypercall(GuestMachine& m, std::uint64_t ret);
  /// KVM answered the guest request in flight in ghcb() (after an exit to userspace).
  void complete_request(GuestMachine& m);
  /// The guest gives up: its log says why, and it asks to be terminated.
  void give_up(GuestMachine& m, std::string why, std::uint64_t ghcb_msr = kGhcbTermGeneral);

  /// The operation at pc, or nullptr when the program ran out.
  const GuestOp* current() const { return pc_ < program_.size() ? &program_[pc_] : nullptr; }
  /// The name of what the guest runs next, for the trace ("PVALIDATE", "idle").
  std::string_view next_name() const { return pc_ < program_.size() ? to_string(program_[pc_].kind) : "idle"; }
  /// Which operation the guest is at (KVM remembers the instruction whose #NPF it fixed).
  std::size_t pc() const { return pc_; }
  bool terminated() const { return terminated_; }
  const GuestLog& log() const { return log_; }
  /// A line the machine adds to the guest's log (VMRUN refusing the VMSA).
  void note(std::string line) { log_.push_back(std::move(line)); }
  const std::vector<std::uint8_t>& report() const { return report_; }
  Ghcb& ghcb() { return ghcb_; }

 private:
  void step_memory(GuestMachine& m, const GuestOp& op);
  void step_request(GuestMachine& m, const GuestOp& op);
  void step_ap_creation(GuestMachine& m, const GuestOp& op);

  std::vector<GuestOp> program_;
  std::size_t pc_ = 0;
  GuestLog log_;
  bool terminated_ = false;
  std::vector<std::uint8_t> report_;
  Ghcb ghcb_;
  // The guest request in flight: sealed (the request page written) under req_key_.
  bool req_sealed_ = false;
  std::uint64_t req_seqno_ = 0;
  Aes256Key req_key_{};
  unsigned busy_left_ = 0;
};

}  // namespace snplab::model::kvm
