// Files a user names on the command line, read safely: what is not a regular file (a
// directory, a device such as /dev/zero, a FIFO) and what is larger than the format allows is
// refused before anything is read, with a message naming the file and the limit.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace snplab::scenarios {

/// The contents of `path`, at most `limit` bytes; nullopt with `*why` naming `what` (e.g. "the
/// --ovmf file"), the file and the problem. A FIFO is never opened for a blocking read.
std::optional<std::vector<std::uint8_t>> read_input_file(const std::string& path, std::uint64_t limit,
                                                         std::string_view what, std::string* why);

/// Limits of the inputs the commands read (docs/measure.md, docs/attestation.md).
inline constexpr std::uint64_t kMaxReportFile = 1 << 20;     ///< a report, or a container of one
inline constexpr std::uint64_t kMaxCertFile = 1 << 20;       ///< a certificate or chain (DER/PEM)
inline constexpr std::uint64_t kMaxFirmwareFile = 256 << 20; ///< OVMF / SVSM images
inline constexpr std::uint64_t kMaxKernelFile = 512ULL << 20;  ///< a kernel (--kernel)
inline constexpr std::uint64_t kMaxInitrdFile = 2ULL << 30;  ///< an initrd (--initrd)
inline constexpr std::uint64_t kMaxCheckpointFile = 64 << 10;  ///< an exploration checkpoint

}  // namespace snplab::scenarios
