// The protocol-buffer wire format (https://protobuf.dev/programming-guides/encoding/), write side only.
#include "protobuf_writer.h"

#include <cstring>

#include "error.h"

namespace digits::pb {

void append_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(char(uint8_t(v) | 0x80));
    v >>= 7;
  }
  out.push_back(char(uint8_t(v)));
}

void append_tag(std::string& out, int field, WireType type) {
  // 2^29 - 1 is the largest field number protobuf allows.
  DIGITS_CHECK(field >= 1 && field < (1 << 29), "protobuf field number " << field << " out of range");
  append_varint(out, (uint64_t(field) << 3) | uint64_t(type));
}

Message& Message::add_int(int field, int64_t v) {
  append_tag(buf_, field, WireType::Varint);
  append_varint(buf_, uint64_t(v));
  return *this;
}

Message& Message::add_float(int field, float v) {
  append_tag(buf_, field, WireType::Fixed32);
  uint32_t bits = 0;
  std::memcpy(&bits, &v, sizeof bits);
  for (int i = 0; i < 4; ++i) buf_.push_back(char(uint8_t(bits >> (8 * i))));
  return *this;
}

Message& Message::add_bytes(int field, std::string_view s) {
  append_tag(buf_, field, WireType::Len);
  append_varint(buf_, s.size());
  buf_.append(s);
  return *this;
}

}  // namespace digits::pb
