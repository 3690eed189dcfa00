// Model files in the safetensors format (readable from Python): an 8-byte little-endian header length,
// a JSON header {name: {dtype, shape, data_offsets}, "__metadata__": {string: string}}, then the raw
// little-endian tensor bytes. We write F32 tensors only; reads are strict and writes atomic.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace digits {

struct NamedTensor {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<float> data;  // product(shape) elements
};

struct ModelFile {
  std::map<std::string, std::string> metadata;  // safetensors __metadata__ (string values only)
  std::vector<NamedTensor> tensors;             // written in this order, data aligned to 8 bytes

  const NamedTensor* find(const std::string& name) const;
};

// Validates, then writes path with write_file_atomic (atomic_file.h): a failure (bad tensor, unwritable
// directory, disk full) throws "<path>: cannot save: ..." and leaves any previous file intact.
void save_model_file(const std::string& path, const ModelFile& file);

// Reads and validates: file size, header length (<= 100 MB and inside the file), JSON syntax, every entry
// an object with dtype "F32", a shape of non-negative dims, data_offsets [begin, end] inside the data
// section with end - begin == 4 * product(shape), no two tensors overlapping, metadata values strings.
// Any violation throws digits::Error "<path>: <problem>". Never crashes on hostile input.
ModelFile load_model_file(const std::string& path);

}  // namespace digits
