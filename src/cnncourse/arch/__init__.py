"""Architecture accounting: networks as plain data, and what they cost.

A *spec* is a list of small frozen layer records (:class:`Conv`, :class:`Pool`, :class:`ReLU`,
:class:`Flatten`, :class:`Linear`, :class:`Dropout`, :class:`GlobalAvgPool`, and the composite
:class:`Inception` and :class:`Residual`). From a spec and an input size the package computes,
without any weights:

* every volume, activation count, parameter count, multiply-add count and the memory of a
  forward pass and of training (:func:`summary`, which also reads ``cnncourse.nn`` models);
* receptive fields (:func:`receptive_field`, :func:`stack_vs_single_params`);
* specs from the layer-pattern notation (:func:`from_pattern`, :func:`expand_pattern`).

With weights, :func:`forward_spec` runs a spec, and :func:`fc_to_conv` /
:func:`convert_fc_to_conv` turn fully connected layers into convolutions that slide over a
larger image.

Submodules: ``layers``, ``specs`` (:func:`lenet5`, :func:`alexnet`, :func:`vgg16`,
:func:`inception_module`, :func:`resnet_basic_block`), ``pattern``, ``accounting``
(:func:`summary`), ``receptive``, ``network``.

A note on the course's VGG-16 table (seed 003): its rows are reproduced exactly, and they add
up to 15,237,608 activations (58.1 MiB per image in float32), not the "24M" / "~93MB" of its
total line; that total does not follow from the rows (a known erratum of the CS231n notes).
"""

from .accounting import MIB, Summary, SummaryRow, summary
from .layers import (
    Conv,
    Dropout,
    Flatten,
    GlobalAvgPool,
    Inception,
    Linear,
    Pool,
    ReLU,
    Residual,
    output_shape,
    trace,
)
from .network import (
    convert_fc_to_conv,
    fc_to_conv,
    forward_spec,
    init_params,
    params_from_model,
    spec_from_model,
)
from .pattern import expand_pattern, from_pattern
from .receptive import RFRow, StackComparison, receptive_field, stack_vs_single_params
from .specs import VGG16_CONFIG, alexnet, inception_module, lenet5, resnet_basic_block, vgg16

__all__ = [
    "MIB",
    "VGG16_CONFIG",
    "Conv",
    "Dropout",
    "Flatten",
    "GlobalAvgPool",
    "Inception",
    "Linear",
    "Pool",
    "RFRow",
    "ReLU",
    "Residual",
    "StackComparison",
    "Summary",
    "SummaryRow",
    "alexnet",
    "convert_fc_to_conv",
    "expand_pattern",
    "fc_to_conv",
    "forward_spec",
    "from_pattern",
    "inception_module",
    "init_params",
    "lenet5",
    "output_shape",
    "params_from_model",
    "receptive_field",
    "resnet_basic_block",
    "spec_from_model",
    "stack_vs_single_params",
    "summary",
    "trace",
    "vgg16",
]
