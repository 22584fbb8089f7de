"""Pure numpy operations, NCHW, with torch.nn.functional's names and semantics."""
