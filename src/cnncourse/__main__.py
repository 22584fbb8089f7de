"""``python -m cnncourse``: the same as the ``cnncourse`` command."""

import sys

from cnncourse.cli import main

sys.exit(main())
