// Little-endian loads and stores: every structure the firmware, the report and the guest
// messages define is little-endian (facts §4-§6). One definition for the whole model.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>

#include "snp/model/base/assert.h"

namespace snplab::model {

template <class T>
constexpr void put_le(std::uint8_t* p, T v) {
  static_assert(std::is_integral_v<T>);
  for (std::size_t i = 0; i < sizeof(T); ++i) p[i] = static_cast<std::uint8_t>(static_cast<std::uint64_t>(v) >> (8 * i));
}

template <class T>
constexpr T get_le(const std::uint8_t* p) {
  static_assert(std::is_integral_v<T>);
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i) v |= std::uint64_t{p[i]} << (8 * i);
  return static_cast<T>(v);
}

/// Precondition: `off + sizeof(T) <= b.size()`.
template <class T>
T load_le(std::span<const std::uint8_t> b, std::size_t off) {
  SNPLAB_ASSERT(off + sizeof(T) <= b.size(), "little-endian load past the end of the buffer");
  return get_le<T>(b.data() + off);
}

/// Precondition: `off + sizeof(T) <= b.size()`.
template <class T>
void store_le(std::span<std::uint8_t> b, std::size_t off, T v) {
  SNPLAB_ASSERT(off + sizeof(T) <= b.size(), "little-endian store past the end of the buffer");
  put_le(b.data() + off, v);
}

/// Whether any of the `n` bytes at `p` is set (a uAPI struct's padding checks).
inline bool any_nonzero(const void* p, std::size_t n) {
  const auto* b = static_cast<const std::uint8_t*>(p);
  for (std::size_t i = 0; i < n; ++i) {
    if (b[i] != 0) return true;
  }
  return false;
}

}  // namespace snplab::model
