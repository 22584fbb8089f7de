"""Course workflow over nbgrader: release, collect, autograde, export, feedback, report.

One module per step (``release``, ``collect``, ``autograde``, ...); ``cnncourse.cli`` exposes each
as a subcommand. Import the step you need, e.g. ``from cnncourse.grading.release import release``.
"""
