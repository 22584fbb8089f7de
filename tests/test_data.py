"""Are the bundled datasets shaped, scaled, split and loaded as documented, without any download?"""

from __future__ import annotations

import socket

import numpy as np
import pytest

from cnncourse.data import SAMPLE_IMAGES, load_digits, sample_image


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Any attempt to open a connection fails the test: the data must ship with the packages."""

    def refuse(*args, **kwargs):
        raise AssertionError("cnncourse.data tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture(scope="module")
def sklearn_digits():
    from sklearn.datasets import load_digits as sk_load_digits

    return sk_load_digits()


@pytest.fixture(scope="module")
def split():
    return load_digits()


# ---------------------------------------------------------------- load_digits

def test_digits_shapes_dtypes_and_range(split):
    x_train, y_train, x_test, y_test = split
    assert x_train.ndim == 4 and x_train.shape[1:] == (1, 8, 8)
    assert x_test.shape[1:] == (1, 8, 8)
    assert x_train.shape[0] == y_train.shape[0] and x_test.shape[0] == y_test.shape[0]
    assert x_train.shape[0] + x_test.shape[0] == 1797
    assert x_train.dtype == x_test.dtype == np.float32
    assert y_train.dtype == y_test.dtype == np.int64
    for x in (x_train, x_test):
        assert x.min() == 0.0 and x.max() == 1.0  # 0..16 gray levels divided by 16
    assert set(np.unique(y_train)) == set(range(10)) == set(np.unique(y_test))


def test_digits_dtype_option():
    x_train, _, x_test, _ = load_digits(dtype=np.float64)
    assert x_train.dtype == x_test.dtype == np.float64


def test_digits_split_is_a_partition_with_labels_kept(split, sklearn_digits):
    x_train, y_train, x_test, y_test = split
    ours = np.concatenate([x_train, x_test]).reshape(-1, 64).astype(np.float64) * 16
    labels = np.concatenate([y_train, y_test])
    original = sklearn_digits.data
    order_ours = np.lexsort(np.column_stack([labels, ours]).T)
    order_orig = np.lexsort(np.column_stack([sklearn_digits.target, original]).T)
    # Same multiset of (image, label) pairs: nothing lost, duplicated or relabelled.
    np.testing.assert_array_equal(ours[order_ours], original[order_orig])
    np.testing.assert_array_equal(labels[order_ours], sklearn_digits.target[order_orig])


@pytest.mark.parametrize("test_size", [0.2, 0.5, 0.1])
def test_digits_split_is_stratified(sklearn_digits, test_size):
    _, y_train, _, y_test = load_digits(test_size=test_size)
    per_class = np.bincount(sklearn_digits.target)
    expected_test = np.array([round(test_size * n) for n in per_class])
    np.testing.assert_array_equal(np.bincount(y_test, minlength=10), expected_test)
    np.testing.assert_array_equal(np.bincount(y_train, minlength=10), per_class - expected_test)


def test_digits_training_set_is_shuffled(split):
    _, y_train, _, _ = split
    # Class-sorted training data would show long runs of one label.
    assert np.mean(y_train[1:] != y_train[:-1]) > 0.8


def test_digits_split_is_deterministic_and_depends_on_the_seed(split):
    again = load_digits(seed=0)
    for a, b in zip(split, again):
        np.testing.assert_array_equal(a, b)
    other = load_digits(seed=1)
    assert other[2].shape == split[2].shape
    assert not np.array_equal(other[2], split[2])
    assert not np.array_equal(other[3], split[3])


@pytest.mark.parametrize("test_size", [0, 1, 1.5, -0.1, "0.2", True])
def test_digits_refuses_bad_test_size(test_size):
    with pytest.raises(ValueError, match="test_size must be a fraction strictly between 0 and 1"):
        load_digits(test_size=test_size)


def test_digits_refuses_a_test_size_that_empties_a_set():
    with pytest.raises(ValueError, match="leaves the test set empty"):
        load_digits(test_size=0.001)


def test_digits_refuses_bad_dtype_and_seed():
    with pytest.raises(TypeError, match="dtype must be a floating dtype"):
        load_digits(dtype=np.int64)
    with pytest.raises(TypeError, match="seed must be an int"):
        load_digits(seed=0.5)


# ---------------------------------------------------------------- sample_image

def test_camera_is_the_gray_cameraman_scaled_to_unit_range():
    import skimage.data

    image = sample_image()
    assert image.shape == (512, 512) and image.dtype == np.float64
    np.testing.assert_allclose(image, skimage.data.camera() / 255.0, rtol=0, atol=1e-12)


def test_cat_in_color_is_channels_first():
    import skimage.data

    image = sample_image("cat", gray=False)
    assert image.shape == (3, 300, 451)
    np.testing.assert_allclose(image, skimage.data.chelsea().transpose(2, 0, 1) / 255.0, atol=1e-12)


def test_color_to_gray_uses_luminance_weights():
    import skimage.data

    rgb = skimage.data.astronaut() / 255.0
    expected = rgb @ np.array([0.2125, 0.7154, 0.0721])
    np.testing.assert_allclose(sample_image("astronaut"), expected, atol=1e-12)


def test_gray_image_asked_in_color_repeats_the_channel():
    image = sample_image("coins", gray=False)
    assert image.shape == (3, 303, 384)
    np.testing.assert_array_equal(image[0], image[1])
    np.testing.assert_array_equal(image[0], image[2])
    np.testing.assert_array_equal(image[0], sample_image("coins"))


@pytest.mark.parametrize("size,shape", [(32, (32, 32)), ((20, 30), (20, 30)), ([7, 5], (7, 5))])
@pytest.mark.parametrize("gray", [True, False])
def test_resize(size, shape, gray):
    image = sample_image("coffee", size=size, gray=gray)
    assert image.shape == (shape if gray else (3,) + shape)
    assert 0.0 <= image.min() and image.max() <= 1.0
    assert image.std() > 0.05  # still a picture, not a flat field


def test_resize_averages_rather_than_picks():
    # Anti-aliasing: shrinking a fine checkerboard to 1/25 of its size gives near-uniform gray,
    # where plain point sampling could land on all-black or all-white squares.
    small = sample_image("checkerboard", size=8)
    full = sample_image("checkerboard")
    assert small.std() < full.std() / 2


@pytest.mark.parametrize("name", sorted(SAMPLE_IMAGES))
def test_every_listed_image_loads_without_network(name):
    image = sample_image(name)
    assert image.ndim == 2 and image.dtype == np.float64
    assert 0.0 <= image.min() and image.max() <= 1.0 and image.max() > image.min()


def test_sample_image_errors():
    with pytest.raises(ValueError, match=r"unknown sample image 'lena'; available: .*camera.*cat"):
        sample_image("lena")
    with pytest.raises(ValueError, match="size must be positive"):
        sample_image(size=0)
    with pytest.raises(TypeError, match="size must be None, an int or a pair"):
        sample_image(size=(3, 4, 5))
    with pytest.raises(TypeError, match="size must be None, an int or a pair"):
        sample_image(size=2.5)
