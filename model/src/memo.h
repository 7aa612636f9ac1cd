// Exact memoization of pure, expensive public-key operations: a simulator speed-up, not
// behaviour. Every exploration schedule relaunches a guest from scratch, and with it signs
// and checks the same certificates and keys again; ECDSA P-384 is deterministic here (RFC
// 6979 nonces), so a result can be looked up by the SHA-384 of every input. Per thread (TBB
// runs schedules on all cores), bounded, and dropped whole when full.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <unordered_map>
#include <vector>

#include "snp/model/crypto.h"

namespace snplab::model::memo {

/// SHA-384 over the inputs, each prefixed by its length (no two input lists collide by
/// concatenation).
template <class... Parts>
Sha384Digest key(const Parts&... parts) {
  std::vector<std::uint8_t> buf;
  auto add = [&buf](std::span<const std::uint8_t> p) {
    const std::uint64_t n = p.size();
    const auto* len = reinterpret_cast<const std::uint8_t*>(&n);
    buf.insert(buf.end(), len, len + sizeof n);
    buf.insert(buf.end(), p.begin(), p.end());
  };
  (add(std::span<const std::uint8_t>(parts)), ...);
  return sha384(buf);
}

template <class V>
class Cache {
 public:
  const V* find(const Sha384Digest& k) const {
    const auto it = map_.find(k);
    return it == map_.end() ? nullptr : &it->second;
  }
  void put(const Sha384Digest& k, V v) {
    if (map_.size() >= kCapacity) map_.clear();
    map_.emplace(k, std::move(v));
  }

 private:
  static constexpr std::size_t kCapacity = 4096;
  struct Hash {
    std::size_t operator()(const Sha384Digest& d) const {
      std::size_t h = 0;
      std::memcpy(&h, d.data(), sizeof h);
      return h;
    }
  };
  std::unordered_map<Sha384Digest, V, Hash> map_;
};

}  // namespace snplab::model::memo
