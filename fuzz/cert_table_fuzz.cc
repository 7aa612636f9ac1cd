// Fuzz target: bytes -> decode_cert_table() (the guest's certificate buffer, untrusted: the VMM
// fills it). Oracle: ASan/UBSan, and a table that decodes re-encodes (encode_cert_table) into
// one that decodes to the same GUIDs and blobs in the same order.
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "snp/model/attest/cert_table.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace m = snplab::model;
  const auto t = m::decode_cert_table({data, size});
  if (!t) return 0;
  std::vector<m::CertTableBlob> blobs;
  for (std::size_t i = 0; i < t->entries.size(); ++i) blobs.push_back({t->entries[i].guid, t->blobs[i]});
  const auto again = m::encode_cert_table(blobs);
  if (!again) {
    std::fprintf(stderr, "snplab fuzz: a decoded table does not re-encode: %s\n", again.error().message.c_str());
    std::abort();
  }
  const auto back = m::decode_cert_table(*again);
  bool same = back.has_value() && back->entries.size() == t->entries.size();
  for (std::size_t i = 0; same && i < t->entries.size(); ++i) {
    same = back->entries[i].guid == t->entries[i].guid && back->blobs[i] == t->blobs[i];
  }
  if (!same) {
    std::fprintf(stderr, "snplab fuzz: decode(encode(decode(x))) differs from decode(x)\n");
    std::abort();
  }
  return 0;
}
