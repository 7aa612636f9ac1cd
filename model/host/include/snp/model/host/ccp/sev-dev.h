// drivers/crypto/ccp/sev-dev.c's /dev/sev ioctls on the simulated host: SEV_ISSUE_CMD with the
// SNP commands (facts §4.2, §8.1) and, under the v10 profiles, the v10 series' extended config.
// Each returns 0 or -errno: -EIO with the firmware status in *fw_error when the firmware failed
// the command (sev_do_cmd()), -EFAULT for a bad user pointer, -EINVAL for a command the
// kernel does not have. `*why`, when given, names a refusal the kernel makes silently.
#pragma once

#include <cstdint>
#include <string_view>

namespace snplab::model::kvm {

class Host;

/// sev_ioctl(SEV_ISSUE_CMD): `cmd` with its struct at the caller's pointer `data`.
int sev_ioctl(Host& host, std::uint32_t cmd, void* data, std::uint32_t* fw_error, std::string_view* why = nullptr);
int sev_ioctl_do_snp_platform_status(Host& host, void* data, std::uint32_t* fw_error);
int sev_ioctl_do_snp_set_config(Host& host, void* data, std::uint32_t* fw_error);
int sev_ioctl_do_snp_vlek_load(Host& host, void* data, std::uint32_t* fw_error);
/// v10 SNP_SET_EXT_CONFIG: an optional SNP_CONFIG, then the global certificate blob replaced
/// (certs_address 0 removes it).
int sev_ioctl_do_snp_set_ext_config_v10(Host& host, void* data, std::uint32_t* fw_error, std::string_view* why);

}  // namespace snplab::model::kvm
