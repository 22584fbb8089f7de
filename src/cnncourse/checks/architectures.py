"""Checks for notebook 05_architectures, part 1: layer patterns, the VGG-16 table, 3x3 stacks
and memory budgets. Part 2 (``conv2d_backward``) is in ``cnncourse.checks.conv_backward``; both
register under the topic ``"05_architectures"``.

The references are ``cnncourse.arch`` (``expand_pattern``, ``summary``,
``stack_vs_single_params``). Layer lists and tables are compared exactly, entry by entry;
tuples of counts are checked one component at a time (``_component``), each with the mistakes
that show in that component.

A fact the notebook teaches: the rows of the course's VGG-16 table add up to 15,237,608
activations (58.1 MiB per image in float32); the "24M" of the table's total line does not
follow from them.
"""

from __future__ import annotations

import numbers

import numpy as np

from cnncourse import arch as _arch

from . import _core, register
from ._core import Case, CheckFailure, Mistake, run_exercise_check
from ._structured import check_components, named_mistake, run_exact

__all__ = [
    "check_expand_pattern_examples",
    "check_expand_pattern_values",
    "check_layer_table_counts",
    "check_layer_table_shapes",
    "check_layer_table_vgg16",
    "check_stack_vs_single",
    "check_training_memory",
]

TOPIC = "05_architectures"
VISIBLE_SEED = 0
PATTERN = "INPUT -> [[CONV -> RELU]*N -> POOL?]*M -> [FC -> RELU]*K -> FC"

# Bound now: the expected answers never depend on what the notebook does to these names later.
_expand_pattern = _arch.expand_pattern
_summary = _arch.summary
_stack_vs_single_params = _arch.stack_vs_single_params
_Conv, _Pool, _Flatten, _Linear = _arch.Conv, _arch.Pool, _arch.Flatten, _arch.Linear
_core.watch(_arch, ["expand_pattern", "summary", "stack_vs_single_params", "Conv", "Pool",
                    "Flatten", "Linear"])

#: VGG-16 in the notebook's tuple notation: ("conv", out, k, stride, pad), ("pool", k, stride),
#: ("fc", out). ReLUs work in place and have no parameters, so the table has no rows for them.
VGG16_LAYERS = tuple(("pool", 2, 2) if v == "M" else ("conv", v, 3, 1, 1)
                     for v in _arch.VGG16_CONFIG) + (("fc", 4096), ("fc", 4096), ("fc", 1000))


def _which(seed: int) -> str:
    return "visible" if seed == VISIBLE_SEED else "hidden"


# ----------------------------------------------------------------------------------------------
# expand_pattern(n, m, k, pool=True)


def _expand(n, m, k, pool=True):
    return _expand_pattern(PATTERN, {"N": n, "M": m, "K": k}, bool(pool))


def _names(n, m, k, pool=True, *, first=("INPUT",), last=("FC",), per_conv=False, pairs=None):
    """The pattern written out by hand, with switches for the mistakes below."""
    tail = ["POOL"] if pool else []
    block = (["CONV", "RELU"] + tail) * n if per_conv else ["CONV", "RELU"] * n + tail
    return [*first, *block * m, *["FC", "RELU"] * (k if pairs is None else pairs), *last]


_PATTERN_HINT = f"The pattern is {PATTERN}."
PATTERN_MISTAKES = [
    Mistake("INPUT missing", "The list starts with 'INPUT', the layer that holds the image.",
            lambda n, m, k, pool=True: _names(n, m, k, pool, first=())),
    Mistake("last FC missing (the output layer)",
            "After the K pairs [FC -> RELU] comes one more FC: the layer of class scores. "
            + _PATTERN_HINT, lambda n, m, k, pool=True: _names(n, m, k, pool, last=())),
    Mistake("RELU after the last FC",
            "The last FC gives the class scores and has no RELU after it. " + _PATTERN_HINT,
            lambda n, m, k, pool=True: _names(n, m, k, pool, last=("FC", "RELU"))),
    Mistake("K counts every FC layer (one [FC -> RELU] pair too few)",
            "K counts the [FC -> RELU] pairs; the final FC comes on top: K + 1 FC layers.",
            lambda n, m, k, pool=True: _names(n, m, k, pool, pairs=k - 1) if k else None),
    Mistake("POOL after every CONV -> RELU instead of after each group of N",
            "[[CONV -> RELU]*N -> POOL?]*M: the N pairs come first, then one POOL, and that "
            "whole block repeats M times.",
            lambda n, m, k, pool=True: _names(n, m, k, pool, per_conv=True)),
    Mistake("N and M swapped",
            "N is the number of CONV -> RELU pairs inside a block, M the number of blocks.",
            lambda n, m, k, pool=True: _names(m, n, k, pool)),
    Mistake("POOL added although pool=False",
            "POOL? is optional: with pool=False the blocks have no POOL.",
            lambda n, m, k, pool=True: None if pool else _names(n, m, k, True)),
    Mistake("POOL left out although pool=True",
            "With pool=True every block of N CONV -> RELU pairs ends with a POOL.",
            lambda n, m, k, pool=True: _names(n, m, k, False) if pool else None),
    Mistake("lower-case layer names",
            "Write the names as the notation does: 'INPUT', 'CONV', 'RELU', 'POOL', 'FC'.",
            lambda n, m, k, pool=True: [s.lower() for s in _names(n, m, k, pool)]),
]


def _compare_names(name: str):
    def compare(got, expected, case, where):
        __tracebackhide__ = True
        if not isinstance(got, (list, tuple)) or not all(isinstance(s, str) for s in got):
            raise CheckFailure(f"{name}: expected a list of layer names (str, such as 'CONV'), "
                               f"got {f'{type(got).__name__} {got!r}'[:80]}{where}.")
        got = list(got)
        if got == expected:
            return
        found = named_mistake(got, expected, PATTERN_MISTAKES, case)
        if found is not None:
            raise CheckFailure(f"{name}: {found.name}{where}. {found.hint}")
        i = next(i for i in range(len(got) + 1)
                 if i == len(got) or i == len(expected) or got[i] != expected[i])
        want = repr(expected[i]) if i < len(expected) else "the end of the list"
        have = repr(got[i]) if i < len(got) else "the end of the list"
        raise CheckFailure(
            f"{name}: wrong layers{where}: expected {len(expected)} layers "
            f"{' -> '.join(expected)}, got {len(got)}: {' -> '.join(got)}. First difference "
            f"at position {i}: expected {want}, got {have}.")
    return compare


_SEED_EXAMPLES = [
    Case((0, 0, 0), {"pool": True}, "INPUT -> FC, a linear classifier"),
    Case((1, 1, 0), {"pool": False}, "INPUT -> CONV -> RELU -> FC"),
    Case((1, 2, 1), {"pool": True}, "INPUT -> [CONV -> RELU -> POOL]*2 -> FC -> RELU -> FC"),
    Case((2, 3, 2), {"pool": True},
         "INPUT -> [CONV -> RELU -> CONV -> RELU -> POOL]*3 -> [FC -> RELU]*2 -> FC"),
]


def check_expand_pattern_examples(expand_pattern, seed: int = VISIBLE_SEED) -> None:
    """Does expand_pattern write out the four example networks of the course text?"""
    __tracebackhide__ = True
    name = "expand_pattern (the four examples)"
    run_exact(expand_pattern, _expand, _SEED_EXAMPLES, name=name, compare=_compare_names(name))


def check_expand_pattern_values(expand_pattern, seed: int = VISIBLE_SEED) -> None:
    """Random N, M, K and pool, plus M = 0 (N is then irrelevant) and N = 0 (POOL-only blocks)."""
    __tracebackhide__ = True
    g = _core.rng(seed + 1)
    n = int(g.integers(2, 4))  # first: N != M, both > 1, so that every mistake looks different
    cases = [Case((n, 5 - n, int(g.integers(1, 3))), {"pool": True})]
    cases += [Case((int(g.integers(0, 4)), int(g.integers(1, 4)), int(g.integers(0, 3))),
                   {"pool": bool(i % 2)}) for i in range(5)]
    cases += [Case((int(g.integers(1, 4)), 0, 2), {"pool": True}, "M = 0: no CONV at all"),
              Case((0, int(g.integers(2, 4)), 0), {"pool": True}, "N = 0: blocks of one POOL"),
              Case((3, 2, 1), {"pool": False}, "N > M, no pooling")]
    name = f"expand_pattern ({_which(seed)} cases)"
    run_exact(expand_pattern, _expand, cases, name=name, compare=_compare_names(name))


# ----------------------------------------------------------------------------------------------
# layer_table(layers, input_shape) -> [(name, output_shape, activations, params), ...]


def _layer_table(layers, input_shape):
    """The reference: the tuple notation turned into an arch spec and read off arch.summary."""
    spec = []
    for kind, *args in layers:
        if kind == "conv":
            out, k, stride, pad = args
            spec.append(_Conv(out, k, stride=stride, padding=pad))
        elif kind == "pool":
            spec.append(_Pool("max", args[0], args[1]))
        else:
            spec += [] if any(isinstance(s, _Linear) for s in spec) else [_Flatten()]
            spec.append(_Linear(args[0]))
    rows = _summary(spec, tuple(input_shape)).rows
    return [(r.name, tuple(r.output_shape), r.activations, r.params)
            for r in rows if r.kind != "Flatten"]


def _table(layers, input_shape, *, bias=True, nhwc=False, use_pad=True, use_stride=True,
           input_row=True, fc_volume=False, conv_cin=True, fc_flat=True):
    """The table computed by hand, with switches for the mistakes below."""
    c, h, w = input_shape

    def shape(*dims):
        return (dims[1], dims[2], dims[0]) if nhwc and len(dims) == 3 else dims

    rows = [("INPUT", shape(c, h, w), c * h * w, 0)] if input_row else []
    features = None
    for kind, *args in layers:
        if kind == "conv":
            out, k, stride, pad = args
            pad, stride = pad if use_pad else 0, stride if use_stride else 1
            h, w = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
            weights = out * (c if conv_cin else 1) * k * k
            c = out
            rows.append((f"CONV{k}-{out}", shape(c, h, w), c * h * w, weights + out * bias))
        elif kind == "pool":
            k, stride = args
            h, w = (h - k) // stride + 1, (w - k) // stride + 1
            rows.append((f"POOL{k}", shape(c, h, w), c * h * w, 0))
        else:
            out = args[0]
            fan_in = features if features is not None else (c * h * w if fc_flat else c)
            features = out
            rows.append((f"FC-{out}", shape(out, 1, 1) if fc_volume else (out,), out,
                         fan_in * out + out * bias))
    return rows


def _table_mistake(**switch):
    return lambda layers, input_shape: _table(layers, input_shape, **switch)


_TABLE_FORMULAS = ("CONV: C_out * C_in * k * k weights + C_out biases; FC: n_in * n_out weights "
                   "+ n_out biases; POOL: none.")
TABLE_MISTAKES = [
    Mistake("parameter count forgetting biases",
            "params = weights + biases: every conv filter and every FC output neuron has one "
            "bias. (The course's VGG-16 table lists weights only; its 138M total includes the "
            "biases.) " + _TABLE_FORMULAS, _table_mistake(bias=False)),
    Mistake("NHWC instead of NCHW (output shapes written (H, W, C))",
            "The course writes volumes channels first, as PyTorch does: (C, H, W). The table of "
            "the course text writes 224x224x64; here that is (64, 224, 224).",
            _table_mistake(nhwc=True)),
    Mistake("padding ignored in the conv output size",
            "H_out = (H + 2P - F) // S + 1: VGG's 3x3 convs with P = 1 keep the size.",
            _table_mistake(use_pad=False)),
    Mistake("stride ignored in the conv output size",
            "H_out = (H + 2P - F) // S + 1: divide by the stride before adding 1.",
            _table_mistake(use_stride=False)),
    Mistake("INPUT row missing",
            "The table starts with the input: ('INPUT', input_shape, C*H*W, 0).",
            _table_mistake(input_row=False)),
    Mistake("FC output shape written as a volume (F, 1, 1)",
            "An FC layer outputs a flat vector: output shape (F,), a tuple of one int.",
            _table_mistake(fc_volume=True)),
    Mistake("conv weights without the input channels",
            "A filter spans the full input depth: C_out * C_in * k * k weights. "
            + _TABLE_FORMULAS, _table_mistake(conv_cin=False)),
    Mistake("first FC fan-in taken from the channels only",
            "The first FC layer sees the whole flattened volume: n_in = C * H * W (7*7*512 = "
            "25,088 in VGG-16), not C.", _table_mistake(fc_flat=False)),
]

_COLUMNS = ("name", "output shape", "activations", "params")


def _normal_row(row):
    """A row with its shape as a tuple of ints (lists and arrays accepted) and ints as int."""
    if not isinstance(row, (tuple, list)) or len(row) != 4:
        return row
    name, shape, acts, params = row
    if isinstance(shape, (tuple, list, np.ndarray)) and all(
            isinstance(d, numbers.Integral) for d in shape):
        shape = tuple(int(d) for d in shape)
    return (name, shape, *(int(v) if isinstance(v, numbers.Integral)
                           and not isinstance(v, bool) else v for v in (acts, params)))


def _fmt(value) -> str:
    return f"{value:,}" if isinstance(value, int) else repr(value)


def _compare_table(name: str, columns):
    def project(table):
        return [tuple(row[i] for i in columns) for row in table]

    def compare(got, expected, case, where):
        __tracebackhide__ = True
        if not isinstance(got, (list, tuple)):
            raise CheckFailure(f"{name}: expected a list of rows, got {type(got).__name__}{where}.")
        rows = [_normal_row(r) for r in got]
        for i, row in enumerate(rows):
            if not isinstance(row, tuple) or len(row) != 4:
                raise CheckFailure(f"{name}: row {i} should be a tuple (name, output_shape, "
                                   f"activations, params), got {row!r}{where}."[:400])
            for col in (2, 3):
                if col in columns and not isinstance(row[col], int):
                    raise CheckFailure(
                        f"{name}: row {i}: {_COLUMNS[col]} is a count, expected an int, got "
                        f"{type(row[col]).__name__} {row[col]!r}{where}; return int(...).")
        if project(rows) == project(expected):
            return
        found = named_mistake(project(rows), expected, TABLE_MISTAKES, case, project)
        if found is not None:
            raise CheckFailure(f"{name}: {found.name}{where}. {found.hint}")
        for i, (g, e) in enumerate(zip(rows, expected)):
            for col in columns:
                if g[col] != e[col]:
                    raise CheckFailure(f"{name}: row {i} ({e[0]}): {_COLUMNS[col]} expected "
                                       f"{_fmt(e[col])}, got {_fmt(g[col])}{where}.")
        raise CheckFailure(f"{name}: expected {len(expected)} rows (INPUT, then one per layer), "
                           f"got {len(rows)}{where}.")
    return compare


def _random_layers(g, input_shape, n_fc: int):
    """A small valid spec with padding, stride 2 and overlapping pools."""
    layers, h = [], min(input_shape[1:])
    for i in range(int(g.integers(2, 4))):
        k, pad, stride = int(g.choice([1, 3, 5])), int(g.integers(1, 3)), 1 + (i == 0)
        if (h + 2 * pad - k) // stride + 1 >= 3:
            layers.append(("conv", int(g.integers(2, 17)), k, stride, pad))
            h = (h + 2 * pad - k) // stride + 1
        k = int(g.choice([2, 3]))
        if h >= k + 1:
            layers.append(("pool", k, 2))
            h = (h - k) // 2 + 1
    return layers + [("fc", int(g.integers(4, 33))) for _ in range(n_fc)]


def _table_cases(seed: int, n: int) -> list[Case]:
    g = _core.rng(seed)
    cases = []
    for i in range(n):
        shape = (int(g.integers(1, 4)), int(g.integers(9, 20)), int(g.integers(9, 20)))
        cases.append(Case((_random_layers(g, shape, 1 + i % 2), shape)))
    return cases


def _check_table(layer_table, cases, name, columns) -> None:
    __tracebackhide__ = True
    run_exact(layer_table, _layer_table, cases, name=name,
               compare=_compare_table(name, columns), allow=("cnncourse.ops.padding",))


def check_layer_table_shapes(layer_table, seed: int = VISIBLE_SEED) -> None:
    """Are the names and output shapes right (conv/pool size formula, NCHW, INPUT row)?"""
    __tracebackhide__ = True
    _check_table(layer_table, _table_cases(seed + 2, 3),
                 f"layer_table names and shapes ({_which(seed)} cases)", (0, 1))


def check_layer_table_counts(layer_table, seed: int = VISIBLE_SEED) -> None:
    """Are the activations (C*H*W) and parameters (weights + biases) of every row right?"""
    __tracebackhide__ = True
    _check_table(layer_table, _table_cases(seed + 3, 3),
                 f"layer_table counts ({_which(seed)} cases)", (2, 3))


def check_layer_table_vgg16(layer_table, seed: int = VISIBLE_SEED) -> None:
    """VGG-16 on a 224x224x3 image: every row of the course's table, plus the biases."""
    __tracebackhide__ = True
    _check_table(layer_table, [Case((list(VGG16_LAYERS), (3, 224, 224)), label="VGG-16")],
                 "layer_table VGG-16", (0, 1, 2, 3))


# ----------------------------------------------------------------------------------------------
# stack_vs_single(channels, n_layers=3, kernel_size=3) -> (stack, single, receptive field)


def _stack(channels, n_layers=3, kernel_size=3):
    return tuple(_stack_vs_single_params(channels, n_layers, kernel_size))


def _stack_variant(rf, per_layer=lambda c, k: k * k * c * c, layers=None, bias=0):
    def fn(channels, n_layers=3, kernel_size=3):
        c, n, k = channels, n_layers, kernel_size
        side = rf(n, k)
        return ((n if layers is None else layers) * (per_layer(c, k) + bias * c),
                per_layer(c, side) + bias * c, side)
    return fn


def _right_rf(n, k):
    return n * (k - 1) + 1


STACK_MISTAKES = [
    Mistake("receptive field n * k instead of n * (k - 1) + 1",
            "Each k x k layer widens the view by k - 1 pixels (its neighbours overlap): "
            "1 -> 3 -> 5 -> 7 for three 3x3 layers.", _stack_variant(lambda n, k: n * k)),
    Mistake("receptive field k ** n (multiplied instead of grown)",
            "Stride-1 layers add to the receptive field, they do not multiply it: "
            "r = n * (k - 1) + 1.", _stack_variant(lambda n, k: k ** n)),
    Mistake("input channels forgotten",
            "A k x k layer from C to C channels has C * (k * k * C) weights: each of its C "
            "filters spans all C input channels.", _stack_variant(_right_rf, lambda c, k: k * k * c)),
    Mistake("biases counted",
            "The comparison counts weights only (no biases): n * k^2 * C^2 against r^2 * C^2.",
            _stack_variant(_right_rf, bias=1)),
    Mistake("only one layer of the stack counted",
            "The stack has n layers, each with k * k * C * C weights.",
            _stack_variant(_right_rf, layers=1)),
]


def check_stack_vs_single(stack_vs_single, seed: int = VISIBLE_SEED) -> None:
    """(stack weights, single-layer weights, receptive field) for a few stacks."""
    __tracebackhide__ = True
    g = _core.rng(seed + 4)
    cases = [Case((64,), {}, "three 3x3 layers, C = 64 (27C^2 vs 49C^2)")] if (
        seed == VISIBLE_SEED) else []
    cases += [Case((int(g.integers(1, 65)), 2, 3), label="two 3x3 layers"),
              Case((int(g.integers(1, 65)), 1, 3), label="a single layer: stack = single"),
              Case((int(g.integers(1, 65)), 3, 5), label="three 5x5 layers"),
              Case((int(g.integers(1, 65)), 4, 3), label="four 3x3 layers"),
              Case((int(g.integers(2, 65)), 2, 1), label="1x1 layers: receptive field 1")]
    check_components(stack_vs_single, _stack, cases, name=f"stack_vs_single ({_which(seed)} cases)",
                     fields=("stack_params", "single_params", "receptive_field"),
                      order=(2, 0, 1), mistakes=STACK_MISTAKES)


# ----------------------------------------------------------------------------------------------
# training_memory(activations, params, batch_size=1, bytes_per_value=4, optimizer_slots=1)


def _memory(activations, params, batch_size=1, bytes_per_value=4, optimizer_slots=1, *,
            act_copies=2, param_copies=None, per_byte=True, param_batch=False):
    """Bytes to train: activations and their gradients per image, parameters, their
    gradients and the optimiser's slots (arch.summary's activation_memory_training +
    param_memory_training, for a batch)."""
    param_copies = 2 + optimizer_slots if param_copies is None else param_copies
    total = (batch_size * activations * act_copies
             + params * param_copies * (batch_size if param_batch else 1))
    return total * bytes_per_value if per_byte else total


def _memory_mistake(**switch):
    return lambda *args, **kwargs: _memory(*args, **kwargs, **switch)


MEMORY_MISTAKES = [
    Mistake("bytes vs values confusion: values counted, not bytes",
            "Every value takes bytes_per_value bytes (4 in float32): multiply the number of "
            "values by bytes_per_value.", _memory_mistake(per_byte=False)),
    Mistake("bytes vs values confusion: multiplied by bytes_per_value twice",
            "Multiply the number of values by bytes_per_value once.",
            lambda a, p, batch_size=1, bytes_per_value=4, optimizer_slots=1: bytes_per_value
            * _memory(a, p, batch_size, bytes_per_value, optimizer_slots)),
    Mistake("activation gradients not counted (activations x1 instead of x2)",
            "The backward pass keeps a gradient of the same size for every activation.",
            _memory_mistake(act_copies=1)),
    Mistake("parameter gradients and optimiser state not counted (parameters x1)",
            "Training holds each parameter, its gradient and optimizer_slots more arrays "
            "(1 for momentum): parameters x (2 + optimizer_slots).",
            _memory_mistake(param_copies=1)),
    Mistake("optimiser state not counted (parameters x2)",
            "Momentum keeps one more array per parameter: x (2 + optimizer_slots), 3 for "
            "momentum.", _memory_mistake(param_copies=2)),
    Mistake("batch size applied to the parameters too",
            "All images of a batch share one copy of the parameters; only the activations "
            "grow with the batch.", _memory_mistake(param_batch=True)),
    Mistake("batch size ignored",
            "Every image of the batch has its own activations: multiply them by batch_size.",
            lambda a, p, batch_size=1, bytes_per_value=4, optimizer_slots=1:
            _memory(a, p, 1, bytes_per_value, optimizer_slots)),
]


def check_training_memory(training_memory, seed: int = VISIBLE_SEED) -> None:
    """Training memory in bytes: VGG-16, and random networks, batches, dtypes and optimisers."""
    __tracebackhide__ = True
    g = _core.rng(seed + 5)
    cases = [Case((15_237_608, 138_357_544), {}, "VGG-16, one image, float32, momentum")] if (
        seed == VISIBLE_SEED) else []
    for i in range(4):
        cases.append(Case((int(g.integers(10**3, 10**7)), int(g.integers(10**3, 10**8))),
                          {"batch_size": int(g.integers(2, 129)),
                           "bytes_per_value": (4, 8)[i % 2], "optimizer_slots": (1, 0, 2, 1)[i]}))
    run_exercise_check(training_memory, _memory, cases,
                       name=f"training_memory ({_which(seed)} cases)", mistakes=MEMORY_MISTAKES)


register(TOPIC, "expand_pattern", [check_expand_pattern_examples, check_expand_pattern_values])
register(TOPIC, "layer_table", [check_layer_table_shapes, check_layer_table_counts,
                                check_layer_table_vgg16])
register(TOPIC, "stack_vs_single", [check_stack_vs_single])
register(TOPIC, "training_memory", [check_training_memory])
_core.protect(__name__)
