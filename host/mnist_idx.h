// IDX files (the MNIST format), gzip or raw, with strict validation, and the MNIST data-path lookup.
// Every failure throws digits::Error naming the file and the problem (and, for a missing data set,
// how to get it: data/fetch_mnist.sh).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace digits {

// An IDX array of unsigned bytes (type code 0x08): dims as declared, data row-major.
struct IdxArray {
  std::vector<uint32_t> dims;
  std::vector<uint8_t> data;
};

// Reads an IDX file, gzip-compressed or raw (detected from the content, not the name).
// Validates: magic (two zero bytes, type 0x08, 1..4 dims), no zero dims, declared size <= max_bytes,
// file holds exactly the declared bytes (truncated and over-long files are both errors). Memory grows
// with the bytes actually read, so a header declaring a huge count allocates nothing big.
IdxArray read_idx(const std::string& path, size_t max_bytes = size_t(1) << 30);
// Writes a raw (or, when path ends in .gz, gzip) IDX file of uint8 data: used by tests and tools.
void write_idx(const std::string& path, const std::vector<uint32_t>& dims, const std::vector<uint8_t>& data);

// One split of MNIST: `count` images of rows x cols uint8 pixels (0 = background) and their labels 0..9.
struct Dataset {
  int count = 0, rows = 0, cols = 0;
  std::vector<uint8_t> images;  // (count, rows, cols)
  std::vector<uint8_t> labels;  // (count)
  int pixels() const { return rows * cols; }
};

// Loads <dir>/<stem>-images-idx3-ubyte[.gz] and <dir>/<stem>-labels-idx1-ubyte[.gz], stem "train" or "t10k".
// Checks 3-D images, 1-D labels, equal counts, labels <= 9.
Dataset load_split(const std::string& dir, const std::string& stem);

struct Mnist {
  std::string dir;
  Dataset train, test;
  uint32_t crc32 = 0;  // CRC-32 of the decompressed train+test images and labels: the data set's checksum
};
Mnist load_mnist(const std::string& dir);

// The data directory: `flag_dir` (from --data) if not empty, else $MNIST_DIR, else data/mnist/ (relative
// to the current directory, then to the source tree). The chosen directory must hold the four files
// (raw or .gz); otherwise throws an Error listing where it looked and how to get the data.
std::string find_mnist_dir(const std::string& flag_dir);

}  // namespace digits
