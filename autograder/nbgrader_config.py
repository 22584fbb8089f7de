"""nbgrader configuration of the cnncourse course directory (this folder).

Run nbgrader's own commands from here (``cd autograder && nbgrader autograde 01_convolution``),
or use ``cnncourse grade``, which reads the same paths. See README.md in this folder.
"""

import os

c = get_config()  # noqa: F821 - injected by traitlets when it loads this file

HERE = os.path.dirname(os.path.abspath(__file__))

# --- course directory: sources and releases live in the repository, state lives here ---------
c.CourseDirectory.root = HERE
c.CourseDirectory.course_id = "cnncourse"
c.CourseDirectory.source_directory = os.path.join("..", "solutions")
c.CourseDirectory.release_directory = os.path.join("..", "notebooks")
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(HERE, "gradebook.db")

# --- exchange (JupyterHub route): a folder every user can write ---------------------------------
# On a hub set CNNCOURSE_EXCHANGE_ROOT to the shared folder (e.g. /srv/nbgrader/exchange) for the
# instructor and the students; without it a local exchange in autograder/exchange/ is used.
c.Exchange.root = os.environ.get("CNNCOURSE_EXCHANGE_ROOT", os.path.join(HERE, "exchange"))

# --- execution limits of `nbgrader autograde` (cnncourse grade reads Execute.timeout too) ------
c.Execute.timeout = 60  # seconds per cell, then the cell is interrupted
c.Execute.interrupt_on_timeout = True
