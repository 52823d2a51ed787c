#pragma once
/// Starts the ranks of a one-machine data-parallel job, as torchrun does: N copies of this program with RANK,
/// LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, MASTER_ADDR and MASTER_PORT set, connecting to a rendezvous store that
/// the launcher hosts (TORCHELASTIC_USE_AGENT_STORE=True).
///
///   attncnn::LaunchOptions o;
///   o.nproc = 2;
///   o.env = {{"ATTNCNN_RUN_DIR", "runs/train/exp3"}};
///   return attncnn::launch_local(argv, o, std::cerr);   // the job's exit code
///
/// Signals: SIGINT and SIGTERM sent to the launcher are passed on to every rank once per signal (the ranks run in
/// their own process group, so a Ctrl-C at the terminal reaches them only through the launcher: each rank sees it
/// once). A rank that dies or fails ends the job: the launcher names it, gives the others `grace_s` to stop on
/// their own (they notice the missing rank at their next collective), then kills what is left. Ranks also die
/// with the launcher (PR_SET_PDEATHSIG). Exit code: 0 when every rank succeeded, else the first failure's code
/// (1 for a rank killed by a signal).
#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace attncnn {

struct LaunchOptions {
  int64_t nproc = 1;
  double grace_s = 60;   ///< after a rank fails, how long the others may take to stop
  std::vector<std::pair<std::string, std::string>> env;  ///< more variables for every rank
};

/// Runs `argv` (argv[0] is replaced by this executable, /proc/self/exe) as ranks 0..nproc-1.
int launch_local(const std::vector<std::string>& argv, const LaunchOptions& opts, std::ostream& log);

/// This process's command line (from /proc/self/cmdline).
std::vector<std::string> own_command_line();

}  // namespace attncnn
