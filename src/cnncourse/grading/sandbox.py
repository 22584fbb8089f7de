"""Run a student notebook in a kernel that cannot take the grader down with it.

Two halves live here:

* the kernel launcher, ``python -m cnncourse.grading.sandbox --memory-limit BYTES -f
  {connection_file}``: it caps the kernel's address space (``RLIMIT_AS``, so a memory bomb
  meets ``MemoryError`` instead of the machine's OOM killer), forbids core dumps, and then
  becomes an ordinary ipykernel;
* :func:`execute_notebook`, which drives nbclient cell by cell in such a kernel with a per-cell
  timeout and a wall-clock watchdog that kills the kernel's whole process group, and reports
  what happened (finished, timed out, kernel died) and which cells ran.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field

__all__ = [
    "KERNEL_NAME",
    "ExecutionReport",
    "execute_notebook",
    "kernel_spec",
    "main",
]

KERNEL_NAME = "cnncourse-sandbox"
# Same marker nbgrader's Execute preprocessor uses, so a timed-out cell scores 0 in both.
_TIMEOUT_ERROR = {
    "ename": "CellTimeoutError",
    "evalue": "",
    "traceback": ["CellTimeoutError: No reply from kernel before timeout"],
}


def _set_limits(memory_limit: int) -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if memory_limit > 0:
        resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))


def main(argv: list[str] | None = None) -> None:
    """Kernel launcher: set the resource limits, then run ipykernel in this very process.

    Every argument the launcher does not know (``-f {connection_file}``, traitlets options)
    is handed to ipykernel unchanged.
    """
    parser = argparse.ArgumentParser(prog="python -m cnncourse.grading.sandbox")
    parser.add_argument("--memory-limit", type=int, default=0,
                        help="address-space limit of the kernel in bytes (0: no limit)")
    args, rest = parser.parse_known_args(argv)
    _set_limits(args.memory_limit)
    from ipykernel.kernelapp import launch_new_instance

    launch_new_instance(argv=rest)


def kernel_spec(memory_limit: int, env: dict[str, str] | None = None):
    """The kernel spec of the sandboxed kernel.

    Parameters
    ----------
    memory_limit : int
        Address-space limit of the kernel in bytes; 0 means no limit.
    env : dict, optional
        Extra environment variables of the kernel (added to the grader's own).
    """
    from jupyter_client.kernelspec import KernelSpec

    kernel_env = {
        "MPLBACKEND": "Agg",
        "NBGRADER_EXECUTION": "autograde",
        # One BLAS thread and few malloc arenas: the graders already run one kernel per core,
        # and every extra thread reserves address space that RLIMIT_AS counts.
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "MALLOC_ARENA_MAX": "2",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
    }
    kernel_env.update(env or {})
    return KernelSpec(
        argv=[sys.executable, "-m", "cnncourse.grading.sandbox",
              "--memory-limit", str(int(memory_limit)), "-f", "{connection_file}"],
        display_name="cnncourse sandbox (Python 3)",
        language="python",
        interrupt_mode="signal",
        env=kernel_env,
    )


def _spec_manager(spec):
    from jupyter_client.kernelspec import KernelSpecManager

    class _OneSpec(KernelSpecManager):
        def get_kernel_spec(self, kernel_name, *args, **kwargs):
            return spec

        def find_kernel_specs(self):
            return {KERNEL_NAME: ""}

    return _OneSpec()


@dataclass
class ExecutionReport:
    """What happened while a notebook ran.

    Attributes
    ----------
    outcome : str
        ``"finished"``, ``"timed out"`` or ``"kernel died"``.
    detail : str
        A sentence for the instructor and the student ("" when finished cleanly).
    executed : set of int
        Indices of the code cells that ran to completion (with or without an error).
    failed_cell : int or None
        Index of the cell during which the kernel was stopped or died.
    timed_out_cells : list of int
        Indices of the cells interrupted by the per-cell timeout.
    """

    outcome: str = "finished"
    detail: str = ""
    executed: set[int] = field(default_factory=set)
    failed_cell: int | None = None
    timed_out_cells: list[int] = field(default_factory=list)


def _kill_group(pgid: int | None) -> None:
    if not pgid:
        return
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _exit_description(km) -> str:
    process = getattr(getattr(km, "provisioner", None), "process", None)
    code = process.poll() if process is not None else None
    if code is None:
        return "it stopped responding"
    if code < 0:
        name = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else -code
        hint = " (probably out of memory)" if code == -signal.SIGKILL else ""
        return f"it was killed by signal {name}{hint}"
    return f"it exited with code {code}"


def _describe(nb, index: int) -> str:
    cell = nb.cells[index]
    grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
    first = next((line.strip() for line in cell.source.splitlines() if line.strip()), "")
    label = f"cell {index + 1}"
    if grade_id:
        label += f" ({grade_id})"
    elif first:
        label += f" ({first[:40]!r})"
    return label


def _error_output(ename: str, evalue: str):
    from nbformat.v4 import new_output

    return new_output("error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


async def _execute(nb, *, cwd, cell_timeout, notebook_timeout, memory_limit, interrupt_grace,
                   env, report: ExecutionReport) -> None:
    from jupyter_client.manager import AsyncKernelManager
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    km = AsyncKernelManager(kernel_name=KERNEL_NAME,
                            kernel_spec_manager=_spec_manager(kernel_spec(memory_limit, env)))

    def on_cell_executed(cell, cell_index, execute_reply):
        content = execute_reply["content"]
        if content.get("status") != "error":
            return
        if content.get("ename") == _TIMEOUT_ERROR["ename"]:
            report.timed_out_cells.append(cell_index)
        # As nbgrader's Execute: an error reply with no matching error output (a timeout)
        # still leaves an error in the cell, so the cell scores 0.
        if not any(o.output_type == "error" and o.get("ename") == content.get("ename")
                   for o in cell.outputs):
            cell.outputs.append(_error_output(content.get("ename", "Error"),
                                              content.get("evalue", "")))

    client = NotebookClient(
        nb, km=km, timeout=int(max(1, cell_timeout)), allow_errors=True,
        interrupt_on_timeout=True, error_on_timeout=dict(_TIMEOUT_ERROR),
        iopub_timeout=int(max(1, interrupt_grace)), raise_on_iopub_timeout=True,
        record_timing=False, startup_timeout=60, shutdown_kernel="immediate",
        # The kernel's own log (e.g. its note about plain-TCP transport on loopback) would
        # only clutter the grader's terminal.
        extra_arguments=["--HistoryManager.hist_file=:memory:", "--IPKernelApp.log_level=ERROR"],
        resources={"metadata": {"path": str(cwd)}}, on_cell_executed=on_cell_executed,
    )
    stopped = threading.Event()
    pgid = None
    watchdog = None
    try:
        async with client.async_setup_kernel():
            pgid = getattr(km.provisioner, "pgid", None) or getattr(km.provisioner, "pid", None)

            def stop():
                stopped.set()
                _kill_group(pgid)

            watchdog = threading.Timer(notebook_timeout, stop)
            watchdog.daemon = True
            watchdog.start()
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code":
                    continue
                started = time.monotonic()
                try:
                    await client.async_execute_cell(cell, index)
                except (CellTimeoutError, DeadKernelError) as error:
                    report.failed_cell = index
                    if stopped.is_set():
                        report.outcome = "timed out"
                        report.detail = (
                            f"the notebook did not finish within {notebook_timeout:g} s; "
                            f"grading stopped during {_describe(nb, index)}, so the cells "
                            "after it were not run")
                        cell.outputs.append(_error_output("NotebookTimeoutError", report.detail))
                        return
                    if isinstance(error, DeadKernelError):
                        report.outcome = "kernel died"
                        report.detail = (
                            f"the kernel died while running {_describe(nb, index)} "
                            f"({_exit_description(km)}); the cells before it keep their "
                            "scores, the cells after it were not run")
                        cell.outputs.append(_error_output("DeadKernelError", report.detail))
                        return
                    if time.monotonic() - started < cell_timeout:
                        report.failed_cell = None
                        # The reply came but its output lagged behind (a loaded machine).
                        report.executed.add(index)
                        continue
                    # The interrupt was ignored (a loop that swallows KeyboardInterrupt):
                    # the kernel is stuck, stop it rather than wait for every later cell.
                    _kill_group(pgid)
                    report.outcome = "timed out"
                    report.detail = (
                        f"{_describe(nb, index)} did not finish within {cell_timeout:g} s and "
                        "ignored the interrupt; the kernel was stopped, so the cells after it "
                        "were not run")
                    cell.outputs.append(_error_output("CellTimeoutError", report.detail))
                    return
                report.executed.add(index)
            if report.timed_out_cells:
                report.outcome = "timed out"
                cells = ", ".join(_describe(nb, i) for i in report.timed_out_cells)
                verb = "was" if len(report.timed_out_cells) == 1 else "were"
                report.detail = (f"{cells} did not finish within {cell_timeout:g} s and {verb} "
                                 "interrupted; the other cells still ran")
    finally:
        if watchdog is not None:
            watchdog.cancel()
        if client.kc is not None:
            client.kc.stop_channels()
        if km.has_kernel:
            with contextlib.suppress(Exception):  # a dead kernel may not shut down cleanly
                await km.shutdown_kernel(now=True)
        # Processes the student started inherit the kernel's process group: reap them too.
        _kill_group(pgid)
        await asyncio.sleep(0)


def execute_notebook(nb, *, cwd, cell_timeout: float = 60.0, notebook_timeout: float = 600.0,
                     memory_limit: int = 2 << 30, interrupt_grace: float = 5.0,
                     env: dict[str, str] | None = None) -> ExecutionReport:
    """Execute every code cell of ``nb`` in place in a sandboxed kernel.

    Parameters
    ----------
    nb : nbformat.NotebookNode
        The notebook; its code cells get fresh outputs.
    cwd : path-like
        Working directory of the kernel.
    cell_timeout : float
        Seconds a cell may run before it is interrupted (``KeyboardInterrupt``).
    notebook_timeout : float
        Wall-clock seconds for the whole notebook; past it the kernel's process group is
        killed, whatever the kernel is doing.
    memory_limit : int
        Address-space limit of the kernel in bytes (0: no limit).
    interrupt_grace : float
        Seconds an interrupted kernel has to become idle before it is killed.
    env : dict, optional
        Extra environment variables of the kernel.

    Returns
    -------
    ExecutionReport
    """
    report = ExecutionReport()
    started = time.monotonic()
    coroutine = _execute(nb, cwd=cwd, cell_timeout=cell_timeout,
                         notebook_timeout=notebook_timeout, memory_limit=memory_limit,
                         interrupt_grace=interrupt_grace, env=env, report=report)
    try:
        # The watchdog thread is the real limit; this only guards against nbclient itself
        # hanging after the kernel is gone.
        asyncio.run(asyncio.wait_for(coroutine, notebook_timeout + 60))
    except TimeoutError:
        report.outcome = "timed out"
        report.detail = (f"the notebook did not finish within {notebook_timeout:g} s "
                         f"(stopped after {time.monotonic() - started:.0f} s)")
    except RuntimeError as error:
        # nbclient raises RuntimeError when the kernel never came up (e.g. the memory limit
        # is below what Python needs to start).
        if report.outcome == "finished":
            report.outcome = "kernel died"
            report.detail = f"the kernel could not be started: {error}"
    return report


if __name__ == "__main__":
    main()
