#!/usr/bin/python3
"""Builds test/fixtures/tiny-bert/model.onnx: a small float32 BERT-style encoder, the fixture of
the transformer quantisation tests.

Development-time only (Debian's python3-onnx and python3-numpy; run with /usr/bin/python3). The
graph is written node by node the way PyTorch exports BERT at opset 13: token embeddings
(Gather on int64 ids) plus position embeddings, LayerNorm decomposed into
ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/Div/Mul/Add, multi-head self-attention (MatMul + bias Add,
Reshape/Transpose into heads, Q.K^T, Div by sqrt(head size), an additive mask
(1 - mask) * -10000 broadcast over heads and queries, Softmax, P.V), GELU decomposed into
Div/Erf/Add/Mul/Mul, a residual LayerNorm after attention and after the feed-forward block, and
a pooler (the first token through Gemm and Tanh). Weights are seeded random (no training): the
tests compare the quantised model with the float one, not with any task's labels. With --where the
mask is an int64 input applied the way newer exports do: Where(Equal(mask, 0), -inf, scores).

usage: make_tiny_bert.py OUT_DIR [--where]
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

WHERE = "--where" in sys.argv[2:]
VOCAB, SEQ, HIDDEN, HEADS, FFN, LAYERS = 96, 16, 64, 4, 128, 2
HEAD = HIDDEN // HEADS
rng = np.random.default_rng(20261126)
nodes, inits = [], []


def const(name, value, dtype=np.float32):
    inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
    return name


def node(op, inputs, name, **attrs):
    nodes.append(helper.make_node(op, inputs, [name], name=name, **attrs))
    return name


def layer_norm(x, prefix):
    gamma = const(prefix + ".gamma", 1.0 + 0.1 * rng.standard_normal(HIDDEN))
    beta = const(prefix + ".beta", 0.1 * rng.standard_normal(HIDDEN))
    mean = node("ReduceMean", [x], prefix + ".mean", axes=[-1])
    centred = node("Sub", [x, mean], prefix + ".centred")
    square = node("Pow", [centred, const(prefix + ".two", 2.0)], prefix + ".square")
    var = node("ReduceMean", [square], prefix + ".var", axes=[-1])
    std = node("Sqrt", [node("Add", [var, const(prefix + ".eps", 1e-12)], prefix + ".var_eps")], prefix + ".std")
    normed = node("Div", [centred, std], prefix + ".normed")
    return node("Add", [node("Mul", [normed, gamma], prefix + ".scaled"), beta], prefix + ".out")


def linear(x, k, n, prefix, gain=1.0):
    w = const(prefix + ".weight", gain * rng.standard_normal((k, n)) / np.sqrt(k))
    b = const(prefix + ".bias", 0.05 * rng.standard_normal(n))
    return node("Add", [node("MatMul", [x, w], prefix + ".matmul"), b], prefix + ".out")


def heads(x, prefix, perm):
    shaped = node("Reshape", [x, const(prefix + ".heads_shape", [1, SEQ, HEADS, HEAD], np.int64)], prefix + ".heads")
    return node("Transpose", [shaped], prefix + ".transposed", perm=perm)


def gelu(x, prefix):
    scaled = node("Div", [x, const(prefix + ".sqrt2", np.sqrt(2.0))], prefix + ".div")
    erf = node("Erf", [scaled], prefix + ".erf")
    one_plus = node("Add", [erf, const(prefix + ".one", 1.0)], prefix + ".one_plus")
    return node("Mul", [node("Mul", [x, one_plus], prefix + ".mul"), const(prefix + ".half", 0.5)], prefix + ".out")


ids = "input_ids"
mask = "attention_mask"
word = node("Gather", [const("embeddings.word", rng.standard_normal((VOCAB, HIDDEN))), ids], "embeddings.gather", axis=0)
x = node("Add", [word, const("embeddings.position", 0.5 * rng.standard_normal((SEQ, HIDDEN)))], "embeddings.sum")
x = layer_norm(x, "embeddings.ln")

if WHERE:
    # mask == 0, shaped [1, 1, 1, SEQ]: where it holds the score becomes -inf
    mask4d = node("Unsqueeze", [mask, const("mask.axes", [1, 2], np.int64)], "mask.mask4d")
    padding = node("Equal", [mask4d, const("mask.zero", 0, np.int64)], "mask.padding")
else:
    # (1 - mask) * -10000, shaped [1, 1, 1, SEQ] to broadcast over heads and query positions.
    inverted = node("Sub", [const("mask.one", 1.0), mask], "mask.inverted")
    bias = node("Mul", [inverted, const("mask.big", -10000.0)], "mask.bias")
    mask_bias = node("Unsqueeze", [bias, const("mask.axes", [1, 2], np.int64)], "mask.bias4d")

for l in range(LAYERS):
    p = f"layer{l}"
    q = heads(linear(x, HIDDEN, HIDDEN, p + ".q", 1.5), p + ".q", [0, 2, 1, 3])
    k = heads(linear(x, HIDDEN, HIDDEN, p + ".k", 1.5), p + ".k", [0, 2, 3, 1])
    v = heads(linear(x, HIDDEN, HIDDEN, p + ".v"), p + ".v", [0, 2, 1, 3])
    scores = node("Div", [node("MatMul", [q, k], p + ".qk"), const(p + ".sqrt_head", np.sqrt(HEAD))], p + ".scores")
    if WHERE:
        masked = node("Where", [padding, const(p + ".neg_inf", -np.inf), scores], p + ".masked")
    else:
        masked = node("Add", [scores, mask_bias], p + ".masked")
    probs = node("Softmax", [masked], p + ".probs", axis=-1)
    context = node("Transpose", [node("MatMul", [probs, v], p + ".pv")], p + ".context_t", perm=[0, 2, 1, 3])
    context = node("Reshape", [context, const(p + ".merge_shape", [1, SEQ, HIDDEN], np.int64)], p + ".context")
    attn = linear(context, HIDDEN, HIDDEN, p + ".attn_out")
    x = layer_norm(node("Add", [x, attn], p + ".attn_residual"), p + ".attn_ln")
    hidden = gelu(linear(x, HIDDEN, FFN, p + ".ffn_in"), p + ".gelu")
    out = linear(hidden, FFN, HIDDEN, p + ".ffn_out")
    x = layer_norm(node("Add", [x, out], p + ".ffn_residual"), p + ".ffn_ln")

nodes.append(helper.make_node("Identity", [x], ["last_hidden_state"], name="last_hidden_state"))
first = node("Gather", [x, const("pooler.first", 0, np.int64)], "pooler.first_token", axis=1)
pool_w = const("pooler.weight", rng.standard_normal((HIDDEN, HIDDEN)) / np.sqrt(HIDDEN))
pool_b = const("pooler.bias", 0.05 * rng.standard_normal(HIDDEN))
nodes.append(helper.make_node("Tanh", [node("Gemm", [first, pool_w, pool_b], "pooler.dense")], ["pooled"], name="pooler.tanh"))

graph = helper.make_graph(
    nodes,
    "tiny-bert",
    [helper.make_tensor_value_info(ids, TensorProto.INT64, [1, SEQ]),
     helper.make_tensor_value_info(mask, TensorProto.INT64 if WHERE else TensorProto.FLOAT, [1, SEQ])],
    [helper.make_tensor_value_info("pooled", TensorProto.FLOAT, [1, HIDDEN]), helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, [1, SEQ, HIDDEN])],
    inits,
)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="bitexact make_tiny_bert.py")
model.ir_version = 8
onnx.checker.check_model(model)
os.makedirs(sys.argv[1], exist_ok=True)
onnx.save(model, os.path.join(sys.argv[1], "model.onnx"))
print(f"wrote {os.path.join(sys.argv[1], 'model.onnx')}: {len(nodes)} nodes, {sum(np.prod(i.dims) for i in inits)} weights")
