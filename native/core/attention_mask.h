// Additive attention masks in integer models. Exporters write BERT's mask as float arithmetic on a
// graph input, e.g. Unsqueeze(Cast(mask)) -> (1 - m) * -10000, added to the attention scores right
// before the Softmax. bitexact evaluates that arithmetic exactly (binary32 basic operations on each
// mask element, the same everywhere) and turns its result into a keep mask: 0 keeps the position,
// a bias <= kMaskedBias drops it (its softmax weight is exactly 0, as exp underflows in float too),
// anything else is refused at run time. The Add + Softmax then runs as one integer masked softmax.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "qdq_graph.h"

namespace bx {

// Biases at or below this drop their position: exp(-1000) is 0 in every float format.
constexpr float kMaskedBias = -1000.0f;

// The elementwise steps bitexact::AdditiveMaskKeep applies, in order, to each mask element.
enum class MaskStep : int64_t { Add = 0, Sub = 1, Mul = 2, Div = 3, Neg = 4 };

// Traces `bias` back through Unsqueeze/Reshape/Squeeze, elementwise ops with scalar float constants
// and at most one Cast to float, to a graph input. On success appends to `nodes` the nodes computing
// the keep mask (uint8, 1 = attend, shaped like `bias`) and returns its name.
std::optional<std::string> buildMaskKeep(QdqGraph& g, const std::string& bias, std::vector<onnx::Node>* nodes);

}  // namespace bx
