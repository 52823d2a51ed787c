#pragma once
/// A c10d process group for data-parallel training: rendezvous through a c10d TCPStore, then collectives on
/// ProcessGroupNCCL (CUDA tensors) or ProcessGroupGloo (CPU tensors, and CUDA tensors where NCCL cannot be used,
/// e.g. two ranks on one GPU). libtorch's own engine does the transport; this class only chooses, names errors
/// and keeps the c10d headers out of the rest of the tree.
///
///   attncnn::DistEnv env = attncnn::dist_env_from_environment();
///   attncnn::ProcessGroup pg(env, "auto", device, /*timeout_s=*/1800);
///   auto pending = pg.allreduce_async(flat_grads);   // sum, in place
///   ...                                              // more work overlaps the transfer
///   pending.wait();
///
/// Errors: attncnn::Error (input) for a backend this libtorch was built without (the message says how to get
/// it) or a backend that cannot take the device (nccl on the CPU); attncnn::Error (runtime) when the rendezvous
/// or a collective fails or outlasts the timeout, naming this rank, the world size and the backend.
#include <attncnn/dist/env.h>

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace attncnn {

/// A collective in flight; wait() blocks until it is done (it may be called once; later calls return at once).
class PendingCollective {
 public:
  PendingCollective() = default;
  explicit PendingCollective(std::function<void()> wait) : wait_(std::move(wait)) {}
  void wait() {
    if (wait_) std::exchange(wait_, nullptr)();
  }

 private:
  std::function<void()> wait_;
};

/// Names of the backends compiled into this build ("gloo", "nccl"), for messages and `attncnn info`.
std::vector<std::string> available_dist_backends();

class ProcessGroup {
 public:
  /// backend: "auto" (nccl for a CUDA device when built with it, else gloo), "gloo" or "nccl". Blocks until every
  /// rank has joined or timeout_s passes.
  ProcessGroup(const DistEnv& env, const std::string& backend, const c10::Device& device, double timeout_s);
  ~ProcessGroup();
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  int64_t rank() const;
  int64_t world_size() const;
  const std::string& backend() const;

  /// Sum over ranks, in place, started now. The tensor must stay alive and untouched until wait().
  PendingCollective allreduce_async(const at::Tensor& t);
  void allreduce_sum(const at::Tensor& t) { allreduce_async(t).wait(); }
  /// Element-wise maximum over ranks, in place.
  void allreduce_max(const at::Tensor& t);
  /// Rank `root`'s values into every rank's tensors, in place (any memory layout).
  void broadcast(const std::vector<at::Tensor>& tensors, int64_t root = 0);
  void barrier();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Hosts a c10d TCPStore for a launcher (the processes it starts connect to it as clients); port 0 picks a free
/// port, port() tells which.
class StoreServer {
 public:
  StoreServer(int64_t port, double timeout_s);
  ~StoreServer();
  int64_t port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace attncnn
