// Cooperative stop requests: signal handlers set a flag that the training loop polls between steps.
#include <attncnn/train/interrupt.h>

#include <atomic>
#include <csignal>

namespace attncnn {

namespace {
std::atomic<int> g_stop{0};
static_assert(std::atomic<int>::is_always_lock_free, "the stop flag must be usable from a signal handler");

void on_signal(int) { g_stop.store(1); }
}  // namespace

void install_interrupt_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  // One-shot: the handler resets to the default action, so a second Ctrl-C ends the process at once.
  sa.sa_flags = SA_RESETHAND;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

void request_stop() { g_stop.store(1); }
bool stop_requested() { return g_stop.load() != 0; }
void clear_stop() { g_stop.store(0); }

}  // namespace attncnn
