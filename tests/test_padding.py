"""pad2d and conv_output_size against independent oracles (np.pad, torch's F.pad, counting windows)."""

from __future__ import annotations

import numpy as np
import pytest

from cnncourse.ops.padding import conv_output_size, pad2d, sliding_windows


@pytest.mark.parametrize("padding", [0, 1, 3, (1, 2), (2, 0), (0, 1, 2, 3)])
@pytest.mark.parametrize("shape", [(4, 5), (1, 1, 3, 3), (2, 3, 4, 6)])
def test_pad2d_matches_np_pad(rng, shape, padding):
    x = rng.standard_normal(shape).astype(np.float32)
    before = x.copy()
    if isinstance(padding, tuple) and len(padding) == 4:
        left, right, top, bottom = padding
    else:
        ph, pw = (padding, padding) if isinstance(padding, int) else padding
        left = right = pw
        top = bottom = ph
    widths = [(0, 0)] * (x.ndim - 2) + [(top, bottom), (left, right)]
    expected = np.pad(x, widths, constant_values=-2.5)
    out = pad2d(x, padding, value=-2.5)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(x, before)  # never in place


def test_pad2d_four_tuple_follows_torch_pad_order(rng, torch):
    x = rng.standard_normal((1, 2, 3, 4))
    expected = torch.nn.functional.pad(torch.from_numpy(x), (1, 2, 3, 0)).numpy()
    np.testing.assert_array_equal(pad2d(x, (1, 2, 3, 0)), expected)


@pytest.mark.parametrize(("padding", "exc", "match"), [
    (-1, RuntimeError, "negative padding is not supported: expected padding >= 0, got"),
    ((1, 2, 3), TypeError, "padding must be an int or a pair of ints, got"),
    (1.5, TypeError, "padding must be an int or a pair of ints"),
])
def test_pad2d_bad_padding(padding, exc, match):
    with pytest.raises(exc, match=match):
        pad2d(np.zeros((2, 2)), padding)


def test_pad2d_refuses_non_numeric_and_1d_input():
    with pytest.raises(TypeError, match="input must be an array of real numbers.*got dtype <U1"):
        pad2d(np.array([["a"]]), 1)
    with pytest.raises(RuntimeError, match=r"at least 2 dimensions .*got shape \(3,\)"):
        pad2d(np.zeros(3), 1)


def _count_windows(size, k, s, p, d):
    """How many window starts fit: the definition the formula abbreviates."""
    span = d * (k - 1) + 1
    return sum(1 for start in range(0, size + 2 * p, s) if start + span <= size + 2 * p)


@pytest.mark.parametrize("size", [1, 5, 7, 10, 11, 32, 227])
@pytest.mark.parametrize("k", [1, 2, 3, 5, 11])
@pytest.mark.parametrize("s", [1, 2, 3, 4])
@pytest.mark.parametrize(("p", "d"), [(0, 1), (1, 1), (2, 2), (3, 1)])
def test_conv_output_size_counts_the_windows_that_fit(size, k, s, p, d):
    span = d * (k - 1) + 1
    if span > size + 2 * p:
        with pytest.raises(ValueError, match="larger than the padded input"):
            conv_output_size(size, k, stride=s, padding=p, dilation=d)
        return
    n = _count_windows(size, k, s, p, d)
    assert conv_output_size(size, k, stride=s, padding=p, dilation=d) == n
    fits = (size + 2 * p - span) % s == 0
    if fits:
        assert conv_output_size(size, k, stride=s, padding=p, dilation=d, strict=True) == n
    else:
        with pytest.raises(ValueError, match="do not fit evenly"):
            conv_output_size(size, k, stride=s, padding=p, dilation=d, strict=True)


def test_conv_output_size_pairs_and_the_sliding_view_agree(rng):
    x = rng.standard_normal((1, 1, 9, 12))
    windows = sliding_windows(x, (3, 2), (2, 3), (1, 2))
    assert windows.shape[2:4] == conv_output_size((9, 12), (3, 2), stride=(2, 3), dilation=(1, 2))
    # windows[..., i, j, u, v] is x[i*sH + u*dH, j*sW + v*dW]
    assert windows[0, 0, 2, 1, 2, 1] == x[0, 0, 2 * 2 + 2, 1 * 3 + 1 * 2]


@pytest.mark.parametrize(("kwargs", "exc", "match"), [
    ({"stride": 0}, RuntimeError, "non-positive stride is not supported"),
    ({"dilation": 0}, RuntimeError, "non-positive dilation is not supported"),
    ({"padding": -1}, RuntimeError, "negative padding is not supported"),
    ({"stride": 1.5}, TypeError, "stride must be an int or a pair of ints, got 1.5"),
])
def test_conv_output_size_bad_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        conv_output_size(10, 3, **kwargs)
