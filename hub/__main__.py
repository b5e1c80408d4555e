"""``python -m hub`` is ``omsorgshub``."""

from hub.cli import main

main()
