// A compiled model: the ONNX graph turned into a list of integer Ops at load time, and the
// executor that runs it. Thread-safe: many runs may execute concurrently on one CompiledModel.
#pragma once

#include <atomic>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "../cpu/isa.h"
#include "../cpu/thread_pool.h"
#include "device.h"
#include "keccak.h"
#include "op.h"

namespace bx {

struct TensorSpec {
  std::string name;
  DType dtype = DType::Float32;
  bool hasShape = false;
  std::vector<int64_t> dims;            // -1 where symbolic or unknown
  std::vector<std::string> dimParams;   // symbolic names ("" when fixed)
};

struct ModelOptions {
  std::string isa;                        // "" = BITEXACT_CPU_ISA or the best this CPU has
  int threads = 0;                        // 0 = one per core
  int64_t maxMemoryBytes = int64_t(4) << 30;  // live tensor bytes allowed in one run
  // Graph inputs bound to fixed values at load time: they become initializers (so scales, zero
  // points and weights fed as inputs, as in ONNX's own test cases, can be compiled).
  std::vector<std::pair<std::string, Tensor>> constants;
};

struct RunOptions {
  bool allowNonFinite = false;
  // Test-only fault injection: flips the lowest bit of element 0 of the output of executed node
  // `faultNode` (-1, the default, disables it). Exists so tests can prove that verification
  // localises a wrong node; nothing sets it unless a caller asks explicitly.
  int64_t faultNode = -1;
  // Set from another thread to stop the run: checked before every node, so a run stops within
  // one node's time and fails with ErrorCode::Cancelled. Null: not cancellable.
  std::shared_ptr<const std::atomic<bool>> cancel;
  // Traced runs of a batch of `traceSamples` samples stacked on dimension 0: hash every node's
  // output one sample slice at a time, giving each sample the trace it would have alone (entries
  // sample-major, shapes with leading 1). Every traced output must lead with the batch size.
  // 0: trace whole tensors.
  int64_t traceSamples = 0;
};

// One executed node of a traced run (docs/receipts.md). Constant-folded nodes are not executed
// and do not appear; index counts executed nodes from 0.
struct TraceEntry {
  uint32_t index = 0;
  std::string node;    // the ONNX node's name (its first output's name when unnamed)
  std::string op;      // the op that ran, domain-qualified when not ai.onnx ("com.microsoft::QLinearAdd")
  DType dtype = DType::UInt8;
  Shape shape;
  Hash32 outputHash{};  // canonical hash of the node's output
  Hash32 leaf{};        // traceLeafHash(index, op, outputHash)
};

struct NamedTensor {
  std::string name;
  Tensor tensor;
};

class CompiledModel {
 public:
  // Parses, rewrites QDQ patterns, folds constants, builds every Op and proves overflow bounds.
  static std::shared_ptr<CompiledModel> load(const uint8_t* bytes, size_t size, const ModelOptions& options);
  ~CompiledModel();

  const std::vector<TensorSpec>& inputs() const { return inputs_; }
  const std::vector<TensorSpec>& outputs() const { return outputs_; }
  const Hash32& modelHash() const { return modelHash_; }
  cpu::Isa isa() const { return isa_; }
  int threads() const;
  // The compute threads this model's CPU runs use (shared by models with the same thread count).
  cpu::ThreadPool& pool() const { return *pool_; }
  size_t stepCount() const { return steps_.size(); }

  // Validates names, dtypes and shapes of the inputs, then runs every step. Outputs come in the
  // graph's declared order.
  // With `trace`, every executed node's output is hashed as it finishes.
  std::vector<NamedTensor> run(const std::vector<NamedTensor>& inputs, const RunOptions& options,
                               std::vector<TraceEntry>* trace = nullptr) const;
  // The same run on a device (graph_device.cpp): ops with a device kernel run there, the others
  // on the host; the bytes of every output and trace entry are those of run().
  std::vector<NamedTensor> runOnDevice(DeviceBackend& device, const std::vector<NamedTensor>& inputs,
                                       const RunOptions& options, std::vector<TraceEntry>* trace = nullptr) const;

 private:
  struct Step;
  // Checks the inputs against the graph's and returns every value slot, constants and inputs set.
  std::vector<Tensor> bindInputs(const std::vector<NamedTensor>& inputs) const;
  void checkCancelled(const RunOptions& options, size_t stepIndex) const;
  void appendTraceEntry(const Step& step, const Tensor& result, std::vector<TraceEntry>* trace) const;
  // Hashes the traced outputs into the entries appendTraceEntry left (whole or per sample).
  void hashTrace(const std::vector<Tensor>& traced, const RunOptions& options, std::vector<TraceEntry>* trace) const;
  void hashTracePerSample(const std::vector<Tensor>& traced, int64_t samples, std::vector<TraceEntry>* trace) const;
  DeviceConstants& deviceConstants(DeviceBackend& device) const;

  struct Step {
    std::unique_ptr<Op> op;
    std::vector<int> inputs;   // value ids, -1 for an absent optional input
    std::vector<int> outputs;
    std::vector<int> release;  // values whose last use is this step
    std::string label;         // "node 'x' (Op)" for messages
    std::string nodeName;      // for traces
    std::string opType;
  };

  CompiledModel() = default;
  void validateInput(const TensorSpec& spec, const Tensor& t) const;

  std::vector<TensorSpec> inputs_, outputs_;
  std::vector<int> inputIds_, outputIds_;
  std::deque<Tensor> constants_;  // by value id; a deque so BuildContext pointers survive growth
  std::vector<bool> isConstant_;
  std::vector<Step> steps_;
  size_t valueCount_ = 0;
  Hash32 modelHash_{};
  cpu::Isa isa_ = cpu::Isa::Scalar;
  std::shared_ptr<cpu::ThreadPool> pool_;
  int64_t maxMemoryBytes_ = 0;
  mutable std::mutex deviceMutex_;
  mutable std::map<int, std::unique_ptr<DeviceConstants>> deviceConstants_;  // by device index
};

// Pools are shared between models that ask for the same thread count.
std::shared_ptr<cpu::ThreadPool> sharedThreadPool(int threads);

// Rewrites QDQ patterns into the integer ops bitexact runs (qdq_rewrite.cpp).
void rewriteQdqPatterns(onnx::Graph& graph, int64_t opset);

}  // namespace bx
