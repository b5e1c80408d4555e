"""The scenarios, each a module with ``run(options) -> list[Row]``; see ``bench/__init__.py``."""
