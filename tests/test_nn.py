"""Do the nn modules, optimisers and training loop behave like their PyTorch counterparts?

Oracles: torch.nn modules with the same weights in float64, torch.optim step by step,
centred finite differences (cnncourse.gradcheck), and the initialisation formulas.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from cnncourse import nn
from cnncourse.gradcheck import gradcheck

torch = pytest.importorskip("torch")
F64 = np.float64


def _t(a):
    return torch.tensor(np.asarray(a, dtype=F64))


def _np(t):
    return t.detach().numpy()


def _to_torch(module):
    """The same layer in torch (float64), with our module's weights copied in."""
    tnn = torch.nn
    if isinstance(module, nn.Sequential):
        return tnn.Sequential(*[_to_torch(m) for m in module])
    if isinstance(module, nn.Conv2d):
        t = tnn.Conv2d(module.in_channels, module.out_channels, module.kernel_size, module.stride,
                       module.padding, module.dilation, module.groups, module.bias is not None,
                       dtype=torch.float64)
    elif isinstance(module, nn.Linear):
        t = tnn.Linear(module.in_features, module.out_features, module.bias is not None,
                       dtype=torch.float64)
    elif isinstance(module, nn.MaxPool2d):
        return tnn.MaxPool2d(module.kernel_size, module.stride, module.padding, module.dilation,
                             ceil_mode=module.ceil_mode)
    elif isinstance(module, nn.AvgPool2d):
        return tnn.AvgPool2d(module.kernel_size, module.stride, module.padding, module.ceil_mode,
                             module.count_include_pad)
    elif isinstance(module, nn.ReLU):
        return tnn.ReLU()
    elif isinstance(module, nn.Flatten):
        return tnn.Flatten(module.start_dim, module.end_dim)
    else:
        raise TypeError(type(module))
    with torch.no_grad():
        t.weight.copy_(_t(module.weight.data))
        if module.bias is not None:
            t.bias.copy_(_t(module.bias.data))
    return t


def lenet(rng, dtype=F64, channels=(4, 6)):
    c1, c2 = channels
    return nn.Sequential(
        nn.Conv2d(1, c1, 3, padding=1, rng=rng, dtype=dtype), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(c1, c2, 3, padding=1, rng=rng, dtype=dtype), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(c2 * 2 * 2, 10, rng=rng, dtype=dtype),
    )


# (module factory, input shape); every case has a batch, channels and a non-trivial geometry.
CASES = {
    "conv-basic": (lambda r: nn.Conv2d(1, 2, 3, rng=r, dtype=F64), (1, 1, 5, 5)),
    "conv-stride-pad-rect": (lambda r: nn.Conv2d(3, 4, (3, 2), stride=2, padding=(1, 2), rng=r,
                                                  dtype=F64), (2, 3, 7, 6)),
    "conv-dilation-groups-nobias": (lambda r: nn.Conv2d(4, 6, 3, dilation=2, groups=2, bias=False,
                                                         rng=r, dtype=F64), (3, 4, 8, 9)),
    "conv-same": (lambda r: nn.Conv2d(2, 3, (3, 4), padding="same", rng=r, dtype=F64),
                  (2, 2, 5, 6)),
    "maxpool-overlap-pad": (lambda r: nn.MaxPool2d(3, stride=2, padding=1), (2, 3, 7, 6)),
    "maxpool-default": (lambda r: nn.MaxPool2d(2), (3, 2, 6, 8)),
    "avgpool-pad-exclude": (lambda r: nn.AvgPool2d(3, 2, 1, count_include_pad=False),
                            (2, 3, 7, 6)),
    "avgpool-default": (lambda r: nn.AvgPool2d((2, 3)), (1, 2, 4, 9)),
    "relu": (lambda r: nn.ReLU(), (2, 3, 4, 5)),
    "flatten": (lambda r: nn.Flatten(), (2, 3, 4, 5)),
    "flatten-middle": (lambda r: nn.Flatten(1, 2), (2, 3, 4, 5)),
    "linear": (lambda r: nn.Linear(7, 5, rng=r, dtype=F64), (4, 7)),
    "linear-3d-nobias": (lambda r: nn.Linear(3, 2, bias=False, rng=r, dtype=F64), (2, 4, 3)),
    "lenet": (lenet, (3, 1, 8, 8)),
}


@pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")
@pytest.mark.parametrize("case", CASES)
def test_forward_and_backward_match_torch_in_float64(case):
    factory, shape = CASES[case]
    rng = np.random.default_rng(0)
    ours = factory(rng)
    theirs = _to_torch(ours)
    x = rng.standard_normal(shape)
    out = ours(x)
    xt = _t(x).requires_grad_(True)
    out_t = theirs(xt)
    np.testing.assert_allclose(out, _np(out_t), rtol=1e-10, atol=1e-12)
    g = rng.standard_normal(out.shape)
    dx = ours.backward(g)
    out_t.backward(_t(g))
    np.testing.assert_allclose(dx, _np(xt.grad), rtol=1e-10, atol=1e-12)
    ours_grads = {name: p.grad for name, p in ours.named_parameters()}
    torch_grads = {name: _np(p.grad) for name, p in theirs.named_parameters()}
    assert ours_grads.keys() == torch_grads.keys()
    for name, grad in ours_grads.items():
        np.testing.assert_allclose(grad, torch_grads[name], rtol=1e-10, atol=1e-12,
                                   err_msg=f"gradient of {name}")


def _set_params(module, values):
    for p, v in zip(module.parameters(), values):
        p.data = v


# Smaller than CASES: finite differences evaluate the forward twice per input element.
GRAD_CASES = {
    "conv-stride-pad-rect": (lambda r: nn.Conv2d(2, 3, (3, 2), stride=2, padding=(1, 2), rng=r,
                                                  dtype=F64), (2, 2, 5, 4)),
    "conv-dilation-groups": (lambda r: nn.Conv2d(4, 2, 2, dilation=2, groups=2, rng=r,
                                                  dtype=F64), (1, 4, 4, 5)),
    "maxpool-overlap-pad": CASES["maxpool-overlap-pad"],
    "avgpool-pad-exclude": CASES["avgpool-pad-exclude"],
    "linear": CASES["linear"],
    "lenet": (lenet, (2, 1, 8, 8)),
}


@pytest.mark.parametrize("case", GRAD_CASES)
def test_backward_matches_finite_differences(case):
    factory, shape = GRAD_CASES[case]
    rng = np.random.default_rng(1)
    module = factory(rng)
    params = [p.data.copy() for p in module.parameters()]
    # A random permutation of spaced values: no max-pool ties, no ReLU input near its kink.
    x = (rng.permutation(math.prod(shape)) / 4.0 - math.prod(shape) / 8.0 + 0.1).reshape(shape)

    def f(x, *ps):
        _set_params(module, ps)
        return module(x)

    def analytic(g):
        _set_params(module, [p.copy() for p in params])
        for p in module.parameters():
            p.grad = None
        module(x)
        dx = module.backward(g)
        return [dx] + [p.grad for p in module.parameters()]

    assert gradcheck(f, [x, *params], analytic, rtol=1e-5, atol=1e-6)


def test_parameter_gradients_accumulate_like_torch():
    rng = np.random.default_rng(2)
    ours = nn.Linear(3, 2, rng=rng, dtype=F64)
    theirs = _to_torch(ours)
    for _ in range(2):
        x, g = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
        ours(x)
        ours.backward(g)
        theirs(_t(x)).backward(_t(g))
    np.testing.assert_allclose(ours.weight.grad, _np(theirs.weight.grad), rtol=1e-12)


@pytest.mark.parametrize("p", [0.2, 0.5, 0.9])
def test_dropout_zeroes_a_fraction_p_and_scales_the_rest(p):
    x = np.random.default_rng(3).uniform(1, 2, size=(50, 40, 10))
    layer = nn.Dropout(p, rng=4)
    out = layer(x)
    kept = out != 0
    assert abs(1 - kept.mean() - p) < 0.02, "fraction zeroed should be about p"
    np.testing.assert_allclose(out[kept], x[kept] / (1 - p), rtol=1e-12)
    g = np.random.default_rng(5).standard_normal(x.shape)
    np.testing.assert_allclose(layer.backward(g), np.where(kept, g / (1 - p), 0.0), rtol=1e-12)
    layer.eval()
    assert np.array_equal(layer(x), x) and np.array_equal(layer.backward(g), g)


def test_dropout_extremes_and_dtype():
    x = np.ones((4, 5), dtype=np.float32)
    assert np.array_equal(nn.Dropout(0.0)(x), x)
    out = nn.Dropout(1.0)(x)
    assert out.dtype == np.float32 and not out.any()
    with pytest.raises(ValueError, match="between 0 and 1, but got 1.5"):
        nn.Dropout(1.5)


INIT_CASES = {  # ours, torch's, fan_in
    "conv": (lambda: nn.Conv2d(64, 96, 3, rng=0), lambda: torch.nn.Conv2d(64, 96, 3), 64 * 9),
    "conv-groups": (lambda: nn.Conv2d(32, 64, (5, 3), groups=4, rng=0),
                    lambda: torch.nn.Conv2d(32, 64, (5, 3), groups=4), 8 * 15),
    "linear": (lambda: nn.Linear(800, 300, rng=0), lambda: torch.nn.Linear(800, 300), 800),
}


@pytest.mark.parametrize("case", INIT_CASES)
def test_initialisation_follows_pytorch(case):
    make, make_torch, fan_in = INIT_CASES[case]
    layer = make()
    bound = 1 / math.sqrt(fan_in)
    w, b = layer.weight.data, layer.bias.data
    assert w.dtype == np.float32 and b.dtype == np.float32
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    # U(-b, b) has std b/sqrt(3): kaiming_uniform_(a=sqrt(5)) gives gain*sqrt(3/fan_in) = b.
    assert w.std() == pytest.approx(bound / math.sqrt(3), rel=0.02)
    assert abs(w.mean()) < 0.02 * bound
    assert np.abs(w).max() > 0.99 * bound  # the whole interval is used
    torch.manual_seed(0)
    ref = make_torch()
    assert tuple(ref.weight.shape) == w.shape
    assert w.std() == pytest.approx(ref.weight.detach().double().std().item(), rel=0.03)
    assert np.abs(b).max() > 0.5 * bound


def test_initialisation_is_reproducible_and_seedable():
    a, b = nn.Linear(5, 3, rng=np.random.default_rng(7)), nn.Linear(5, 3, rng=7)
    assert np.array_equal(a.weight.data, b.weight.data)
    nn.manual_seed(11)
    c = nn.Conv2d(2, 3, 3)
    nn.manual_seed(11)
    d = nn.Conv2d(2, 3, 3)
    e = nn.Conv2d(2, 3, 3)
    assert np.array_equal(c.weight.data, d.weight.data)
    assert not np.array_equal(d.weight.data, e.weight.data)
    assert nn.Linear(2, 2, dtype=np.float64).weight.data.dtype == np.float64


def test_repr_matches_torch():
    model = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.AvgPool2d(2),
        nn.Flatten(), nn.Linear(128, 10),
        nn.Sequential(nn.ReLU(), nn.Conv2d(4, 8, (3, 2), stride=2, dilation=2, groups=2,
                                           bias=False)),
        nn.Conv2d(2, 2, 3, padding="same"),
    )
    assert repr(model) == repr(_to_torch(model))
    assert repr(nn.Dropout(0.25)) == repr(torch.nn.Dropout(0.25)).replace(", inplace=False", "")
    assert repr(nn.Sequential()) == repr(torch.nn.Sequential())


def test_parameters_train_eval_and_to():
    model = nn.Sequential(lenet(0), nn.Dropout(0.1))
    theirs = _to_torch(model[0])
    names = [n for n, _ in model.named_parameters()]
    assert names == ["0." + n for n, _ in theirs.named_parameters()]
    assert sum(p.data.size for p in model.parameters()) == sum(p.numel() for p in theirs.parameters())
    model.eval()
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())
    model.to(np.float32)
    assert all(p.data.dtype == np.float32 for p in model.parameters())


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="in_channels must be divisible by groups"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="out_channels must be divisible by groups"):
        nn.Conv2d(4, 3, 3, groups=2)
    with pytest.raises(RuntimeError, match="Linear.backward was called before forward"):
        nn.Linear(2, 2).backward(np.zeros((1, 2)))
    with pytest.raises(TypeError, match="argument 1 must be a Module"):
        nn.Sequential(nn.ReLU(), lambda x: x)
    with pytest.raises(TypeError, match="dtype must be float32 or float64"):
        nn.Linear(2, 2, dtype=np.int32)
    with pytest.raises(ValueError, match="empty parameter list"):
        nn.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="Invalid learning rate: -1"):
        nn.SGD(nn.Linear(2, 2).parameters(), lr=-1)
    with pytest.raises(ValueError, match="Invalid beta parameter at index 1"):
        nn.Adam(nn.Linear(2, 2).parameters(), betas=(0.9, 1.0))


# ---------------------------------------------------------------- optimisers vs torch.optim

OPTIMISERS = {
    "sgd": (nn.SGD, torch.optim.SGD, {"lr": 0.1}),
    "sgd-momentum": (nn.SGD, torch.optim.SGD, {"lr": 0.05, "momentum": 0.9}),
    "sgd-momentum-wd-dampening": (nn.SGD, torch.optim.SGD,
                                  {"lr": 0.05, "momentum": 0.8, "weight_decay": 0.1, "dampening": 0.3}),
    "sgd-nesterov": (nn.SGD, torch.optim.SGD, {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    "adam": (nn.Adam, torch.optim.Adam, {"lr": 0.1}),
    "adam-betas-wd": (nn.Adam, torch.optim.Adam,
                      {"lr": 0.05, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.05}),
}


@pytest.mark.parametrize("name", OPTIMISERS)
def test_optimiser_steps_match_torch_on_a_quadratic(name):
    ours_cls, torch_cls, kwargs = OPTIMISERS[name]
    rng = np.random.default_rng(8)
    m = rng.standard_normal((4, 4))
    a = m @ m.T + np.eye(4)  # positive definite
    b = rng.standard_normal(4)
    theta0 = [rng.standard_normal(4), rng.standard_normal(4)]
    ours = [nn.Parameter(t.copy(), "theta") for t in theta0]
    theirs = [_t(t).requires_grad_(True) for t in theta0]
    opt, opt_t = ours_cls(ours, **kwargs), torch_cls(theirs, **kwargs)
    for step in range(8):
        opt.zero_grad()
        opt_t.zero_grad()
        for p, pt in zip(ours, theirs):
            p.grad = a @ p.data - b  # gradient of 0.5 x^T A x - b^T x
            (0.5 * pt @ _t(a) @ pt - _t(b) @ pt).backward()
        opt.step()
        opt_t.step()
        for p, pt in zip(ours, theirs):
            np.testing.assert_allclose(p.data, _np(pt), rtol=1e-12, atol=1e-14,
                                       err_msg=f"after step {step + 1}")


def test_optimiser_skips_parameters_without_gradient_and_keeps_float32():
    p, q = nn.Parameter(np.ones(3, np.float32)), nn.Parameter(np.ones(3, np.float32))
    p.grad = np.full(3, 0.5, np.float32)
    for opt in (nn.SGD([p, q], lr=0.1, momentum=0.9), nn.Adam([p, q])):
        opt.step()
    assert np.array_equal(q.data, np.ones(3)) and p.data.dtype == np.float32
    assert (p.data < 1).all()


# ---------------------------------------------------------------- training loop

@pytest.fixture(scope="module")
def digits():
    from cnncourse.data import load_digits

    return load_digits()


def _train(digits, seed, epochs=2, n=400, progress=False):
    x_train, y_train, x_test, y_test = digits
    model = lenet(np.random.default_rng(seed), dtype=np.float32, channels=(8, 16))
    return model, nn.fit(model, x_train[:n], y_train[:n], epochs=epochs, batch_size=32,
                         optimizer=nn.SGD(model.parameters(), lr=0.1, momentum=0.9),
                         x_val=x_test, y_val=y_test, seed=seed, progress=progress)


def test_fit_is_deterministic_for_a_seed(digits):
    _, h1 = _train(digits, seed=0)
    _, h2 = _train(digits, seed=0)
    model = lenet(np.random.default_rng(0), dtype=np.float32, channels=(8, 16))
    h3 = nn.fit(model, digits[0][:400], digits[1][:400], epochs=2, batch_size=32,
                optimizer=nn.SGD(model.parameters(), lr=0.1, momentum=0.9),
                x_val=digits[2], y_val=digits[3], seed=1, progress=False)
    d1, d2, d3 = h1.as_dict(), h2.as_dict(), h3.as_dict()
    for d in (d1, d2, d3):
        del d["time"]
    assert d1 == d2
    # Same initial weights, another seed: only the batch order differs, and that shows.
    assert d1["train_loss"] != d3["train_loss"]
    assert set(d1) == {"train_loss", "train_accuracy", "val_loss", "val_accuracy"}
    assert all(len(v) == 2 for v in d1.values()) and len(h1.time) == 2


def test_fit_shows_a_progress_bar_with_loss_and_accuracy(digits, capsys):
    _train(digits, seed=0, epochs=1, n=64, progress=True)
    err = capsys.readouterr().err
    assert "epoch 1/1" in err and "loss=" in err and "acc=" in err and "val_acc=" in err


def test_training_on_digits_learns(digits):
    _, hist = _train(digits, seed=0, epochs=3, n=len(digits[0]))
    # Measured: test accuracy 0.92-0.94 after 3 epochs for seeds 0-2 (chance is 0.1).
    assert hist.val_accuracy[-1] > 0.85
    assert hist.train_loss[2] < hist.train_loss[1] < hist.train_loss[0]
    assert hist.val_loss[-1] < math.log(10)  # better than uniform guessing


def test_evaluate_and_predict_match_torch(digits):
    model, _ = _train(digits, seed=0, epochs=1)
    model.to(np.float64)
    x, y = digits[2].astype(F64), digits[3]
    loss, acc = nn.evaluate(model, x, y, batch_size=100)
    theirs = _to_torch(model)
    logits = theirs(_t(x))
    assert loss == pytest.approx(torch.nn.functional.cross_entropy(logits, torch.tensor(y)).item(),
                                 rel=1e-10)
    pred = _np(logits.argmax(1))
    assert np.array_equal(nn.predict(model, x, batch_size=77), pred)
    assert acc == pytest.approx(np.mean(pred == y))


def test_fit_rejects_bad_arguments(digits):
    x, y = digits[0][:10], digits[1][:10]
    model = lenet(0, dtype=np.float32)
    opt = nn.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="same number of samples, got 10 and 9"):
        nn.fit(model, x, y[:9], epochs=1, optimizer=opt, progress=False)
    with pytest.raises(ValueError, match="epochs must be a positive int, got 0"):
        nn.fit(model, x, y, epochs=0, optimizer=opt, progress=False)
    with pytest.raises(ValueError, match="give both x_val and y_val"):
        nn.fit(model, x, y, epochs=1, optimizer=opt, x_val=x, progress=False)


@pytest.mark.parametrize("kwargs", [{"kernel_size": 2}, {"kernel_size": 3, "stride": 2,
                                                          "padding": 1}])
def test_maxpool_layer_switches_match_recomputing_them_and_torch(torch, kwargs):
    # In training the layer records the switches in its forward pass; in eval mode backward
    # finds them again from the saved input. Ties everywhere (small integers, many zeros as
    # after a ReLU) so that "the first maximum of each window" is really tested.
    rng = np.random.default_rng(3)
    x = np.maximum(rng.integers(-2, 3, size=(2, 3, 7, 6)), 0).astype(np.float64)
    g = None
    grads = {}
    for mode in ("train", "eval"):
        layer = nn.MaxPool2d(**kwargs)
        layer.train(mode == "train")
        out = layer(x)
        g = rng.standard_normal(out.shape) if g is None else g
        grads[mode] = layer.backward(g)
    xt = torch.from_numpy(x).requires_grad_(True)
    torch.nn.functional.max_pool2d(xt, **kwargs).backward(torch.from_numpy(g))
    np.testing.assert_array_equal(grads["train"], grads["eval"])
    np.testing.assert_allclose(grads["train"], xt.grad.numpy(), rtol=1e-12, atol=1e-12)


class _Doubler(nn.Module):
    """A module written the simple way, without backward's input_grad argument."""

    def forward(self, x):
        self._input = x
        return 2 * x

    def backward(self, grad_output):
        return 2 * grad_output


@pytest.mark.parametrize("first", ["conv", "custom"])
def test_sequential_backward_can_skip_the_first_layers_input_gradient(first):
    rng = np.random.default_rng(4)
    layers = [nn.Conv2d(1, 3, 3, padding=1, rng=rng, dtype=F64), nn.ReLU(), nn.Flatten(),
              nn.Linear(3 * 5 * 5, 2, rng=rng, dtype=F64)]
    model = nn.Sequential(*([_Doubler()] if first == "custom" else []), *layers)
    x = rng.standard_normal((2, 1, 5, 5))
    g = rng.standard_normal(model(x).shape)
    full = model.backward(g)
    grads = [p.grad.copy() for p in model.parameters()]
    for p in model.parameters():
        p.grad = None
    skipped = model.backward(g, input_grad=False)
    if first == "conv":
        assert skipped is None  # the convolution did not compute it
    else:
        np.testing.assert_array_equal(skipped, full)  # a module without the argument still runs
    for p, want in zip(model.parameters(), grads):
        np.testing.assert_array_equal(p.grad, want)


@pytest.mark.parametrize("shape, kwargs", [
    ((4, 2, 5, 5), {"padding": 1}),                       # small images: columns side by side
    ((3, 2, 12, 20), {"stride": (1, 2), "dilation": 2}),   # 8x8 outputs: per image
    ((2, 4, 6, 6), {"groups": 2, "bias": False}),
])
@pytest.mark.parametrize("chunk", [None, 1])
def test_conv_layer_reuses_its_forward_columns_only_when_they_are_kept(monkeypatch, shape,
                                                                        kwargs, chunk):
    # In training Conv2d keeps the forward pass's im2col columns for the weight gradient (when
    # one chunk holds the batch; chunk=1 forces several). Gradients must not depend on it.
    from cnncourse.ops import conv as conv_module

    if chunk is not None:
        monkeypatch.setattr(conv_module, "_CHUNK_ELEMENTS", chunk)
    rng = np.random.default_rng(5)
    x = rng.standard_normal(shape)
    results = {}
    for mode in ("train", "eval"):
        layer = nn.Conv2d(shape[1], 4, 3, rng=np.random.default_rng(6), dtype=F64, **kwargs)
        layer.train(mode == "train")
        out = layer(x)
        assert (layer._columns is not None) == (mode == "train" and chunk is None)
        g = np.random.default_rng(7).standard_normal(out.shape)
        dx = layer.backward(g)
        results[mode] = [out, dx] + [p.grad for p in layer.parameters()]
    for got, want in zip(results["train"], results["eval"]):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
