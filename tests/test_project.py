"""Does the project's set-up stay consistent (dependency lists, ignore rules, install idempotency)?"""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _name_and_spec(requirement: str) -> tuple[str, str]:
    match = re.match(r"\s*([A-Za-z0-9_.\-]+)\s*(.*)", requirement)
    return match.group(1).lower().replace("_", "-"), match.group(2).replace(" ", "")


def _pyproject_requirements() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = project["dependencies"] + project["optional-dependencies"]["dev"]
    return dict(_name_and_spec(r) for r in reqs)


def _conda_requirements() -> dict[str, str]:
    reqs = {}
    in_deps = False
    for line in (ROOT / "environment.yml").read_text().splitlines():
        if line.startswith("dependencies:"):
            in_deps = True
            continue
        item = re.match(r"^  - ([^:#]+?)\s*$", line)
        if in_deps and item:
            name, spec = _name_and_spec(item.group(1))
            if name not in {"python", "pip"}:
                reqs[name] = spec
    return reqs


def test_environment_yml_lists_the_same_dependencies_as_pyproject():
    assert _conda_requirements() == _pyproject_requirements()


def test_torch_is_never_a_declared_dependency():
    # PyTorch is a test oracle only: installing the course must never pull it in.
    assert "torch" not in _pyproject_requirements()
    assert "torch" not in _conda_requirements()


def test_grading_state_is_ignored_by_git():
    for path in ["autograder/gradebook.db", "autograder/submitted/x/a.ipynb",
                 "autograder/autograded/x", "autograder/feedback/x", "demo-output/grades.csv"]:
        result = subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT, check=False)
        assert result.returncode == 0, f"{path} is not git-ignored"


def test_make_install_is_idempotent():
    # After `make install` (which `make test` runs first), asking again must be a no-op.
    if not (ROOT / ".venv" / ".cnncourse-installed").exists():
        pytest.skip("the venv was not made by `make`")
    result = subprocess.run(["make", "-n", "install"], cwd=ROOT, capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stderr
    assert "pip install" not in result.stdout, result.stdout


def test_every_operation_and_backward_is_importable_from_the_top_level():
    import types

    import cnncourse

    required = {"conv2d", "conv2d_naive", "corr2d", "convolve2d", "pad2d", "conv_output_size",
                "max_pool2d", "avg_pool2d", "lp_pool2d", "channel_pool", "global_avg_pool2d",
                "relu", "sigmoid", "tanh", "softmax", "log_softmax", "flatten", "linear", "one_hot",
                "locally_connected2d", "im2col", "col2im", "cross_entropy", "conv2d_backward",
                "max_pool2d_backward", "avg_pool2d_backward", "lp_pool2d_backward",
                "relu_backward", "sigmoid_backward", "tanh_backward", "linear_backward"}
    assert required <= set(cnncourse.__all__)
    for name in cnncourse.__all__:
        assert callable(getattr(cnncourse, name)), name
    # A function exported under a module's name would shadow the module (cnncourse.ops.linear).
    import cnncourse.ops.im2col
    import cnncourse.ops.linear
    assert isinstance(cnncourse.ops.linear, types.ModuleType)
    assert isinstance(cnncourse.ops.im2col, types.ModuleType)
