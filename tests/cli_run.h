#pragma once
// Runs the real `attncnn` executable (ATTNCNN_CLI, a compile definition) for the command-line tests.
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

namespace {

struct Run {
  int code;         ///< exit code, or 128 + signal number
  std::string out;  ///< standard output, with standard error unless with_stderr is false
};

inline Run run_cli(const std::string& args, bool with_stderr = true) {
  const std::string cmd = std::string(ATTNCNN_CLI) + " " + args + (with_stderr ? " 2>&1" : " 2>/dev/null");
  Run r{-1, ""};
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int status = ::pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

}  // namespace
