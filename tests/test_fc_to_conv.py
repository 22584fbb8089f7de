"""Does an FC head turned into convolutions slide the original network over a larger image?

The seed's story (a 224x224 VGG run once on 384x384 gives the 6x6 class scores of the 36 crops
taken every 32 pixels) is checked at a small size against PyTorch evaluating the ORIGINAL
network on every crop.
"""

from __future__ import annotations

import numpy as np
import pytest

from cnncourse.arch import (
    Conv,
    Dropout,
    Flatten,
    GlobalAvgPool,
    Inception,
    Linear,
    Pool,
    ReLU,
    Residual,
    alexnet,
    convert_fc_to_conv,
    fc_to_conv,
    forward_spec,
    init_params,
    output_shape,
    params_from_model,
    receptive_field,
    resnet_basic_block,
    spec_from_model,
    vgg16,
)


def _torch_forward(spec, params, x, torch, prefix=""):
    """The test's own evaluation of a spec with torch.nn.functional, in float64."""
    F = torch.nn.functional
    for i, layer in enumerate(spec):
        key = f"{prefix}{i}"
        w = torch.from_numpy(params[f"{key}.weight"]) if f"{key}.weight" in params else None
        b = torch.from_numpy(params[f"{key}.bias"]) if f"{key}.bias" in params else None
        if isinstance(layer, Conv):
            x = F.conv2d(x, w, b, layer.stride, layer.padding, layer.dilation, layer.groups)
        elif isinstance(layer, Pool):
            pool = F.max_pool2d if layer.kind == "max" else F.avg_pool2d
            x = pool(x, layer.kernel_size, layer.stride, layer.padding)
        elif isinstance(layer, Linear):
            x = F.linear(x, w, b)
        elif isinstance(layer, ReLU):
            x = F.relu(x)
        elif isinstance(layer, Flatten):
            x = x.flatten(1)
        elif isinstance(layer, GlobalAvgPool):
            x = F.adaptive_avg_pool2d(x, 1)
        elif isinstance(layer, Inception):
            x = torch.cat([_torch_forward(br, params, x, torch, f"{key}.branches.{j}.")
                           for j, br in enumerate(layer.branches)], dim=1)
        elif isinstance(layer, Residual):
            x = (_torch_forward(layer.body, params, x, torch, f"{key}.body.")
                 + _torch_forward(layer.shortcut, params, x, torch, f"{key}.shortcut."))
        else:
            assert isinstance(layer, Dropout)
    return x


@pytest.mark.parametrize("volume", [(1, 1, 1), (3, 2, 2), (2, 3, 5), (16, 5, 5)])
def test_fc_to_conv_reshapes_in_flatten_order(volume):
    c, h, w = volume
    weight = np.random.default_rng(0).standard_normal((4, c * h * w))
    filters = fc_to_conv(weight, volume)
    assert filters.shape == (4, c, h, w)
    for o in range(4):
        for ci in range(c):
            for hi in range(h):
                for wi in range(w):
                    assert filters[o, ci, hi, wi] == weight[o, ci * h * w + hi * w + wi]
    filters[0, 0, 0, 0] += 1.0
    assert filters[0, 0, 0, 0] != weight[0, 0], "the result must not alias the FC weight"


@pytest.mark.parametrize("n,volume", [(1, (3, 4, 4)), (5, (2, 3, 5))])
def test_fc_to_conv_computes_the_fc_layer(n, volume, torch):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((n, *volume))
    weight, bias = rng.standard_normal((6, int(np.prod(volume)))), rng.standard_normal(6)
    fc = torch.nn.functional.linear(torch.from_numpy(x).flatten(1), torch.from_numpy(weight),
                                    torch.from_numpy(bias))
    conv = torch.nn.functional.conv2d(torch.from_numpy(x),
                                      torch.from_numpy(fc_to_conv(weight, volume)),
                                      torch.from_numpy(bias))
    assert conv.shape == (n, 6, 1, 1)
    np.testing.assert_allclose(conv[:, :, 0, 0].numpy(), fc.numpy(), rtol=1e-12, atol=1e-12)


def test_fc_to_conv_errors():
    with pytest.raises(RuntimeError, match="has 12 input features.*holds 3\\*2\\*3 = 18"):
        fc_to_conv(np.zeros((4, 12)), (3, 2, 3))
    with pytest.raises(RuntimeError, match="expected linear_weight to be 2D"):
        fc_to_conv(np.zeros((4, 2, 3)), (1, 2, 3))
    with pytest.raises(TypeError, match="input_volume_shape must be a tuple \\(C, H, W\\)"):
        fc_to_conv(np.zeros((4, 6)), (6,))


# A small network in the seed's pattern, unpadded so that a crop's features are exactly a
# window of the big image's features: 32 -> conv3 30 -> pool 15 -> conv3 13 -> pool 6 (total
# stride 4), then FC on the 6x6x8 volume -> relu -> FC scores.
NET = [Conv(6, 3), ReLU(), Pool("max", 2), Conv(8, 3), ReLU(), Pool("max", 2),
       Flatten(), Linear(20), ReLU(), Dropout(0.5), Linear(5)]
PADDED = [Conv(6, 3, padding=1), ReLU(), Pool("max", 2), Conv(8, 3, padding=1), ReLU(),
          Pool("max", 2), Flatten(), Linear(20), ReLU(), Linear(5)]


def _crop_scores(spec, params, image, stride, torch):
    """Scores of the original network on every 32x32 crop taken every `stride` pixels."""
    n_pos = (image.shape[-1] - 32) // stride + 1
    out = np.empty((image.shape[0], 5, n_pos, n_pos))
    for i in range(n_pos):
        for j in range(n_pos):
            crop = torch.from_numpy(image[:, :, i * stride:i * stride + 32,
                                          j * stride:j * stride + 32].copy())
            out[:, :, i, j] = _torch_forward(spec, params, crop, torch).numpy()
    return out


def test_converted_network_slides_over_a_larger_image(torch):
    params = init_params(NET, (3, 32, 32), rng=0)
    conv_spec, conv_params = convert_fc_to_conv(NET, (3, 32, 32), params)
    assert [type(layer).__name__ for layer in conv_spec[6:]] == ["Conv", "ReLU", "Dropout", "Conv"]
    assert conv_spec[6].kernel_size == (6, 6) and conv_spec[9].kernel_size == (1, 1)
    stride = receptive_field(NET[:6])[-1].jump[0]  # cumulative stride of the feature extractor
    assert stride == 4
    image = np.random.default_rng(2).standard_normal((2, 3, 48, 48))
    score_map = forward_spec(conv_spec, conv_params, image)
    assert score_map.shape == (2, 5, 5, 5)  # (48 - 32)/4 + 1 = 5 positions per side
    np.testing.assert_allclose(score_map, _crop_scores(NET, params, image, stride, torch),
                               rtol=1e-10, atol=1e-12)
    # On the size the network was built for, the converted network is the original one.
    small = image[:, :, :32, :32]
    np.testing.assert_allclose(forward_spec(conv_spec, conv_params, small)[:, :, 0, 0],
                               forward_spec(NET, params, small), rtol=1e-12, atol=1e-12)


def test_zero_padding_breaks_the_exact_equivalence(torch):
    # A crop's border convs see zeros where the big image has real neighbours, so with padded
    # convs the seed's "identical result" holds only away from the crop borders.
    params = init_params(PADDED, (3, 32, 32), rng=0)
    conv_spec, conv_params = convert_fc_to_conv(PADDED, (3, 32, 32), params)
    image = np.random.default_rng(3).standard_normal((1, 3, 48, 48))
    score_map = forward_spec(conv_spec, conv_params, image)
    assert score_map.shape == (1, 5, 5, 5)
    crops = _crop_scores(PADDED, params, image, 4, torch)
    assert not np.allclose(score_map, crops, rtol=1e-6, atol=1e-6)


def test_the_seeds_numbers_for_vgg_and_alexnet():
    features = vgg16()[:31]  # up to pool5
    assert output_shape(features, (3, 224, 224)) == (512, 7, 7)  # 224/32 = 7
    assert output_shape(features, (3, 384, 384)) == (512, 12, 12)  # 384/32 = 12
    assert receptive_field(features)[-1].jump == (32, 32)
    conv_spec, none = convert_fc_to_conv(vgg16(), (3, 224, 224))
    assert none is None
    assert [layer.kernel_size for layer in conv_spec if isinstance(layer, Conv)][-3:] == [
        (7, 7), (1, 1), (1, 1)]
    assert output_shape(conv_spec, (3, 224, 224)) == (1000, 1, 1)
    assert output_shape(conv_spec, (3, 384, 384)) == (1000, 6, 6)  # (12 - 7)/1 + 1 = 6: 36 crops
    alex, _ = convert_fc_to_conv(alexnet(), (3, 227, 227))
    assert output_shape(alex, (3, 227 + 5 * 32, 227 + 5 * 32)) == (1000, 6, 6)


SPECS = {
    "inception-residual": ([Conv(4, 3, padding=1), ReLU(),
                            Inception(((Conv(2, 1),), (Conv(3, 3, padding=2, dilation=2), ReLU()),
                                       (Pool("avg", 3, 1, 1), Conv(1, 1, bias=False)))),
                            *resnet_basic_block(8, 2, 6), GlobalAvgPool(), Flatten(),
                            Linear(3)], (2, 3, 10, 9)),
    "grouped-rect": ([Conv(6, (3, 2), stride=(1, 2), groups=3), Pool("max", 2, 1), Flatten(),
                      Dropout(), Linear(4), ReLU(), Linear(2, bias=False)], (1, 3, 7, 8)),
}


@pytest.mark.parametrize("case", SPECS)
def test_forward_spec_matches_torch(case, torch):
    spec, shape = SPECS[case]
    params = init_params(spec, shape[1:], rng=4)
    x = np.random.default_rng(5).standard_normal(shape)
    expected = _torch_forward(spec, params, torch.from_numpy(x), torch).numpy()
    np.testing.assert_allclose(forward_spec(spec, params, x), expected, rtol=1e-10, atol=1e-12)


def test_init_params_is_seeded_and_bounded():
    a, b = init_params(NET, (3, 32, 32), rng=7), init_params(NET, (3, 32, 32), rng=7)
    assert a.keys() == b.keys() == {"0.weight", "0.bias", "3.weight", "3.bias", "7.weight",
                                     "7.bias", "10.weight", "10.bias"}
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert np.abs(a["7.weight"]).max() <= 1 / np.sqrt(8 * 6 * 6)
    assert init_params(NET, (3, 32, 32), dtype=np.float32)["0.weight"].dtype == np.float32


def test_forward_spec_reports_missing_and_unused_parameters():
    params = init_params(NET, (3, 32, 32), rng=0)
    x = np.zeros((1, 3, 32, 32))
    with pytest.raises(KeyError, match="'3.weight' for layer 3 \\(CONV3-8\\)"):
        forward_spec(NET, {k: v for k, v in params.items() if k != "3.weight"}, x)
    with pytest.raises(ValueError, match="keys no layer uses: \\['99.weight'\\]"):
        forward_spec(NET, {**params, "99.weight": np.zeros(1)}, x)


def test_nn_model_runs_the_same_as_its_spec():
    nn = pytest.importorskip("cnncourse.nn")
    model = nn.Sequential(nn.Conv2d(1, 4, 3, rng=0, dtype=np.float64), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(4 * 3 * 3, 3, rng=1, dtype=np.float64)).eval()
    x = np.random.default_rng(6).standard_normal((2, 1, 8, 8))
    spec, params = spec_from_model(model), params_from_model(model)
    np.testing.assert_allclose(forward_spec(spec, params, x), model(x), rtol=1e-12)
    conv_spec, conv_params = convert_fc_to_conv(spec, (1, 8, 8), params)
    big = np.random.default_rng(7).standard_normal((1, 1, 12, 12))
    scores = forward_spec(conv_spec, conv_params, big)  # total stride 2: (12 - 8)/2 + 1 = 3
    assert scores.shape == (1, 3, 3, 3)
    np.testing.assert_allclose(scores[:, :, 1, 2], model(big[:, :, 2:10, 4:12]), rtol=1e-10)
