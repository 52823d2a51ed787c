#include <attncnn/dist/launch.h>
#include <attncnn/dist/process_group.h>
#include <attncnn/error.h>
#include <attncnn/train/interrupt.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

extern char** environ;

namespace attncnn {

namespace {

std::atomic<int> g_signal{0};
void on_signal(int sig) { g_signal.store(sig); }

struct Child {
  pid_t pid = -1;
  int64_t rank = 0;
  bool running = false;
};

// The environment block of one rank: ours with the rank's variables replaced.
std::vector<std::string> rank_environment(const std::vector<std::pair<std::string, std::string>>& vars) {
  std::vector<std::string> out;
  for (char** e = environ; *e; ++e) {
    const std::string kv = *e;
    const std::string key = kv.substr(0, kv.find('='));
    bool replaced = false;
    for (const auto& v : vars) replaced = replaced || v.first == key;
    if (!replaced) out.push_back(kv);
  }
  for (const auto& v : vars) out.push_back(v.first + "=" + v.second);
  return out;
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> p;
  for (auto& s : strings) p.push_back(s.data());
  p.push_back(nullptr);
  return p;
}

std::string how_it_ended(int status) {
  if (WIFEXITED(status)) return "exited with code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("was killed by signal ") + std::to_string(WTERMSIG(status)) + " (" +
                                  strsignal(WTERMSIG(status)) + ")";
  return "ended";
}

}  // namespace

std::vector<std::string> own_command_line() {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  const std::string raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> args;
  size_t start = 0;
  for (size_t i = 0; i < raw.size(); ++i)
    if (raw[i] == '\0') args.push_back(raw.substr(start, i - start)), start = i + 1;
  if (start < raw.size()) args.push_back(raw.substr(start));
  return args;
}

int launch_local(const std::vector<std::string>& argv, const LaunchOptions& o, std::ostream& log) {
  if (o.nproc < 1) input_error("--nproc-per-node " + std::to_string(o.nproc) + ": expected at least 1");
  if (argv.empty()) input_error("launch: empty command line");
  StoreServer store(0, o.grace_s + 60);
  const std::string port = std::to_string(store.port());

  struct sigaction sa {}, old_int {}, old_term {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);

  std::vector<Child> children;
  const pid_t launcher = ::getpid();
  for (int64_t r = 0; r < o.nproc; ++r) {
    std::vector<std::pair<std::string, std::string>> vars = {
        {"RANK", std::to_string(r)},          {"LOCAL_RANK", std::to_string(r)},
        {"WORLD_SIZE", std::to_string(o.nproc)}, {"LOCAL_WORLD_SIZE", std::to_string(o.nproc)},
        {"MASTER_ADDR", "127.0.0.1"},         {"MASTER_PORT", port},
        {"TORCHELASTIC_USE_AGENT_STORE", "True"}};
    vars.insert(vars.end(), o.env.begin(), o.env.end());
    auto env = rank_environment(vars);
    auto args = argv;
    auto envp = pointers(env);
    auto argp = pointers(args);
    const pid_t pid = ::fork();
    if (pid < 0) {
      for (auto& c : children) ::kill(c.pid, SIGKILL);
      runtime_error(std::string("could not start rank ") + std::to_string(r) + ": fork failed: " + strerror(errno));
    }
    if (pid == 0) {
      ::setpgid(0, 0);
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (::getppid() != launcher) ::_exit(1);  // the launcher died before prctl took effect
      ::execve("/proc/self/exe", argp.data(), envp.data());
      ::_exit(127);
    }
    children.push_back({pid, r, true});
  }

  int code = 0;
  bool stopping = false;
  std::string first_failure;
  auto deadline = std::chrono::steady_clock::time_point::max();
  int64_t alive = o.nproc;
  while (alive > 0) {
    if (const int sig = g_signal.exchange(0)) {
      stopping = true;
      for (auto& c : children)
        if (c.running) ::kill(c.pid, sig);
    }
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid > 0) {
      for (auto& c : children) {
        if (c.pid != pid) continue;
        c.running = false;
        --alive;
        const int rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        if (stopping && rc == kExitInterrupted) {  // stopped and saved as asked
          if (code == 0) code = rc;
        } else if (rc != 0 && first_failure.empty()) {
          first_failure = "rank " + std::to_string(c.rank) + " (pid " + std::to_string(pid) + ") " + how_it_ended(status);
          code = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
          if (alive > 0) {
            log << "attncnn: " << first_failure << "; waiting up to " << static_cast<int64_t>(o.grace_s)
                << " s for the other ranks to stop\n"
                << std::flush;
            deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(static_cast<int64_t>(o.grace_s * 1000));
          }
        }
      }
      continue;
    }
    if (pid < 0 && errno != EINTR) break;
    if (std::chrono::steady_clock::now() > deadline) {
      for (auto& c : children)
        if (c.running) {
          log << "attncnn: rank " << c.rank << " (pid " << c.pid << ") did not stop; killing it\n";
          ::kill(c.pid, SIGKILL);
        }
      deadline = std::chrono::steady_clock::time_point::max();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);
  if (!first_failure.empty() && code != 0 && o.nproc > 1)
    log << "attncnn: the job failed: " << first_failure << "\n" << std::flush;
  return code;
}

}  // namespace attncnn
