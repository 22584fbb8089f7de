"""Checks for notebook 04_1x1_convolution, part 2: FC layers as convolutions that slide.

``fc_to_conv`` (filters, and a network converted with them slid over a larger image),
``score_map_size`` and ``crop_scores``. Part 1 (``conv1x1``, ``conv_cost``,
``bottleneck_cost``) is in ``cnncourse.checks.pointwise``; both register under the topic
``"04_1x1_convolution"``, with the same seed conventions and named mistakes.
"""

from __future__ import annotations

import functools

import numpy as np

from cnncourse import arch as _arch
from cnncourse.ops import conv as _conv

from . import _core, register
from ._core import Case, CheckFailure, Mistake, describe_case, run_exercise_check
from .pointwise import TOPIC, VISIBLE_SEED, _normal, _which

__all__ = [
    "check_crop_scores_shape",
    "check_crop_scores_values",
    "check_fc_to_conv_edge_cases",
    "check_fc_to_conv_shape",
    "check_fc_to_conv_slides",
    "check_fc_to_conv_values",
    "check_score_map_size",
]

# Bound now: the expected answers never depend on what the notebook does to these names later.
_conv2d = _conv.conv2d
_fc_to_conv = _arch.fc_to_conv
_init_params = _arch.init_params
_forward_spec = _arch.forward_spec
_convert_fc_to_conv = _arch.convert_fc_to_conv
_einsum = np.einsum
_maximum = np.maximum
_core.watch(_conv, ["conv2d"])
_core.watch(_arch, ["fc_to_conv", "init_params", "forward_spec", "convert_fc_to_conv"])


# ----------------------------------------------------------------------------------------------
# fc_to_conv


def _read_as(order: str, *, move_back: bool = True):
    """fc_to_conv reading each weight row in `order` (e.g. "HWC") instead of C, H, W."""
    def fn(linear_weight, input_volume_shape):
        w = np.asarray(linear_weight)
        size = dict(zip("CHW", input_volume_shape, strict=True))
        filters = w.reshape(w.shape[0], *(size[a] for a in order))
        return filters.transpose(0, *(1 + order.index(a) for a in "CHW")) if move_back else filters
    return fn


_FLATTEN_HINT = ("torch (and cnncourse) flatten a (C, H, W) volume in C, H, W order: feature "
                 "c*H*W + h*W + w is input[c, h, w]. So row o of the weight reshaped to (C, H, W) "
                 "is filter o: linear_weight.reshape(out_features, C, H, W).")
FC_TO_CONV_MISTAKES = [
    Mistake("weight reshaped in (out, H, W, C) order instead of torch's (C, H, W) flatten order",
            "You read each row channels-last, as a channels-last (Keras/TensorFlow) flatten "
            "would lay it out. " + _FLATTEN_HINT, _read_as("HWC")),
    Mistake("weight reshaped to (out, H, W, C): channels last",
            "Conv filters are (out_channels, C, H, W). " + _FLATTEN_HINT,
            _read_as("HWC", move_back=False)),
    Mistake("height and width swapped (weight read in (C, W, H) order)", _FLATTEN_HINT,
            _read_as("CWH")),
    Mistake("weight transposed before reshaping",
            "linear_weight is already (out_features, in_features), PyTorch's layout: row o is "
            "output o. Reshape it as it is, without .T. " + _FLATTEN_HINT,
            lambda linear_weight, v: np.asarray(linear_weight).T.reshape(-1, *v)),
]


def _fc_case(g, out, volume, label: str = "") -> Case:
    c, h, w = volume
    return Case((_normal(g, (out, c * h * w)), tuple(volume)), label=label)


def _fc_cases(seed: int) -> list[Case]:
    g = _core.rng(seed)
    cases = [_fc_case(g, 5, (3, 2, 4)), _fc_case(g, 3, (2, 4, 3))]
    for _ in range(2):
        c, h, w = (int(v) for v in g.permutation([2, 3, 4]) + g.integers(0, 2, size=3) * 3)
        cases.append(_fc_case(g, int(g.integers(1, 7)), (c, h, w)))
    return cases


def check_fc_to_conv_shape(fc_to_conv, seed: int = VISIBLE_SEED) -> None:
    """Are the filters (out_features, C, H, W)?"""
    __tracebackhide__ = True
    run_exercise_check(fc_to_conv, _fc_to_conv, _fc_cases(seed + 31), name="fc_to_conv shape",
                       mistakes=FC_TO_CONV_MISTAKES, values=False)


def check_fc_to_conv_values(fc_to_conv, seed: int = VISIBLE_SEED) -> None:
    """Is filter o row o of the weight in C, H, W order?"""
    __tracebackhide__ = True
    run_exercise_check(fc_to_conv, _fc_to_conv, _fc_cases(seed + 32),
                       name=f"fc_to_conv values ({_which(seed)} cases)",
                       mistakes=FC_TO_CONV_MISTAKES)


def check_fc_to_conv_edge_cases(fc_to_conv, seed: int = VISIBLE_SEED) -> None:
    """An FC after an FC (a (F, 1, 1) volume), one channel, one output, one feature."""
    __tracebackhide__ = True
    g = _core.rng(seed + 33)
    cases = [_fc_case(g, 4, (6, 1, 1), "(F, 1, 1) volume: an FC after an FC, a 1x1 conv"),
             _fc_case(g, 3, (1, 3, 5), "one input channel"),
             _fc_case(g, 1, (3, 2, 2), "one output feature"),
             _fc_case(g, 2, (1, 1, 1), "a single input feature"),
             _fc_case(g, 2, (4, 4, 4), "C == H == W")]
    run_exercise_check(fc_to_conv, _fc_to_conv, cases,
                       name=f"fc_to_conv edge cases ({_which(seed)} cases)",
                       mistakes=FC_TO_CONV_MISTAKES)


# The network of the sliding check: 8x8 input -> conv3 6x6 -> pool2 3x3 (total stride 2), then
# FC on the 4x3x3 volume -> relu -> FC. Unpadded, so a crop's features are a window of the image's.
_SLIDE_NET = (_arch.Conv(4, 3), _arch.ReLU(), _arch.Pool("max", 2), _arch.Flatten(),
              _arch.Linear(6), _arch.ReLU(), _arch.Linear(3))
_SLIDE_INPUT, _SLIDE_STRIDE = (2, 8, 8), 2
_SLIDE_FC = (("4.weight", "3.weight", (4, 3, 3)), ("6.weight", "5.weight", (6, 1, 1)))


def _slide(filters, params, image):
    """One pass of the converted network, its FC filters replaced by `filters`."""
    spec, conv_params = _convert_fc_to_conv(_SLIDE_NET, _SLIDE_INPUT, params)
    return _forward_spec(spec, {**conv_params, **filters}, image)


def _slide_with(fc_fn, params, image):
    return _slide({key: fc_fn(params[fc], volume) for fc, key, volume in _SLIDE_FC}, params, image)


def _every_crop(params, image):
    """The ORIGINAL network on every 8x8 crop, crops taken every 2 pixels."""
    (n, _, h, w), k, s = image.shape, _SLIDE_INPUT[1], _SLIDE_STRIDE
    out = np.zeros((n, 3, (h - k) // s + 1, (w - k) // s + 1))
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            out[:, :, i, j] = _forward_spec(_SLIDE_NET, params,
                                            image[:, :, i * s:i * s + k, j * s:j * s + k])
    return out


def check_fc_to_conv_slides(fc_to_conv, seed: int = VISIBLE_SEED) -> None:
    """Converted with your fc_to_conv, does one pass over a larger image give the score map of
    the original network evaluated on every crop, crops taken at the network's total stride?"""
    __tracebackhide__ = True
    name = f"fc_to_conv slides ({_which(seed)} cases)"
    _core.verify_untampered()
    g = _core.rng(seed + 34)
    params = _init_params(_SLIDE_NET, _SLIDE_INPUT, rng=g)
    image = _normal(g, (int(g.integers(1, 3)), 2, 12, 14) if seed == VISIBLE_SEED else
                    (int(g.integers(1, 3)), 2, int(g.integers(10, 17)), int(g.integers(10, 17))))
    filters = {}
    for fc, key, volume in _SLIDE_FC:
        case = Case((params[fc], volume), label=f"FC layer {fc.split('.')[0]} of the network")
        text = describe_case(_fc_to_conv, case)
        call = _core.call_student(fc_to_conv, *case.args, _name=name, _case=text)
        _core.verify_untampered()
        if call.reference_calls:
            raise CheckFailure(f"[reference] {name}: your function calls "
                               f"{', '.join(call.reference_calls[:3])}. Calling a library "
                               "implementation earns nothing here: write the reshape yourself.")
        expected = _fc_to_conv(*case.args)
        if not isinstance(call.result, np.ndarray) or call.result.shape != expected.shape:
            _core.compare(call.result, expected, name=name, case_description=text,
                          mistakes=FC_TO_CONV_MISTAKES, case=case)
        filters[key] = call.result
    slid = Case((image,), label=f"the 8x8 network of this check slid over {image.shape[2]}x"
                                f"{image.shape[3]} images")
    mistakes = [Mistake(m.name, m.hint, functools.partial(_slide_with, m.fn, params))
                for m in FC_TO_CONV_MISTAKES]
    _core.compare(_slide(filters, params, image), _every_crop(params, image), name=name,
                  case_description=describe_case(None, slid), mistakes=mistakes, case=slid,
                  rtol=1e-9, atol=1e-12)
    print(f"{name}: OK")


# ----------------------------------------------------------------------------------------------
# score_map_size and crop_scores


def _score_map_size(image_size, input_size, total_stride):
    return (image_size - input_size) // total_stride + 1


_WINDOWS = ("Count the positions of a window of the network's input size that moves by the total "
            "stride: (image_size - input_size) // total_stride + 1.")
SCORE_MAP_MISTAKES = [
    Mistake("the + 1 is missing", "The first window sits at 0 before any step. " + _WINDOWS,
            lambda i, n, s: (i - n) // s),
    Mistake("feature-map size instead of score-map size (image_size // total_stride)",
            "image_size // total_stride is the size of the last feature map (12 for VGG on 384); "
            "the score map counts where the input_size window fits in it. " + _WINDOWS,
            lambda i, n, s: i // s),
    Mistake("stride ignored (one window per pixel)",
            "The converted network moves by its total stride, not by one pixel. " + _WINDOWS,
            lambda i, n, s: i - n + 1),
]


def check_score_map_size(score_map_size, seed: int = VISIBLE_SEED) -> None:
    """The seed's VGG numbers (384 image, 224 network, stride 32: 6) and random sizes."""
    __tracebackhide__ = True
    g = _core.rng(seed + 41)
    cases = [Case((384, 224, 32), label="VGG-16 on a 384x384 image"),
             Case((12, 8, 2), label="an 8x8 digit network on a 12-pixel canvas")] if (
        seed == VISIBLE_SEED) else []
    for _ in range(4):
        s = int(g.choice([2, 4, 8, 16, 32]))
        n = s * int(g.integers(2, 9))
        cases.append(Case((n + s * int(g.integers(0, 9)) + int(g.integers(0, s)), n, s)))
    run_exercise_check(score_map_size, _score_map_size, cases,
                       name=f"score_map_size ({_which(seed)} cases)", mistakes=SCORE_MAP_MISTAKES)


class _CropNet:
    """An FC network on (N, C, k, k) crops, as the checks hand it to crop_scores.

    Its ``score_map`` is the same network converted to convolutions (fc_to_conv): the first FC
    becomes a k x k conv moved by `stride`, the second a 1x1 conv.
    """

    def __init__(self, g, channels: int, crop: int, hidden: int, classes: int):
        first = hidden or classes
        self.w1, self.b1 = _normal(g, (first, channels, crop, crop)), _normal(g, (first,))
        self.w2 = _normal(g, (classes, hidden)) if hidden else None
        self.b2 = _normal(g, (classes,)) if hidden else None

    def __call__(self, crops):
        crops = np.asarray(crops)
        if crops.ndim != 4 or crops.shape[1:] != self.w1.shape[1:]:
            c, k, _ = self.w1.shape[1:]
            raise ValueError(f"this network takes crops of shape (N, {c}, {k}, {k}), got "
                             f"{crops.shape}")
        z = _einsum("nchw,kchw->nk", crops, self.w1) + self.b1
        return z if self.w2 is None else _einsum("nk,ok->no", _maximum(z, 0), self.w2) + self.b2

    def score_map(self, image, stride):
        z = _conv2d(image, self.w1, self.b1, stride=stride)
        return z if self.w2 is None else _conv2d(_maximum(z, 0), self.w2[:, :, None, None],
                                                 self.b2)

    def __repr__(self):
        k, layers = self.w1.shape[-1], 1 if self.w2 is None else 2
        scores = len(self.b1 if self.w2 is None else self.b2)
        return f"<a {layers}-layer network on {k}x{k} crops, {scores} scores>"



def _crop_scores(net, image, crop_size, stride):
    return net.score_map(image, stride)


def _missing_last(net, image, crop_size, stride):
    h, w = np.shape(image)[-2:]
    nh, nw = len(range(0, h - crop_size, stride)), len(range(0, w - crop_size, stride))
    return net.score_map(image, stride)[..., :nh, :nw]


def _unscaled_starts(net, image, crop_size, stride):
    full = _crop_scores(net, image, crop_size, stride)
    return net.score_map(image, 1)[..., :full.shape[2], :full.shape[3]]


_CROP_HINT = ("Crop (i, j) is image[:, :, i*stride : i*stride + crop_size, j*stride : j*stride + "
              "crop_size], for i in range((H - crop_size) // stride + 1) (same for j); its scores "
              "go to out[:, :, i, j].")
CROP_MISTAKES = [
    Mistake("crops taken every pixel (stride ignored)", _CROP_HINT,
            lambda net, image, k, s: net.score_map(image, 1)),
    Mistake("crop starts not multiplied by the stride", _CROP_HINT, _unscaled_starts),
    Mistake("last crop position missing (range(0, H - crop_size, stride) stops one short)",
            _CROP_HINT, _missing_last),
    Mistake("score map in (N, n_h, n_w, K) layout instead of (N, K, n_h, n_w)",
            "Keep NCHW: out[n, k, i, j] is score k of crop (i, j) of image n.",
            lambda net, image, k, s: _crop_scores(net, image, k, s).transpose(0, 2, 3, 1)),
    Mistake("rows and columns of the score map swapped",
            "out[:, :, i, j]: i counts crops down the image (rows), j across (columns).",
            lambda net, image, k, s: _crop_scores(net, image, k, s).transpose(0, 1, 3, 2)),
]


def _crop_cases(seed: int) -> list[Case]:
    g = _core.rng(seed)
    cases = []
    for i, stride in enumerate((2, 3, 1, 2)):
        k = int(g.integers(3, 6))
        h, w = k + stride * int(g.integers(2, 5)), k + stride * int(g.integers(2, 5)) + i % 2
        net = _CropNet(g, int(g.integers(1, 4)), k, 0 if i == 2 else int(g.integers(3, 7)),
                       int(g.integers(2, 5)))
        cases.append(Case((net, _normal(g, (int(g.integers(1, 3)), net.w1.shape[1], h, w)), k,
                           stride)))
    return cases


def check_crop_scores_shape(crop_scores, seed: int = VISIBLE_SEED) -> None:
    """Is the score map (N, K, (H - k) // stride + 1, (W - k) // stride + 1)?"""
    __tracebackhide__ = True
    run_exercise_check(crop_scores, _crop_scores, _crop_cases(seed + 51)[:3],
                       name="crop_scores shape", mistakes=CROP_MISTAKES, values=False)


def check_crop_scores_values(crop_scores, seed: int = VISIBLE_SEED) -> None:
    """Does every crop's score vector equal the converted network's output at that position?"""
    __tracebackhide__ = True
    run_exercise_check(crop_scores, _crop_scores, _crop_cases(seed + 52),
                       name=f"crop_scores values ({_which(seed)} cases)", mistakes=CROP_MISTAKES,
                       rtol=1e-9, atol=1e-10)


register(TOPIC, "fc_to_conv", [check_fc_to_conv_shape, check_fc_to_conv_values,
                               check_fc_to_conv_edge_cases, check_fc_to_conv_slides])
register(TOPIC, "score_map_size", [check_score_map_size])
register(TOPIC, "crop_scores", [check_crop_scores_shape, check_crop_scores_values])
_core.protect(__name__)
