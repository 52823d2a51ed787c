#pragma once
/// Cooperative stopping: a process-wide flag that train() polls after every step. Ctrl-C (SIGINT) and SIGTERM set
/// it once handlers are installed; a second signal of the same kind then ends the process at once.
namespace attncnn {

/// Installs SIGINT and SIGTERM handlers that call request_stop(). Safe to call more than once.
void install_interrupt_handlers();
/// Asks the running training to stop after its current step (async-signal-safe).
void request_stop();
/// Whether a stop was requested and not yet cleared.
bool stop_requested();
/// Clears a stop request (train() does not clear it: the caller decides).
void clear_stop();

/// The exit code of a run ended by an interrupt (128 + SIGINT).
constexpr int kExitInterrupted = 130;

}  // namespace attncnn
