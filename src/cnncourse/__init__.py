"""cnncourse: the layers of convolutional neural networks, in numpy, NCHW, PyTorch's names.

Every operation is importable from the top level (``import cnncourse as cc; cc.conv2d(...)``);
the network library, architecture accounting, data, pictures, gradient checking and graded
checks are submodules: ``cc.nn``, ``cc.arch``, ``cc.data``, ``cc.viz``, ``cc.gradcheck``,
``cc.checks``.
"""


from .ops.activations import (
    log_softmax,
    relu,
    relu_backward,
    sigmoid,
    sigmoid_backward,
    softmax,
    softmax_backward,
    tanh,
    tanh_backward,
)
from .ops.conv import (
    conv2d,
    conv2d_backward,
    conv2d_backward_naive,
    conv2d_naive,
    convolve2d,
    corr2d,
)
from .ops.im2col import col2im, im2col
from .ops.linear import flatten, linear, linear_backward
from .ops.local import locally_connected2d
from .ops.losses import cross_entropy, one_hot
from .ops.padding import conv_output_size, pad2d
from .ops.pool import (
    avg_pool2d,
    avg_pool2d_backward,
    channel_pool,
    global_avg_pool2d,
    lp_pool2d,
    lp_pool2d_backward,
    max_pool2d,
    max_pool2d_backward,
)

__version__ = "0.1.0"

__all__ = [
    "avg_pool2d", "avg_pool2d_backward", "channel_pool", "col2im", "conv2d", "conv2d_backward",
    "conv2d_backward_naive", "conv2d_naive", "conv_output_size", "convolve2d", "corr2d",
    "cross_entropy", "flatten", "global_avg_pool2d", "im2col", "linear", "linear_backward",
    "locally_connected2d", "log_softmax", "lp_pool2d", "lp_pool2d_backward", "max_pool2d",
    "max_pool2d_backward", "one_hot", "pad2d", "relu", "relu_backward", "sigmoid",
    "sigmoid_backward", "softmax", "softmax_backward", "tanh", "tanh_backward",
]
