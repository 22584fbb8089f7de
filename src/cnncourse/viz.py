"""The course's pictures: feature maps, filters, image grids, training curves, worked examples.

Every function returns a :class:`matplotlib.figure.Figure` built WITHOUT pyplot: nothing is
registered globally, nothing is shown, and it works under any backend (Agg included). In a
notebook, end the cell with the call and Jupyter displays the returned figure once; elsewhere,
``fig.savefig(path)``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator

__all__ = [
    "annotate_matrix",
    "plot_1d_signal_conv",
    "plot_training_curves",
    "show_feature_maps",
    "show_filters",
    "show_image_grid",
    "show_worked_example",
]


def _as_images(images) -> list[np.ndarray]:
    """A list of 2-D (gray) or HxWx3 (color) arrays from a list or an (N, H, W)/(N, C, H, W) array."""
    if isinstance(images, np.ndarray):
        if images.ndim == 2:
            images = [images]
        elif images.ndim == 4:
            images = [im[0] if im.shape[0] == 1 else np.moveaxis(im, 0, -1) for im in images]
        elif images.ndim != 3:
            raise ValueError(f"images must be 2-D, 3-D (N, H, W) or 4-D (N, C, H, W), got shape "
                             f"{images.shape}")
    out = [np.asarray(im) for im in images]
    for i, im in enumerate(out):
        if not (im.ndim == 2 or (im.ndim == 3 and im.shape[-1] in (3, 4))):
            raise ValueError(f"image {i} must be (H, W) or (H, W, 3), got shape {im.shape}")
    return out


def _grid(n: int, ncols: int | None, size: float, *, extra_width: float = 0.0):
    ncols = min(n, ncols or math.ceil(math.sqrt(n)))
    nrows = math.ceil(n / ncols)
    fig = Figure(figsize=(ncols * size + extra_width, nrows * size), layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    for ax in axes[n:]:
        ax.set_axis_off()
    return fig, axes[:n]


def _finish(fig: Figure, suptitle: str | None) -> Figure:
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def show_image_grid(images, *, titles: Sequence[str] | None = None, ncols: int | None = None,
                    cmap: str = "gray", size: float = 2.5, suptitle: str | None = None) -> Figure:
    """Images side by side, without axes.

    Parameters
    ----------
    images : ndarray, shape (N, H, W) or (N, C, H, W) with C in {1, 3}, or a list of arrays
    titles : one title per image, optional
    """
    ims = _as_images(images)
    fig, axes = _grid(len(ims), ncols, size)
    for i, (ax, im) in enumerate(zip(axes, ims)):
        ax.imshow(im, cmap=cmap if im.ndim == 2 else None)
        ax.set_axis_off()
        if titles is not None:
            ax.set_title(titles[i], fontsize=9)
    return _finish(fig, suptitle)


def show_feature_maps(maps, *, titles: Sequence[str] | None = None, ncols: int | None = None,
                      cmap: str = "gray", size: float = 2.5, colorbar: bool = False,
                      suptitle: str | None = None) -> Figure:
    """The channels of one activation volume, one panel per feature map.

    Parameters
    ----------
    maps : ndarray, shape (C, H, W) or (1, C, H, W)
        Each channel is drawn with its own color scale, so weak and strong maps are both visible.
    colorbar : bool
        Add a color bar per map (to read off values).
    """
    maps = np.asarray(maps)
    if maps.ndim == 4 and maps.shape[0] == 1:
        maps = maps[0]
    if maps.ndim == 2:
        maps = maps[None]
    if maps.ndim != 3:
        raise ValueError(f"maps must have shape (C, H, W) or (1, C, H, W), got {maps.shape}")
    fig, axes = _grid(len(maps), ncols, size)
    for c, (ax, fmap) in enumerate(zip(axes, maps)):
        image = ax.imshow(fmap, cmap=cmap)
        ax.set_axis_off()
        ax.set_title(titles[c] if titles is not None else f"map {c}", fontsize=9)
        if colorbar:
            fig.colorbar(image, ax=ax, shrink=0.8)
    return _finish(fig, suptitle)


def show_filters(weight, *, annotate: bool | None = None, cmap: str = "RdBu_r",
                 size: float = 1.8, ncols: int = 8, suptitle: str | None = None) -> Figure:
    """A grid of kernels: row o, column c shows ``weight[o, c]``.

    Parameters
    ----------
    weight : ndarray, shape (C_out, C_in, kH, kW), (C_out, kH, kW) or (kH, kW)
        With a single input channel the filters are laid out in rows of `ncols`.
    annotate : bool, optional
        Write each weight's value in its cell; by default only for kernels up to 5x5.

    Notes
    -----
    All kernels share one color scale centred on zero: red is positive, blue negative.
    """
    w = np.asarray(weight, dtype=float)
    if w.ndim == 2:
        w = w[None, None]
    elif w.ndim == 3:
        w = w[:, None]
    if w.ndim != 4:
        raise ValueError(f"weight must have 2 to 4 dimensions, got shape {np.shape(weight)}")
    cout, cin, kh, kw = w.shape
    annotate = (kh <= 5 and kw <= 5) if annotate is None else annotate
    vmax = float(np.abs(w).max()) or 1.0
    if cin == 1:  # one kernel per filter: a compact grid, titled by filter
        fig, axes = _grid(cout, min(ncols, cout), size)
        panels = [(ax, w[o, 0], f"filter {o}", None) for o, ax in enumerate(axes)]
    else:
        fig = Figure(figsize=(cin * size, cout * size), layout="constrained")
        axes = fig.subplots(cout, cin, squeeze=False)
        panels = [(axes[o, c], w[o, c], f"in {c}" if o == 0 else None,
                   f"filter {o}" if c == 0 else None) for o in range(cout) for c in range(cin)]
    fontsize = 9 if max(kh, kw) <= 3 else 7
    for ax, kernel, title, ylabel in panels:
        image = ax.imshow(kernel, cmap=cmap, vmin=-vmax, vmax=vmax)
        ax.set_xticks([])
        ax.set_yticks([])
        if annotate:
            _write_numbers(ax, image, kernel, "{:.2g}", fontsize)
        if title:
            ax.set_title(title, fontsize=9)
        if ylabel:
            ax.set_ylabel(ylabel, fontsize=9)
    return _finish(fig, suptitle)


def plot_training_curves(history: Mapping[str, Sequence[float]], *, title: str | None = None,
                         size: tuple[float, float] = (4.5, 3.2)) -> Figure:
    """Loss and accuracy per epoch: keys containing "loss" on the left, the others on the right.

    Parameters
    ----------
    history : mapping of name -> list of per-epoch values
        e.g. ``{"train_loss": [...], "val_loss": [...], "train_acc": [...], "val_acc": [...]}``.
    """
    groups = {"loss": {k: v for k, v in history.items() if "loss" in k}}
    others = {k: v for k, v in history.items() if "loss" not in k}
    if others:
        groups["accuracy" if any("acc" in k for k in others) else "metric"] = others
    groups = {g: items for g, items in groups.items() if items}
    if not groups:
        raise ValueError("history is empty: give at least one named list of per-epoch values")
    fig = Figure(figsize=(size[0] * len(groups), size[1]), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(groups), squeeze=False)).ravel()
    for ax, (label, items) in zip(axes, groups.items()):
        for name, values in items.items():
            ax.plot(np.arange(1, len(values) + 1), values, marker="o", markersize=3, label=name)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return _finish(fig, title)


def plot_1d_signal_conv(signal, kernel, output=None, *, labels: Sequence[str] | None = None,
                        title: str | None = None) -> Figure:
    """Input signal(s), kernel and their 'valid' cross-correlation, as stem plots.

    Parameters
    ----------
    signal : ndarray, shape (L,) or (S, L)
        One signal, or S signals drawn in different colors (e.g. a pattern and a shifted copy).
    kernel : ndarray, shape (K,)
    output : ndarray, shape (L - K + 1,) or (S, L - K + 1), optional
        Defaults to :math:`z(i) = \\sum_u x(i + u) w(u)` for each signal. Output i is drawn at
        position i, where its window starts, so a shift of the input shows as a shift of the
        output.
    labels : one label per signal, optional
    """
    xs = np.atleast_2d(np.asarray(signal, dtype=float))
    w = np.asarray(kernel, dtype=float).ravel()
    zs = (np.stack([np.correlate(x, w, mode="valid") for x in xs]) if output is None
          else np.atleast_2d(np.asarray(output, dtype=float)))
    labels = list(labels) if labels is not None else [f"signal {s}" for s in range(len(xs))]
    fig = Figure(figsize=(7, 4.8), layout="constrained")
    axes = fig.subplots(3, 1, sharex=True)
    offsets = np.linspace(-0.12, 0.12, len(xs)) if len(xs) > 1 else [0.0]
    for s, (x, z) in enumerate(zip(xs, zs)):
        for ax, values in ((axes[0], x), (axes[2], z)):
            lines = ax.stem(np.arange(len(values)) + offsets[s], values, linefmt=f"C{s}-",
                            markerfmt=f"C{s}o", basefmt="k-")
            lines.set_label(labels[s] if len(xs) > 1 else None)
    axes[1].stem(np.arange(len(w)), w, linefmt="C7-", markerfmt="C7s", basefmt="k-")
    for ax, label in zip(axes, ("input x", "kernel w", "output z = x ⋆ w")):
        ax.set_ylabel(label, fontsize=9)
        ax.grid(alpha=0.3)
    if len(xs) > 1:
        axes[0].legend(fontsize=8)
    axes[-1].set_xlabel("position")
    axes[-1].xaxis.set_major_locator(MaxNLocator(integer=True))
    return _finish(fig, title)


def _write_numbers(ax, image, matrix: np.ndarray, fmt: str, fontsize: float = 9) -> None:
    """Write each value in its cell, white on dark colors and black on light ones."""
    for (i, j), value in np.ndenumerate(matrix):
        r, g, b, _ = image.cmap(image.norm(value))
        dark = 0.299 * r + 0.587 * g + 0.114 * b < 0.5
        ax.text(j, i, fmt.format(value), ha="center", va="center", fontsize=fontsize,
                color="white" if dark else "black")


def annotate_matrix(matrix, *, ax=None, title: str | None = None, fmt: str = "{:g}",
                    cmap: str = "Blues", highlight: tuple[int, int, int, int] | None = None,
                    size: float = 0.55) -> Figure:
    """Draw a small matrix with its numbers, for worked examples.

    Parameters
    ----------
    matrix : ndarray, shape (H, W)
    ax : matplotlib Axes, optional
        Draw into this axes (its figure is returned); by default a new figure is made.
    highlight : (row, col, height, width), optional
        A red rectangle around a block, e.g. the window that produces one output value.
    """
    m = np.asarray(matrix, dtype=float)
    if m.ndim != 2:
        raise ValueError(f"matrix must be 2-D, got shape {m.shape}")
    if ax is None:
        fig = Figure(figsize=(max(1.5, m.shape[1] * size), max(1.5, m.shape[0] * size)),
                     layout="constrained")
        ax = fig.subplots()
    scale = float(np.abs(m).max())
    image = ax.imshow(m, cmap=cmap, vmin=-scale if (m < 0).any() else 0, vmax=scale or 1.0)
    _write_numbers(ax, image, m, fmt)
    ax.set_xticks(range(m.shape[1]))
    ax.set_yticks(range(m.shape[0]))
    ax.tick_params(length=0, labelsize=7)
    if highlight is not None:
        r, c, h, w = highlight
        ax.add_patch(Rectangle((c - 0.5, r - 0.5), w, h, fill=False, edgecolor="red", lw=2.5))
    if title:
        ax.set_title(title, fontsize=10)
    return ax.figure


def show_worked_example(x, w, z, *, position: tuple[int, int] = (0, 0), symbol: str = "⋆",
                        fmt: str = "{:g}") -> Figure:
    """x ⋆ w = z with the window that produces ``z[position]`` outlined in x and in z."""
    x, w, z = (np.asarray(a, dtype=float) for a in (x, w, z))
    i, j = position
    fig = Figure(figsize=(0.5 * (x.shape[1] + w.shape[1] + z.shape[1]) + 2.5,
                          0.5 * max(x.shape[0], 3) + 0.9), layout="constrained")
    axes = fig.subplots(1, 3, width_ratios=[x.shape[1], w.shape[1], z.shape[1]])
    annotate_matrix(x, ax=axes[0], title="input x", fmt=fmt,
                    highlight=(i, j, w.shape[0], w.shape[1]))
    annotate_matrix(w, ax=axes[1], title=f"kernel w   ({symbol})", fmt=fmt, cmap="Oranges")
    annotate_matrix(z, ax=axes[2], title="output z", fmt=fmt, cmap="Greens",
                    highlight=(i, j, 1, 1))
    return fig
