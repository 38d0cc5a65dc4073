// Errors raised by the core. Each carries a stable code that the addon turns into the JS `code`
// property (ERR_BITEXACT_<NAME>), so callers can branch on it without parsing messages.
#pragma once

#include <stdexcept>
#include <string>

namespace bx {

enum class ErrorCode {
  InvalidModel,      // the bytes are not a well-formed ONNX model
  UnsupportedOp,     // a node bitexact cannot run deterministically
  Input,             // wrong input name, dtype, shape, size or value
  OverflowBound,     // an accumulation could exceed int32 for some input
  Resource,          // a memory cap or allocation failure
  Isa,               // an ISA was forced that this CPU cannot run
  Disposed,          // the model was disposed
  Cancelled,         // the caller cancelled the run (a token set between nodes)
  Backend,           // the backend asked for is unusable (no GPU, no driver), or a device call failed
  Internal,          // a broken invariant: a bug in bitexact
};

inline const char* errorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::InvalidModel: return "ERR_BITEXACT_INVALID_MODEL";
    case ErrorCode::UnsupportedOp: return "ERR_BITEXACT_UNSUPPORTED_OP";
    case ErrorCode::Input: return "ERR_BITEXACT_INPUT";
    case ErrorCode::OverflowBound: return "ERR_BITEXACT_OVERFLOW_BOUND";
    case ErrorCode::Resource: return "ERR_BITEXACT_RESOURCE";
    case ErrorCode::Isa: return "ERR_BITEXACT_ISA";
    case ErrorCode::Disposed: return "ERR_BITEXACT_DISPOSED";
    case ErrorCode::Cancelled: return "ERR_BITEXACT_CANCELLED";
    case ErrorCode::Backend: return "ERR_BITEXACT_BACKEND";
    case ErrorCode::Internal: return "ERR_BITEXACT_INTERNAL";
  }
  return "ERR_BITEXACT_INTERNAL";
}

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

[[noreturn]] inline void fail(ErrorCode code, const std::string& message) { throw Error(code, message); }

}  // namespace bx
