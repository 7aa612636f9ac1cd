// Exact memoization of pure, expensive operations: a simulator speed-up, not behaviour.
// Exploration runs the same guest request in every schedule, and with it signs and checks
// the same certificates and keys again; ECDSA P-384 is deterministic here (RFC 6979 nonces),
// so a result can be looked up by its inputs. The key is the inputs themselves, each
// prefixed by its length (no two input lists collide by concatenation), compared byte for
// byte: a hit is exact, and looking up costs a hash and a compare, not a SHA-384. Per thread
// (TBB runs schedules on all cores), bounded, and dropped whole when full.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <unordered_map>

namespace snplab::model::memo {

template <class... Parts>
std::string key(const Parts&... parts) {
  std::string buf;
  buf.reserve((std::span<const std::uint8_t>(parts).size() + ... + 0) + sizeof(std::uint64_t) * sizeof...(parts));
  auto add = [&buf](std::span<const std::uint8_t> p) {
    const std::uint64_t n = p.size();
    buf.append(reinterpret_cast<const char*>(&n), sizeof n);
    buf.append(reinterpret_cast<const char*>(p.data()), p.size());
  };
  (add(std::span<const std::uint8_t>(parts)), ...);
  return buf;
}

template <class V>
class Cache {
 public:
  const V* find(const std::string& k) const {
    const auto it = map_.find(k);
    return it == map_.end() ? nullptr : &it->second;
  }
  void put(std::string k, V v) {
    if (map_.size() >= kCapacity) map_.clear();
    map_.emplace(std::move(k), std::move(v));
  }

 private:
  static constexpr std::size_t kCapacity = 1024;
  std::unordered_map<std::string, V> map_;
};

}  // namespace snplab::model::memo
