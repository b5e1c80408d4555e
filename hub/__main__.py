"""``python -m hub`` is ``omsorgshub``."""

from hub.cli.main import main

main()
