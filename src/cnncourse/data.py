"""Small datasets and sample images that ship inside installed packages: nothing is downloaded.

``load_digits`` wraps scikit-learn's 8x8 handwritten digits (1,797 images, 10 classes), small
enough to train a CNN on a laptop CPU in seconds. ``sample_image`` wraps the photographs
bundled with scikit-image, for looking at what a filter does to a real picture.
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = ["SAMPLE_IMAGES", "load_digits", "sample_image"]

#: Names accepted by :func:`sample_image`, mapped to the ``skimage.data`` function that loads
#: them. Only images stored inside the scikit-image package are listed, so none needs a network.
SAMPLE_IMAGES = {
    "camera": "camera",  # gray, 512x512, a cameraman: the classic test image
    "cat": "chelsea",  # color, 300x451, Chelsea the cat
    "chelsea": "chelsea",
    "astronaut": "astronaut",  # color, 512x512, Eileen Collins
    "coins": "coins",  # gray, 303x384, Greek coins
    "coffee": "coffee",  # color, 400x600, a cup of coffee
    "moon": "moon",  # gray, 512x512, lunar surface
    "page": "page",  # gray, 191x384, scanned text
    "text": "text",  # gray, 172x448, text in a photo
    "rocket": "rocket",  # color, 427x640, a rocket launch
    "brick": "brick",  # gray, 512x512, brick wall texture
    "grass": "grass",  # gray, 512x512, grass texture
    "gravel": "gravel",  # gray, 512x512, gravel texture
    "checkerboard": "checkerboard",  # gray, 200x200, sharp edges
    "horse": "horse",  # binary, 328x400, a horse silhouette
    "clock": "clock",  # gray, 300x400, a motion-blurred clock
    "cell": "cell",  # gray, 660x550, a microscope cell
    "colorwheel": "colorwheel",  # color, 370x371, hues around a circle
    "microaneurysms": "microaneurysms",  # gray, 102x102, retina detail
    "immunohistochemistry": "immunohistochemistry",  # color, 512x512, stained tissue
    "hubble_deep_field": "hubble_deep_field",  # color, 872x1000, galaxies
    "retina": "retina",  # color, 1411x1411, a human retina
}


def _stratified_split(y: np.ndarray, test_size: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, test): each class sends round(test_size * its count) samples to test."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == c))
        n_test = round(test_size * members.size)
        test.append(members[:n_test])
        train.append(members[n_test:])
    # Shuffled so that a training loop that walks the arrays in order sees mixed classes.
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def load_digits(test_size: float = 0.2, seed: int = 0, dtype=np.float32):
    """The 8x8 handwritten digits of scikit-learn, as NCHW arrays with a fixed stratified split.

    Parameters
    ----------
    test_size : float
        Fraction of each class held out for testing, strictly between 0 and 1.
    seed : int
        Seeds the split; the same seed always gives the same arrays.
    dtype : float32 or float64
        dtype of the images.

    Returns
    -------
    x_train : ndarray, shape (N_train, 1, 8, 8)
    y_train : ndarray of int64, shape (N_train,)
    x_test : ndarray, shape (N_test, 1, 8, 8)
    y_test : ndarray of int64, shape (N_test,)
        Pixels scaled from the original 0..16 gray levels to [0, 1]; labels 0..9.

    Notes
    -----
    The split is stratified: each digit class contributes ``round(test_size * n_c)`` of its
    ``n_c`` images to the test set, so both sets keep the classes' proportions (about 10% each).
    It is computed here with ``np.random.default_rng(seed)``, not by scikit-learn's splitter,
    so that it cannot change with the scikit-learn version.

    Examples
    --------
    >>> x_train, y_train, x_test, y_test = load_digits()
    >>> x_train.shape, x_test.shape
    ((1438, 1, 8, 8), (359, 1, 8, 8))
    """
    from sklearn.datasets import load_digits as _sklearn_digits

    if isinstance(test_size, bool) or not isinstance(test_size, numbers.Real) or not 0 < test_size < 1:
        raise ValueError(f"test_size must be a fraction strictly between 0 and 1, got {test_size!r}")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed must be an int, got {seed!r}")
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"dtype must be a floating dtype (float32 or float64), got {dtype}")

    bunch = _sklearn_digits()
    x = (bunch.images / 16.0).astype(dtype)[:, None, :, :]
    y = bunch.target.astype(np.int64)
    train, test = _stratified_split(y, float(test_size), int(seed))
    if train.size == 0 or test.size == 0:
        raise ValueError(
            f"test_size={test_size} leaves the {'test' if test.size == 0 else 'training'} set "
            f"empty; choose a fraction further from 0 and 1"
        )
    return x[train], y[train], x[test], y[test]


def _target_size(size) -> tuple[int, int]:
    if isinstance(size, numbers.Integral) and not isinstance(size, bool):
        pair = (int(size), int(size))
    elif (
        isinstance(size, (tuple, list))
        and len(size) == 2
        and all(isinstance(s, numbers.Integral) and not isinstance(s, bool) for s in size)
    ):
        pair = (int(size[0]), int(size[1]))
    else:
        raise TypeError(f"size must be None, an int or a pair of ints (H, W), got {size!r}")
    if min(pair) < 1:
        raise ValueError(f"size must be positive, got {size!r}")
    return pair


def sample_image(name: str = "camera", size=None, gray: bool = True) -> np.ndarray:
    """A photograph bundled with scikit-image, as floats in [0, 1].

    Parameters
    ----------
    name : str
        One of: camera (gray cameraman), cat or chelsea (color cat), astronaut, coins, coffee,
        moon, page, text, rocket, brick, grass, gravel, checkerboard, horse (binary silhouette),
        clock, cell, colorwheel, microaneurysms, immunohistochemistry, hubble_deep_field,
        retina. ``SAMPLE_IMAGES`` holds the list.
    size : int or (int, int), optional
        Resize to (size, size) or (H, W), with anti-aliasing (a Gaussian blur before sampling,
        so shrinking does not create moire patterns). By default the original size.
    gray : bool
        True gives one channel (H, W), converting color with the luminance weights of
        ``skimage.color.rgb2gray``. False gives color channels first, (3, H, W), as a CNN
        expects; a gray original is repeated in all three channels.

    Returns
    -------
    ndarray of float64, shape (H, W) or (3, H, W)
        Values in [0, 1].

    Raises
    ------
    ValueError
        An unknown `name` (the message lists the available ones) or a non-positive `size`.

    Examples
    --------
    >>> sample_image("camera", size=64).shape
    (64, 64)
    >>> sample_image("cat", gray=False).shape
    (3, 300, 451)
    """
    import skimage.data
    from skimage.color import gray2rgb, rgb2gray
    from skimage.transform import resize
    from skimage.util import img_as_float

    if name not in SAMPLE_IMAGES:
        raise ValueError(
            f"unknown sample image {name!r}; available: {', '.join(sorted(SAMPLE_IMAGES))}"
        )
    image = img_as_float(getattr(skimage.data, SAMPLE_IMAGES[name])())  # (H, W) or (H, W, 3)
    if gray:
        image = rgb2gray(image) if image.ndim == 3 else image
    else:
        image = gray2rgb(image) if image.ndim == 2 else image
    if size is not None:
        image = resize(image, _target_size(size) + image.shape[2:], anti_aliasing=True)
    image = np.clip(image, 0.0, 1.0)  # interpolation may overshoot by a rounding error
    return image if gray else np.ascontiguousarray(image.transpose(2, 0, 1))
