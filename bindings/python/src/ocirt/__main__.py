"""Entry point of ``python3 -m ocirt``; see ``ocirt.cli``."""

import sys

from .cli import main

sys.exit(main())
