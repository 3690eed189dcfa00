// IDX files (gzip or raw, both read through zlib) with strict validation, the two MNIST splits, the
// data set's CRC-32 and the data-directory lookup. The format and the file names are in data/README.md.
// Every error is a digits::Error that starts with the path of the file it is about.
#include "mnist_idx.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <sstream>

#include "error.h"

namespace digits {
namespace {

namespace fs = std::filesystem;

// The four MNIST files, without the optional .gz.
constexpr std::array<const char*, 4> kMnistFiles = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                                    "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};
constexpr const char* kFetchHint = "run data/fetch_mnist.sh or set MNIST_DIR (see data/README.md)";

// Largest files load_split accepts: MNIST itself is 47 MB of images and 60 kB of labels.
constexpr size_t kMaxImageBytes = size_t(1) << 30;
constexpr size_t kMaxLabelBytes = size_t(1) << 26;

// Data grows by at least this much per read; the buffer doubles from there, up to the declared size.
constexpr size_t kReadChunk = size_t(1) << 20;
// How many trailing bytes an over-long file has counted before we stop counting and say "at least".
constexpr size_t kMaxTrailingCount = size_t(1) << 24;

std::string dims_text(const std::vector<uint32_t>& dims) {
  std::ostringstream os;
  for (size_t i = 0; i < dims.size(); ++i) os << (i ? "x" : "") << dims[i];
  return os.str();
}

const char* idx_type_name(int code) {
  switch (code) {
    case 0x08: return "unsigned byte";
    case 0x09: return "signed byte";
    case 0x0B: return "int16";
    case 0x0C: return "int32";
    case 0x0D: return "float32";
    case 0x0E: return "float64";
    default: return "unknown";
  }
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// ---------------------------------------------------------------------------------------------------
// GzReader: a gzFile that closes itself and turns zlib's errors into digits::Error. gzread passes raw
// (uncompressed) files through unchanged, so one reader serves both.
class GzReader {
 public:
  explicit GzReader(const std::string& path) : path_(path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      const int err = errno;
      DIGITS_FAIL(path << ": cannot open: " << std::strerror(err)
                       << (err == ENOENT ? std::string("; ") + kFetchHint : std::string()));
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd);
      DIGITS_FAIL(path << ": not a regular file");
    }
    gz_ = gzdopen(fd, "rb");
    if (gz_ == nullptr) {
      ::close(fd);
      DIGITS_FAIL(path << ": cannot open: out of memory");
    }
    gzbuffer(gz_, 1u << 17);  // fewer, larger reads than zlib's 8 kB default
  }
  GzReader(const GzReader&) = delete;
  GzReader& operator=(const GzReader&) = delete;
  ~GzReader() { gzclose_r(gz_); }

  // Reads up to n bytes into dst; returns how many it read (fewer than n only at the end of the data).
  // A corrupt gzip stream or an I/O error throws; a gzip stream that ends early sets truncated_gzip().
  size_t read(void* dst, size_t n) {
    auto* out = static_cast<unsigned char*>(dst);
    size_t done = 0;
    while (done < n) {
      const unsigned want = unsigned(std::min<size_t>(n - done, size_t(1) << 30));  // gzread takes unsigned, returns int
      const int got = gzread(gz_, out + done, want);
      if (got < 0) fail();
      if (got == 0) {
        int code = Z_OK;
        gzerror(gz_, &code);
        if (code == Z_BUF_ERROR) truncated_gzip_ = true;  // zlib: "unexpected end of file"
        else if (code != Z_OK) fail();
        break;
      }
      done += size_t(got);
    }
    return done;
  }

  bool compressed() const { return gzdirect(gz_) == 0; }
  bool truncated_gzip() const { return truncated_gzip_; }

 private:
  [[noreturn]] void fail() {
    int code = Z_OK;
    const char* msg = gzerror(gz_, &code);
    if (code == Z_ERRNO) DIGITS_FAIL(path_ << ": read error: " << std::strerror(errno));
    if (code == Z_MEM_ERROR) DIGITS_FAIL(path_ << ": out of memory while decompressing");
    std::string text = msg ? msg : "unknown error";
    if (text.rfind("<fd:", 0) == 0 && text.find(": ") != std::string::npos) text.erase(0, text.find(": ") + 2);
    DIGITS_FAIL(path_ << ": corrupt gzip data (zlib: " << text << "): the file is damaged; delete it and " << kFetchHint);
  }

  std::string path_;
  gzFile gz_ = nullptr;
  bool truncated_gzip_ = false;
};

uint32_t load_be32(const uint8_t* p) { return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3]; }

void store_be32(uint8_t* p, uint32_t v) {
  p[0] = uint8_t(v >> 24), p[1] = uint8_t(v >> 16), p[2] = uint8_t(v >> 8), p[3] = uint8_t(v);
}

// "truncated ..." message: what the header declares against what the file held.
[[noreturn]] void fail_truncated(const std::string& path, const GzReader& in, uint64_t expected, uint64_t found,
                                 const std::string& what, bool at_least = false) {
  DIGITS_FAIL(path << ": truncated" << (in.truncated_gzip() ? " gzip stream" : "") << ": expected "
                   << (at_least ? "at least " : "") << expected << (in.compressed() ? " decompressed" : "")
                   << " bytes (" << what << "), found " << found << "; delete the file and " << kFetchHint);
}

// The header checks, shared by read_idx and write_idx: 1..4 dims, none zero, product <= max_bytes.
// Returns the product. `problem` gets the reason when it returns 0.
uint64_t checked_size(const std::vector<uint32_t>& dims, uint64_t max_bytes, std::string& problem) {
  if (dims.empty() || dims.size() > 4) {
    problem = "IDX files have 1 to 4 dimensions, not " + std::to_string(dims.size());
    return 0;
  }
  uint64_t total = 1;
  for (size_t i = 0; i < dims.size(); ++i) {
    if (dims[i] == 0) {
      problem = "dimension " + std::to_string(i) + " is zero (dims " + dims_text(dims) + ")";
      return 0;
    }
    // total <= max_bytes (< 2^64 / 2^32) before each step, so this cannot overflow.
    if (total > max_bytes || dims[i] > max_bytes / total) {
      problem = "declared size " + dims_text(dims) + " exceeds the limit of " + std::to_string(max_bytes) + " bytes";
      return 0;
    }
    total *= dims[i];
  }
  return total;
}

// The file for `name` in `dir`: raw if present, else .gz; empty if neither.
std::string find_file(const std::string& dir, const std::string& name) {
  std::error_code ec;
  const fs::path base = fs::path(dir) / name;
  if (fs::is_regular_file(base, ec)) return base.string();
  fs::path gz = base;
  gz += ".gz";
  if (fs::is_regular_file(gz, ec)) return gz.string();
  return {};
}

// Empty when `dir` holds the four MNIST files (raw or .gz), else what is wrong with it.
std::string mnist_dir_problem(const std::string& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) return "no such directory";
  if (!fs::is_directory(dir, ec)) return "not a directory";
  std::string missing;
  for (const char* name : kMnistFiles) {
    if (find_file(dir, name).empty()) missing += std::string(missing.empty() ? "" : ", ") + name + "[.gz]";
  }
  return missing.empty() ? std::string() : "missing " + missing;
}

}  // namespace

// ---------------------------------------------------------------------------------------------------
// IDX read / write

IdxArray read_idx(const std::string& path, size_t max_bytes) {
  GzReader in(path);

  // magic: 00 00 <type> <ndims>
  uint8_t magic[4] = {};
  const size_t got_magic = in.read(magic, 4);
  if (got_magic < 4) fail_truncated(path, in, 4, got_magic, "the IDX magic number", /*at_least=*/true);
  if (magic[0] != 0 || magic[1] != 0) {
    char hex[16];
    std::snprintf(hex, sizeof hex, "%02x %02x %02x %02x", magic[0], magic[1], magic[2], magic[3]);
    DIGITS_FAIL(path << ": not an IDX file: starts with bytes " << hex << ", expected 00 00 08 0N");
  }
  if (magic[2] != 0x08) {
    char code[8];
    std::snprintf(code, sizeof code, "0x%02x", magic[2]);
    DIGITS_FAIL(path << ": IDX type code " << code << " (" << idx_type_name(magic[2])
                     << ") is not supported; only 0x08 (unsigned byte) is");
  }
  const int ndims = magic[3];
  if (ndims < 1 || ndims > 4) DIGITS_FAIL(path << ": IDX header declares " << ndims << " dimensions; expected 1 to 4");

  // dims: big-endian uint32 each
  uint8_t raw_dims[16] = {};
  const size_t header_bytes = 4 + 4 * size_t(ndims);
  const size_t got_dims = in.read(raw_dims, 4 * size_t(ndims));
  if (got_dims < 4 * size_t(ndims))
    fail_truncated(path, in, header_bytes, 4 + got_dims, "an IDX header with " + std::to_string(ndims) + " dimensions");
  IdxArray out;
  for (int i = 0; i < ndims; ++i) out.dims.push_back(load_be32(raw_dims + 4 * i));
  std::string problem;
  const uint64_t total = checked_size(out.dims, max_bytes, problem);
  if (total == 0) DIGITS_FAIL(path << ": bad IDX header: " << problem);

  // data: grow with what is actually there, so a header that lies about its size costs nothing.
  size_t have = 0;
  while (have < total) {
    const size_t want = size_t(std::min<uint64_t>(kReadChunk, total - have));
    if (out.data.capacity() < have + want)
      out.data.reserve(size_t(std::min<uint64_t>(total, std::max(2 * out.data.capacity(), have + want))));
    out.data.resize(have + want);
    const size_t got = in.read(out.data.data() + have, want);
    have += got;
    if (got < want) break;
  }
  if (have < total)
    fail_truncated(path, in, header_bytes + total, header_bytes + have,
                   std::to_string(header_bytes) + " header + " + dims_text(out.dims) + " data");

  // nothing may follow the data (reading on also makes zlib check the gzip CRC and length)
  std::vector<uint8_t> scratch(1 << 16);
  size_t extra = 0;
  while (extra < kMaxTrailingCount) {
    const size_t got = in.read(scratch.data(), scratch.size());
    if (got == 0) break;
    extra += got;
  }
  if (extra > 0) {
    DIGITS_FAIL(path << ": over-long: " << (extra >= kMaxTrailingCount ? "at least " : "") << extra << " more"
                     << (in.compressed() ? " decompressed" : "") << (extra == 1 ? " byte follows" : " bytes follow")
                     << " the " << header_bytes + total << " bytes its header declares (" << header_bytes
                     << " header + " << dims_text(out.dims) << " data); it is not the file its header describes");
  }
  return out;
}

void write_idx(const std::string& path, const std::vector<uint32_t>& dims, const std::vector<uint8_t>& data) {
  std::string problem;
  const uint64_t total = checked_size(dims, UINT64_MAX >> 32, problem);
  if (total == 0) DIGITS_FAIL(path << ": cannot write IDX: " << problem);
  if (total != data.size())
    DIGITS_FAIL(path << ": cannot write IDX: dims " << dims_text(dims) << " need " << total << " bytes, data has "
                     << data.size());
  const size_t header_bytes = 4 + 4 * dims.size();
  std::vector<uint8_t> header(header_bytes, 0);
  header[2] = 0x08;
  header[3] = uint8_t(dims.size());
  for (size_t i = 0; i < dims.size(); ++i) store_be32(header.data() + 4 + 4 * i, dims[i]);

  if (ends_with(path, ".gz")) {
    gzFile gz = gzopen(path.c_str(), "wb6");
    if (gz == nullptr) DIGITS_FAIL(path << ": cannot create: " << std::strerror(errno));
    bool ok = gzwrite(gz, header.data(), unsigned(header_bytes)) == int(header_bytes);
    for (size_t done = 0; ok && done < data.size();) {
      const unsigned n = unsigned(std::min<size_t>(data.size() - done, size_t(1) << 30));
      ok = gzwrite(gz, data.data() + done, n) == int(n);
      done += n;
    }
    const int err = errno;
    ok = gzclose_w(gz) == Z_OK && ok;
    if (!ok) {
      std::remove(path.c_str());
      DIGITS_FAIL(path << ": write failed: " << std::strerror(err));
    }
    return;
  }
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) DIGITS_FAIL(path << ": cannot create: " << std::strerror(errno));
  bool ok = std::fwrite(header.data(), 1, header_bytes, f) == header_bytes &&
            std::fwrite(data.data(), 1, data.size(), f) == data.size();
  const int err = errno;
  ok = std::fclose(f) == 0 && ok;
  if (!ok) {
    std::remove(path.c_str());
    DIGITS_FAIL(path << ": write failed: " << std::strerror(err));
  }
}

// ---------------------------------------------------------------------------------------------------
// MNIST

Dataset load_split(const std::string& dir, const std::string& stem) {
  if (stem != "train" && stem != "t10k")
    DIGITS_FAIL(dir << ": unknown MNIST split '" << stem << "' (expected train or t10k)");
  auto locate = [&](const std::string& name) {
    const std::string path = find_file(dir, name);
    if (path.empty()) DIGITS_FAIL((fs::path(dir) / name).string() << "[.gz]: not found; " << kFetchHint);
    return path;
  };
  const std::string images_path = locate(stem + "-images-idx3-ubyte");
  const std::string labels_path = locate(stem + "-labels-idx1-ubyte");

  IdxArray images = read_idx(images_path, kMaxImageBytes);
  if (images.dims.size() != 3)
    DIGITS_FAIL(images_path << ": MNIST images need 3 dimensions (count, rows, cols), the file has "
                            << images.dims.size() << " (" << dims_text(images.dims) << ")");
  IdxArray labels = read_idx(labels_path, kMaxLabelBytes);
  if (labels.dims.size() != 1)
    DIGITS_FAIL(labels_path << ": MNIST labels need 1 dimension (count), the file has " << labels.dims.size() << " ("
                            << dims_text(labels.dims) << ")");
  if (labels.dims[0] != images.dims[0])
    DIGITS_FAIL(labels_path << ": holds " << labels.dims[0] << " labels but " << images_path << " holds "
                            << images.dims[0] << " images; the two files do not belong together");
  for (size_t i = 0; i < labels.data.size(); ++i) {
    if (labels.data[i] > 9)
      DIGITS_FAIL(labels_path << ": label " << int(labels.data[i]) << " at index " << i << " is outside 0..9");
  }
  // The size limits above keep every count and the pixel count below 2^30, so they fit int.
  Dataset ds;
  ds.count = int(images.dims[0]);
  ds.rows = int(images.dims[1]);
  ds.cols = int(images.dims[2]);
  ds.images = std::move(images.data);
  ds.labels = std::move(labels.data);
  return ds;
}

Mnist load_mnist(const std::string& dir) {
  Mnist m;
  m.dir = dir;
  m.train = load_split(dir, "train");
  m.test = load_split(dir, "t10k");
  if (m.train.rows != m.test.rows || m.train.cols != m.test.cols)
    DIGITS_FAIL(dir << ": test images are " << m.test.rows << "x" << m.test.cols << " but training images are "
                    << m.train.rows << "x" << m.train.cols);
  // CRC-32 of the decompressed data bytes (headers excluded), in the order train images, train labels,
  // test images, test labels.
  uLong crc = crc32_z(0L, Z_NULL, 0);
  for (const std::vector<uint8_t>* v : {&m.train.images, &m.train.labels, &m.test.images, &m.test.labels}) {
    if (!v->empty()) crc = crc32_z(crc, v->data(), v->size());  // a null buf would reset the CRC
  }
  m.crc32 = uint32_t(crc);
  return m;
}

std::string find_mnist_dir(const std::string& flag_dir) {
  if (!flag_dir.empty()) {
    const std::string problem = mnist_dir_problem(flag_dir);
    if (problem.empty()) return flag_dir;
    DIGITS_FAIL(flag_dir << ": the directory given with --data does not hold MNIST (" << problem
                         << "); point --data at the directory with the four files, or run data/fetch_mnist.sh "
                         << flag_dir << " to download them there");
  }

  std::vector<std::pair<std::string, std::string>> looked;  // (where, problem)
  const char* env = std::getenv("MNIST_DIR");
  if (env != nullptr && env[0] != '\0') {
    const std::string problem = mnist_dir_problem(env);
    if (problem.empty()) return env;
    looked.emplace_back(std::string("$MNIST_DIR=") + env, problem);
  }
  const std::string cwd_dir = "data/mnist";
  {
    const std::string problem = mnist_dir_problem(cwd_dir);
    if (problem.empty()) return cwd_dir;
    std::error_code ec;
    looked.emplace_back(cwd_dir + " (in " + fs::current_path(ec).string() + ")", problem);
  }
#ifdef DIGITS_SOURCE_DIR
  {
    const std::string src_dir = DIGITS_SOURCE_DIR "/data/mnist";
    const std::string problem = mnist_dir_problem(src_dir);
    if (problem.empty()) return src_dir;
    looked.emplace_back(src_dir, problem);
  }
#endif
  std::ostringstream os;
  os << cwd_dir << ": MNIST not found; looked in:";
  for (const auto& [where, problem] : looked) os << "\n  " << where << ": " << problem;
  os << "\n" << kFetchHint;
  throw Error(os.str());
}

}  // namespace digits
