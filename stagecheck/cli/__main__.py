"""``python -m stagecheck.cli``: the ``stagecheck`` command."""

import sys

from stagecheck.cli import main

sys.exit(main())
