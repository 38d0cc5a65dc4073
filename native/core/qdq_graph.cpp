#include "qdq_graph.h"

#include <cstring>

namespace bx {

bool isStandardOp(const onnx::Node& n, const char* op) {
  return n.opType == op && (n.domain.empty() || n.domain == "ai.onnx");
}

bool isDequantize(const onnx::Node& n) {
  return n.opType == "DequantizeLinear" && (n.domain.empty() || n.domain == "ai.onnx" || n.domain == "com.microsoft");
}

bool isQuantize(const onnx::Node& n) {
  return n.opType == "QuantizeLinear" && (n.domain.empty() || n.domain == "ai.onnx" || n.domain == "com.microsoft");
}

QdqGraph::QdqGraph(onnx::Graph& g) : graph(g) {
  for (const onnx::ValueInfo& v : g.outputs) outputs_.insert(v.name);
  reindex();
}

void QdqGraph::reindex() {
  producer_.clear();
  readers_.clear();
  initializerIndex_.clear();
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    for (const std::string& out : graph.nodes[i].outputs) if (!out.empty()) producer_[out] = i;
    for (const std::string& in : graph.nodes[i].inputs) if (!in.empty()) readers_[in].push_back(i);
  }
  for (size_t i = 0; i < graph.initializers.size(); ++i) initializerIndex_[graph.initializers[i].first] = i;
}

const onnx::Node* QdqGraph::producer(const std::string& value) const {
  const auto it = producer_.find(value);
  return it == producer_.end() ? nullptr : &graph.nodes[it->second];
}

const std::vector<size_t>& QdqGraph::readers(const std::string& value) const {
  static const std::vector<size_t> none;
  const auto it = readers_.find(value);
  return it == readers_.end() ? none : it->second;
}

bool QdqGraph::singleUse(const std::string& value) const { return readers(value).size() == 1 && !isGraphOutput(value); }

const Tensor* QdqGraph::constant(const std::string& value) const {
  const auto it = initializerIndex_.find(value);
  return it == initializerIndex_.end() ? nullptr : &graph.initializers[it->second].second;
}

void QdqGraph::addConstant(const std::string& name, const Tensor& t) {
  initializerIndex_[name] = graph.initializers.size();
  graph.initializers.emplace_back(name, t);
}

void QdqGraph::replaceUses(const std::string& from, const std::string& to) {
  for (onnx::Node& n : graph.nodes) {
    for (std::string& in : n.inputs) if (in == from) in = to;
  }
}

std::string QdqGraph::freshName(const std::string& base) {
  for (;;) {
    std::string name = base + "__bx" + std::to_string(counter_++);
    if (!producer_.count(name) && !initializerIndex_.count(name) && !readers_.count(name)) return name;
  }
}

namespace {

// Integer-to-integer Cast of a constant (what exporters use for zero points); false otherwise.
bool castConstant(const Tensor& in, int to, Tensor* out) {
  if (in.dtype == DType::Float32 || to == int(DType::Float32) || !isKnownDType(to)) return false;
  *out = makeTensor(DType(to), in.shape);
  for (int64_t i = 0; i < in.size(); ++i) {
    const int64_t v = in.intAt(i);
    switch (out->dtype) {
      case DType::UInt8: case DType::Bool: out->mutableData<uint8_t>()[i] = uint8_t(v); break;
      case DType::Int8: out->mutableData<int8_t>()[i] = int8_t(v); break;
      case DType::UInt16: out->mutableData<uint16_t>()[i] = uint16_t(v); break;
      case DType::Int16: out->mutableData<int16_t>()[i] = int16_t(v); break;
      case DType::Int32: out->mutableData<int32_t>()[i] = int32_t(v); break;
      case DType::Int64: out->mutableData<int64_t>()[i] = v; break;
      case DType::Float32: return false;
    }
  }
  return true;
}

bool constantNodeTensor(const onnx::Node& n, Tensor* out) {
  for (const onnx::Attribute& a : n.attributes) {
    if (a.name == "value" && a.kind == onnx::Attribute::Kind::Tensor) { *out = a.t; return true; }
  }
  return false;  // other Constant forms are folded by the compiler itself
}

}  // namespace

void foldSimpleConstants(QdqGraph& g) {
  std::vector<onnx::Node> kept;
  for (const onnx::Node& n : g.graph.nodes) {
    Tensor value;
    bool folded = false;
    if (n.outputs.size() == 1 && !n.outputs[0].empty()) {
      if (isStandardOp(n, "Constant")) {
        folded = constantNodeTensor(n, &value);
      } else if (isStandardOp(n, "Identity") && n.inputs.size() == 1 && g.constant(n.inputs[0])) {
        value = *g.constant(n.inputs[0]);
        folded = true;
      } else if (isStandardOp(n, "Cast") && n.inputs.size() == 1 && g.constant(n.inputs[0])) {
        const onnx::Attribute* to = n.attribute("to");
        folded = to && castConstant(*g.constant(n.inputs[0]), int(to->i), &value);
      } else if (isStandardOp(n, "ConstantOfShape") && n.inputs.size() == 1 && g.constant(n.inputs[0])) {
        const Tensor& shapeTensor = *g.constant(n.inputs[0]);
        const onnx::Attribute* fill = n.attribute("value");
        if (shapeTensor.dtype == DType::Int64 && fill && fill->kind == onnx::Attribute::Kind::Tensor && fill->t.size() == 1) {
          Shape shape;
          for (int64_t i = 0; i < shapeTensor.size(); ++i) shape.push_back(shapeTensor.intAt(i));
          if (elementCount(shape) <= (int64_t(1) << 24)) {
            value = makeTensor(fill->t.dtype, shape);
            const size_t element = dtypeSize(fill->t.dtype);
            for (int64_t i = 0; i < value.size(); ++i) std::memcpy(value.buffer->data() + size_t(i) * element, fill->t.bytes(), element);
            folded = true;
          }
        }
      }
    }
    if (folded && !g.isGraphOutput(n.outputs[0])) {
      g.addConstant(n.outputs[0], value);
    } else {
      kept.push_back(n);
    }
  }
  g.graph.nodes = std::move(kept);
  g.reindex();
}

}  // namespace bx
