// QDQ pattern rewriting: DequantizeLinear -> float op -> QuantizeLinear chains become the integer
// ops bitexact runs, before anything is compiled. What is rewritten here:
//   * Shape(DequantizeLinear(x)) -> Shape(x): dequantisation keeps the shape.
//   * DequantizeLinear -> ReduceMean (one or more, chained) -> QuantizeLinear
//       -> bitexact::QLinearReduceMean (an integer mean, see ops_pool.cpp).
// Nodes left without readers are dropped by the compiler's liveness pass.
#include <map>

#include "graph.h"

namespace bx {
namespace {

bool isStandard(const onnx::Node& n, const char* op) {
  return n.opType == op && (n.domain.empty() || n.domain == "ai.onnx");
}

bool isDequantize(const onnx::Node& n) {
  return n.opType == "DequantizeLinear" && (n.domain.empty() || n.domain == "ai.onnx" || n.domain == "com.microsoft");
}

bool isQuantize(const onnx::Node& n) {
  return n.opType == "QuantizeLinear" && (n.domain.empty() || n.domain == "ai.onnx" || n.domain == "com.microsoft");
}

struct Consumers {
  std::map<std::string, std::vector<size_t>> byValue;
  explicit Consumers(const onnx::Graph& g) {
    for (size_t i = 0; i < g.nodes.size(); ++i) {
      for (const std::string& in : g.nodes[i].inputs) if (!in.empty()) byValue[in].push_back(i);
    }
  }
  const std::vector<size_t>& of(const std::string& value) const {
    static const std::vector<size_t> none;
    const auto it = byValue.find(value);
    return it == byValue.end() ? none : it->second;
  }
};

bool isGraphOutput(const onnx::Graph& g, const std::string& name) {
  for (const onnx::ValueInfo& v : g.outputs) if (v.name == name) return true;
  return false;
}

const Tensor* initializer(const onnx::Graph& g, const std::string& name) {
  for (const auto& [n, t] : g.initializers) if (n == name) return &t;
  return nullptr;
}

// ReduceMean axes from the attribute (opset < 18) or a constant second input (opset 18).
bool reduceMeanAxes(const onnx::Graph& g, const onnx::Node& n, std::vector<int64_t>* axes) {
  if (const onnx::Attribute* a = n.attribute("axes")) { *axes = a->ints; return true; }
  if (n.inputs.size() > 1 && !n.inputs[1].empty()) {
    const Tensor* t = initializer(g, n.inputs[1]);
    if (!t || t->dtype != DType::Int64) return false;
    for (int64_t i = 0; i < t->size(); ++i) axes->push_back(t->intAt(i));
    return true;
  }
  axes->clear();  // all axes
  return true;
}

void rewriteShapeOfDequantize(onnx::Graph& g) {
  std::map<std::string, std::string> dequantizedFrom;
  for (const onnx::Node& n : g.nodes) {
    if (isDequantize(n) && !n.inputs.empty() && n.outputs.size() == 1) dequantizedFrom[n.outputs[0]] = n.inputs[0];
  }
  for (onnx::Node& n : g.nodes) {
    if (!isStandard(n, "Shape") || n.inputs.size() != 1) continue;
    const auto it = dequantizedFrom.find(n.inputs[0]);
    if (it != dequantizedFrom.end()) n.inputs[0] = it->second;
  }
}

void rewriteReduceMean(onnx::Graph& g) {
  const Consumers consumers(g);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const onnx::Node dq = g.nodes[i];
    if (!isDequantize(dq) || dq.inputs.size() < 2 || dq.outputs.size() != 1) continue;
    const std::vector<size_t>& readers = consumers.of(dq.outputs[0]);
    if (readers.size() != 1 || isGraphOutput(g, dq.outputs[0])) continue;
    // Follow the chain of single-reader ReduceMeans.
    std::vector<size_t> chain;
    onnx::Attribute stagesAttr;
    std::vector<onnx::Attribute> stageAttrs;
    size_t cursor = readers[0];
    std::string value = dq.outputs[0];
    while (isStandard(g.nodes[cursor], "ReduceMean") && g.nodes[cursor].inputs[0] == value) {
      const onnx::Node& rm = g.nodes[cursor];
      std::vector<int64_t> axes;
      if (!reduceMeanAxes(g, rm, &axes) || rm.outputs.size() != 1) break;
      if (const onnx::Attribute* noop = rm.attribute("noop_with_empty_axes"); noop && noop->i != 0 && axes.empty()) break;
      const onnx::Attribute* keep = rm.attribute("keepdims");
      onnx::Attribute axesAttr;
      axesAttr.name = "axes" + std::to_string(chain.size());
      axesAttr.kind = onnx::Attribute::Kind::Ints;
      axesAttr.ints = axes;
      onnx::Attribute keepAttr;
      keepAttr.name = "keepdims" + std::to_string(chain.size());
      keepAttr.kind = onnx::Attribute::Kind::Int;
      keepAttr.i = keep ? keep->i : 1;
      stageAttrs.push_back(axesAttr);
      stageAttrs.push_back(keepAttr);
      chain.push_back(cursor);
      value = rm.outputs[0];
      const std::vector<size_t>& next = consumers.of(value);
      if (next.size() != 1 || isGraphOutput(g, value)) { chain.clear(); break; }
      cursor = next[0];
    }
    if (chain.empty() || !isQuantize(g.nodes[cursor]) || g.nodes[cursor].inputs[0] != value) continue;
    const onnx::Node& q = g.nodes[cursor];
    if (q.inputs.size() < 2 || dq.attribute("axis") || q.attribute("axis")) continue;
    onnx::Node fused;
    fused.name = q.name.empty() ? q.outputs[0] : q.name;
    fused.opType = "QLinearReduceMean";
    fused.domain = "bitexact";
    fused.inputs = {dq.inputs[0], dq.inputs[1], dq.inputs.size() > 2 ? dq.inputs[2] : std::string(), q.inputs[1],
                    q.inputs.size() > 2 ? q.inputs[2] : std::string()};
    fused.outputs = q.outputs;
    stagesAttr.name = "stages";
    stagesAttr.kind = onnx::Attribute::Kind::Int;
    stagesAttr.i = int64_t(chain.size());
    fused.attributes.push_back(stagesAttr);
    fused.attributes.insert(fused.attributes.end(), stageAttrs.begin(), stageAttrs.end());
    // The fused node takes the QuantizeLinear's place (its inputs are all defined by then); the
    // float nodes stay, readerless, for the liveness pass to drop.
    g.nodes[cursor] = fused;
  }
}

}  // namespace

void rewriteQdqPatterns(onnx::Graph& graph) {
  rewriteShapeOfDequantize(graph);
  rewriteReduceMean(graph);
}

}  // namespace bx
