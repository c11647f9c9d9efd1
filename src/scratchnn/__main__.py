"""``python -m scratchnn``: the same command line as ``scratchnn``."""

from .cli import main

raise SystemExit(main())
