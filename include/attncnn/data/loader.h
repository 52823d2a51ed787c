#pragma once
/// A batch loader over an in-memory ImageSet: seeded shuffling, augmentation in worker threads with a bounded
/// prefetch queue, normalised float batches on the target device.
///
///   attncnn::Transform tf = attncnn::Transform::parse("crop=32,pad=4,flip=0.5");
///   tf.fit(ds.train.images);                              // mean/std from the training split
///   attncnn::Loader loader(train_set, attncnn::LoaderOptions(128).seed(cfg.seed).workers(2)
///                                         .transform(tf).device(device));
///   for (int64_t epoch = 1; epoch <= epochs; ++epoch) {
///     loader.set_epoch(epoch);                             // order and augmentation depend on (seed, epoch)
///     attncnn::Batch b;
///     while (loader.next(b)) {                             // b.images: float n×C×H×W, b.labels: int64 n
///       auto loss = cross_entropy(model->forward(b.images), b.labels);
///       ...
///     }
///   }
///   // evaluation: LoaderOptions(512).shuffle(false).augment(false).transform(tf) — only tf.eval_part() runs.
///
/// What runs where: workers gather, augment (uint8, see transforms.h) and — for a CPU target — normalise to float,
/// so the consumer only receives ready tensors. For a CUDA target workers produce uint8 batches in pinned memory;
/// next() copies them asynchronously (4× fewer bytes than float) and normalises on the GPU.
///
/// Order: a Fisher–Yates shuffle driven by splitmix64(seed, epoch), so it depends only on (seed, epoch); batches
/// are delivered in order whatever the worker count, and each sample's augmentation depends only on (seed,
/// epoch, sample index): 0, 1 or 8 workers give identical batches.
///
/// Shutdown: the destructor and set_epoch() stop and join the workers, also mid-epoch. An exception thrown in a
/// worker stops the epoch and is rethrown by the next call to next().
#include <attncnn/data/dataset.h>
#include <attncnn/data/transforms.h>
#include <torch/arg.h>
#include <torch/types.h>

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

namespace attncnn {

using BatchHook = std::function<void(torch::Tensor& images_u8, const torch::Tensor& indices)>;

struct LoaderOptions {
  LoaderOptions(int64_t batch_size = 128) : batch_size_(batch_size) {}
  TORCH_ARG(int64_t, batch_size);
  TORCH_ARG(bool, shuffle) = true;
  TORCH_ARG(bool, drop_last) = false;  ///< drop the last partial batch
  TORCH_ARG(uint64_t, seed) = 0;
  TORCH_ARG(int, workers) = 2;         ///< 0: batches are made in next() on the calling thread
  TORCH_ARG(int, prefetch) = 4;        ///< batches made ahead of the consumer (at least 1)
  TORCH_ARG(Transform, transform);     ///< mean/std are fitted on the set when empty
  TORCH_ARG(bool, augment) = true;     ///< false: only transform.eval_part() runs
  TORCH_ARG(torch::Device, device) = torch::kCPU;
  /// Data-parallel share: this loader delivers shard_order(order, shard_rank, shard_count) of each epoch's order.
  TORCH_ARG(int64_t, shard_rank) = 0;
  TORCH_ARG(int64_t, shard_count) = 1;
  /// Runs in a worker on each transformed uint8 batch (n×C×H×W, may be modified in place) with its dataset
  /// indices, before normalisation: a place for custom augmentation. Its exceptions reach next().
  TORCH_ARG(BatchHook, on_batch);
};

struct Batch {
  torch::Tensor images;   ///< float n×C×H×W, normalised, on the device
  torch::Tensor labels;   ///< int64 n, on the device
  torch::Tensor indices;  ///< int64 n, CPU: which samples of the set these are
  int64_t index = 0;      ///< batch number within the epoch
};

class Loader {
 public:
  /// Keeps a reference to the set's tensors (not a copy). Throws attncnn::Error (input) for a batch size < 1,
  /// prefetch < 1, workers < 0, or a transform that does not fit the images.
  Loader(const ImageSet& set, LoaderOptions options);
  ~Loader();
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  /// Starts epoch `epoch` from its first batch (stopping the current one if running).
  void set_epoch(int64_t epoch);
  int64_t epoch() const { return epoch_; }
  /// Batches per epoch.
  int64_t size() const;
  /// Samples per epoch (after drop_last).
  int64_t samples() const;
  /// The next batch of the epoch; false at its end (until set_epoch). Rethrows a worker's exception.
  bool next(Batch& batch);
  const LoaderOptions& options() const { return opt_; }

 private:
  struct Made {
    torch::Tensor images, labels, indices;
  };
  Made make(int64_t b) const;
  void start();
  void stop();
  void work();

  torch::Tensor images_, labels_;
  LoaderOptions opt_;
  bool cuda_ = false;
  int64_t epoch_ = 0;
  bool started_ = false;
  std::vector<int64_t> order_;
  int64_t batches_ = 0;
  int64_t consumed_ = 0;

  std::mutex mu_;
  std::condition_variable cv_work_, cv_ready_;
  bool stop_ = false;
  int64_t next_make_ = 0;
  std::map<int64_t, Made> ready_;
  std::exception_ptr error_;
  std::vector<std::thread> threads_;
};

/// The sample order of one epoch: a permutation of 0..n-1 from (seed, epoch), or 0..n-1 when shuffle is false.
std::vector<int64_t> epoch_order(int64_t n, uint64_t seed, int64_t epoch, bool shuffle = true);

/// Rank `rank`'s share of an epoch order split over `count` ranks: positions rank, rank + count, ... of the order
/// padded to a multiple of `count` by repeating its start (as PyTorch's DistributedSampler), so every rank gets
/// ceil(n / count) samples and batch k of all ranks together is batch k of one rank with count times the batch
/// size. Throws attncnn::Error (input) unless 0 <= rank < count.
std::vector<int64_t> shard_order(const std::vector<int64_t>& order, int64_t rank, int64_t count);

}  // namespace attncnn
