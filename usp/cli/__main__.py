"""`python -m usp.cli` runs the `usp` command."""

from __future__ import annotations

import sys

from usp.cli.main import main

sys.exit(main())
