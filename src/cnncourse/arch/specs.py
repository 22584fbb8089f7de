"""Named architectures as specs: LeNet-5, AlexNet, VGG-16, an Inception module, a ResNet block.

Each function returns a plain list of layer specs (see :mod:`cnncourse.arch.layers`), so
fragments concatenate with ``+``. No weights are created; ``summary`` does the accounting.
"""

from __future__ import annotations

from .layers import Conv, Dropout, Flatten, Inception, Linear, Pool, ReLU, Residual

__all__ = [
    "VGG16_CONFIG",
    "alexnet",
    "inception_module",
    "lenet5",
    "resnet_basic_block",
    "vgg16",
]

#: VGG configuration D: output channels of each 3x3 conv, "M" for a 2x2 max pool.
VGG16_CONFIG = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
                512, 512, 512, "M")


def _classifier(hidden: tuple[int, ...], num_classes: int, dropout: float,
                dropout_first: bool) -> list:
    """Flatten, then FC -> RELU per hidden size (with optional dropout), then the score layer."""
    layers: list = [Flatten()]
    for n in hidden:
        block = [Linear(n), ReLU()]
        if dropout:
            block = [Dropout(dropout)] + block if dropout_first else block + [Dropout(dropout)]
        layers += block
    return layers + [Linear(num_classes)]


def lenet5(num_classes: int = 10, *, pool: str = "max") -> list:
    """LeNet-5 for a 32x32x1 input, in the simplified form most courses teach.

    ``CONV5-6 -> RELU -> POOL2 -> CONV5-16 -> RELU -> POOL2 -> FC-120 -> RELU -> FC-84 -> RELU
    -> FC-10``, giving volumes 28x28x6, 14x14x6, 10x10x16, 5x5x16, then 120, 84, 10.

    Parameters
    ----------
    num_classes : int
    pool : {"max", "avg"}
        LeCun's subsampling layers averaged (with a trainable scale and bias); max is the
        modern default.

    Notes
    -----
    Differences from LeCun et al. (1998): ReLU instead of the scaled tanh; plain pooling
    instead of trainable subsampling; C3 connects every map to all 6 inputs (2,416 parameters,
    not the paper's 1,516 of a partial connection table); C5 is written as an FC layer on the
    flattened 5x5x16 volume, which is the same function as the paper's 5x5 convolution
    (see ``fc_to_conv``); the output is an FC layer instead of RBF units. Total: 61,706
    parameters.
    """
    return ([Conv(6, 5), ReLU(), Pool(pool, 2), Conv(16, 5), ReLU(), Pool(pool, 2)]
            + _classifier((120, 84), num_classes, 0.0, False))


def alexnet(num_classes: int = 1000, *, groups: int = 1, dropout: float = 0.5) -> list:
    """AlexNet (Krizhevsky et al., 2012) as a single tower, for a 227x227x3 input.

    ======  ================================  ==========
    layer   spec                              output
    ======  ================================  ==========
    conv1   96 filters 11x11, stride 4        55x55x96
    pool1   max 3x3, stride 2 (overlapping)   27x27x96
    conv2   256 filters 5x5, pad 2            27x27x256
    pool2   max 3x3, stride 2                 13x13x256
    conv3   384 filters 3x3, pad 1            13x13x384
    conv4   384 filters 3x3, pad 1            13x13x384
    conv5   256 filters 3x3, pad 1            13x13x256
    pool5   max 3x3, stride 2                 6x6x256
    fc6     4096 (after flatten: 9,216 in)    4096
    fc7     4096                              4096
    fc8     `num_classes`                     1000
    ======  ================================  ==========

    Every conv and the first two FC layers are followed by a ReLU.

    Parameters
    ----------
    num_classes : int
    groups : int
        1 (default) merges the paper's two GPU towers into one layer per stage (62,378,344
        parameters). 2 restores the split: conv2, conv4 and conv5 only see the half of the
        channels on their own GPU, which gives the paper's "60 million" (60,965,224).
    dropout : float
        Probability of the dropout before fc6 and fc7 (0 leaves them out).

    Notes
    -----
    The paper says 224x224, but (224 - 11)/4 + 1 is not an integer; 227 gives the 55x55 of
    conv1 exactly. Local response normalisation (after conv1 and conv2) is left out: it has
    no parameters and does not change shapes.
    """
    return ([Conv(96, 11, stride=4), ReLU(), Pool("max", 3, 2),
             Conv(256, 5, padding=2, groups=groups), ReLU(), Pool("max", 3, 2),
             Conv(384, 3, padding=1), ReLU(),
             Conv(384, 3, padding=1, groups=groups), ReLU(),
             Conv(256, 3, padding=1, groups=groups), ReLU(), Pool("max", 3, 2)]
            + _classifier((4096, 4096), num_classes, dropout, True))


def vgg16(num_classes: int = 1000, *, dropout: float = 0.5) -> list:
    """VGG-16, configuration D of Simonyan and Zisserman (2014), for a 224x224x3 input.

    Thirteen 3x3 convolutions (stride 1, pad 1, so they keep the spatial size), each followed
    by a ReLU, in five stages of 64, 128, 256, 512, 512 channels (see :data:`VGG16_CONFIG`),
    each stage closed by a 2x2 max pool with stride 2: 224 -> 112 -> 56 -> 28 -> 14 -> 7.
    Then FC-4096, FC-4096, FC-`num_classes` on the flattened 7x7x512 volume.

    Parameters
    ----------
    num_classes : int
    dropout : float
        Probability of the dropout after the first two FC layers' ReLUs (0 leaves them out).

    Notes
    -----
    138,357,544 parameters (138,344,128 weights and 13,416 biases).

    Activations (the seed's "memory" column, input included, ReLUs in place): the rows of the
    seed's table add up to 15,237,608 values, 60,950,432 bytes in float32 = 58.1 MiB per
    image, which is what ``summary`` reports. The table's total line ("24M * 4 bytes ~= 93MB")
    does not follow from its rows, and "93MB" does not follow from 24M either: 24M * 4 bytes
    is 96.0 MB (10**6 bytes) or 91.6 MiB (2**20 bytes); 93 MiB would be 24.4M values.

    Examples
    --------
    >>> from cnncourse.arch import output_shape
    >>> spec = vgg16()
    >>> output_shape(spec[:31], (3, 224, 224))  # the volume the FC layers see
    (512, 7, 7)
    """
    layers: list = []
    for v in VGG16_CONFIG:
        layers += [Pool("max", 2, 2)] if v == "M" else [Conv(v, 3, padding=1), ReLU()]
    return layers + _classifier((4096, 4096), num_classes, dropout, False)


def inception_module(n1x1: int = 64, n3x3_reduce: int = 96, n3x3: int = 128,
                     n5x5_reduce: int = 16, n5x5: int = 32, pool_proj: int = 32) -> list:
    """A GoogLeNet Inception module; the defaults are those of module 3a (input 28x28x192).

    Four branches on the same input, concatenated on channels:

    1. 1x1 conv (`n1x1`)
    2. 1x1 conv (`n3x3_reduce`) -> 3x3 conv, pad 1 (`n3x3`)
    3. 1x1 conv (`n5x5_reduce`) -> 5x5 conv, pad 2 (`n5x5`)
    4. 3x3 max pool, stride 1, pad 1 -> 1x1 conv (`pool_proj`)

    every conv followed by a ReLU. Output channels: ``n1x1 + n3x3 + n5x5 + pool_proj``
    (256 for 3a), spatial size unchanged.

    Returns
    -------
    list
        ``[Inception(...)]``, a one-layer spec to concatenate with others.

    Notes
    -----
    The 1x1 "reduce" convolutions are why the module is cheap: the 5x5 branch of 3a costs
    16*192 + 32*16*25 = 15,872 weights instead of 32*192*25 = 153,600.
    """
    return [Inception((
        (Conv(n1x1, 1), ReLU()),
        (Conv(n3x3_reduce, 1), ReLU(), Conv(n3x3, 3, padding=1), ReLU()),
        (Conv(n5x5_reduce, 1), ReLU(), Conv(n5x5, 5, padding=2), ReLU()),
        (Pool("max", 3, 1, 1), Conv(pool_proj, 1), ReLU()),
    ))]


def resnet_basic_block(channels: int, stride: int = 1, in_channels: int | None = None, *,
                       bias: bool = False) -> list:
    """A ResNet basic block: ``relu(conv3x3(relu(conv3x3(x))) + shortcut(x))``.

    Parameters
    ----------
    channels : int
        Output channels of both 3x3 convs.
    stride : int
        Stride of the first conv (2 halves the spatial size at a stage boundary).
    in_channels : int, optional
        Channels the block receives; defaults to `channels`.
    bias : bool
        False as in ResNet, whose convs are followed by batch normalisation.

    Returns
    -------
    list
        ``[Residual(body, shortcut), ReLU()]``. The shortcut is the identity when the shape is
        kept, and a 1x1 conv with the same stride (a "projection") when the stride or the
        number of channels changes, so the two volumes can be added.

    Notes
    -----
    Batch normalisation is left out (the course has no such layer); the real block adds 2*C
    parameters after each conv.
    """
    c_in = channels if in_channels is None else in_channels
    body = (Conv(channels, 3, stride=stride, padding=1, bias=bias, in_channels=c_in), ReLU(),
            Conv(channels, 3, padding=1, bias=bias))
    project = stride != 1 or c_in != channels
    shortcut = (Conv(channels, 1, stride=stride, bias=bias, in_channels=c_in),) if project else ()
    return [Residual(body, shortcut), ReLU()]
