// Status and Result<T>: the error model of the C++ runtime API.
#ifndef GAON_RUNTIME_STATUS_H
#define GAON_RUNTIME_STATUS_H

#include "gaon/runtime.h"

#include <cassert>
#include <optional>
#include <string>
#include <utility>

namespace gaon::rt {

enum class StatusCode {
  Ok = GAON_OK,
  InvalidArgument = GAON_INVALID_ARGUMENT,
  NotFound = GAON_NOT_FOUND,
  OutOfMemory = GAON_OUT_OF_MEMORY,
  Unimplemented = GAON_UNIMPLEMENTED,
  DataLoss = GAON_DATA_LOSS,
  FailedPrecondition = GAON_FAILED_PRECONDITION,
  OutOfRange = GAON_OUT_OF_RANGE,
  DeadlineExceeded = GAON_DEADLINE_EXCEEDED,
  Aborted = GAON_ABORTED,
  Internal = GAON_INTERNAL,
  Unavailable = GAON_UNAVAILABLE,
};

class [[nodiscard]] Status {
public:
  Status() = default;
  Status(StatusCode code, std::string message)
      : code_(code), message_(std::move(message)) {}

  static Status ok() { return Status(); }
  // Wraps a code returned by a driver, taking the thread's last error text.
  static Status fromDriver(gaon_status_code_t code, const std::string &what);

  bool isOk() const { return code_ == StatusCode::Ok; }
  explicit operator bool() const { return isOk(); }
  StatusCode code() const { return code_; }
  const std::string &message() const { return message_; }
  // "OUT_OF_MEMORY: message".
  std::string toString() const;

private:
  StatusCode code_ = StatusCode::Ok;
  std::string message_;
};

inline Status errorStatus(StatusCode code, std::string message) {
  return Status(code, std::move(message));
}

// A value or an error.
template <typename T> class [[nodiscard]] Result {
public:
  Result(T value) : value_(std::move(value)) {}
  Result(Status status) : status_(std::move(status)) {
    assert(!status_.isOk() && "Result built from an OK status needs a value");
  }

  bool isOk() const { return value_.has_value(); }
  explicit operator bool() const { return isOk(); }
  const Status &status() const { return status_; }
  T &value() & { return *value_; }
  const T &value() const & { return *value_; }
  T &&value() && { return std::move(*value_); }
  T *operator->() { return &*value_; }
  const T *operator->() const { return &*value_; }
  T &operator*() { return *value_; }

private:
  std::optional<T> value_;
  Status status_;
};

const char *statusCodeName(StatusCode code);

} // namespace gaon::rt

// Returns early from the enclosing function when `expr` is an error.
#define GAON_RETURN_IF_ERROR(expr)                                             \
  do {                                                                         \
    ::gaon::rt::Status gaon_status_ = (expr);                                  \
    if (!gaon_status_.isOk())                                                  \
      return gaon_status_;                                                     \
  } while (0)

#define GAON_CONCAT_INNER(a, b) a##b
#define GAON_CONCAT(a, b) GAON_CONCAT_INNER(a, b)
// `GAON_ASSIGN_OR_RETURN(auto x, makeX());`
#define GAON_ASSIGN_OR_RETURN(decl, expr)                                      \
  GAON_ASSIGN_OR_RETURN_IMPL(GAON_CONCAT(gaon_result_, __LINE__), decl, expr)
#define GAON_ASSIGN_OR_RETURN_IMPL(tmp, decl, expr)                            \
  auto tmp = (expr);                                                           \
  if (!tmp.isOk())                                                             \
    return tmp.status();                                                       \
  decl = std::move(tmp).value()

#endif // GAON_RUNTIME_STATUS_H
