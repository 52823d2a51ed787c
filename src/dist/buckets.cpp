#include <attncnn/dist/buckets.h>
#include <attncnn/dist/process_group.h>
#include <attncnn/error.h>

#include <torch/torch.h>

#include <mutex>

namespace attncnn {

struct GradientBuckets::Impl {
  struct Entry {
    int64_t bucket = 0, offset = 0, numel = 0;
    bool ready = false;
    torch::Tensor view;  // the parameter's slot in its bucket, shaped like the parameter
  };
  struct Bucket {
    torch::Tensor flat;
    std::vector<int64_t> params;
    int64_t ready = 0;
    PendingCollective pending;
    bool launched = false;
  };
  ProcessGroup* pg = nullptr;
  std::vector<torch::Tensor> params;
  std::vector<Entry> entries;
  std::vector<Bucket> buckets;
  std::vector<unsigned> hook_ids;
  int64_t next_launch = 0;
  bool sync = true, active = false;
  std::mutex mu;

  torch::Tensor& slot(int64_t i) { return entries[i].view; }

  // Buckets start in index order only, so every rank issues the same collectives in the same order.
  void launch_ready() {
    while (next_launch < static_cast<int64_t>(buckets.size())) {
      Bucket& b = buckets[next_launch];
      if (b.ready < static_cast<int64_t>(b.params.size())) return;
      b.pending = pg->allreduce_async(b.flat);
      b.launched = true;
      ++next_launch;
    }
  }

  void on_grad(int64_t i, const torch::Tensor& grad) {
    if (!sync) return;
    std::lock_guard<std::mutex> lock(mu);
    Entry& e = entries[i];
    if (e.ready) return;  // a second backward in one step: its part stays local (as DDP's no_sync)
    active = true;
    auto& dst = slot(i);
    torch::NoGradGuard no_grad;
    auto acc = params[i].grad();
    // A gradient left as a view of the bucket (zeroed in place instead of reset) is moved out first: AccumulateGrad
    // adds into it in place right after this hook, which must not touch the bucket.
    if (acc.defined() && acc.is_alias_of(dst)) params[i].mutable_grad() = acc = acc.clone();
    if (acc.defined()) torch::add_out(dst, acc, grad);  // what AccumulateGrad is about to store
    else dst.copy_(grad);
    e.ready = true;
    if (++buckets[e.bucket].ready == static_cast<int64_t>(buckets[e.bucket].params.size())) launch_ready();
  }

  void fill_missing() {
    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < entries.size(); ++i) {
      Entry& e = entries[i];
      if (e.ready) continue;
      auto& dst = slot(static_cast<int64_t>(i));
      if (params[i].grad().defined() && !params[i].grad().is_alias_of(dst)) dst.copy_(params[i].grad());
      else dst.zero_();
      e.ready = true;
      ++buckets[e.bucket].ready;
    }
  }

  // as_views: each `.grad` becomes its slot in the bucket (no copy; the next zero_grad() releases it); otherwise
  // the averages are copied into the existing gradients (a captured CUDA graph keeps writing to those).
  void complete(bool as_views) {
    launch_ready();
    torch::NoGradGuard no_grad;
    const double inv = 1.0 / static_cast<double>(pg->world_size());
    for (auto& b : buckets) {
      b.pending.wait();
      if (pg->world_size() > 1) b.flat.mul_(inv);
      for (int64_t i : b.params) {
        auto& p = params[i];
        const auto& avg = slot(i);
        if (as_views) p.mutable_grad() = avg;
        else if (!p.grad().defined()) p.mutable_grad() = torch::empty_like(p).copy_(avg);
        else if (!p.grad().is_alias_of(avg)) p.mutable_grad().copy_(avg);
      }
      b.ready = 0;
      b.launched = false;
    }
    for (auto& e : entries) e.ready = false;
    next_launch = 0;
    active = false;
  }
};

GradientBuckets::GradientBuckets(const std::vector<at::Tensor>& params, ProcessGroup& pg, double bucket_cap_mb)
    : impl_(std::make_unique<Impl>()) {
  auto& m = *impl_;
  m.pg = &pg;
  if (!(bucket_cap_mb > 0)) input_error("--bucket-cap-mb " + std::to_string(bucket_cap_mb) + ": expected > 0");
  for (const auto& p : params)
    if (p.requires_grad()) m.params.push_back(p);
  m.entries.resize(m.params.size());
  const double cap = bucket_cap_mb * 1024.0 * 1024.0;
  // Reverse registration order; a bucket holds one dtype and device.
  std::vector<std::vector<int64_t>> groups;
  double bytes = 0;
  for (int64_t i = static_cast<int64_t>(m.params.size()) - 1; i >= 0; --i) {
    const auto& p = m.params[i];
    const double sz = static_cast<double>(p.numel()) * static_cast<double>(p.element_size());
    const bool same_kind = !groups.empty() && m.params[groups.back().front()].scalar_type() == p.scalar_type() &&
                           m.params[groups.back().front()].device() == p.device();
    if (groups.empty() || !same_kind || (bytes > 0 && bytes + sz > cap)) {
      groups.emplace_back();
      bytes = 0;
    }
    groups.back().push_back(i);
    bytes += sz;
  }
  for (size_t b = 0; b < groups.size(); ++b) {
    Impl::Bucket bucket;
    int64_t n = 0;
    for (int64_t i : groups[b]) {
      m.entries[i].bucket = static_cast<int64_t>(b);
      m.entries[i].offset = n;
      m.entries[i].numel = m.params[i].numel();
      n += m.params[i].numel();
    }
    const auto& first = m.params[groups[b].front()];
    bucket.flat = torch::zeros({n}, first.options().requires_grad(false));
    bucket.params = groups[b];
    for (int64_t i : groups[b])
      m.entries[i].view = bucket.flat.narrow(0, m.entries[i].offset, m.entries[i].numel).view(m.params[i].sizes());
    m.buckets.push_back(std::move(bucket));
  }
  Impl* self = impl_.get();
  for (size_t i = 0; i < m.params.size(); ++i) {
    const int64_t idx = static_cast<int64_t>(i);
    m.hook_ids.push_back(m.params[i].register_hook([self, idx](const torch::Tensor& g) { self->on_grad(idx, g); }));
  }
}

GradientBuckets::~GradientBuckets() {
  auto& m = *impl_;
  for (size_t i = 0; i < m.params.size(); ++i) m.params[i].remove_hook(m.hook_ids[i]);
}

void GradientBuckets::set_sync(bool sync) { impl_->sync = sync; }

void GradientBuckets::finish() {
  auto& m = *impl_;
  std::lock_guard<std::mutex> lock(m.mu);
  if (!m.active) return;  // no synchronised backward since the last finish
  m.fill_missing();
  m.complete(/*as_views=*/true);
}

void GradientBuckets::zero_grad() {
  for (auto& p : impl_->params) p.mutable_grad() = torch::Tensor();
}

void GradientBuckets::reduce_all() {
  auto& m = *impl_;
  std::lock_guard<std::mutex> lock(m.mu);
  for (auto& e : m.entries) e.ready = false;
  for (auto& b : m.buckets) b.ready = 0;
  m.fill_missing();
  m.complete(/*as_views=*/false);
}

std::vector<std::vector<int64_t>> GradientBuckets::layout() const {
  std::vector<std::vector<int64_t>> v;
  for (const auto& b : impl_->buckets) v.push_back(b.params);
  return v;
}

}  // namespace attncnn
