"""Train a small LeNet-style CNN on the 8x8 handwritten digits, with nothing but numpy.

Run ``python -m cnncourse.examples.digits [--epochs 20] [--seed 0] [--out digits.png]``. It
trains for `epochs` passes, saves a figure with the learning curves and the first layer's
filters, and ends with the line ``test accuracy: 0.xxxx``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ..data import load_digits
from ..nn import SGD, Conv2d, Flatten, History, Linear, MaxPool2d, ReLU, Sequential, fit

__all__ = ["DPI", "FIGSIZE", "build_model", "main", "make_optimizer", "plot", "run"]

#: Size of the saved figure in inches and its resolution: the PNG is FIGSIZE * DPI pixels.
FIGSIZE = (13.0, 4.0)
DPI = 100
BATCH_SIZE = 32
LEARNING_RATE = 0.05
MOMENTUM = 0.9


def build_model(seed: int = 0, dtype=np.float32) -> Sequential:
    """conv-relu-pool, conv-relu-pool, linear: (N, 1, 8, 8) -> (N, 10) logits.

    Shapes: 1x8x8 -> conv 3x3 pad 1 -> 32x8x8 -> pool 2 -> 32x4x4 -> conv 3x3 pad 1 -> 64x4x4
    -> pool 2 -> 64x2x2 -> flatten 256 -> linear 10. The padding keeps each convolution
    'same'-sized, so the images shrink only in the pooling layers. 21,386 parameters
    (320 + 18,496 + 2,570). Half the channels reach about 97.5% test accuracy; these reach
    about 98% for every seed tried.
    """
    rng = np.random.default_rng(seed)
    return Sequential(
        Conv2d(1, 32, kernel_size=3, padding=1, rng=rng, dtype=dtype),
        ReLU(),
        MaxPool2d(2),
        Conv2d(32, 64, kernel_size=3, padding=1, rng=rng, dtype=dtype),
        ReLU(),
        MaxPool2d(2),
        Flatten(),
        Linear(64 * 2 * 2, 10, rng=rng, dtype=dtype),
    )


def make_optimizer(model: Sequential) -> SGD:
    """SGD with momentum, the optimiser the example and its PyTorch benchmark twin both use."""
    return SGD(model.parameters(), lr=LEARNING_RATE, momentum=MOMENTUM)


def plot(history: History, filters: np.ndarray, out, title: str = "") -> Path:
    """Save learning curves and first-layer filters side by side as a PNG of FIGSIZE * DPI.

    Parameters
    ----------
    history : History
        With validation entries (plotted as "test").
    filters : ndarray, shape (F, 1, kH, kW)
        The first convolution's weights.
    out : str or Path
    title : str

    Returns
    -------
    Path
        Where the PNG was written.
    """
    import matplotlib

    matplotlib.use("Agg")  # files only: works without a display
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    out = Path(out)
    epochs = np.arange(1, history.epochs + 1)
    fig, (ax_loss, ax_acc, ax_filt) = plt.subplots(
        1, 3, figsize=FIGSIZE, dpi=DPI, gridspec_kw={"width_ratios": [1, 1, 1.3]})
    for ax, key, label in ((ax_loss, "loss", "cross-entropy loss"),
                           (ax_acc, "accuracy", "accuracy")):
        ax.plot(epochs, getattr(history, f"train_{key}"), "o-", ms=3, label="train")
        if getattr(history, f"val_{key}"):
            ax.plot(epochs, getattr(history, f"val_{key}"), "s-", ms=3, label="test")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend()
    ax_loss.set_title("loss")
    ax_acc.set_title("accuracy")

    # All filters in one mosaic with one shared, zero-centred colour scale, so that weights of
    # different filters can be compared and the sign is visible (red > 0 > blue).
    f, _, kh, kw = filters.shape
    cols = int(np.ceil(np.sqrt(2 * f)))  # a wide grid fits the panel's aspect
    rows = int(np.ceil(f / cols))
    mosaic = np.full((rows * (kh + 1) - 1, cols * (kw + 1) - 1), np.nan)
    for i in range(f):
        r, c = divmod(i, cols)
        mosaic[r * (kh + 1):r * (kh + 1) + kh, c * (kw + 1):c * (kw + 1) + kw] = filters[i, 0]
    vmax = float(np.nanmax(np.abs(mosaic))) or 1.0
    cmap = matplotlib.colormaps["RdBu_r"].with_extremes(bad="white")
    image = ax_filt.imshow(mosaic, cmap=cmap, vmin=-vmax, vmax=vmax)
    ax_filt.set_title(f"first-layer filters ({f} x {kh}x{kw})")
    ax_filt.set_axis_off()
    # A colour bar exactly as tall as the mosaic, not as the whole panel.
    from mpl_toolkits.axes_grid1 import make_axes_locatable

    fig.colorbar(image, cax=make_axes_locatable(ax_filt).append_axes("right", "4%", pad=0.1))
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out, dpi=DPI)  # no bbox_inches="tight": it would change the pixel size
    plt.close(fig)
    return out


def run(epochs: int = 20, seed: int = 0, out="digits.png", progress: bool = True):
    """Train the digits network and save its figure.

    Parameters
    ----------
    epochs : int
    seed : int
        Seeds the weights and the batch order. The train/test split is always the one of
        ``load_digits()`` (seed 0), so accuracies of different seeds are comparable.
    out : str or Path
        PNG to write.
    progress : bool
        Show a progress bar.

    Returns
    -------
    history : History
        Its validation entries are on the test set.
    accuracy : float
        Test accuracy after the last epoch.
    """
    x_train, y_train, x_test, y_test = load_digits()
    model = build_model(seed)
    history = fit(model, x_train, y_train, epochs=epochs, batch_size=BATCH_SIZE,
                  optimizer=make_optimizer(model), x_val=x_test, y_val=y_test, seed=seed,
                  progress=progress)
    accuracy = history.val_accuracy[-1]
    plot(history, model[0].weight.data, out,
         title=f"digits CNN, {epochs} epochs, seed {seed}: test accuracy {accuracy:.4f}")
    return history, accuracy


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m cnncourse.examples.digits",
        description="Train a LeNet-style CNN (numpy only) on the 8x8 digits of scikit-learn.",
    )
    parser.add_argument("--epochs", type=int, default=20, help="passes over the training set")
    parser.add_argument("--seed", type=int, default=0, help="seeds the weights and batch order")
    parser.add_argument("--out", default="digits.png", help="PNG for the curves and filters")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error(f"--epochs must be at least 1, got {args.epochs}")
    history, accuracy = run(args.epochs, args.seed, args.out, progress=not args.no_progress)
    print(f"figure saved to {args.out} ({sum(history.time):.1f} s of training)")
    print(f"test accuracy: {accuracy:.4f}")


if __name__ == "__main__":
    main()
