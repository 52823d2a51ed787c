#pragma once
/// The safetensors format (https://github.com/huggingface/safetensors), read and written here so that weights
/// cross between attncnn and Python's `safetensors` / timm.
///
/// Layout: an 8-byte little-endian header length N, N bytes of JSON mapping each tensor name to
/// {"dtype", "shape", "data_offsets": [begin, end]} (offsets relative to the byte after the header) plus an
/// optional "__metadata__" object of string values, then the data, little-endian, row-major, no gaps.
///
/// Reading checks everything against the file's size before allocating: a header longer than the file, offsets
/// out of range, overlapping or leaving gaps, an unknown dtype, or a shape whose size disagrees with its offsets
/// throw attncnn::Error (input) naming the file and the tensor. Writing is atomic (see atomic_write).
#include <torch/types.h>

#include <map>
#include <string>
#include <vector>

namespace attncnn {

struct SafeTensors {
  std::vector<std::pair<std::string, torch::Tensor>> tensors;  ///< in file order (writers sort by name)
  std::map<std::string, std::string> metadata;
  /// The tensor called `name`; throws (input error) when absent.
  const torch::Tensor& at(const std::string& name) const;
};

/// Writes CPU-contiguous copies of `tensors` with `metadata` to `path`, atomically.
void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata = {});
/// Reads a whole file onto the CPU.
SafeTensors load_safetensors(const std::string& path);
/// Parses an in-memory file image; `path` only names it in errors.
SafeTensors parse_safetensors(const std::string& bytes, const std::string& path);

// Declared again from attncnn/io/files.h (defined there) for the files that write checkpoints with only this
// header. Not included from here: files.h brings names (exists, is_dir, ...) that would clash with file-local
// helpers of its includers.
void atomic_write(const std::string& path, const std::string& bytes);
void make_dirs(const std::string& path);

}  // namespace attncnn
