"""Do the functions reproduce every worked number of the course's source material?

Each test names the seed document (``/work/shared/seeds``) the numbers come from. Where a
seed's number is wrong, the test checks the correct value and says so.
"""

from __future__ import annotations

import numpy as np
import pytest

from cnncourse.ops.activations import relu
from cnncourse.ops.conv import conv2d, corr2d
from cnncourse.ops.im2col import im2col
from cnncourse.ops.linear import flatten
from cnncourse.ops.local import locally_connected2d
from cnncourse.ops.padding import conv_output_size


def _spatial_out(size, f, s=1, p=0, channels=1, filters=1):
    """Run conv2d on a zero image and read the output's spatial size."""
    out = conv2d(np.zeros((1, channels, size, size)), np.zeros((filters, channels, f, f)),
                 stride=s, padding=p)
    return out.shape[1:]


# ------------------------------------------------------------------ seed 002: output sizes
@pytest.mark.parametrize("w, f, s, p, channels, expected", [
    (7, 3, 1, 0, 1, 5),   # "a 7x7 input and a 3x3 filter with stride 1 and pad 0 ... 5x5"
    (7, 3, 2, 0, 1, 3),   # "With stride 2 we would get a 3x3 output"
    (11, 5, 2, 0, 4, 4),  # X.shape (11,11,4), F=5, S=2: "(11-5)/2+1 = 4"
    (5, 3, 1, 1, 1, 5),   # "input dimension was 5 and the output dimension was equal: also 5"
    (5, 3, 1, 0, 1, 3),   # "If there was no zero-padding used ... only 3"
])
def test_output_sizes_of_the_worked_examples(w, f, s, p, channels, expected):
    assert _spatial_out(w, f, s, p, channels) == (1, expected, expected)
    assert conv_output_size(w, f, stride=s, padding=p) == expected


def test_stride_that_does_not_fit_is_reported_with_its_fraction():
    # seed 002: W=10, P=0, F=3, S=2 gives (10-3+0)/2+1 = 4.5, "not an integer".
    with pytest.raises(ValueError, match=r"4\.5"):
        conv_output_size(10, 3, stride=2, strict=True)
    # PyTorch (and conv2d) silently floor instead: the last input column is never read.
    assert _spatial_out(10, 3, s=2) == (1, 4, 4)


def test_the_numpy_example_volume(rng):
    """seed 002: X.shape (11, 11, 4), F=5, S=2, P=0, and V[0,0,0] = np.sum(X[:5,:5,:] * W0) + b0,
    V[1,0,0] = np.sum(X[2:7,:5,:] * W0) + b0, ... in the seed's depth-last indexing."""
    X = rng.standard_normal((11, 11, 4))
    W0, W1 = rng.standard_normal((5, 5, 4)), rng.standard_normal((5, 5, 4))
    b0, b1 = 0.5, -1.0
    x = X.transpose(2, 0, 1)[None]  # NCHW: channel first, then the seed's two spatial axes
    weight = np.stack([W0, W1]).transpose(0, 3, 1, 2)  # (K, C, F, F)
    out = conv2d(x, weight, np.array([b0, b1]), stride=2)
    V = out[0].transpose(1, 2, 0)  # back to the seed's V[x, y, depth]
    assert V.shape == (4, 4, 2)
    np.testing.assert_allclose(V[0, 0, 0], np.sum(X[:5, :5, :] * W0) + b0, rtol=1e-12)
    np.testing.assert_allclose(V[1, 0, 0], np.sum(X[2:7, :5, :] * W0) + b0, rtol=1e-12)
    np.testing.assert_allclose(V[2, 0, 0], np.sum(X[4:9, :5, :] * W0) + b0, rtol=1e-12)
    np.testing.assert_allclose(V[3, 0, 0], np.sum(X[6:11, :5, :] * W0) + b0, rtol=1e-12)
    np.testing.assert_allclose(V[0, 0, 1], np.sum(X[:5, :5, :] * W1) + b1, rtol=1e-12)
    np.testing.assert_allclose(V[2, 3, 1], np.sum(X[4:9, 6:11, :] * W1) + b1, rtol=1e-12)


# ------------------------------------------------------------------ seed 003: the demo volume
def test_the_convolution_demo_volume(rng):
    """seed 003: W1=H1=5, D1=3, K=2 filters of 3x3x3, S=2, P=1 -> a 3x3x2 output volume, each
    element the sum of the highlighted input times the filter, offset by the bias."""
    x = rng.integers(0, 3, size=(1, 3, 5, 5)).astype(float)
    w = rng.integers(-1, 2, size=(2, 3, 3, 3)).astype(float)
    b = np.array([1.0, 0.0])
    out = conv2d(x, w, b, stride=2, padding=1)
    assert out.shape == (1, 2, 3, 3)
    xp = np.zeros((3, 7, 7))
    xp[:, 1:6, 1:6] = x[0]
    for k in range(2):
        for i in range(3):
            for j in range(3):
                window = xp[:, 2 * i: 2 * i + 3, 2 * j: 2 * j + 3]
                assert out[0, k, i, j] == np.sum(window * w[k]) + b[k]


def test_alexnet_conv1_output_volume(rng):
    """seed 002: input [227x227x3], F=11, S=4, P=0, K=96: (227 - 11)/4 + 1 = 55 -> [55x55x96]."""
    x = rng.standard_normal((1, 3, 227, 227)).astype(np.float32)
    w = rng.standard_normal((96, 3, 11, 11)).astype(np.float32)
    out = conv2d(x, w, np.zeros(96, np.float32), stride=4)
    assert out.shape == (1, 96, 55, 55)
    assert out.dtype == np.float32


def test_alexnet_im2col_matrix_sizes(rng):
    """seed 003: 11x11x3 blocks at stride 4 of a 227x227x3 image -> X_col of [363 x 3025];
    96 filters -> W_row [96 x 363]; W_row @ X_col is [96 x 3025], reshaped to [55x55x96]."""
    x = rng.standard_normal((1, 3, 227, 227)).astype(np.float32)
    w = rng.standard_normal((96, 3, 11, 11)).astype(np.float32)
    x_col = im2col(x, 11, stride=4)[0]
    w_row = w.reshape(96, -1)
    assert x_col.shape == (363, 3025)
    assert w_row.shape == (96, 363)
    product = w_row @ x_col
    assert product.shape == (96, 3025)
    np.testing.assert_allclose(product.reshape(1, 96, 55, 55), conv2d(x, w, stride=4),
                               rtol=1e-4, atol=1e-3)


def test_parameter_counts_with_and_without_sharing():
    """seed 002: 55*55*96 = 290,400 neurons with 11*11*3 = 363 weights and 1 bias each make
    105,705,600 parameters; sharing weights per depth slice leaves 96*11*11*3 = 34,848 weights
    + 96 biases = 34,944."""
    x = np.zeros((1, 3, 227, 227), np.float32)
    conv_w, conv_b = np.zeros((96, 3, 11, 11), np.float32), np.zeros(96, np.float32)
    h_out, w_out = conv2d(x, conv_w, conv_b, stride=4).shape[2:]
    assert h_out * w_out * 96 == 290_400
    assert conv_w.size == 34_848
    assert conv_w.size + conv_b.size == 34_944
    # locally_connected2d's weight is (H_out, W_out, C_out, C_in, kH, kW) and its bias
    # (C_out, H_out, W_out); the shapes alone give the count (the array would be 423 MB).
    lc_w, lc_b = (h_out, w_out, 96, 3, 11, 11), (96, h_out, w_out)
    assert np.prod(lc_w) + np.prod(lc_b) == 105_705_600 == 290_400 * 364


def test_locally_connected_layer_has_one_filter_bank_per_position(rng):
    # The layout checked above, on a size small enough to run: each output position uses its
    # own filters, so its parameter count is H_out*W_out times conv2d's.
    x = rng.standard_normal((1, 3, 9, 9))
    w = rng.standard_normal((3, 3, 4, 3, 3, 3))  # 9x9, F=3, S=3 -> 3x3 positions
    b = rng.standard_normal((4, 3, 3))
    out = locally_connected2d(x, w, b, stride=3)
    assert out.shape == (1, 4, 3, 3)
    assert w.size + b.size == 3 * 3 * (4 * 3 * 3 * 3 + 4)
    np.testing.assert_allclose(out[0, 2, 1, 2], np.sum(x[0, :, 3:6, 6:9] * w[1, 2, 2]) + b[2, 1, 2])


def test_dilation_skips_input_pixels():
    """seed 003: a filter w of size 3 computes w[0]*x[0] + w[1]*x[1] + w[2]*x[2] ("dilation
    0") or, with gaps of 1, w[0]*x[0] + w[1]*x[2] + w[2]*x[4] ("dilation 1"). PyTorch (and
    conv2d) count the step between taps instead of the gap: the seed's dilation 0 is
    dilation=1 here and the seed's dilation 1 is dilation=2."""
    x = np.array([2.0, 3.0, 5.0, 7.0, 11.0])
    w = np.array([1.0, 10.0, 100.0])
    as_image, as_filter = x.reshape(1, 1, 1, 5), w.reshape(1, 1, 1, 3)
    contiguous = conv2d(as_image, as_filter, dilation=1)[0, 0, 0]
    gapped = conv2d(as_image, as_filter, dilation=(1, 2))[0, 0, 0]
    np.testing.assert_array_equal(contiguous, [w[0] * x[0] + w[1] * x[1] + w[2] * x[2],
                                               w[0] * x[1] + w[1] * x[2] + w[2] * x[3],
                                               w[0] * x[2] + w[1] * x[3] + w[2] * x[4]])
    np.testing.assert_array_equal(gapped, [w[0] * x[0] + w[1] * x[2] + w[2] * x[4]])


# ------------------------------------------------------------------ seed 001: small matrices
def test_stride_example_with_a_kernel_of_twos():
    """seed 001: the 2x2 kernel of 2s over [[1,2],[4,5]] zero-padded by 1, stride 1 then 2.

    The seed prints [[2,6,4],[10,24,20],[8,18,10]]; its middle-right entry is wrong: that
    window of the padded image is [[2, 0], [5, 0]], so the value is 2*(2+5) = 14, just as the
    bottom-middle window [[4, 5], [0, 0]] gives the seed's 2*(4+5) = 18."""
    x = np.array([[[[1.0, 2.0], [4.0, 5.0]]]])
    k = np.full((1, 1, 2, 2), 2.0)
    np.testing.assert_array_equal(conv2d(x, k, padding=1)[0, 0],
                                  [[2, 6, 4], [10, 24, 14], [8, 18, 10]])
    np.testing.assert_array_equal(conv2d(x, k, padding=1, stride=2)[0, 0], [[2, 4], [8, 10]])


IMAGE_4X4 = [[1, 2, 3, 4], [4, 3, 2, 1], [1, 2, 3, 4], [4, 3, 2, 1]]


def test_zero_padding_example_with_a_kernel_of_ones():
    """seed 001: the 4x4 image with a 3x3 kernel of ones gives [[21,24],[24,21]] and, padded
    with zeros so the border pixels are reached, a 4x4 output."""
    x = np.array(IMAGE_4X4, dtype=float)[None, None]
    k = np.ones((1, 1, 3, 3))
    np.testing.assert_array_equal(conv2d(x, k)[0, 0], [[21, 24], [24, 21]])
    np.testing.assert_array_equal(conv2d(x, k, padding=1)[0, 0],
                                  [[10, 15, 15, 10], [13, 21, 24, 17],
                                   [17, 24, 21, 13], [10, 15, 15, 10]])
    np.testing.assert_array_equal(conv2d(x, k, padding="same"), conv2d(x, k, padding=1))
    np.testing.assert_array_equal(corr2d(np.array(IMAGE_4X4), np.ones((3, 3))),
                                  [[21, 24], [24, 21]])


def test_relu_example():
    """seed 001: ReLU replaces every negative entry of the feature map with zero."""
    feature_map = np.array([[1, -1, -1, -4], [2, -2, 7, 3], [-3, -7, -1, -4], [3, 5, 4, -6]])
    np.testing.assert_array_equal(relu(feature_map),
                                  [[1, 0, 0, 0], [2, 0, 7, 3], [0, 0, 0, 0], [3, 5, 4, 0]])


def test_flatten_example():
    """seed 001: [[1,2,3],[4,5,6],[7,8,9]] flattens to [1,2,...,9], row after row."""
    np.testing.assert_array_equal(flatten(np.array([[1, 2, 3], [4, 5, 6], [7, 8, 9]])),
                                  np.arange(1, 10))


# ------------------------------------------------------------------ seed 000: volumes
def test_a_volume_correlation_is_per_map_correlations_summed(rng):
    """seed 000: M_{l-1} = 2 input maps, M_l = 3 filters of [3 x 3] with depth 2. Step one
    correlates each filter slice with its input map, z(i,j) = sum_u sum_v x(i+u, j+v) w(u,v);
    step two sums those per filter, which is the volume correlation z(i, j, k_l)."""
    x = rng.standard_normal((1, 2, 6, 7))
    w = rng.standard_normal((3, 2, 3, 3))
    volume = conv2d(x, w)[0]
    for k in range(3):
        per_map = [corr2d(x[0, c], w[k, c]) for c in range(2)]
        np.testing.assert_allclose(volume[k], per_map[0] + per_map[1], rtol=1e-12)
