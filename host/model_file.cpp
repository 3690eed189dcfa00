// safetensors model files. Reading checks every length, offset, shape and dtype in the header before it
// reads any tensor data; writing validates everything first, then goes through write_file_atomic
// (atomic_file.h), so a failed save never damages the previous file.
#include "model_file.h"

#include <sys/stat.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "atomic_file.h"
#include "error.h"

// Tensor bytes are copied to and from memory as they are; safetensors stores them little-endian.
static_assert(std::endian::native == std::endian::little, "model files assume a little-endian host");

namespace digits {
namespace {

using Json = nlohmann::ordered_json;  // keeps the header's key order: tensors load in file order

constexpr uint64_t kMaxHeaderBytes = uint64_t(100) << 20;  // safetensors' own limit (100 MB)
// A valid header nests 3 deep ({name: {shape: [...]}}); deeper nesting is rejected while parsing, so a
// hostile header cannot make the parser build millions of nested values.
constexpr int kMaxJsonDepth = 8;
constexpr const char* kMetadataKey = "__metadata__";

// ---------------------------------------------------------------------------------------------------
// small RAII helpers

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using FilePtr = std::unique_ptr<std::FILE, FileCloser>;

std::string errno_text(int err) { return std::strerror(err); }

// numel = product(shape), false on a negative dim or on overflow of 64 bits.
bool checked_numel(const std::vector<int64_t>& shape, uint64_t& numel) {
  numel = 1;
  for (int64_t d : shape) {
    if (d < 0 || __builtin_mul_overflow(numel, uint64_t(d), &numel)) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------------
// writing

// The JSON header, padded with spaces so the data section starts on an 8-byte boundary. Tensors follow
// one another without gaps (safetensors readers reject gaps), in file.tensors order.
std::string make_header(const std::string& path, const ModelFile& file) {
  Json header = Json::object();
  if (!file.metadata.empty()) {
    Json meta = Json::object();
    for (const auto& [key, value] : file.metadata) meta[key] = value;
    header[kMetadataKey] = std::move(meta);
  }
  std::set<std::string> names;
  uint64_t offset = 0;
  for (const NamedTensor& t : file.tensors) {
    if (t.name.empty() || t.name == kMetadataKey)
      DIGITS_FAIL(path << ": cannot save: invalid tensor name '" << t.name << "'");
    if (!names.insert(t.name).second) DIGITS_FAIL(path << ": cannot save: two tensors are named '" << t.name << "'");
    uint64_t numel = 0;
    if (!checked_numel(t.shape, numel)) DIGITS_FAIL(path << ": cannot save: tensor '" << t.name << "' has a bad shape");
    if (numel != t.data.size())
      DIGITS_FAIL(path << ": cannot save: tensor '" << t.name << "' has shape of " << numel << " elements but "
                       << t.data.size() << " values");
    const uint64_t end = offset + 4 * numel;
    header[t.name] = Json{{"dtype", "F32"}, {"shape", t.shape}, {"data_offsets", Json::array({offset, end})}};
    offset = end;
  }
  std::string text;
  try {
    text = header.dump(-1, ' ', false, Json::error_handler_t::strict);
  } catch (const Json::exception& e) {  // a name or metadata string that is not UTF-8
    DIGITS_FAIL(path << ": cannot save: " << e.what());
  }
  text.append((8 - text.size() % 8) % 8, ' ');
  return text;
}

// ---------------------------------------------------------------------------------------------------
// reading

// Parses the header, limiting nesting and rejecting duplicate keys (nlohmann would silently keep the last).
Json parse_header(const std::string& path, const std::string& text) {
  std::vector<std::set<std::string>> keys;  // keys seen in each open object (empty sets for arrays)
  auto guard = [&](int depth, Json::parse_event_t event, Json& parsed) {
    switch (event) {
      case Json::parse_event_t::object_start:
      case Json::parse_event_t::array_start:
        if (depth >= kMaxJsonDepth) DIGITS_FAIL(path << ": header JSON is nested more than " << kMaxJsonDepth << " deep");
        keys.emplace_back();
        break;
      case Json::parse_event_t::object_end:
      case Json::parse_event_t::array_end:
        if (!keys.empty()) keys.pop_back();
        break;
      case Json::parse_event_t::key:
        if (!keys.empty() && !keys.back().insert(parsed.get<std::string>()).second)
          DIGITS_FAIL(path << ": header JSON has the key '" << parsed.get<std::string>() << "' twice");
        break;
      case Json::parse_event_t::value:
        break;
    }
    return true;
  };
  try {
    return Json::parse(text, guard);
  } catch (const Json::exception& e) {
    DIGITS_FAIL(path << ": header is not valid JSON: " << e.what());
  }
}

// A JSON integer in [0, max], or an error naming `what`.
uint64_t json_count(const std::string& path, const Json& v, uint64_t max, const std::string& what) {
  if (!v.is_number_integer()) DIGITS_FAIL(path << ": " << what << " is " << v.dump() << ", not an integer");
  if (!v.is_number_unsigned()) DIGITS_FAIL(path << ": " << what << " is negative (" << v.get<int64_t>() << ")");
  const uint64_t u = v.get<uint64_t>();
  if (u > max) DIGITS_FAIL(path << ": " << what << " is " << u << ", larger than " << max);
  return u;
}

struct Entry {
  std::string name;
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;
};

// Checks one tensor entry of the header against the data section's size.
Entry parse_entry(const std::string& path, const std::string& name, const Json& v, uint64_t data_bytes) {
  const std::string where = "tensor '" + name + "'";
  if (!v.is_object()) DIGITS_FAIL(path << ": " << where << ": header entry is a JSON " << v.type_name() << ", not an object");
  for (const auto& item : v.items()) {
    const std::string& key = item.key();
    if (key != "dtype" && key != "shape" && key != "data_offsets")
      DIGITS_FAIL(path << ": " << where << ": unknown key '" << key << "' (expected dtype, shape, data_offsets)");
  }
  for (const char* key : {"dtype", "shape", "data_offsets"}) {
    if (!v.contains(key)) DIGITS_FAIL(path << ": " << where << ": no '" << key << "'");
  }
  const Json& dtype = v["dtype"];
  if (!dtype.is_string() || dtype.get<std::string>() != "F32")
    DIGITS_FAIL(path << ": " << where << ": dtype " << dtype.dump() << " is not supported; only \"F32\" is");

  Entry e;
  e.name = name;
  const Json& shape = v["shape"];
  if (!shape.is_array()) DIGITS_FAIL(path << ": " << where << ": shape is not an array");
  for (size_t i = 0; i < shape.size(); ++i)
    e.shape.push_back(int64_t(json_count(path, shape[i], uint64_t(INT64_MAX), where + " shape[" + std::to_string(i) + "]")));
  uint64_t numel = 0;
  if (!checked_numel(e.shape, numel) || numel > UINT64_MAX / 4)
    DIGITS_FAIL(path << ": " << where << ": shape " << shape.dump() << " has more elements than 64 bits can count");

  const Json& offsets = v["data_offsets"];
  if (!offsets.is_array() || offsets.size() != 2)
    DIGITS_FAIL(path << ": " << where << ": data_offsets " << offsets.dump() << " is not [begin, end]");
  e.begin = json_count(path, offsets[0], UINT64_MAX, where + " data_offsets[0]");
  e.end = json_count(path, offsets[1], UINT64_MAX, where + " data_offsets[1]");
  if (e.begin > e.end || e.end > data_bytes)
    DIGITS_FAIL(path << ": " << where << ": data_offsets [" << e.begin << ", " << e.end
                     << "] lie outside the data section of " << data_bytes
                     << " bytes: the file is truncated or corrupt");
  if (e.end - e.begin != 4 * numel)
    DIGITS_FAIL(path << ": " << where << ": data_offsets [" << e.begin << ", " << e.end << "] hold " << e.end - e.begin
                     << " bytes but shape " << shape.dump() << " of F32 needs " << 4 * numel);
  return e;
}

// Sorts entries by offset and checks that no two tensors share a byte (empty tensors occupy none).
void sort_and_check_overlaps(const std::string& path, std::vector<Entry>& entries) {
  std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.begin < b.begin; });
  const Entry* prev = nullptr;
  for (const Entry& e : entries) {
    if (e.begin == e.end) continue;
    if (prev != nullptr && e.begin < prev->end)
      DIGITS_FAIL(path << ": tensors '" << prev->name << "' [" << prev->begin << ", " << prev->end << ") and '" << e.name
                       << "' [" << e.begin << ", " << e.end << ") overlap");
    prev = &e;
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------------
// public API

const NamedTensor* ModelFile::find(const std::string& name) const {
  for (const NamedTensor& t : tensors) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

void save_model_file(const std::string& path, const ModelFile& file) {
  const std::string header = make_header(path, file);  // validates before any file is touched
  write_file_atomic(path, [&](std::FILE* f) {
    uint8_t len[8];
    const uint64_t n = header.size();
    std::memcpy(len, &n, 8);  // little-endian (static_assert above)
    bool ok = std::fwrite(len, 1, 8, f) == 8 && std::fwrite(header.data(), 1, header.size(), f) == header.size();
    for (const NamedTensor& t : file.tensors)
      ok = ok && (t.data.empty() || std::fwrite(t.data.data(), 1, 4 * t.data.size(), f) == 4 * t.data.size());
    return ok ? std::string() : "write error: " + errno_text(errno);
  });
}

ModelFile load_model_file(const std::string& path) {
  FilePtr f(std::fopen(path.c_str(), "rb"));
  if (!f) DIGITS_FAIL(path << ": cannot open: " << errno_text(errno));
  struct stat st {};
  if (::fstat(::fileno(f.get()), &st) != 0 || !S_ISREG(st.st_mode)) DIGITS_FAIL(path << ": not a regular file");
  const uint64_t file_bytes = uint64_t(st.st_size);
  if (file_bytes < 8)
    DIGITS_FAIL(path << ": " << file_bytes << " bytes is too short for a safetensors file (8-byte header length first)");

  // header length, then the header; nothing else is read until the header checks out
  uint8_t len[8];
  if (std::fread(len, 1, 8, f.get()) != 8) DIGITS_FAIL(path << ": read error: " << errno_text(errno));
  uint64_t header_bytes = 0;
  std::memcpy(&header_bytes, len, 8);
  if (header_bytes < 2) DIGITS_FAIL(path << ": header length " << header_bytes << " is too small for a JSON object");
  if (header_bytes > kMaxHeaderBytes)
    DIGITS_FAIL(path << ": header length " << header_bytes << " exceeds the 100 MB limit: not a safetensors file");
  if (header_bytes > file_bytes - 8)
    DIGITS_FAIL(path << ": header length " << header_bytes << " is larger than the rest of the file (" << file_bytes - 8
                     << " bytes): the file is truncated or not a safetensors file");
  std::string text(header_bytes, '\0');
  if (std::fread(text.data(), 1, text.size(), f.get()) != text.size())
    DIGITS_FAIL(path << ": read error in the header: " << errno_text(errno));
  const uint64_t data_bytes = file_bytes - 8 - header_bytes;

  const Json header = parse_header(path, text);
  if (!header.is_object()) DIGITS_FAIL(path << ": header is a JSON " << header.type_name() << ", not an object");

  ModelFile out;
  std::vector<Entry> entries;
  for (const auto& item : header.items()) {
    if (item.key() == kMetadataKey) {
      const Json& meta = item.value();
      if (!meta.is_object()) DIGITS_FAIL(path << ": __metadata__ is a JSON " << meta.type_name() << ", not an object");
      for (const auto& kv : meta.items()) {
        if (!kv.value().is_string())
          DIGITS_FAIL(path << ": __metadata__ value of '" << kv.key() << "' is a JSON " << kv.value().type_name()
                           << "; safetensors metadata values must be strings");
        out.metadata[kv.key()] = kv.value().get<std::string>();
      }
      continue;
    }
    entries.push_back(parse_entry(path, item.key(), item.value(), data_bytes));
  }

  sort_and_check_overlaps(path, entries);  // load in data order

  const uint64_t data_start = 8 + header_bytes;
  for (Entry& e : entries) {
    NamedTensor t;
    t.name = std::move(e.name);
    t.shape = std::move(e.shape);
    t.data.resize((e.end - e.begin) / 4);
    if (!t.data.empty()) {
      if (::fseeko(f.get(), off_t(data_start + e.begin), SEEK_SET) != 0 ||
          std::fread(t.data.data(), 1, e.end - e.begin, f.get()) != e.end - e.begin)
        DIGITS_FAIL(path << ": tensor '" << t.name << "': reading its data failed (file changed while reading?)");
    }
    out.tensors.push_back(std::move(t));
  }
  return out;
}

}  // namespace digits
