"""``python -m proof chaos|fuzz|scan [options]``: each command documents its options (``--help``)
and exits non-zero when a promise did not hold (lost or duplicate effects, a 5xx, an echo of
input it should not repeat, growing memory, personal data found in plain text)."""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Protocol


class Command(Protocol):
    """What each command module offers."""

    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...


# Command name → module. Every module is imported to build the help, so each keeps its heavy
# imports (servers, Hypothesis, the hub itself) inside ``run``.
COMMANDS = {
    "chaos": "proof.chaos",
    "fuzz": "proof.fuzz",
    "scan": "proof.scan",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m proof", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    modules: dict[str, Command] = {}
    for name, module_path in COMMANDS.items():
        module: Command = importlib.import_module(module_path)
        modules[name] = module
        doc = (sys.modules[module_path].__doc__ or "").strip().splitlines()
        command_parser = sub.add_parser(name, help=doc[0] if doc else name, description=__doc__)
        module.add_arguments(command_parser)
    args = parser.parse_args(argv)
    try:
        return modules[args.command].run(args)
    except KeyboardInterrupt:
        # Ctrl-C: the commands' context managers have stopped their processes, unmounted and
        # removed their folders on the way out; say so in one line instead of a traceback.
        print(
            f"python -m proof {args.command}: interrupted; its processes are stopped",
            file=sys.stderr,
        )
        return 130


if __name__ == "__main__":
    sys.exit(main())
