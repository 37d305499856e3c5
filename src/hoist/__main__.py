"""python -m hoist."""

import sys

from hoist.cli.main import main

sys.exit(main())
