#pragma once
/// attncnn's one exception type. Every error names the offending value (file, flag, option) and what was
/// expected. `kind` maps onto the command-line exit code: input errors exit 2, runtime failures exit 1.
#include <stdexcept>
#include <string>

namespace attncnn {

enum class ErrorKind {
  Input,    ///< bad user input: a flag, a file, a value out of range (exit code 2)
  Runtime,  ///< a failure while running: I/O, numerics, device (exit code 1)
};

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& what) : std::runtime_error(what), kind_(kind) {}
  ErrorKind kind() const noexcept { return kind_; }
  int exit_code() const noexcept { return kind_ == ErrorKind::Input ? 2 : 1; }

 private:
  ErrorKind kind_;
};

/// Throws an input error (exit code 2).
[[noreturn]] inline void input_error(const std::string& what) { throw Error(ErrorKind::Input, what); }
/// Throws a runtime error (exit code 1).
[[noreturn]] inline void runtime_error(const std::string& what) { throw Error(ErrorKind::Runtime, what); }

}  // namespace attncnn
