"""Pure numpy operations, NCHW, with ``torch.nn.functional``'s names and semantics.

One module per topic; each backward lives beside its forward. The functions are exported from
the package top level (``cnncourse.conv2d``), not from here, because two modules share a name
with their main function (``ops.linear.linear``, ``ops.im2col.im2col``).
"""
