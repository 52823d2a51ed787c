#include <attncnn/dist/env.h>
#include <attncnn/error.h>

#include <cstdlib>

namespace attncnn {

namespace {

const char* env(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? v : nullptr;
}

int64_t env_int(const char* name, int64_t lo, int64_t hi, int64_t fallback) {
  const char* v = env(name);
  if (!v) return fallback;
  char* end = nullptr;
  errno = 0;
  const long long x = std::strtoll(v, &end, 10);
  if (errno != 0 || end == v || *end != '\0' || x < lo || x > hi)
    input_error(std::string(name) + "=" + v + ": expected an integer in [" + std::to_string(lo) + ", " +
                std::to_string(hi) + "]");
  return x;
}

// Largest job the environment may describe: bounds every count read from it.
constexpr int64_t kMaxWorld = 1 << 20;

}  // namespace

DistEnv dist_env_from_environment() {
  DistEnv e;
  const bool torchrun = env("RANK") || env("WORLD_SIZE");
  const bool slurm = !torchrun && env("SLURM_PROCID") && env_int("SLURM_NTASKS", 1, kMaxWorld, 1) > 1;
  if (!torchrun && !slurm) return e;
  if (torchrun) {
    if (!env("RANK") || !env("WORLD_SIZE"))
      input_error(std::string(env("RANK") ? "RANK" : "WORLD_SIZE") + " is set but " +
                  (env("RANK") ? "WORLD_SIZE" : "RANK") + " is not: a launcher sets both (torchrun does)");
    e.launcher = "torchrun";
    e.world_size = env_int("WORLD_SIZE", 1, kMaxWorld, 1);
    e.rank = env_int("RANK", 0, kMaxWorld - 1, 0);
    e.local_rank = env_int("LOCAL_RANK", 0, kMaxWorld - 1, e.rank);
    e.local_world_size = env_int("LOCAL_WORLD_SIZE", 1, kMaxWorld, e.world_size);
    const char* agent = env("TORCHELASTIC_USE_AGENT_STORE");
    e.agent_store = agent && (std::string(agent) == "True" || std::string(agent) == "true" || std::string(agent) == "1");
  } else {
    e.launcher = "slurm";
    e.world_size = env_int("SLURM_NTASKS", 1, kMaxWorld, 1);
    e.rank = env_int("SLURM_PROCID", 0, kMaxWorld - 1, 0);
    e.local_rank = env_int("SLURM_LOCALID", 0, kMaxWorld - 1, 0);
    // SLURM_NTASKS_PER_NODE may read "4(x2)" on uneven jobs; its leading number is this node's share.
    const char* per_node = env("SLURM_NTASKS_PER_NODE");
    e.local_world_size = per_node ? std::max(1LL, std::atoll(per_node)) : 1;
    if (!env("MASTER_ADDR") && env_int("SLURM_NNODES", 1, kMaxWorld, 1) > 1)
      input_error("Slurm job on " + std::string(env("SLURM_NNODES")) +
                  " nodes: set MASTER_ADDR to the address of the node that runs rank 0, e.g. export "
                  "MASTER_ADDR=$(scontrol show hostnames \"$SLURM_JOB_NODELIST\" | head -n 1)");
  }
  if (e.rank >= e.world_size)
    input_error((torchrun ? "RANK=" : "SLURM_PROCID=") + std::to_string(e.rank) + ": expected less than the world size " +
                std::to_string(e.world_size));
  if (e.local_rank >= e.world_size)
    input_error((torchrun ? "LOCAL_RANK=" : "SLURM_LOCALID=") + std::to_string(e.local_rank) +
                ": expected less than the world size " + std::to_string(e.world_size));
  if (const char* addr = env("MASTER_ADDR")) e.master_addr = addr;
  else if (torchrun && e.world_size > 1 && e.world_size != e.local_world_size)
    input_error("MASTER_ADDR is not set: a job on several machines needs the address of the machine that runs rank 0");
  e.master_port = env_int("MASTER_PORT", 1, 65535, 29500);
  return e;
}

}  // namespace attncnn
