"""Does the checks machinery call students safely, explain failures and notice tampering?

The reference used here is ``cnncourse.ops.activations.relu`` (any reference works); the oracle
for what relu should return is written in this file.
"""

from __future__ import annotations

import builtins
import sys
import warnings

import numpy as np
import pytest

from cnncourse import checks
from cnncourse.checks import Case, CheckFailure, Mistake, TamperError, _core
from cnncourse.ops import activations


def relu_reference(x):
    return np.where(x > 0, x, 0.0)


def student_relu(x):
    out = np.zeros_like(x)
    out[x > 0] = x[x > 0]
    return out


def _cases(seed=0, n=3):
    g = np.random.default_rng(seed)
    return [Case((g.standard_normal((3, 4)),)) for _ in range(n)]


def run(student, *, mistakes=(), cases=None, **kwargs):
    checks.run_exercise_check(student, relu_reference, cases or _cases(), name="relu values",
                              mistakes=mistakes, **kwargs)


def test_error_classes_are_assertions_and_tamper_messages_are_prefixed():
    assert issubclass(CheckFailure, AssertionError)
    assert issubclass(TamperError, CheckFailure)
    assert str(TamperError("x was replaced")).startswith("[tampered] ")


def test_a_correct_function_passes_with_one_line(capsys):
    run(student_relu)
    assert capsys.readouterr().out == "relu values: OK\n"


def test_not_implemented_propagates_unchanged():
    def stub(x):
        raise NotImplementedError()

    with pytest.raises(NotImplementedError) as info:
        run(stub)
    assert not isinstance(info.value, CheckFailure)


def test_other_exceptions_become_check_failures_chained_from_the_original():
    def broken(x):
        return x / 0 if False else x[10, 10]

    with pytest.raises(CheckFailure, match=r"your function raised IndexError: .* shape \(3, 4\)") \
            as info:
        run(broken)
    assert isinstance(info.value.__cause__, IndexError)


def test_in_place_modification_is_detected():
    def mutating(x):
        x[x < 0] = 0
        return x

    with pytest.raises(CheckFailure, match="input modified in place"):
        run(mutating)


def test_in_place_modification_of_a_keyword_argument_is_detected():
    def mutating(x, *, scale):
        scale *= 2
        return np.maximum(x, 0)

    cases = [Case((np.ones((2, 2)),), {"scale": np.ones(3)})]
    with pytest.raises(CheckFailure, match="input modified in place.*'scale'"):
        checks.run_exercise_check(mutating, lambda x, scale: np.maximum(x, 0), cases, name="s")


def test_warnings_and_prints_never_reach_stderr_and_are_reported(capsys):
    def noisy(x):
        print("debugging", file=sys.stderr)
        print("more debugging")
        warnings.warn("careful with that axe", UserWarning)
        return student_relu(x)

    run(noisy)
    captured = capsys.readouterr()
    assert captured.err == ""
    assert "debugging" not in captured.out
    assert "relu values: OK" in captured.out
    assert "UserWarning: careful with that axe" in captured.out


def test_a_failing_function_that_warns_has_the_warning_in_its_message(capsys):
    def noisy_wrong(x):
        with np.errstate(divide="warn"):
            np.float64(1.0) / np.zeros(1)
        return -x

    with pytest.raises(CheckFailure, match="RuntimeWarning: divide by zero"):
        run(noisy_wrong)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("caller", ["cnncourse", "scipy_ndimage", "torch"])
def test_calling_a_library_implementation_is_reported_as_reference(caller):
    if caller == "cnncourse":
        def lazy(x):
            return activations.relu(x)
    elif caller == "scipy_ndimage":
        ndimage = pytest.importorskip("scipy.ndimage")

        def lazy(x):
            return np.maximum(ndimage.uniform_filter(x, size=1), 0)
    else:
        torch = pytest.importorskip("torch")

        def lazy(x):
            return torch.relu(torch.from_numpy(x)).numpy()

    with pytest.raises(CheckFailure, match=r"^\[reference\] relu values: your function calls"):
        run(lazy)


def test_allowed_modules_are_not_reported(capsys):
    from cnncourse.ops import _validate

    def uses_helper(x):
        return np.maximum(_validate.as_float_array(x, "x"), 0)

    run(uses_helper)
    assert "OK" in capsys.readouterr().out


def test_allow_lets_a_listed_reference_module_through(capsys):
    def uses_reference(x):
        return activations.relu(x)

    run(uses_reference, allow=("cnncourse.ops.activations",))
    assert "OK" in capsys.readouterr().out


def test_an_allowed_function_may_use_forbidden_helpers_but_the_student_may_not(capsys):
    # relu_backward (allowed here) selects with cnncourse.ops._select (not allowed): that call
    # is relu_backward's, not the student's; the same helper called by the student is reported.
    from cnncourse.ops import _select

    def uses_reference(x):
        return activations.relu_backward(np.ones_like(x), x) * x

    run(uses_reference, allow=("cnncourse.ops.activations",))
    assert "OK" in capsys.readouterr().out

    def calls_the_helper(x):
        return _select.keep_where(x > 0, x)

    with pytest.raises(CheckFailure, match=r"your function calls cnncourse\.ops\._select"):
        run(calls_the_helper, allow=("cnncourse.ops.activations",))


def test_wrong_shape_is_reported_with_both_shapes():
    with pytest.raises(CheckFailure, match=r"wrong output shape.*expected \(3, 4\), got \(4, 3\)"):
        run(lambda x: student_relu(x).T)


def test_returning_none_or_a_list_is_explained():
    with pytest.raises(CheckFailure, match="returned None.*forget `return`"):
        run(lambda x: None)
    with pytest.raises(CheckFailure, match="expected a numpy array, got list"):
        run(lambda x: student_relu(x).tolist())


def test_integer_arrays_are_refused_with_a_hint():
    with pytest.raises(CheckFailure, match="floating-point array, got dtype int"):
        run(lambda x: (x > 0).astype(int))


def test_first_wrong_value_is_located():
    x = np.array([[1.0, -2.0], [3.0, -4.0]])

    def off(x):
        out = student_relu(x)
        out[1, 0] += 0.5
        return out

    with pytest.raises(CheckFailure, match=r"index \(1, 0\): expected 3, got 3\.5; 1 of 4"):
        run(off, cases=[Case((x,))])


def test_nan_output_is_flagged():
    with pytest.raises(CheckFailure, match="contains NaN"):
        run(lambda x: np.full_like(x, np.nan))


def test_a_recognised_mistake_is_named_with_its_hint():
    leaky = Mistake("negative part kept", "Set negative inputs to zero.",
                    lambda x: np.where(x > 0, x, 0.1 * x))
    with pytest.raises(CheckFailure, match="relu values: negative part kept.*Set negative"):
        run(lambda x: np.where(x > 0, x, 0.1 * x), mistakes=[leaky])


def test_a_mistake_indistinguishable_on_a_case_is_ignored():
    # On an all-positive input the "mistake" equals the right answer: it must not be blamed.
    x = np.abs(np.random.default_rng(1).standard_normal((2, 3))) + 0.1
    blamed = Mistake("identity", "never blamed", lambda x: x)
    checks.run_exercise_check(lambda x: x, relu_reference, [Case((x,))], name="pos",
                              mistakes=[blamed])
    found = checks.diagnose(x + 1, x, [blamed], Case((x,)), rtol=1e-6, atol=1e-8)
    assert found is None


def test_scalar_counts_must_be_exact_ints():
    def ref(n):
        return 3 * n

    cases = [Case((4,))]
    checks.run_exercise_check(lambda n: np.int64(3 * n), ref, cases, name="count")
    with pytest.raises(CheckFailure, match="expected an int, got float 12.0"):
        checks.run_exercise_check(lambda n: 3.0 * n, ref, cases, name="count")
    with pytest.raises(CheckFailure, match="wrong value for n: 4: expected 12, got 13"):
        checks.run_exercise_check(lambda n: 3 * n + 1, ref, cases, name="count")


def test_shape_only_checks_ignore_values(capsys):
    run(lambda x: -x, values=False)
    assert "relu values: OK" in capsys.readouterr().out


def test_not_a_function_is_explained():
    with pytest.raises(CheckFailure, match="expected a function, got ndarray"):
        run(np.zeros(3))


# ------------------------------------------------------------------------------------------
# Tampering


def test_replacing_a_numpy_function_is_tampering():
    original = np.allclose
    np.allclose = lambda *a, **k: True
    try:
        with pytest.raises(TamperError, match=r"^\[tampered\] numpy.allclose was replaced"):
            run(student_relu)
    finally:
        np.allclose = original


def test_replacing_a_numpy_testing_function_is_tampering():
    original = np.testing.assert_allclose
    np.testing.assert_allclose = lambda *a, **k: None
    try:
        with pytest.raises(TamperError, match=r"numpy.testing.assert_allclose"):
            run(student_relu)
    finally:
        np.testing.assert_allclose = original


def test_replacing_a_builtin_is_tampering():
    original = builtins.round
    builtins.round = lambda *a: 0
    try:
        with pytest.raises(TamperError, match=r"builtins.round was replaced"):
            checks.verify_untampered()
    finally:
        builtins.round = original


def test_assigning_a_check_function_is_refused_and_remembered():
    with pytest.raises(TamperError, match=r"^\[tampered\] cnncourse.checks.run_exercise_check"):
        checks.run_exercise_check = lambda *a, **k: None
    assert checks.run_exercise_check is _core.run_exercise_check  # the assignment did not happen
    with pytest.raises(TamperError, match="run_exercise_check was replaced by notebook code"):
        run(student_relu)


def test_replacing_a_check_function_behind_the_guard_is_detected():
    original = checks.__dict__["check_yourself"]
    checks.__dict__["check_yourself"] = lambda *a, **k: None
    try:
        with pytest.raises(TamperError, match=r"cnncourse.checks.check_yourself was replaced"):
            run(student_relu)
    finally:
        checks.__dict__["check_yourself"] = original


def test_the_checks_own_helpers_cannot_be_replaced():
    with pytest.raises(TamperError, match=r"cnncourse.checks._core._allclose"):
        _core._allclose = lambda *a, **k: True
    with pytest.raises(TamperError, match=r"cnncourse.checks._core.verify_untampered"):
        _core.verify_untampered = lambda: None
    assert _core._allclose is np.allclose


def test_replacing_a_topic_module_is_tampering():
    from cnncourse.checks import convolution

    with pytest.raises(TamperError, match=r"cnncourse.checks.convolution was replaced"):
        checks.convolution = type(sys)("fake")
    assert checks.convolution is convolution
    original = sys.modules["cnncourse.checks.convolution"]
    sys.modules["cnncourse.checks.convolution"] = type(sys)("fake")
    try:
        with pytest.raises(TamperError, match=r"sys.modules\['cnncourse.checks.convolution'\]"):
            checks.verify_untampered()
    finally:
        sys.modules["cnncourse.checks.convolution"] = original


def test_replacing_a_sys_modules_entry_is_tampering():
    original = sys.modules["numpy"]
    sys.modules["numpy"] = type(sys)("numpy")
    try:
        with pytest.raises(TamperError, match=r"sys.modules\['numpy'\] was replaced"):
            checks.verify_untampered()
    finally:
        sys.modules["numpy"] = original


def test_watched_reference_functions_are_protected():
    _core.watch(activations, ["relu"])
    original = activations.relu
    activations.relu = student_relu
    try:
        with pytest.raises(TamperError, match="cnncourse.ops.activations.relu was replaced"):
            run(student_relu)
    finally:
        activations.relu = original


def test_a_student_function_that_patches_numpy_while_running_is_caught():
    def sneaky(x):
        np.isclose = lambda *a, **k: np.ones(np.shape(a[0]), bool)
        return x

    original = np.isclose
    try:
        with pytest.raises(CheckFailure, match=r"\[tampered\] numpy.isclose"):
            run(sneaky)
    finally:
        np.isclose = original


# ------------------------------------------------------------------------------------------
# check_yourself


@pytest.fixture()
def demo_topic():
    def check_relu(fn):
        run(fn)

    def check_pair(fn, other):
        run(fn)
        run(other)

    checks.register("zz_demo", "relu", [check_relu])
    checks.register("zz_demo", "pair", [check_pair], needs=("relu", "relu2"))
    yield
    checks._REGISTRY.pop("zz_demo", None)


def test_check_yourself_prints_one_line_per_exercise(demo_topic, capsys):
    checks.check_yourself({"relu": student_relu, "relu2": student_relu}, "zz_demo")
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("relu ") and lines[0].endswith(" passed")
    assert lines[1].startswith("pair ") and lines[1].endswith(" passed")


def test_check_yourself_never_raises(demo_topic, capsys):
    def stub(x):
        raise NotImplementedError()

    checks.check_yourself({"relu": stub}, "zz_demo")
    out = capsys.readouterr().out
    assert "relu" in out and "NOT YET: not implemented" in out
    assert "NOT YET: relu2 is not defined" in out

    checks.check_yourself({"relu": lambda x: x.T, "relu2": student_relu}, "zz_demo")
    assert "NOT YET: relu values: wrong output shape" in capsys.readouterr().out

    checks.check_yourself({}, "no_such_topic")
    assert "no exercises registered" in capsys.readouterr().out
