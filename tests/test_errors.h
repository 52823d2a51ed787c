#pragma once
// The message of the attncnn::Error a call throws, for tests of error paths.
#include <attncnn/error.h>
#include <gtest/gtest.h>

#include <functional>
#include <string>

namespace {

// Runs `f`, expects it to throw attncnn::Error with `expected_code` (2: input error, 1: runtime failure) and returns
// the message; records a failure and returns "" when nothing is thrown.
inline std::string error_of(const std::function<void()>& f, int expected_code = 2) {
  try {
    f();
  } catch (const attncnn::Error& e) {
    EXPECT_EQ(e.exit_code(), expected_code) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "no error thrown";
  return "";
}

}  // namespace
