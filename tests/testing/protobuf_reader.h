// A protocol-buffer wire-format reader for tests: a message's fields in order, so that what
// host/protobuf_writer.h wrote (an ONNX file) can be checked field by field without protoc.
#pragma once

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace digits::testing {

struct PbField {
  int number = 0;
  int wire = 0;          // 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32
  uint64_t value = 0;    // varint, fixed32 and fixed64 values
  std::string bytes;     // length-delimited content
  float as_float() const {
    const uint32_t bits = uint32_t(value);
    float f;
    std::memcpy(&f, &bits, sizeof f);
    return f;
  }
};

// Throws std::runtime_error on a truncated or malformed message.
inline uint64_t pb_read_varint(std::string_view s, size_t& pos) {
  uint64_t v = 0;
  for (int shift = 0; shift < 70; shift += 7) {
    if (pos >= s.size()) throw std::runtime_error("protobuf: truncated varint");
    const uint8_t b = uint8_t(s[pos++]);
    v |= uint64_t(b & 0x7f) << shift;
    if (!(b & 0x80)) return v;
  }
  throw std::runtime_error("protobuf: varint longer than 10 bytes");
}

inline std::vector<PbField> pb_fields(std::string_view s) {
  std::vector<PbField> out;
  size_t pos = 0;
  while (pos < s.size()) {
    const uint64_t key = pb_read_varint(s, pos);
    PbField f;
    f.number = int(key >> 3);
    f.wire = int(key & 7);
    if (f.wire == 0) {
      f.value = pb_read_varint(s, pos);
    } else if (f.wire == 1 || f.wire == 5) {
      const size_t n = f.wire == 1 ? 8 : 4;
      if (s.size() - pos < n) throw std::runtime_error("protobuf: truncated fixed field");
      for (size_t i = 0; i < n; ++i) f.value |= uint64_t(uint8_t(s[pos + i])) << (8 * i);
      pos += n;
    } else if (f.wire == 2) {
      const uint64_t n = pb_read_varint(s, pos);
      if (s.size() - pos < n) throw std::runtime_error("protobuf: truncated length-delimited field");
      f.bytes = std::string(s.substr(pos, size_t(n)));
      pos += size_t(n);
    } else {
      throw std::runtime_error("protobuf: unknown wire type " + std::to_string(f.wire));
    }
    out.push_back(std::move(f));
  }
  return out;
}

// The fields numbered `number`, in order.
inline std::vector<PbField> pb_all(const std::vector<PbField>& fields, int number) {
  std::vector<PbField> out;
  for (const PbField& f : fields)
    if (f.number == number) out.push_back(f);
  return out;
}

// The one field numbered `number`; throws when it is absent or repeated.
inline PbField pb_one(const std::vector<PbField>& fields, int number) {
  const auto all = pb_all(fields, number);
  if (all.size() != 1) throw std::runtime_error("protobuf: field " + std::to_string(number) + " occurs " +
                                                std::to_string(all.size()) + " times, not once");
  return all[0];
}

}  // namespace digits::testing
