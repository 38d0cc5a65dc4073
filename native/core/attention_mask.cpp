#include "attention_mask.h"

#include <algorithm>

namespace bx {
namespace {

struct Step {
  MaskStep op;
  float constant = 0.0f;
  bool constantFirst = false;
};

bool isStructural(const onnx::Node& n) {
  return isStandardOp(n, "Unsqueeze") || isStandardOp(n, "Reshape") || isStandardOp(n, "Squeeze");
}

std::optional<MaskStep> stepOf(const onnx::Node& n) {
  if (isStandardOp(n, "Add")) return MaskStep::Add;
  if (isStandardOp(n, "Sub")) return MaskStep::Sub;
  if (isStandardOp(n, "Mul")) return MaskStep::Mul;
  if (isStandardOp(n, "Div")) return MaskStep::Div;
  if (isStandardOp(n, "Neg")) return MaskStep::Neg;
  return std::nullopt;
}

}  // namespace

std::optional<std::string> buildMaskKeep(QdqGraph& g, const std::string& bias, std::vector<onnx::Node>* nodes) {
  std::vector<Step> steps;                    // from the source on
  std::vector<const onnx::Node*> structural;  // from the source on
  bool cast = false;
  std::string value = bias;
  for (;;) {
    bool isInput = false;
    for (const onnx::ValueInfo& v : g.graph.inputs) isInput = isInput || v.name == value;
    if (isInput) break;
    const onnx::Node* p = g.producer(value);
    if (!p || p->outputs.size() != 1) return std::nullopt;
    if (isStructural(*p)) {
      for (size_t i = 1; i < p->inputs.size(); ++i) if (!p->inputs[i].empty() && !g.constant(p->inputs[i])) return std::nullopt;
      structural.insert(structural.begin(), p);
      value = p->inputs[0];
      continue;
    }
    if (isStandardOp(*p, "Cast")) {
      const onnx::Attribute* to = p->attribute("to");
      if (cast || !to || to->i != int64_t(DType::Float32)) return std::nullopt;
      cast = true;
      value = p->inputs[0];
      continue;
    }
    const auto op = stepOf(*p);
    if (!op || cast) return std::nullopt;  // float arithmetic before the Cast would be on integers
    if (*op == MaskStep::Neg) {
      steps.insert(steps.begin(), Step{*op});
      value = p->inputs[0];
      continue;
    }
    if (p->inputs.size() != 2) return std::nullopt;
    const Tensor* c0 = g.constant(p->inputs[0]);
    const Tensor* c1 = g.constant(p->inputs[1]);
    if ((c0 == nullptr) == (c1 == nullptr)) return std::nullopt;
    const Tensor* c = c0 ? c0 : c1;
    if (c->dtype != DType::Float32 || c->size() != 1) return std::nullopt;
    steps.insert(steps.begin(), Step{*op, c->floatAt(0), c0 != nullptr});
    value = c0 ? p->inputs[1] : p->inputs[0];
  }
  onnx::Node keep;
  keep.opType = "AdditiveMaskKeep";
  keep.domain = "bitexact";
  keep.inputs = {value};
  keep.outputs = {g.freshName(bias + "_keep")};
  keep.name = keep.outputs[0];
  onnx::Attribute ops, first, constants;
  ops.name = "steps";
  ops.kind = onnx::Attribute::Kind::Ints;
  first.name = "constant_first";
  first.kind = onnx::Attribute::Kind::Ints;
  constants.name = "constants";
  constants.kind = onnx::Attribute::Kind::Floats;
  for (const Step& s : steps) {
    ops.ints.push_back(int64_t(s.op));
    first.ints.push_back(s.constantFirst ? 1 : 0);
    constants.floats.push_back(s.constant);
  }
  keep.attributes = {ops, first, constants};
  nodes->push_back(keep);
  std::string current = keep.outputs[0];
  for (const onnx::Node* s : structural) {
    onnx::Node copy = *s;
    copy.inputs[0] = current;
    copy.outputs = {g.freshName(s->outputs[0] + "_keep")};
    copy.name = copy.outputs[0];
    nodes->push_back(copy);
    current = copy.outputs[0];
  }
  return current;
}

}  // namespace bx
