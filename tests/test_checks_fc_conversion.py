"""Do the 04_1x1_convolution checks of part 2 (fc_to_conv, score_map_size, crop_scores) pass
right answers and name every listed mistake?

Part 1 (conv1x1, conv_cost, bottleneck_cost) is tested in tests/test_checks_pointwise.py. The
"students" are written here with loops and index arithmetic, each with one deliberate mistake
switched on; the checks' references are never used as a student's answer.
"""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

from cnncourse.checks import CheckFailure, _core
from cnncourse.checks import fc_conversion as fc

HIDDEN = 6262

# Submitted through real nbgrader by tests/test_notebooks.py (see tests/test_checks_pointwise.py
# for the other entry of this notebook).
NOTEBOOK_MISTAKES = {
    "04_1x1_convolution": [
        ("fc_to_conv_solution", textwrap.dedent("""
            def fc_to_conv(linear_weight, input_volume_shape):
                c, h, w = input_volume_shape
                filters = linear_weight.reshape(linear_weight.shape[0], h, w, c)
                return filters.transpose(0, 3, 1, 2).copy()
            """), "weight reshaped in (out, H, W, C) order"),
    ],
}


def _fails(check, fn, match, **kwargs):
    with pytest.raises(CheckFailure, match=match) as info:
        check(fn, **kwargs)
    return str(info.value)


# ------------------------------------------------------------------------------------------
# Students


def student_fc_to_conv(linear_weight, input_volume_shape, *, mistake=None):
    """Element by element: filters[o, c, h, w] = weight[o, c*H*W + h*W + w]."""
    weight = np.asarray(linear_weight, dtype=float)
    c, h, w = input_volume_shape
    if mistake == "transposed":
        weight = weight.T.reshape(weight.shape)
    if mistake == "channels last":
        return weight.reshape(weight.shape[0], h, w, c)
    out = np.zeros((weight.shape[0], c, h, w))
    for o in range(weight.shape[0]):
        for ci in range(c):
            for hi in range(h):
                for wi in range(w):
                    index = {"HWC": hi * w * c + wi * c + ci,
                             "CWH": ci * h * w + wi * h + hi}.get(mistake, ci * h * w + hi * w + wi)
                    out[o, ci, hi, wi] = weight[o, index]
    return out


def student_score_map_size(image_size, input_size, total_stride, *, mistake=None):
    starts = range(0, image_size - input_size + 1, 1 if mistake == "stride" else total_stride)
    count = len(starts)
    if mistake == "+1":
        count -= 1
    if mistake == "feature map":
        count = image_size // total_stride
    if mistake == "float":
        count = float(count)
    return count


def student_crop_scores(net, image, crop_size, stride, *, mistake=None):
    n, _, h, w = image.shape
    step = 1 if mistake == "stride ignored" else stride
    stop = 0 if mistake == "last missing" else 1
    rows = list(range(0, h - crop_size + stop, step))
    cols = list(range(0, w - crop_size + stop, step))
    if mistake == "starts not scaled":
        rows, cols = range(len(rows)), range(len(cols))
    scores = {(i, j): net(image[:, :, r:r + crop_size, c:c + crop_size])
              for i, r in enumerate(rows) for j, c in enumerate(cols)}
    k = scores[0, 0].shape[1]
    out = np.zeros((n, k, len(rows), len(cols)))
    for (i, j), s in scores.items():
        out[:, :, i, j] = s
    if mistake == "nhwc":
        return out.transpose(0, 2, 3, 1)
    return out.transpose(0, 1, 3, 2) if mistake == "swapped" else out


# ------------------------------------------------------------------------------------------
# Right answers pass, visible and hidden, with one line each


ALL_CHECKS = [
    (fc.check_fc_to_conv_shape, student_fc_to_conv),
    (fc.check_fc_to_conv_values, student_fc_to_conv),
    (fc.check_fc_to_conv_edge_cases, student_fc_to_conv),
    (fc.check_fc_to_conv_slides, student_fc_to_conv),
    (fc.check_score_map_size, student_score_map_size),
    (fc.check_crop_scores_shape, student_crop_scores),
    (fc.check_crop_scores_values, student_crop_scores),
]



def test_hidden_cases_differ_from_visible_ones():
    pairs = list(zip(fc._crop_cases(0 + 52), fc._crop_cases(HIDDEN + 52), strict=True))
    assert not any(np.array_equal(a.args[1], b.args[1]) for a, b in pairs)
    pairs = list(zip(fc._fc_cases(0 + 32), fc._fc_cases(HIDDEN + 32), strict=True))
    assert not any(np.array_equal(a.args[0], b.args[0]) for a, b in pairs)


# ------------------------------------------------------------------------------------------
# fc_to_conv


@pytest.mark.parametrize(("check", "mistake", "match"), [
    (fc.check_fc_to_conv_values, "HWC",
     r"weight reshaped in \(out, H, W, C\) order instead of torch's \(C, H, W\)"),
    (fc.check_fc_to_conv_slides, "HWC", r"weight reshaped in \(out, H, W, C\) order"),
    (fc.check_fc_to_conv_edge_cases, "HWC", r"weight reshaped in \(out, H, W, C\) order"),
    (fc.check_fc_to_conv_shape, "channels last", r"weight reshaped to \(out, H, W, C\)"),
    (fc.check_fc_to_conv_slides, "channels last", r"weight reshaped to \(out, H, W, C\)"),
    (fc.check_fc_to_conv_values, "CWH", r"height and width swapped"),
    (fc.check_fc_to_conv_values, "transposed", "weight transposed before reshaping"),
    (fc.check_fc_to_conv_slides, "transposed", "weight transposed before reshaping"),
])
def test_fc_to_conv_mistakes_are_named(check, mistake, match):
    _fails(check, lambda w, v: student_fc_to_conv(w, v, mistake=mistake), match)


def test_the_slides_check_compares_with_every_crop_of_the_original_network():
    # The check's own oracle: the original (FC) network evaluated crop by crop.
    params = fc._init_params(fc._SLIDE_NET, fc._SLIDE_INPUT, rng=0)
    image = np.random.default_rng(1).standard_normal((1, 2, 12, 14))
    crops = fc._every_crop(params, image)
    assert crops.shape == (1, 3, 3, 4)  # (12 - 8) / 2 + 1 = 3 rows, (14 - 8) / 2 + 1 = 4 columns
    crop = image[:, :, 2:10, 4:12]  # crop (1, 2)
    np.testing.assert_allclose(crops[:, :, 1, 2], fc._forward_spec(fc._SLIDE_NET, params, crop))
    slid = fc._slide_with(student_fc_to_conv, params, image)
    np.testing.assert_allclose(slid, crops, rtol=1e-10, atol=1e-12)


def test_fc_to_conv_calling_arch_earns_nothing():
    from cnncourse import arch

    for check in (fc.check_fc_to_conv_values, fc.check_fc_to_conv_slides):
        _fails(check, arch.fc_to_conv, r"^\[reference\] fc_to_conv")


# ------------------------------------------------------------------------------------------
# score_map_size and crop_scores


def test_the_visible_check_asks_the_seeds_vgg_question():
    # 224x224 VGG, total stride 32, on a 384x384 image: 12x12 features, 6x6 score vectors.
    assert student_score_map_size(384, 224, 32) == 6 == (384 // 32 - 224 // 32) + 1

    def wrong_on_vgg(image_size, input_size, total_stride):
        if (image_size, input_size, total_stride) == (384, 224, 32):
            return 7
        return student_score_map_size(image_size, input_size, total_stride)

    _fails(fc.check_score_map_size, wrong_on_vgg,
           r"for the case 'VGG-16 on a 384x384 image' .*expected 6, got 7")


@pytest.mark.parametrize(("mistake", "match"), [
    ("+1", r"the \+ 1 is missing"),
    ("feature map", r"feature-map size instead of score-map size"),
    ("stride", r"stride ignored \(one window per pixel\)"),
    ("float", "expected an int"),
])
def test_score_map_size_mistakes_are_named(mistake, match):
    _fails(fc.check_score_map_size, lambda *a: student_score_map_size(*a, mistake=mistake), match)


@pytest.mark.parametrize(("check", "mistake", "match"), [
    (fc.check_crop_scores_values, "stride ignored", r"crops taken every pixel \(stride ignored\)"),
    (fc.check_crop_scores_shape, "stride ignored", r"crops taken every pixel"),
    (fc.check_crop_scores_values, "starts not scaled", "crop starts not multiplied by the stride"),
    (fc.check_crop_scores_values, "last missing", "last crop position missing"),
    (fc.check_crop_scores_shape, "last missing", "last crop position missing"),
    (fc.check_crop_scores_values, "nhwc", r"score map in \(N, n_h, n_w, K\) layout"),
    (fc.check_crop_scores_shape, "swapped", "rows and columns of the score map swapped"),
])
def test_crop_scores_mistakes_are_named(check, mistake, match):
    _fails(check, lambda *a: student_crop_scores(*a, mistake=mistake), match)


def test_a_crop_of_the_wrong_size_is_explained_by_the_network():
    def wrong_crop(net, image, crop_size, stride):
        return student_crop_scores(net, image, crop_size - 1, stride)

    _fails(fc.check_crop_scores_values, wrong_crop, r"this network takes crops of shape")


def test_the_crop_network_is_an_fc_network_whose_conversion_slides():
    # _CropNet.score_map (the reference) is the FC network converted to convolutions: check it
    # against this file's crop loop and against an explicit FC evaluation of one crop.
    g = np.random.default_rng(5)
    net = fc._CropNet(g, 2, 3, 4, 3)
    image = g.standard_normal((2, 2, 9, 10))
    np.testing.assert_allclose(net.score_map(image, 2), student_crop_scores(net, image, 3, 2),
                               rtol=1e-12)
    crop = image[:, :, 2:5, 4:7].reshape(2, -1)
    hidden = np.maximum(crop @ net.w1.reshape(4, -1).T + net.b1, 0)
    np.testing.assert_allclose(net.score_map(image, 2)[:, :, 1, 2], hidden @ net.w2.T + net.b2,
                               rtol=1e-12)
    assert "2-layer network on 3x3 crops, 3 scores" in repr(net)


# ------------------------------------------------------------------------------------------
# Tampering


@pytest.mark.parametrize("attribute", ["check_fc_to_conv_values", "_fc_to_conv", "_SLIDE_NET"])
def test_replacing_a_check_or_its_reference_is_refused(attribute):
    match = rf"^\[tampered\] cnncourse.checks.fc_conversion.{attribute}"
    with pytest.raises(CheckFailure, match=match):
        setattr(fc, attribute, lambda *a, **k: None)
    _core._reset_tamper_log()


def test_replacing_the_reference_in_arch_is_tampering():
    from cnncourse import arch

    original = arch.fc_to_conv
    arch.fc_to_conv = student_fc_to_conv
    try:
        _fails(fc.check_fc_to_conv_values, student_fc_to_conv,
               r"^\[tampered\] cnncourse.arch.fc_to_conv was replaced")
    finally:
        arch.fc_to_conv = original
