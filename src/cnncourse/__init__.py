"""cnncourse: the layers of convolutional neural networks, in numpy, NCHW, PyTorch's names."""

__version__ = "0.1.0"
