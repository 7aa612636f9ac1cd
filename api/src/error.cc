#include "snp/api/error.h"

#include <cstring>

namespace snplab::api {

std::string Error::to_string() const {
  std::string s = fmt::format("{}: errno={}", op, errno_value);
  if (errno_value != 0) s += fmt::format(" ({})", std::strerror(errno_value));
  s += fmt::format(" fw={}(0x{:x})", model::to_string(fw), static_cast<std::uint32_t>(fw));
  if (!detail.empty()) s += ": " + detail;
  return s;
}

}  // namespace snplab::api
