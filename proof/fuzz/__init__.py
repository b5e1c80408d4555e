"""Hostile and malformed requests over HTTP: counts answers by status, 5xx, echoes and memory.

``python -m proof fuzz --requests N [--seed S] [--url U --token T --pid P]`` sends N requests
(entities, DTDs, XInclude, deep nesting, huge bodies and headers, wrong media types and
charsets, broken and foreign tokens, invalid identity numbers, Unicode oddities, valid
documents with one field changed; ``proof/fuzz/probes.py``) from ``--clients`` threads to a hub
it starts itself (``proof/fuzz/target.py``), or to the one at ``--url``. It prints the answers
by status and by kind, every 5xx, every answer that repeats what it should not (an identity
number, a name, a token, raw markup), and the server's resident memory every
``--memory-every`` requests. Exit status 1 when a 5xx, an echo or a request left unanswered
was seen, when memory still grew over the last half of the run, or when the server died.
The same seed sends the same requests.
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--requests", type=int, default=10_000, help="how many (default 10000)")
    parser.add_argument(
        "--seed", type=int, default=17, help="the same seed, the same requests (default 17)"
    )
    parser.add_argument("--clients", type=int, default=4, help="sending threads (default 4)")
    parser.add_argument(
        "--url", default="", help="fuzz the hub at this URL instead of starting one"
    )
    parser.add_argument(
        "--token", default="", help="with --url: a sending system's token (for valid documents)"
    )
    parser.add_argument("--pid", type=int, default=None, help="with --url: the server's pid")
    parser.add_argument(
        "--memory-every", type=int, default=10_000, help="sample memory every N requests"
    )
    parser.add_argument(
        "--memory-slack",
        type=float,
        default=16.0,
        help="MiB the last half of the run may still grow (default 16)",
    )
    parser.add_argument(
        "--timeout", type=float, default=30.0, help="seconds an answer may take (default 30)"
    )


def run(args: argparse.Namespace) -> int:
    from proof.fuzz.send import fuzz  # the hub and its servers: only when the command runs

    if args.requests < 1 or args.clients < 1 or args.memory_every < 1:
        print("fuzz: --requests, --clients and --memory-every must be at least 1")
        return 2
    if (args.token or args.pid) and not args.url:
        print("fuzz: --token and --pid go with --url (a hub started here has its own)")
        return 2
    return fuzz(args)
