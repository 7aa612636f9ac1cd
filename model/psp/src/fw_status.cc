#include "snp/model/psp/fw_status.h"

namespace snplab::model {

std::string_view to_string(FwStatus s) {
  switch (s) {
    case FwStatus::Success: return "SUCCESS";
    case FwStatus::InvalidPlatformState: return "INVALID_PLATFORM_STATE";
    case FwStatus::InvalidGuestState: return "INVALID_GUEST_STATE";
    case FwStatus::InvalidConfig: return "INVALID_CONFIG";
    case FwStatus::InvalidLen: return "INVALID_LEN";
    case FwStatus::AlreadyOwned: return "ALREADY_OWNED";
    case FwStatus::InvalidCertificate: return "INVALID_CERTIFICATE";
    case FwStatus::PolicyFailure: return "POLICY_FAILURE";
    case FwStatus::Inactive: return "INACTIVE";
    case FwStatus::InvalidAddress: return "INVALID_ADDRESS";
    case FwStatus::BadSignature: return "BAD_SIGNATURE";
    case FwStatus::BadMeasurement: return "BAD_MEASUREMENT";
    case FwStatus::AsidOwned: return "ASID_OWNED";
    case FwStatus::InvalidAsid: return "INVALID_ASID";
    case FwStatus::WbinvdRequired: return "WBINVD_REQUIRED";
    case FwStatus::DfflushRequired: return "DFFLUSH_REQUIRED";
    case FwStatus::InvalidGuest: return "INVALID_GUEST";
    case FwStatus::InvalidCommand: return "INVALID_COMMAND";
    case FwStatus::Active: return "ACTIVE";
    case FwStatus::HwsevRetPlatform: return "HWSEV_RET_PLATFORM";
    case FwStatus::HwsevRetUnsafe: return "HWSEV_RET_UNSAFE";
    case FwStatus::Unsupported: return "UNSUPPORTED";
    case FwStatus::InvalidParam: return "INVALID_PARAM";
    case FwStatus::ResourceLimit: return "RESOURCE_LIMIT";
    case FwStatus::SecureDataInvalid: return "SECURE_DATA_INVALID";
    case FwStatus::InvalidPageSize: return "INVALID_PAGE_SIZE";
    case FwStatus::InvalidPageState: return "INVALID_PAGE_STATE";
    case FwStatus::InvalidMdataEntry: return "INVALID_MDATA_ENTRY";
    case FwStatus::InvalidPageOwner: return "INVALID_PAGE_OWNER";
    case FwStatus::AeadOflow: return "AEAD_OFLOW";
    case FwStatus::ExitRingBuffer: return "EXIT_RING_BUFFER";
    case FwStatus::RmpInitRequired: return "RMP_INIT_REQUIRED";
    case FwStatus::BadSvn: return "BAD_SVN";
    case FwStatus::BadVersion: return "BAD_VERSION";
    case FwStatus::ShutdownRequired: return "SHUTDOWN_REQUIRED";
    case FwStatus::UpdateFailed: return "UPDATE_FAILED";
    case FwStatus::RestoreRequired: return "RESTORE_REQUIRED";
    case FwStatus::RmpInitializationFailed: return "RMP_INITIALIZATION_FAILED";
    case FwStatus::InvalidKey: return "INVALID_KEY";
    case FwStatus::NoFwCall: return "NO_FW_CALL";
  }
  return "UNKNOWN";  // values outside the enum arrive from real firmware
}

}  // namespace snplab::model
