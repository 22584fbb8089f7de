"""Does the digits example train, save its figure and report the accuracy it measured?"""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from cnncourse.examples import digits


@pytest.fixture(scope="module")
def two_epochs(tmp_path_factory):
    out = tmp_path_factory.mktemp("digits") / "curves.png"
    history, accuracy = digits.run(epochs=2, seed=0, out=out, progress=False)
    return out, history, accuracy


def test_run_saves_a_png_of_the_documented_size(two_epochs):
    out, _, _ = two_epochs
    assert out.exists(), "run() should write the PNG it was given"
    with Image.open(out) as image:
        image.verify()  # raises on a truncated or corrupt file
    with Image.open(out) as image:
        assert image.format == "PNG"
        assert image.size == (round(digits.FIGSIZE[0] * digits.DPI),
                              round(digits.FIGSIZE[1] * digits.DPI))
        pixels = np.asarray(image.convert("RGB"))
    # A blank canvas would pass the checks above; the curves and filters add many colours.
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 50


def test_run_returns_the_history_and_its_last_test_accuracy(two_epochs):
    _, history, accuracy = two_epochs
    assert history.epochs == 2 and len(history.val_accuracy) == 2
    assert accuracy == history.val_accuracy[-1]
    assert accuracy > 0.5, "two epochs on the digits should beat chance (0.1) by far"


@pytest.mark.slow  # a fresh interpreter imports scikit-learn and matplotlib: ~5-10 s
def test_cli_prints_the_measured_accuracy(tmp_path):
    out = tmp_path / "cli.png"
    result = subprocess.run(
        [sys.executable, "-m", "cnncourse.examples.digits", "--epochs", "1", "--out", str(out)],
        capture_output=True, text=True, timeout=300, check=True,
    )
    lines = result.stdout.strip().splitlines()
    assert re.match(r"^test accuracy: 0\.\d{4}$", lines[-1]), result.stdout
    assert out.exists()
    # The same run in this process (same seed) is the independent measurement.
    _, accuracy = digits.run(epochs=1, seed=0, out=tmp_path / "again.png", progress=False)
    assert lines[-1] == f"test accuracy: {accuracy:.4f}"


def test_cli_rejects_zero_epochs(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "cnncourse.examples.digits", "--epochs", "0",
         "--out", str(tmp_path / "x.png")],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 2 and "--epochs must be at least 1" in result.stderr
