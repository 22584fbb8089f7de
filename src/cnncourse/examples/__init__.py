"""Runnable end-to-end examples, each ``python -m cnncourse.examples.<name>``.

``digits``: a LeNet-style CNN trained on the 8x8 handwritten digits in a few seconds.
"""

__all__: list[str] = []
