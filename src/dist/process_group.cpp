// c10d process groups behind a small interface. Which backends exist depends on the libtorch build:
// ATTNCNN_HAVE_GLOO and ATTNCNN_HAVE_NCCL are set by CMake when the headers (and USE_C10D_*) are there.
#include <attncnn/dist/process_group.h>
#include <attncnn/error.h>

#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/version.h>
#ifdef ATTNCNN_HAVE_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#ifdef ATTNCNN_HAVE_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <chrono>
#include <cstdlib>

namespace attncnn {

namespace {

// libtorch 2 split the process group into a front (ProcessGroup) and backends; 1.13's backends are process groups.
#if TORCH_VERSION_MAJOR >= 2
using BackendBase = c10d::Backend;
#else
using BackendBase = c10d::ProcessGroup;
#endif

std::chrono::milliseconds to_ms(double s) {
  return std::chrono::milliseconds(static_cast<int64_t>(s * 1000.0));
}

std::string what_of(const std::exception& e) {
  if (auto* c = dynamic_cast<const c10::Error*>(&e)) return c->what_without_backtrace();
  return e.what();
}

bool is_loopback(const std::string& addr) {
  return addr == "localhost" || addr.rfind("127.", 0) == 0 || addr == "::1";
}

}  // namespace

std::vector<std::string> available_dist_backends() {
  std::vector<std::string> v;
#ifdef ATTNCNN_HAVE_GLOO
  v.push_back("gloo");
#endif
#ifdef ATTNCNN_HAVE_NCCL
  v.push_back("nccl");
#endif
  return v;
}

struct ProcessGroup::Impl {
  DistEnv env;
  std::string backend;
  double timeout_s = 0;
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<BackendBase> pg;

  std::string where() const {
    return "rank " + std::to_string(env.rank) + " of " + std::to_string(env.world_size) + " (" + backend + ")";
  }
  [[noreturn]] void fail(const std::string& op, const std::exception& e) const {
    runtime_error("distributed " + op + " failed on " + where() + ": " + what_of(e) +
                  " (another rank stopped, or --dist-timeout " + std::to_string(static_cast<int64_t>(timeout_s)) +
                  " s passed)");
  }
  PendingCollective track(const std::string& op, c10::intrusive_ptr<c10d::Work> work) {
    return PendingCollective([this, op, work]() {
      try {
        // No timeout argument: with one, NCCL's wait blocks the host until the GPU finishes, instead of only
        // ordering the streams. The process group's own timeout (set at creation) still ends a hung collective.
        work->wait();
      } catch (const std::exception& e) {
        fail(op, e);
      }
    });
  }
};

ProcessGroup::ProcessGroup(const DistEnv& env, const std::string& backend, const c10::Device& device,
                           double timeout_s)
    : impl_(std::make_unique<Impl>()) {
  auto& m = *impl_;
  m.env = env;
  m.timeout_s = timeout_s;
  if (!(timeout_s > 0)) input_error("--dist-timeout " + std::to_string(timeout_s) + ": expected seconds > 0");
  m.backend = backend == "auto" ? (device.is_cuda() && env.local_world_size <= 64 ? "nccl" : "gloo") : backend;
#ifndef ATTNCNN_HAVE_NCCL
  if (backend == "auto" && m.backend == "nccl") m.backend = "gloo";
#endif
  if (m.backend != "gloo" && m.backend != "nccl")
    input_error("--dist-backend " + backend + ": expected auto, gloo or nccl");
  if (m.backend == "nccl" && !device.is_cuda())
    input_error("--dist-backend nccl: NCCL works on CUDA devices only, the device is " + device.str() +
                "; use --dist-backend gloo (or auto) for CPU training");
  try {
    c10d::TCPStoreOptions so;
    so.port = static_cast<std::uint16_t>(env.master_port);
    so.isServer = env.rank == 0 && !env.agent_store;
    so.numWorkers = static_cast<size_t>(env.world_size);
    so.waitWorkers = false;
    so.timeout = to_ms(timeout_s);
    m.store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, so);
  } catch (const std::exception& e) {
    runtime_error("distributed rendezvous at " + env.master_addr + ":" + std::to_string(env.master_port) +
                  " failed for rank " + std::to_string(env.rank) + " of " + std::to_string(env.world_size) + ": " +
                  what_of(e) + " (is rank 0 running and the port reachable? MASTER_ADDR/MASTER_PORT set it)");
  }
  try {
    if (m.backend == "gloo") {
#ifdef ATTNCNN_HAVE_GLOO
      auto opts = c10d::ProcessGroupGloo::Options::create(to_ms(timeout_s));
      const char* ifname = std::getenv("GLOO_SOCKET_IFNAME");
      if (ifname && *ifname) opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
      else if (is_loopback(env.master_addr))
        opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
      else opts->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
      m.pg = c10::make_intrusive<c10d::ProcessGroupGloo>(m.store, static_cast<int>(env.rank),
                                                         static_cast<int>(env.world_size), opts);
#else
      input_error("--dist-backend gloo: this libtorch has no Gloo headers; on Debian install libgloo-dev "
                  "(scripts/setup.sh does) and rebuild, or train on CUDA with NCCL");
#endif
    } else {
#ifdef ATTNCNN_HAVE_NCCL
      auto opts = c10d::ProcessGroupNCCL::Options::create();
      opts->timeout = to_ms(timeout_s);
      m.pg = c10::make_intrusive<c10d::ProcessGroupNCCL>(m.store, static_cast<int>(env.rank),
                                                         static_cast<int>(env.world_size), opts);
#else
      input_error("--dist-backend nccl: this build has no NCCL; build attncnn against a CUDA libtorch (PyTorch's "
                  "wheels ship NCCL) or use --dist-backend gloo");
#endif
    }
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    runtime_error("distributed " + m.backend + " process group for rank " + std::to_string(env.rank) + " of " +
                  std::to_string(env.world_size) + " could not start: " + what_of(e));
  }
}

ProcessGroup::~ProcessGroup() {
#if defined(ATTNCNN_HAVE_NCCL) && TORCH_VERSION_MAJOR >= 2
  // NCCL's communicators are released explicitly (its destructor warns when they are left to process exit).
  if (auto* nccl = dynamic_cast<c10d::ProcessGroupNCCL*>(impl_->pg.get())) {
    try {
      nccl->shutdown();
    } catch (const std::exception&) {
    }
  }
#endif
}

int64_t ProcessGroup::rank() const { return impl_->env.rank; }
int64_t ProcessGroup::world_size() const { return impl_->env.world_size; }
const std::string& ProcessGroup::backend() const { return impl_->backend; }

PendingCollective ProcessGroup::allreduce_async(const at::Tensor& t) {
  std::vector<at::Tensor> v{t};
  try {
    return impl_->track("all-reduce", impl_->pg->allreduce(v));
  } catch (const std::exception& e) {
    impl_->fail("all-reduce", e);
  }
}

void ProcessGroup::allreduce_max(const at::Tensor& t) {
  std::vector<at::Tensor> v{t};
  c10d::AllreduceOptions o;
  o.reduceOp = c10d::ReduceOp::MAX;
  try {
    impl_->track("all-reduce", impl_->pg->allreduce(v, o)).wait();
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    impl_->fail("all-reduce", e);
  }
}

void ProcessGroup::broadcast(const std::vector<at::Tensor>& tensors, int64_t root) {
  c10d::BroadcastOptions o;
  o.rootRank = root;
  for (const auto& t : tensors) {
    // Collectives take dense contiguous tensors; other layouts (channels-last) go through a contiguous copy.
    std::vector<at::Tensor> v{t.is_contiguous() ? t : t.contiguous()};
    try {
      impl_->track("broadcast", impl_->pg->broadcast(v, o)).wait();
    } catch (const Error&) {
      throw;
    } catch (const std::exception& e) {
      impl_->fail("broadcast", e);
    }
    if (!v[0].is_same(t)) t.copy_(v[0]);
  }
}

void ProcessGroup::barrier() {
  try {
    impl_->track("barrier", impl_->pg->barrier()).wait();
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    impl_->fail("barrier", e);
  }
}

struct StoreServer::Impl {
  c10::intrusive_ptr<c10d::TCPStore> store;
};

StoreServer::StoreServer(int64_t port, double timeout_s) : impl_(std::make_unique<Impl>()) {
  c10d::TCPStoreOptions so;
  so.port = static_cast<std::uint16_t>(port);
  so.isServer = true;
  so.waitWorkers = false;
  so.timeout = to_ms(timeout_s);
  try {
    impl_->store = c10::make_intrusive<c10d::TCPStore>("127.0.0.1", so);
  } catch (const std::exception& e) {
    runtime_error("could not host the rendezvous store on port " + std::to_string(port) + ": " + what_of(e));
  }
}

StoreServer::~StoreServer() = default;
int64_t StoreServer::port() const { return impl_->store->getPort(); }

}  // namespace attncnn
