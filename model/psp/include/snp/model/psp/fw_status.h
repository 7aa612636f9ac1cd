// PSP firmware status codes, numerically identical to the kernel's SEV_RET_* (facts §4.6).
#pragma once

#include <cstdint>
#include <string_view>

namespace snplab::model {

enum class FwStatus : std::uint32_t {
  Success = 0x00,
  InvalidPlatformState = 0x01,
  InvalidGuestState = 0x02,
  InvalidConfig = 0x03,
  InvalidLen = 0x04,
  AlreadyOwned = 0x05,
  InvalidCertificate = 0x06,
  PolicyFailure = 0x07,
  Inactive = 0x08,
  InvalidAddress = 0x09,
  BadSignature = 0x0A,
  BadMeasurement = 0x0B,
  AsidOwned = 0x0C,
  InvalidAsid = 0x0D,
  WbinvdRequired = 0x0E,
  DfflushRequired = 0x0F,
  InvalidGuest = 0x10,
  InvalidCommand = 0x11,
  Active = 0x12,
  HwsevRetPlatform = 0x13,
  HwsevRetUnsafe = 0x14,
  Unsupported = 0x15,
  InvalidParam = 0x16,
  ResourceLimit = 0x17,
  SecureDataInvalid = 0x18,
  InvalidPageSize = 0x19,
  InvalidPageState = 0x1A,
  InvalidMdataEntry = 0x1B,
  InvalidPageOwner = 0x1C,
  AeadOflow = 0x1D,
  ExitRingBuffer = 0x1F,
  RmpInitRequired = 0x20,
  BadSvn = 0x21,
  BadVersion = 0x22,
  ShutdownRequired = 0x23,
  UpdateFailed = 0x24,
  RestoreRequired = 0x25,
  RmpInitializationFailed = 0x26,
  InvalidKey = 0x27,
  /// The firmware was never reached (Linux SEV_RET_NO_FW_CALL = -1).
  NoFwCall = 0xFFFFFFFF,
};

/// The name without the SEV_RET_ prefix ("INVALID_GUEST_STATE"); "UNKNOWN" for a value
/// the firmware may return that Linux does not name (e.g. 0x1E).
std::string_view to_string(FwStatus s);

}  // namespace snplab::model
