// A minimal protocol-buffer writer (wire format only: varints, fixed32 and length-delimited fields), enough
// to write ONNX files (onnx_export.h). Our own rather than protoc + libprotobuf + onnx.proto: ONNX needs
// eight small messages written once, and this keeps the build free of a code generator and a library.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace digits::pb {

enum class WireType : uint8_t { Varint = 0, Fixed64 = 1, Len = 2, Fixed32 = 5 };

// Appends v as a base-128 varint: 7 bits per byte, least significant group first, high bit = more follows.
void append_varint(std::string& out, uint64_t v);
// Appends the key of field `field` (>= 1): varint of (field << 3) | wire type.
void append_tag(std::string& out, int field, WireType type);

// One message being written; fields are appended in call order (a reader accepts any order).
class Message {
 public:
  // int32, int64 and enum fields: a negative value takes ten bytes (two's complement as uint64), as protobuf does.
  Message& add_int(int field, int64_t v);
  // float: fixed32, little-endian IEEE 754.
  Message& add_float(int field, float v);
  // string and bytes fields.
  Message& add_bytes(int field, std::string_view s);
  // An embedded message: its bytes, length-delimited.
  Message& add_message(int field, const Message& m) { return add_bytes(field, m.bytes()); }

  const std::string& bytes() const { return buf_; }

 private:
  std::string buf_;
};

}  // namespace digits::pb
