#include "op.h"

#include <cstring>

namespace bx {

Tensor ExecContext::allocate(DType dtype, const Shape& shape) {
  Tensor t = allocateForOverwrite(dtype, shape);
  std::memset(t.buffer->data(), 0, t.buffer->size());
  return t;
}

Tensor ExecContext::allocateForOverwrite(DType dtype, const Shape& shape) {
  const int64_t bytes = elementCount(shape) * int64_t(dtypeSize(dtype));
  const int64_t before = live_->fetch_add(bytes);
  if (before + bytes > cap_) {
    live_->fetch_sub(bytes);
    fail(ErrorCode::Resource, "a " + std::string(dtypeName(dtype)) + " tensor of shape " + shapeToString(shape) +
                                  " needs " + std::to_string(bytes) + " bytes, over the memory cap of " +
                                  std::to_string(cap_) + " bytes for one run (option maxMemoryMB)");
  }
  auto counter = live_;
  Tensor t;
  t.dtype = dtype;
  t.shape = shape;
  try {
    t.buffer = std::shared_ptr<ByteBuffer>(new ByteBuffer(size_t(bytes)), [counter, bytes](ByteBuffer* v) {
      counter->fetch_sub(bytes);
      delete v;
    });
  } catch (const std::bad_alloc&) {
    live_->fetch_sub(bytes);
    fail(ErrorCode::Resource, "out of memory allocating " + std::to_string(bytes) + " bytes");
  }
  // The scalar reference fills it with a pattern: an element a kernel forgot to write then
  // differs between the reference and the vector paths (and from the golden hashes) instead of
  // reading as a plausible 0.
  if (isa == cpu::Isa::Scalar) std::memset(t.buffer->data(), 0xa5, size_t(bytes));
  return t;
}

const Tensor& BuildContext::requireConstant(size_t i, const char* role) const {
  if (!hasInput(i)) invalid(std::string("missing required input ") + std::to_string(i) + " (" + role + ")");
  const Tensor* t = constant(i);
  if (!t) unsupported(std::string("input ") + std::to_string(i) + " (" + role + ", '" + node.inputs[i] +
                      "') must be a constant initializer");
  return *t;
}

void BuildContext::requireInputs(size_t minimum, size_t maximum) const {
  if (node.inputs.size() < minimum || node.inputs.size() > maximum) {
    invalid("expected " + std::to_string(minimum) + (minimum == maximum ? "" : "-" + std::to_string(maximum)) +
            " inputs but found " + std::to_string(node.inputs.size()));
  }
  for (size_t i = 0; i < minimum; ++i) {
    if (node.inputs[i].empty()) invalid("required input " + std::to_string(i) + " is empty");
  }
}

int64_t BuildContext::attrInt(const char* name, int64_t fallback) const {
  const onnx::Attribute* a = node.attribute(name);
  if (!a) return fallback;
  if (a->kind != onnx::Attribute::Kind::Int) invalid(std::string("attribute ") + name + " must be an int");
  return a->i;
}

float BuildContext::attrFloat(const char* name, float fallback) const {
  const onnx::Attribute* a = node.attribute(name);
  if (!a) return fallback;
  if (a->kind != onnx::Attribute::Kind::Float) invalid(std::string("attribute ") + name + " must be a float");
  return a->f;
}

std::string BuildContext::attrString(const char* name, const std::string& fallback) const {
  const onnx::Attribute* a = node.attribute(name);
  if (!a) return fallback;
  if (a->kind != onnx::Attribute::Kind::String) invalid(std::string("attribute ") + name + " must be a string");
  return a->s;
}

std::vector<int64_t> BuildContext::attrInts(const char* name) const {
  const onnx::Attribute* a = node.attribute(name);
  if (!a) return {};
  if (a->kind != onnx::Attribute::Kind::Ints) invalid(std::string("attribute ") + name + " must be a list of ints");
  return a->ints;
}

std::vector<float> BuildContext::attrFloats(const char* name) const {
  const onnx::Attribute* a = node.attribute(name);
  if (!a) return {};
  if (a->kind != onnx::Attribute::Kind::Floats) invalid(std::string("attribute ") + name + " must be a list of floats");
  return a->floats;
}

std::string BuildContext::where() const {
  const std::string op = node.domain.empty() || node.domain == "ai.onnx" ? node.opType : node.domain + "::" + node.opType;
  return "node '" + (node.name.empty() ? (node.outputs.empty() ? std::string("?") : node.outputs[0]) : node.name) +
         "' (" + op + ")";
}

void BuildContext::unsupported(const std::string& why) const { fail(ErrorCode::UnsupportedOp, where() + ": " + why); }
void BuildContext::invalid(const std::string& why) const { fail(ErrorCode::InvalidModel, where() + ": " + why); }
void BuildContext::overflow(const std::string& why) const { fail(ErrorCode::OverflowBound, where() + ": " + why); }

}  // namespace bx
