// Status helpers and the C error functions (thread-local last error).
#include "gaon/runtime/status.h"

#include <string>

namespace {
thread_local std::string lastErrorMessage;
} // namespace

extern "C" const char *gaon_status_code_string(gaon_status_code_t code) {
  return gaon::rt::statusCodeName(static_cast<gaon::rt::StatusCode>(code));
}

extern "C" const char *gaon_last_error_message(void) {
  return lastErrorMessage.c_str();
}

extern "C" gaon_status_code_t gaon_set_error(gaon_status_code_t code,
                                             const char *message) {
  lastErrorMessage = message ? message : "";
  return code;
}

namespace gaon::rt {

const char *statusCodeName(StatusCode code) {
  switch (code) {
  case StatusCode::Ok:
    return "OK";
  case StatusCode::InvalidArgument:
    return "INVALID_ARGUMENT";
  case StatusCode::NotFound:
    return "NOT_FOUND";
  case StatusCode::OutOfMemory:
    return "OUT_OF_MEMORY";
  case StatusCode::Unimplemented:
    return "UNIMPLEMENTED";
  case StatusCode::DataLoss:
    return "DATA_LOSS";
  case StatusCode::FailedPrecondition:
    return "FAILED_PRECONDITION";
  case StatusCode::OutOfRange:
    return "OUT_OF_RANGE";
  case StatusCode::DeadlineExceeded:
    return "DEADLINE_EXCEEDED";
  case StatusCode::Aborted:
    return "ABORTED";
  case StatusCode::Internal:
    return "INTERNAL";
  case StatusCode::Unavailable:
    return "UNAVAILABLE";
  }
  return "UNKNOWN";
}

Status Status::fromDriver(gaon_status_code_t code, const std::string &what) {
  if (code == GAON_OK)
    return Status();
  std::string message = what;
  const char *detail = gaon_last_error_message();
  if (detail && *detail)
    message += ": " + std::string(detail);
  gaon_set_error(GAON_OK, "");
  return Status(static_cast<StatusCode>(code), message);
}

std::string Status::toString() const {
  if (isOk())
    return "OK";
  return std::string(statusCodeName(code_)) + ": " + message_;
}

} // namespace gaon::rt
