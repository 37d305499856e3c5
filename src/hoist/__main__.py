"""python -m hoist."""

from hoist.cli.main import main

main()
