"""``python -m lakecode``."""

from lakecode.cli.app import main

main()
