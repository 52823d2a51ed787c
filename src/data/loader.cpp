#include <attncnn/data/loader.h>
#include <attncnn/error.h>

#include <torch/torch.h>

#include <cstring>
#include <numeric>

namespace attncnn {

std::vector<int64_t> epoch_order(int64_t n, uint64_t seed, int64_t epoch, bool shuffle) {
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), int64_t{0});
  if (!shuffle) return order;
  // Fisher–Yates with our own counter-based numbers: the order is the same with every standard library.
  const uint64_t key = splitmix64(sample_key(seed, epoch, -1));
  for (int64_t i = n - 1; i > 0; --i) {
    const uint64_t r = splitmix64(key + static_cast<uint64_t>(i));
    std::swap(order[i], order[static_cast<int64_t>(r % static_cast<uint64_t>(i + 1))]);
  }
  return order;
}

std::vector<int64_t> shard_order(const std::vector<int64_t>& order, int64_t rank, int64_t count) {
  if (count < 1 || rank < 0 || rank >= count)
    input_error("data shard " + std::to_string(rank) + " of " + std::to_string(count) +
                ": expected 0 <= rank < count");
  if (count == 1) return order;
  const int64_t n = static_cast<int64_t>(order.size());
  const int64_t per_rank = (n + count - 1) / count;
  std::vector<int64_t> out;
  out.reserve(static_cast<size_t>(per_rank));
  for (int64_t k = 0; k < per_rank && n > 0; ++k) out.push_back(order[static_cast<size_t>((rank + k * count) % n)]);
  return out;
}

Loader::Loader(const ImageSet& set, LoaderOptions options) : opt_(std::move(options)) {
  if (opt_.batch_size() < 1) input_error("batch size " + std::to_string(opt_.batch_size()) + ": expected at least 1");
  if (opt_.workers() < 0) input_error("workers " + std::to_string(opt_.workers()) + ": expected 0 or more");
  if (opt_.prefetch() < 1) input_error("prefetch " + std::to_string(opt_.prefetch()) + ": expected at least 1");
  TORCH_CHECK(set.images.defined() && set.images.dim() == 4 && set.images.scalar_type() == torch::kUInt8,
              "Loader: expected uint8 N×C×H×W images");
  TORCH_CHECK(set.labels.defined() && set.labels.dim() == 1 && set.labels.size(0) == set.images.size(0),
              "Loader: expected one label per image");
  images_ = set.images.device().is_cpu() ? set.images.contiguous() : set.images.cpu().contiguous();
  labels_ = set.labels.to(torch::kCPU, torch::kLong).contiguous();
  opt_.transform().fit(images_);
  opt_.transform().output_size(images_.size(2), images_.size(3));  // validates crop/padding against the images
  if (static_cast<int64_t>(opt_.transform().mean.size()) != images_.size(1))
    input_error("transform: " + std::to_string(opt_.transform().mean.size()) + " mean value(s) for images with " +
                std::to_string(images_.size(1)) + " channel(s)");
  shard_order({}, opt_.shard_rank(), opt_.shard_count());  // validates the shard
  cuda_ = opt_.device().is_cuda() && torch::cuda::is_available();
  batches_ = size();
}

Loader::~Loader() { stop(); }

int64_t Loader::samples() const {
  const int64_t n = (labels_.size(0) + opt_.shard_count() - 1) / opt_.shard_count();
  return opt_.drop_last() ? n / opt_.batch_size() * opt_.batch_size() : n;
}

int64_t Loader::size() const {
  const int64_t n = (labels_.size(0) + opt_.shard_count() - 1) / opt_.shard_count(), bs = opt_.batch_size();
  return opt_.drop_last() ? n / bs : (n + bs - 1) / bs;
}

void Loader::set_epoch(int64_t epoch) {
  stop();
  epoch_ = epoch;
  started_ = false;
}

void Loader::stop() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = true;
  }
  cv_work_.notify_all();
  cv_ready_.notify_all();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
  std::lock_guard<std::mutex> lk(mu_);
  ready_.clear();
  error_ = nullptr;
  stop_ = false;
}

void Loader::start() {
  order_ = shard_order(epoch_order(labels_.size(0), opt_.seed(), epoch_, opt_.shuffle()), opt_.shard_rank(),
                       opt_.shard_count());
  consumed_ = 0;
  next_make_ = 0;
  started_ = true;
  const int nw = static_cast<int>(std::min<int64_t>(opt_.workers(), batches_));
  for (int i = 0; i < nw; ++i) threads_.emplace_back([this] { work(); });
}

Loader::Made Loader::make(int64_t b) const {
  const int64_t bs = opt_.batch_size();
  const int64_t i0 = b * bs, i1 = std::min<int64_t>(i0 + bs, static_cast<int64_t>(order_.size()));
  Made m;
  m.indices = torch::empty({i1 - i0}, torch::kLong);
  std::memcpy(m.indices.data_ptr<int64_t>(), order_.data() + i0, static_cast<size_t>(i1 - i0) * sizeof(int64_t));
  auto x = opt_.transform().apply(images_, m.indices, opt_.seed(), epoch_, opt_.augment());
  if (opt_.on_batch()) opt_.on_batch()(x, m.indices);
  m.labels = torch::empty({i1 - i0}, torch::kLong);
  const int64_t* lab = labels_.data_ptr<int64_t>();
  int64_t* dl = m.labels.data_ptr<int64_t>();
  for (int64_t i = i0; i < i1; ++i) dl[i - i0] = lab[order_[i]];
  if (cuda_) {
    m.images = x.pin_memory();
    m.labels = m.labels.pin_memory();
  } else {
    m.images = opt_.transform().normalize(x);
  }
  return m;
}

void Loader::work() {
  for (;;) {
    int64_t b;
    {
      std::unique_lock<std::mutex> lk(mu_);
      cv_work_.wait(lk, [&] {
        return stop_ || error_ || next_make_ >= batches_ || next_make_ < consumed_ + opt_.prefetch();
      });
      if (stop_ || error_ || next_make_ >= batches_) return;
      b = next_make_++;
    }
    try {
      Made m = make(b);
      std::lock_guard<std::mutex> lk(mu_);
      ready_.emplace(b, std::move(m));
    } catch (...) {
      std::lock_guard<std::mutex> lk(mu_);
      if (!error_) error_ = std::current_exception();
    }
    cv_ready_.notify_all();
  }
}

bool Loader::next(Batch& batch) {
  if (!started_) start();
  if (consumed_ >= batches_) return false;
  Made m;
  const bool sync = threads_.empty();
  if (sync) {
    m = make(consumed_);
  } else {
    std::unique_lock<std::mutex> lk(mu_);
    cv_ready_.wait(lk, [&] { return error_ || ready_.count(consumed_) > 0; });
    if (error_ && ready_.count(consumed_) == 0) {
      auto e = error_;
      lk.unlock();
      stop();
      consumed_ = batches_;  // the epoch is over; set_epoch starts a new one
      std::rethrow_exception(e);
    }
    auto it = ready_.find(consumed_);
    m = std::move(it->second);
    ready_.erase(it);
    batch.index = consumed_++;
    lk.unlock();
    cv_work_.notify_all();
  }
  if (sync) batch.index = consumed_++;
  batch.indices = m.indices;
  if (cuda_) {
    auto x = m.images.to(opt_.device(), /*non_blocking=*/true);
    batch.images = opt_.transform().normalize(x);
    batch.labels = m.labels.to(opt_.device(), /*non_blocking=*/true);
  } else {
    batch.images = m.images;
    batch.labels = m.labels;
    if (!opt_.device().is_cpu()) {
      batch.images = batch.images.to(opt_.device());
      batch.labels = batch.labels.to(opt_.device());
    }
  }
  return true;
}

}  // namespace attncnn
