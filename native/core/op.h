// Compiled operators. An Op is built once per node at load time (attributes parsed, constant
// weights packed, multipliers derived, overflow bounds proven) and run many times, possibly by
// several runs at once: run() must not mutate the Op.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "../cpu/isa.h"
#include "../cpu/thread_pool.h"
#include "onnx_model.h"
#include "tensor.h"

namespace bx {

// Per-run state handed to every op.
class ExecContext {
 public:
  ExecContext(cpu::ThreadPool& pool, cpu::Isa isa, int64_t memoryCapBytes, bool allowNonFinite)
      : pool(pool), isa(isa), allowNonFinite(allowNonFinite), cap_(memoryCapBytes),
        live_(std::make_shared<std::atomic<int64_t>>(0)) {}

  cpu::ThreadPool& pool;
  const cpu::Isa isa;
  const bool allowNonFinite;  // NaN/Inf fed to QuantizeLinear: refused unless set

  // A zero-filled tensor; refuses (ERR_BITEXACT_RESOURCE) before allocating when the bytes live
  // in this run would exceed the cap.
  Tensor allocate(DType dtype, const Shape& shape);
  // The same, its bytes left unwritten, for an op that writes every element of it (large
  // outputs: zeroing them first cost a pass over memory per layer).
  Tensor allocateForOverwrite(DType dtype, const Shape& shape);
  int64_t liveBytes() const { return live_->load(); }

 private:
  int64_t cap_;
  std::shared_ptr<std::atomic<int64_t>> live_;  // shared with buffer deleters that outlive the run
};

class DeviceContext;
struct DeviceTensor;

// What an op reads of its first input; lets a device run skip moving bytes the op never reads.
enum class DataUse {
  Elements,      // reads element values (the default)
  ShapeOfFirst,  // reads only input 0's shape (Shape); other inputs are small host tensors
  ViewOfFirst,   // output 0 is input 0's bytes under a new shape (Reshape, Flatten, ...)
};

class Op {
 public:
  virtual ~Op() = default;
  // inputs[i] is null for an absent optional input; outputs has one slot per node output.
  virtual void run(ExecContext& ctx, const std::vector<const Tensor*>& inputs, std::vector<Tensor>& outputs) const = 0;

  virtual DataUse dataUse() const { return DataUse::Elements; }
  // True when runDevice may do the work (so a device run moves the inputs to the device first).
  virtual bool hasDeviceKernel() const { return false; }
  // The same computation on a device (device.h), byte for byte. Returns false, having done
  // nothing, when this op (or this particular input) has no device kernel: the executor then
  // runs run() on the host. Inputs are null where absent.
  virtual bool runDevice(DeviceContext& ctx, const std::vector<const DeviceTensor*>& inputs,
                         std::vector<DeviceTensor>& outputs) const {
    return false;
  }
};

// What an op factory sees of its node at load time.
class BuildContext {
 public:
  BuildContext(const onnx::Node& node, int64_t opsetVersion, cpu::Isa isa,
               std::vector<const Tensor*> constantInputs)
      : node(node), opset(opsetVersion), isa(isa), constants_(std::move(constantInputs)) {}

  const onnx::Node& node;
  const int64_t opset;
  const cpu::Isa isa;

  size_t inputCount() const { return node.inputs.size(); }
  bool hasInput(size_t i) const { return i < node.inputs.size() && !node.inputs[i].empty(); }
  const Tensor* constant(size_t i) const { return i < constants_.size() ? constants_[i] : nullptr; }
  // Throws ERR_BITEXACT_UNSUPPORTED_OP naming the node when input i is not a load-time constant.
  const Tensor& requireConstant(size_t i, const char* role) const;
  void requireInputs(size_t minimum, size_t maximum) const;

  int64_t attrInt(const char* name, int64_t fallback) const;
  float attrFloat(const char* name, float fallback) const;
  std::string attrString(const char* name, const std::string& fallback) const;
  std::vector<int64_t> attrInts(const char* name) const;  // empty when absent
  std::vector<float> attrFloats(const char* name) const;  // empty when absent
  bool hasAttr(const char* name) const { return node.attribute(name) != nullptr; }

  std::string where() const;  // "node 'conv1' (QLinearConv)"
  [[noreturn]] void unsupported(const std::string& why) const;
  [[noreturn]] void invalid(const std::string& why) const;
  [[noreturn]] void overflow(const std::string& why) const;

 private:
  std::vector<const Tensor*> constants_;
};

// Builds the Op for a node; throws ERR_BITEXACT_UNSUPPORTED_OP for ops bitexact does not run.
std::unique_ptr<Op> createOp(BuildContext& ctx);

}  // namespace bx
