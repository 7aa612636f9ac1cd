// SNPLAB_ASSERT / SNPLAB_UNREACHABLE: the model's own invariants. A failure is a bug in
// snplab (never a modelled outcome, never bad user input) and aborts with a message.
// Death tests exercise them (STYLE.md 3.3).
#pragma once

namespace snplab::detail {
[[noreturn]] void assert_fail(const char* expr, const char* msg, const char* file, int line);
}  // namespace snplab::detail

#define SNPLAB_ASSERT(expr, msg)                                          \
  do {                                                                    \
    if (!(expr)) [[unlikely]] {                                           \
      ::snplab::detail::assert_fail(#expr, (msg), __FILE__, __LINE__);    \
    }                                                                     \
  } while (0)

#define SNPLAB_UNREACHABLE(msg) ::snplab::detail::assert_fail("unreachable", (msg), __FILE__, __LINE__)
