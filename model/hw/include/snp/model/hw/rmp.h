// The RMP as the rest of the model sees it: a layout, the sparse entries, and the ONE door
// through which every modelled read and write of an entry passes (load/store). The
// simulation engine hangs its scheduling points on that door (RmpAccessHook); detectors
// and tracers observe whole instructions (RmpObserver) with every entry they changed.
//
// Lock order / atomicity: an instruction's loads and stores are bracketed by an
// RmpInstruction frame. Hardware executes RMPUPDATE/PSMASH/PVALIDATE/RMPADJUST atomically
// with respect to other RMP updates of the same entries (microcode locks them; facts §2.1
// FAIL_INUSE / FAIL_OVERLAP are the visible side of that), so the engine may treat a frame
// as one step; the firmware's multi-entry updates are not atomic (facts §1.2, the
// ASID=0x3FF lock protocol), and go through the same door one entry at a time.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "snp/model/base/assert.h"
#include "snp/model/hw/fault.h"
#include "snp/model/hw/rmp_entry.h"
#include "snp/model/hw/rmp_status.h"
#include "snp/model/hw/rmp_table.h"
#include "snp/model/base/types.h"

namespace snplab::model {

/// On whose behalf an RMP instruction runs: the provenance every assignment records.
/// `op` names the operation in ABI spelling ("KVM_SEV_SNP_LAUNCH_UPDATE",
/// "KVM_HC_MAP_GPA_RANGE", "snp_alloc_firmware_page", ...). It must have static storage
/// duration (a string literal): findings keep the view.
struct OpContext {
  std::string_view op = "(unnamed)";
  VmId vm = 0;  ///< the VM the operation acts for; 0 = the host itself
  /// One call of the operation (an ioctl, say); 0 when the caller does not track calls.
  std::uint64_t call = 0;
  /// The operation's error path: it may only undo what this same call did (detectors.h).
  bool error_path = false;
};

/// Who executed the instruction.
enum class RmpInsn : std::uint8_t {
  Rmpupdate,
  Psmash,
  Pvalidate,
  Rmpadjust,
  Rmpread,
  Firmware,  ///< a PSP firmware command writing entries (facts §4.3)
};
std::string_view to_string(RmpInsn i);

/// One entry written by an instruction: its value before and after.
struct EntryChange {
  Pfn pfn = 0;
  RmpEntryRaw before;
  RmpEntryRaw after;
};

/// One completed instruction as observers see it. `changes` lists every entry store in
/// program order (an entry stored twice appears twice); it is empty when the instruction
/// failed or changed nothing.
struct RmpEvent {
  std::uint64_t seq = 0;  ///< 1-based instruction number on this Rmp
  RmpInsn insn = RmpInsn::Rmpupdate;
  Spa spa = 0;            ///< the instruction's address operand (SPA)
  PageSize size = PageSize::Size4K;
  OpContext ctx;
  RmpStatus status = RmpStatus::Success;
  Fault fault;            ///< a guest instruction that faulted instead of retiring
  RmpState requested;     ///< RMPUPDATE's new state (zero for other instructions)
  std::span<const EntryChange> changes;
};

class Rmp;

/// Sees every completed instruction. Observers must not modify the Rmp.
class RmpObserver {
 public:
  virtual ~RmpObserver() = default;
  virtual void on_event(const Rmp& rmp, const RmpEvent& ev) = 0;
};

/// Sees every modelled entry access as it happens: the engine's scheduling hook.
class RmpAccessHook {
 public:
  virtual ~RmpAccessHook() = default;
  /// An instruction is about to start (before its frame opens): the engine's scheduling
  /// point for a CPU RMP instruction, which then runs atomically, as RMPUPDATE does on
  /// its entry (another CPU's RMPUPDATE of the same entry would see FAIL_INUSE).
  virtual void on_insn(RmpInsn /*insn*/, Spa /*spa*/, PageSize /*size*/, const OpContext& /*ctx*/) {}
  virtual void on_load(Pfn pfn) = 0;
  virtual void on_store(Pfn pfn, const RmpEntryRaw& before, const RmpEntryRaw& after) = 0;
};

class Rmp {
 public:
  explicit Rmp(RmpLayout layout);
  /// A copy with the same entries, in-use marks and instruction count, and no observers or
  /// hook: a snapshot (Host::snapshot), to restore() from.
  Rmp(const Rmp& o);
  Rmp& operator=(const Rmp&) = delete;
  /// Puts back the state of `snap` (a copy of this table): entries, in-use marks and the
  /// instruction count. Observers and the access hook stay as they are. Not inside a frame.
  void restore(const Rmp& snap);

  const RmpLayout& layout() const { return layout_; }
  bool covers(Pfn pfn) const { return layout_.covers(pfn); }

  // --- The narrow interface: every modelled read and write of an entry. -----------------
  /// Reads the raw entry of `pfn`. Precondition: covered (an uncovered SPA has no entry;
  /// callers check coverage first and model "hypervisor-owned" themselves).
  RmpEntryRaw load(Pfn pfn) {
    SNPLAB_ASSERT(layout_.covers(pfn), "load of an RMP entry for an uncovered PFN");
    if (hook_ != nullptr) hook_->on_load(pfn);
    return store_.get(pfn);
  }
  /// Writes the raw entry of `pfn`. Precondition: covered, and inside an instruction frame.
  void store(Pfn pfn, const RmpEntryRaw& e) {
    SNPLAB_ASSERT(layout_.covers(pfn), "store to an RMP entry for an uncovered PFN");
    SNPLAB_ASSERT(in_frame_, "RMP entry written outside an instruction frame");
    const RmpEntryRaw before = store_.get(pfn);
    if (hook_ != nullptr) hook_->on_store(pfn, before, e);
    store_.set(pfn, e);
    changes_.push_back(EntryChange{pfn, before, e});
  }

  /// Frames one instruction: records its stores and hands observers one RmpEvent at the end.
  /// Frames do not nest.
  class Frame {
   public:
    Frame(Rmp& rmp, RmpInsn insn, Spa spa, PageSize size, const OpContext& ctx,
          const RmpState& requested = {});
    ~Frame();
    Frame(const Frame&) = delete;
    Frame& operator=(const Frame&) = delete;
    /// Ends the frame with the instruction's status and returns it (for `return f.done(x)`).
    RmpStatus done(RmpStatus status);
    /// Ends the frame of a guest instruction that faulted (it wrote nothing).
    Fault raise(const Fault& fault);

   private:
    Rmp& rmp_;
    bool finished_ = false;
  };

  // --- Hardware "in use" marks (facts §2.1: VMCB/VMSA/AVIC pages during VMRUN). ---------
  void set_in_use(Pfn pfn, bool in_use);
  bool in_use(Pfn pfn) const { return !in_use_.empty() && in_use_.contains(pfn); }

  // --- Observers and hooks. --------------------------------------------------------------
  void add_observer(RmpObserver* o);
  void remove_observer(RmpObserver* o);
  void set_access_hook(RmpAccessHook* h) { hook_ = h; }

  // --- Inspection from outside the modelled world (detectors, tests, dumps). ------------
  /// Reads an entry without a modelled access (no hook, works outside frames). Uncovered
  /// PFNs read as zero.
  RmpEntryRaw inspect(Pfn pfn) const { return store_.get(pfn); }
  const RmpStore& entries() const { return store_; }
  /// Number of instructions framed so far.
  std::uint64_t seq() const { return seq_; }

 private:
  RmpLayout layout_;
  RmpStore store_;
  std::unordered_set<Pfn> in_use_;
  std::vector<RmpObserver*> observers_;
  RmpAccessHook* hook_ = nullptr;

  // Current frame.
  bool in_frame_ = false;
  RmpEvent cur_;
  std::vector<EntryChange> changes_;
  std::uint64_t seq_ = 0;
};

/// Linux's dump format for a raw entry plus the decoded fields, e.g.
/// "[0x8000000000000005 - 0x0000000000000000] assigned=1 size=4K immutable=1 ... FIRMWARE".
std::string describe(const RmpEntryRaw& e);

}  // namespace snplab::model
