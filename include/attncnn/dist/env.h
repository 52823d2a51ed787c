#pragma once
/// Where this process sits in a data-parallel job, read from the environment the way torchrun and Slurm set it.
///
///   torchrun (or any launcher that sets its variables): RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE,
///     MASTER_ADDR, MASTER_PORT; TORCHELASTIC_USE_AGENT_STORE=True when the launcher hosts the rendezvous store.
///   Slurm (srun): SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID, SLURM_NTASKS_PER_NODE, SLURM_NNODES; MASTER_ADDR
///     is needed when the job spans several nodes (one node: 127.0.0.1), MASTER_PORT defaults to 29500.
///   `attncnn train --nproc-per-node N` sets torchrun's variables for the processes it starts.
///
///   attncnn::DistEnv env = attncnn::dist_env_from_environment();
///   if (env.distributed()) { ... env.rank of env.world_size ... }
///
/// Throws attncnn::Error (input) naming the variable and its value when a variable is malformed or the set is
/// inconsistent (RANK ≥ WORLD_SIZE, a port outside 1–65535, WORLD_SIZE without RANK, ...).
#include <cstdint>
#include <string>

namespace attncnn {

struct DistEnv {
  int64_t rank = 0;
  int64_t world_size = 1;
  int64_t local_rank = 0;
  int64_t local_world_size = 1;
  std::string master_addr = "127.0.0.1";
  int64_t master_port = 29500;
  bool agent_store = false;  ///< the launcher hosts the store; rank 0 connects to it instead of serving it
  std::string launcher;      ///< "" (one process, no rendezvous), "torchrun" or "slurm"
  bool distributed() const { return !launcher.empty(); }
  bool is_main() const { return rank == 0; }
};

DistEnv dist_env_from_environment();

}  // namespace attncnn
