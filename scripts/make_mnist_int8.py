#!/usr/bin/python3
"""Builds models/mnist-8-int8: ONNX Model Zoo mnist-8 (MIT) quantised to a QOperator int8 model.

Development-time only (Debian's python3-onnx and python3-numpy; run with /usr/bin/python3). The
float model is evaluated in numpy on the zoo's three real test digits and shifted copies of them
to calibrate activation ranges; weights are quantised per output channel, symmetric int8; biases
to int32 at input_scale * weight_scale; activations to uint8. The result runs in bitexact and in
onnxruntime.

usage: make_mnist_int8.py SHARED_MODELS_DIR OUT_DIR
"""
import os
import shutil
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto

src_dir, out_dir = sys.argv[1], sys.argv[2]
model = onnx.load(os.path.join(src_dir, "mnist-8", "model.onnx"))
init = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
w1, b1 = init["Parameter5"], init["Parameter6"].reshape(8)
w2, b2 = init["Parameter87"], init["Parameter88"].reshape(16)
w3, b3 = init["Parameter193"].reshape(256, 10), init["Parameter194"].reshape(10)

def conv_same(x, w, b):
    n, c, h, wd = x.shape
    m, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (kh // 2, kh // 2), (kw // 2, kw // 2)))
    cols = np.stack([xp[:, :, i:i + h, j:j + wd] for i in range(kh) for j in range(kw)], axis=2)  # n,c,k,h,w
    cols = cols.reshape(n, c * kh * kw, h * wd)
    y = np.einsum("mk,nkp->nmp", w.reshape(m, -1), cols).reshape(n, m, h, wd)
    return y + b.reshape(1, m, 1, 1)

def maxpool(x, k):
    n, c, h, w = x.shape
    return x[:, :, : h // k * k, : w // k * k].reshape(n, c, h // k, k, w // k, k).max(axis=(3, 5))

def forward(x):
    a1 = np.maximum(conv_same(x, w1, b1), 0)
    p1 = maxpool(a1, 2)
    a2 = np.maximum(conv_same(p1, w2, b2), 0)
    p2 = maxpool(a2, 3)
    logits = p2.reshape(x.shape[0], 256) @ w3 + b3
    return a1, a2, logits

digits = [numpy_helper.to_array(onnx.load_tensor(os.path.join(src_dir, "mnist-8", f"test_data_set_{i}", "input_0.pb"))) for i in range(3)]
calib = []
for d in digits:
    for dy in (-2, 0, 2):
        for dx in (-2, 0, 2):
            calib.append(np.roll(np.roll(d, dy, axis=2), dx, axis=3))
calib = np.concatenate(calib).astype(np.float32)
a1, a2, logits = forward(calib)

s_in = np.float32(1.0)  # pixels are integers 0..255
s_a1 = np.float32(a1.max() / 255)
s_a2 = np.float32(a2.max() / 255)
lo, hi = min(float(logits.min()), 0.0) * 1.25, max(float(logits.max()), 0.0) * 1.25
s_out = np.float32((hi - lo) / 255)
z_out = np.uint8(round(-lo / float(s_out)))

def quant_weights(w):
    flat = w.reshape(w.shape[0], -1)
    scale = (np.abs(flat).max(axis=1) / 127).astype(np.float32)
    q = np.clip(np.round(flat / scale[:, None]), -127, 127).astype(np.int8).reshape(w.shape)
    return q, scale

q1, sw1 = quant_weights(w1)
q2, sw2 = quant_weights(w2)
q3t, sw3 = quant_weights(w3.T)  # per output column
qb1 = np.round(b1 / (s_in * sw1)).astype(np.int32)
qb2 = np.round(b2 / (s_a1 * sw2)).astype(np.int32)
qb3 = np.round(b3 / (s_a2 * sw3)).astype(np.int32)

T = numpy_helper.from_array
inits = [
    T(np.array(s_in, np.float32), "in_scale"), T(np.array(0, np.uint8), "in_zp"),
    T(q1, "w1"), T(sw1, "w1_scale"), T(np.zeros(8, np.int8), "w1_zp"), T(qb1, "b1"),
    T(np.array(s_a1, np.float32), "a1_scale"), T(np.array(0, np.uint8), "a1_zp"),
    T(q2, "w2"), T(sw2, "w2_scale"), T(np.zeros(16, np.int8), "w2_zp"), T(qb2, "b2"),
    T(np.array(s_a2, np.float32), "a2_scale"), T(np.array(0, np.uint8), "a2_zp"),
    T(np.array([1, 256], np.int64), "flat_shape"),
    T(q3t.T.copy(), "w3"), T(sw3, "w3_scale"), T(np.zeros(10, np.int8), "w3_zp"), T(qb3, "b3"),
    T(np.array(s_out, np.float32), "out_scale"), T(np.array(z_out, np.uint8), "out_zp"),
]
nodes = [
    helper.make_node("QuantizeLinear", ["Input3", "in_scale", "in_zp"], ["x_q"], name="quantize_input"),
    helper.make_node("QLinearConv", ["x_q", "in_scale", "in_zp", "w1", "w1_scale", "w1_zp", "a1_scale", "a1_zp", "b1"], ["a1_q"],
                     name="conv1_relu", kernel_shape=[5, 5], pads=[2, 2, 2, 2]),
    helper.make_node("MaxPool", ["a1_q"], ["p1_q"], name="pool1", kernel_shape=[2, 2], strides=[2, 2]),
    helper.make_node("QLinearConv", ["p1_q", "a1_scale", "a1_zp", "w2", "w2_scale", "w2_zp", "a2_scale", "a2_zp", "b2"], ["a2_q"],
                     name="conv2_relu", kernel_shape=[5, 5], pads=[2, 2, 2, 2]),
    helper.make_node("MaxPool", ["a2_q"], ["p2_q"], name="pool2", kernel_shape=[3, 3], strides=[3, 3]),
    helper.make_node("Reshape", ["p2_q", "flat_shape"], ["flat_q"], name="flatten"),
    helper.make_node("QGemm", ["flat_q", "a2_scale", "a2_zp", "w3", "w3_scale", "w3_zp", "b3", "out_scale", "out_zp"], ["logits_q"],
                     name="dense", domain="com.microsoft"),
    helper.make_node("DequantizeLinear", ["logits_q", "out_scale", "out_zp"], ["logits"], name="dequantize_logits"),
]
graph = helper.make_graph(nodes, "mnist_8_int8", [helper.make_tensor_value_info("Input3", TensorProto.FLOAT, [1, 1, 28, 28])],
                          [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 10])], inits)
out = helper.make_model(graph, producer_name="bitexact scripts/make_mnist_int8.py",
                        opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("com.microsoft", 1)])
out.ir_version = 7
onnx.checker.check_model(out)
os.makedirs(out_dir, exist_ok=True)
onnx.save(out, os.path.join(out_dir, "model.onnx"))
for i in range(3):
    expected = numpy_helper.to_array(onnx.load_tensor(os.path.join(src_dir, "mnist-8", f"test_data_set_{i}", "output_0.pb")))
    shutil.copy(os.path.join(src_dir, "mnist-8", f"test_data_set_{i}", "input_0.pb"), os.path.join(out_dir, f"digit-{int(expected.argmax())}.pb"))
print("float top-1 on the real digits:", [int(forward(d)[2].argmax()) for d in digits])
