// Attention masks in integer models. Exporters write a padding mask as float work on a graph input
// right before the attention Softmax, in one of two forms:
//   additive:  Add(scores, bias) with bias = e.g. Unsqueeze(Cast(mask)) -> (1 - m) * -10000;
//   select:    Where(cond, scores, F) or Where(cond, F, scores) with F a constant <= kMaskedBias
//              (-inf, finfo.min) and cond = e.g. Equal(Unsqueeze(mask), 0) or Cast(mask, bool).
// bitexact evaluates that work exactly on each mask element (bitexact::AttentionMaskKeep: binary32
// basic operations in graph order, the same everywhere) and turns it into a keep mask; Add/Where +
// Softmax then run as one integer masked softmax. Additive: a bias of 0 keeps the position, one
// <= kMaskedBias drops it (exp underflows to exactly 0 there in float too), anything else is
// refused at run time. Select: the condition picks scores (kept) or F (dropped).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "qdq_graph.h"

namespace bx {

// Biases at or below this drop their position: exp(-1000) is 0 in every float format.
constexpr float kMaskedBias = -1000.0f;

// The elementwise steps bitexact::AttentionMaskKeep applies, in order, to each mask element.
// Equal gives 1 or 0; Not maps 0 to 1 and anything else to 0; ToBool maps non-zero to 1; Trunc
// (a Cast to an integer type) rounds toward zero.
enum class MaskStep : int64_t { Add = 0, Sub = 1, Mul = 2, Div = 3, Neg = 4, Equal = 5, Not = 6, ToBool = 7, Trunc = 8 };

// How the evaluated value becomes keep (1) or drop (0).
enum class MaskMode : int64_t { AdditiveBias = 0, KeepWhenTrue = 1, KeepWhenFalse = 2 };

// Traces `value` (the additive bias, or the Where condition) back through Unsqueeze/Reshape/
// Squeeze, Cast, elementwise ops with scalar constants, Equal and Not, to a graph input. On success
// appends to `nodes` the nodes computing the keep mask (uint8, 1 = attend, shaped like `value`)
// and returns its name. A constant `value` (a causal mask in the model) becomes a constant keep
// mask at load, when every element keeps (bias 0, or the condition's keeping value) or drops.
std::optional<std::string> buildMaskKeep(QdqGraph& g, const std::string& value, MaskMode mode, std::vector<onnx::Node>* nodes);

}  // namespace bx
