// read_input_file(): stat before reading, never more than the limit.
#include "snp/scenarios/input_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace snplab::scenarios {

namespace {

std::string_view kind_of(mode_t m) {
  if (S_ISDIR(m)) return "a directory";
  if (S_ISCHR(m)) return "a character device";
  if (S_ISBLK(m)) return "a block device";
  if (S_ISFIFO(m)) return "a FIFO";
  if (S_ISSOCK(m)) return "a socket";
  return "not a regular file";
}

/// Closes the descriptor on every path.
struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

std::optional<std::vector<std::uint8_t>> read_input_file(const std::string& path, std::uint64_t limit,
                                                         std::string_view what, std::string* why) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below.
  const Fd f{::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC)};
  if (f.fd < 0) {
    *why = fmt::format("cannot read {} '{}': {}", what, path, std::strerror(errno));
    return std::nullopt;
  }
  struct stat st {};
  if (::fstat(f.fd, &st) != 0) {
    *why = fmt::format("cannot stat {} '{}': {}", what, path, std::strerror(errno));
    return std::nullopt;
  }
  if (!S_ISREG(st.st_mode)) {
    *why = fmt::format("{} '{}' is {}, not a file", what, path, kind_of(st.st_mode));
    return std::nullopt;
  }
  const auto size = static_cast<std::uint64_t>(st.st_size);
  if (size > limit) {
    *why = fmt::format("{} '{}' is {} bytes; at most {} are accepted", what, path, size, limit);
    return std::nullopt;
  }
  std::vector<std::uint8_t> data(static_cast<std::size_t>(size));
  std::size_t got = 0;
  while (got < data.size()) {
    const ssize_t n = ::read(f.fd, data.data() + got, data.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      *why = fmt::format("cannot read {} '{}': {}", what, path, std::strerror(errno));
      return std::nullopt;
    }
    if (n == 0) break;  // it shrank since the stat: what is there is the file
    got += static_cast<std::size_t>(n);
  }
  data.resize(got);
  // It may have grown since the stat; what is past `size` is not read (the file as it was).
  return data;
}

}  // namespace snplab::scenarios
