#include "graph.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <set>

#include "merkle.h"
#include "tensor_hash.h"

namespace bx {

std::shared_ptr<cpu::ThreadPool> sharedThreadPool(int threads) {
  static std::mutex mutex;
  static std::map<int, std::weak_ptr<cpu::ThreadPool>> pools;
  std::lock_guard<std::mutex> lock(mutex);
  std::shared_ptr<cpu::ThreadPool> pool = pools[threads].lock();
  if (!pool) {
    pool = std::make_shared<cpu::ThreadPool>(threads);
    pools[threads] = pool;
  }
  return pool;
}

namespace {

TensorSpec specFrom(const onnx::ValueInfo& v, const char* role) {
  TensorSpec s;
  s.name = v.name;
  if (!isKnownDType(v.elemType)) {
    fail(ErrorCode::UnsupportedOp, std::string("graph ") + role + " '" + v.name + "' has element type " +
                                       std::to_string(v.elemType) + ", which bitexact does not support");
  }
  s.dtype = DType(v.elemType);
  s.hasShape = v.hasShape;
  for (const onnx::Dimension& d : v.dims) {
    s.dims.push_back(d.value >= 0 && d.param.empty() ? d.value : -1);
    s.dimParams.push_back(d.param);
  }
  return s;
}

Tensor constantNodeValue(const onnx::Node& node) {
  for (const onnx::Attribute& a : node.attributes) {
    if (a.name == "value" && a.kind == onnx::Attribute::Kind::Tensor) return a.t;
    if (a.name == "value_int") {
      Tensor t = makeTensor(DType::Int64, {});
      t.mutableData<int64_t>()[0] = a.i;
      return t;
    }
    if (a.name == "value_ints") {
      Tensor t = makeTensor(DType::Int64, {int64_t(a.ints.size())});
      for (size_t i = 0; i < a.ints.size(); ++i) t.mutableData<int64_t>()[i] = a.ints[i];
      return t;
    }
    if (a.name == "value_float") {
      Tensor t = makeTensor(DType::Float32, {});
      t.mutableData<float>()[0] = a.f;
      return t;
    }
    if (a.name == "value_floats") {
      Tensor t = makeTensor(DType::Float32, {int64_t(a.floats.size())});
      for (size_t i = 0; i < a.floats.size(); ++i) t.mutableData<float>()[i] = a.floats[i];
      return t;
    }
  }
  fail(ErrorCode::UnsupportedOp, "Constant node '" + node.name + "' has no supported value attribute");
}

}  // namespace

CompiledModel::~CompiledModel() = default;

int CompiledModel::threads() const { return pool_->threads(); }

std::shared_ptr<CompiledModel> CompiledModel::load(const uint8_t* bytes, size_t size, const ModelOptions& options) {
  std::shared_ptr<CompiledModel> m(new CompiledModel());
  m->isa_ = cpu::resolveIsa(options.isa);
  if (options.threads < 0 || options.threads > 1024) fail(ErrorCode::Input, "threads must be between 1 and 1024");
  m->pool_ = sharedThreadPool(options.threads == 0 ? cpu::defaultThreadCount() : options.threads);
  m->maxMemoryBytes_ = options.maxMemoryBytes;
  m->modelHash_ = keccak256(bytes, size);

  onnx::Model model = onnx::parseModel(bytes, size);
  onnx::Graph& graph = model.graph;
  const auto defaultOpset = model.opsets.find("");
  rewriteQdqPatterns(graph, defaultOpset == model.opsets.end() ? 1 : defaultOpset->second);

  std::map<std::string, int> ids;
  const auto newValue = [&](const std::string& name) {
    const int id = int(m->valueCount_++);
    ids[name] = id;
    m->constants_.emplace_back();
    m->isConstant_.push_back(false);
    return id;
  };
  for (const auto& [name, tensor] : options.constants) {
    bool isInput = false;
    for (const onnx::ValueInfo& v : graph.inputs) isInput = isInput || v.name == name;
    if (!isInput) fail(ErrorCode::Input, "constant '" + name + "' does not name a graph input");
    const auto existing = std::find_if(graph.initializers.begin(), graph.initializers.end(),
                                       [&](const auto& init) { return init.first == name; });
    if (existing != graph.initializers.end()) existing->second = tensor;
    else graph.initializers.emplace_back(name, tensor);
  }
  std::set<std::string> initializerNames;
  for (auto& [name, tensor] : graph.initializers) {
    const int id = newValue(name);
    m->constants_[size_t(id)] = tensor;
    m->isConstant_[size_t(id)] = true;
    initializerNames.insert(name);
  }
  for (const onnx::ValueInfo& v : graph.inputs) {
    if (initializerNames.count(v.name)) continue;  // old exporters list initializers as inputs too
    m->inputs_.push_back(specFrom(v, "input"));
    m->inputIds_.push_back(newValue(v.name));
  }

  // Only nodes that some graph output depends on are compiled: dead float branches left behind by
  // the QDQ rewrite (or by the exporter) must not make a model unsupported.
  std::map<std::string, size_t> producer;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    for (const std::string& out : graph.nodes[i].outputs) if (!out.empty()) producer[out] = i;
  }
  std::vector<bool> needed(graph.nodes.size(), false);
  std::vector<std::string> pending;
  for (const onnx::ValueInfo& v : graph.outputs) pending.push_back(v.name);
  while (!pending.empty()) {
    const std::string name = pending.back();
    pending.pop_back();
    const auto it = producer.find(name);
    if (it == producer.end() || needed[it->second]) continue;
    needed[it->second] = true;
    for (const std::string& in : graph.nodes[it->second].inputs) if (!in.empty()) pending.push_back(in);
  }

  ExecContext foldContext(*m->pool_, m->isa_, m->maxMemoryBytes_, false);
  for (size_t index = 0; index < graph.nodes.size(); ++index) {
    if (!needed[index]) continue;
    const onnx::Node& node = graph.nodes[index];
    std::vector<int> inputIds;
    std::vector<const Tensor*> constantInputs;
    bool allConstant = true;
    for (const std::string& in : node.inputs) {
      if (in.empty()) {
        inputIds.push_back(-1);
        constantInputs.push_back(nullptr);
        continue;
      }
      const auto it = ids.find(in);
      if (it == ids.end()) {
        fail(ErrorCode::InvalidModel, "node '" + node.name + "' (" + node.opType + ") reads '" + in +
                                          "', which no earlier node, input or initializer defines");
      }
      inputIds.push_back(it->second);
      const bool isConst = m->isConstant_[size_t(it->second)];
      constantInputs.push_back(isConst ? &m->constants_[size_t(it->second)] : nullptr);
      allConstant = allConstant && isConst;
    }
    std::vector<int> outputIds;
    for (const std::string& out : node.outputs) outputIds.push_back(out.empty() ? -1 : newValue(out));

    if (node.opType == "Constant" && (node.domain.empty() || node.domain == "ai.onnx")) {
      if (outputIds.size() != 1 || outputIds[0] < 0) fail(ErrorCode::InvalidModel, "Constant node without an output");
      m->constants_[size_t(outputIds[0])] = constantNodeValue(node);
      m->isConstant_[size_t(outputIds[0])] = true;
      continue;
    }
    const std::string& domain = node.domain == "ai.onnx" ? std::string() : node.domain;
    const auto opset = model.opsets.find(domain);
    BuildContext ctx(node, opset == model.opsets.end() ? 1 : opset->second, m->isa_, constantInputs);
    Step step;
    step.op = createOp(ctx);
    step.inputs = inputIds;
    step.outputs = outputIds;
    step.label = ctx.where();
    step.nodeName = node.name.empty() ? (node.outputs.empty() ? std::string() : node.outputs[0]) : node.name;
    step.opType = domain.empty() ? node.opType : domain + "::" + node.opType;
    if (allConstant && !inputIds.empty()) {
      // Shape-only subgraphs and other constant expressions are evaluated once, here.
      std::vector<const Tensor*> in;
      for (int id : inputIds) in.push_back(id < 0 ? nullptr : &m->constants_[size_t(id)]);
      std::vector<Tensor> out(outputIds.size());
      step.op->run(foldContext, in, out);
      for (size_t i = 0; i < outputIds.size(); ++i) {
        if (outputIds[i] < 0) continue;
        m->constants_[size_t(outputIds[i])] = out[i];
        m->isConstant_[size_t(outputIds[i])] = true;
      }
      continue;
    }
    m->steps_.push_back(std::move(step));
  }

  std::set<int> outputSet;
  for (const onnx::ValueInfo& v : graph.outputs) {
    const auto it = ids.find(v.name);
    if (it == ids.end()) fail(ErrorCode::InvalidModel, "graph output '" + v.name + "' is never produced");
    TensorSpec spec = specFrom(v, "output");
    m->outputs_.push_back(spec);
    m->outputIds_.push_back(it->second);
    outputSet.insert(it->second);
  }
  // Release each intermediate after its last reader so peak memory tracks the live set.
  std::vector<int> lastUse(m->valueCount_, -1);
  for (size_t s = 0; s < m->steps_.size(); ++s) {
    for (int id : m->steps_[s].inputs) if (id >= 0) lastUse[size_t(id)] = int(s);
  }
  for (size_t id = 0; id < m->valueCount_; ++id) {
    if (lastUse[id] >= 0 && !m->isConstant_[id] && !outputSet.count(int(id))) {
      m->steps_[size_t(lastUse[id])].release.push_back(int(id));
    }
  }
  return m;
}

void CompiledModel::validateInput(const TensorSpec& spec, const Tensor& t) const {
  if (t.dtype != spec.dtype) {
    fail(ErrorCode::Input, "input '" + spec.name + "' must be " + dtypeName(spec.dtype) + " but is " + dtypeName(t.dtype));
  }
  if (!spec.hasShape) return;
  if (t.shape.size() != spec.dims.size()) {
    fail(ErrorCode::Input, "input '" + spec.name + "' must have rank " + std::to_string(spec.dims.size()) + " but has shape " +
                               shapeToString(t.shape));
  }
  for (size_t d = 0; d < spec.dims.size(); ++d) {
    if (spec.dims[d] >= 0 && t.shape[d] != spec.dims[d]) {
      Shape expected(spec.dims.begin(), spec.dims.end());
      fail(ErrorCode::Input, "input '" + spec.name + "' must have shape " + shapeToString(expected) + " (-1 = any) but has " +
                                 shapeToString(t.shape));
    }
  }
}

void CompiledModel::hashTracePerSample(const std::vector<Tensor>& traced, int64_t samples, std::vector<TraceEntry>* trace) const {
  const size_t n = traced.size();
  if (trace->size() != n) fail(ErrorCode::Internal, "a per-sample trace needs a fresh trace list");
  for (size_t i = 0; i < n; ++i) {
    if (traced[i].shape.empty() || traced[i].shape[0] != samples) {
      fail(ErrorCode::Input, "node '" + (*trace)[i].node + "' (" + (*trace)[i].op + ") gives shape " + shapeToString(traced[i].shape) +
                                 ", which does not lead with the batch of " + std::to_string(samples) +
                                 " samples: this model cannot be traced per sample");
    }
  }
  // Per output, its samples' slices (equal sizes) four at a time through the 4-lane Keccak.
  std::vector<TraceEntry> perSample(n * size_t(samples));
  const size_t groups = (size_t(samples) + 3) / 4;
  pool_->parallelFor(int64_t(n * groups), [&](int64_t k) {
    const size_t i = size_t(k) / groups, first = size_t(k) % groups * 4;
    const size_t count = std::min<size_t>(4, size_t(samples) - first);
    const Tensor& t = traced[i];
    const size_t sliceBytes = t.byteSize() / size_t(samples);
    Shape sliceShape = t.shape;
    sliceShape[0] = 1;
    TensorBytes slices[4];
    for (size_t j = 0; j < count; ++j) slices[j] = {t.dtype, &sliceShape, t.bytes() + (first + j) * sliceBytes, sliceBytes};
    Hash32 hashes[4];
    if (count == 4) {
      hashTensorPartsX4(slices, hashes);
    } else {
      for (size_t j = 0; j < count; ++j) hashes[j] = hashTensorParts(t.dtype, sliceShape, slices[j].data, sliceBytes);
    }
    for (size_t j = 0; j < count; ++j) {
      TraceEntry entry = (*trace)[i];
      entry.shape[0] = 1;
      entry.outputHash = hashes[j];
      entry.leaf = traceLeafHash(entry.index, entry.op, entry.outputHash);
      perSample[(first + j) * n + i] = std::move(entry);
    }
  });
  *trace = std::move(perSample);
}

std::vector<Tensor> CompiledModel::bindInputs(const std::vector<NamedTensor>& inputs) const {
  std::vector<Tensor> values(valueCount_);
  for (size_t id = 0; id < valueCount_; ++id) if (isConstant_[id]) values[id] = constants_[id];
  std::vector<bool> provided(inputs_.size(), false);
  for (const NamedTensor& in : inputs) {
    size_t i = 0;
    while (i < inputs_.size() && inputs_[i].name != in.name) ++i;
    if (i == inputs_.size()) {
      std::string names;
      for (const TensorSpec& s : inputs_) names += (names.empty() ? "'" : ", '") + s.name + "'";
      fail(ErrorCode::Input, "the model has no input named '" + in.name + "' (inputs: " + names + ")");
    }
    if (provided[i]) fail(ErrorCode::Input, "input '" + in.name + "' is given twice");
    validateInput(inputs_[i], in.tensor);
    provided[i] = true;
    values[size_t(inputIds_[i])] = in.tensor;
  }
  for (size_t i = 0; i < inputs_.size(); ++i) {
    if (!provided[i]) fail(ErrorCode::Input, "missing input '" + inputs_[i].name + "'");
  }
  return values;
}

void CompiledModel::checkCancelled(const RunOptions& options, size_t stepIndex) const {
  if (options.cancel && options.cancel->load(std::memory_order_relaxed)) {
    fail(ErrorCode::Cancelled, "the run was cancelled before node " + std::to_string(stepIndex) + " of " +
                                   std::to_string(steps_.size()));
  }
}

void CompiledModel::appendTraceEntry(const Step& step, const Tensor& result, std::vector<TraceEntry>* trace) const {
  TraceEntry entry;
  entry.index = uint32_t(trace->size());
  entry.node = step.nodeName;
  entry.op = step.opType;
  entry.dtype = result.dtype;
  entry.shape = result.shape;
  trace->push_back(std::move(entry));
}

std::vector<NamedTensor> CompiledModel::run(const std::vector<NamedTensor>& inputs, const RunOptions& options,
                                            std::vector<TraceEntry>* trace) const {
  std::vector<Tensor> values = bindInputs(inputs);
  const cpu::ThreadPool::ActiveRun active(*pool_);
  ExecContext ctx(*pool_, isa_, maxMemoryBytes_, options.allowNonFinite);
  std::vector<const Tensor*> in;
  std::vector<Tensor> traced;  // outputs to hash for the trace, once the run is done
  for (const Step& step : steps_) {
    checkCancelled(options, size_t(&step - steps_.data()));
    in.clear();
    for (int id : step.inputs) {
      if (id >= 0 && !values[size_t(id)].buffer) fail(ErrorCode::Internal, step.label + ": input was released or never computed");
      in.push_back(id < 0 ? nullptr : &values[size_t(id)]);
    }
    std::vector<Tensor> out(step.outputs.size());
    try {
      step.op->run(ctx, in, out);
    } catch (const Error& e) {
      // Messages from shared helpers do not know their node; name it for the user.
      if (std::string(e.what()).rfind("node '", 0) == 0) throw;
      fail(e.code(), step.label + ": " + e.what());
    }
    for (size_t i = 0; i < step.outputs.size(); ++i) {
      if (step.outputs[i] >= 0) values[size_t(step.outputs[i])] = std::move(out[i]);
    }
    if (options.faultNode == int64_t(&step - steps_.data()) && !step.outputs.empty() && step.outputs[0] >= 0) {
      Tensor& victim = values[size_t(step.outputs[0])];
      if (victim.byteSize() > 0) {
        // Copy first: the buffer may be shared with an input (Reshape) or a constant.
        auto copy = std::make_shared<ByteBuffer>(*victim.buffer);
        (*copy)[0] ^= 1;
        victim.buffer = copy;
      }
    }
    if (trace && !step.outputs.empty() && step.outputs[0] >= 0) {
      const Tensor& result = values[size_t(step.outputs[0])];
      appendTraceEntry(step, result, trace);
      traced.push_back(result);  // keeps the buffer alive past its release below
    }
    for (int id : step.release) values[size_t(id)] = Tensor();
  }
  if (trace) hashTrace(traced, options, trace);
  std::vector<NamedTensor> result;
  for (size_t i = 0; i < outputs_.size(); ++i) result.push_back({outputs_[i].name, values[size_t(outputIds_[i])]});
  return result;
}

void CompiledModel::hashTrace(const std::vector<Tensor>& traced, const RunOptions& options, std::vector<TraceEntry>* trace) const {
  if (options.traceSamples > 0) {
    hashTracePerSample(traced, options.traceSamples, trace);
    return;
  }
  // Each output hashes independently: spread them over the compute threads. A traced run keeps
  // its intermediates until here, trading memory for hashing in parallel.
  // Sorted by size, four similar tensors share one 4-lane Keccak pass (AVX2).
  const size_t first = trace->size() - traced.size();
  std::vector<size_t> order(traced.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return traced[a].byteSize() > traced[b].byteSize(); });
  const int64_t groups = int64_t((order.size() + 3) / 4);
  pool_->parallelFor(groups, [&](int64_t g) {
    const size_t begin = size_t(g) * 4, count = std::min<size_t>(4, order.size() - begin);
    Hash32 hashes[4];
    if (count == 4) {
      const Tensor* four[4] = {&traced[order[begin]], &traced[order[begin + 1]], &traced[order[begin + 2]], &traced[order[begin + 3]]};
      hashTensorsX4(four, hashes);
    } else {
      for (size_t k = 0; k < count; ++k) hashes[k] = hashTensor(traced[order[begin + k]]);
    }
    for (size_t k = 0; k < count; ++k) {
      TraceEntry& entry = (*trace)[first + order[begin + k]];
      entry.outputHash = hashes[k];
      entry.leaf = traceLeafHash(entry.index, entry.op, entry.outputHash);
    }
  });
}

}  // namespace bx
