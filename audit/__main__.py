"""``python -m audit``: the offline tools a data-protection officer needs without the hub.

    python -m audit keygen PRIVATE.pem PUBLIC.pem
    python -m audit verify EXPORT.jsonl CHECKPOINTS.jsonl PUBLIC.pem [--witness FILE ...]

``verify`` reads only the export file (its header carries the signed head), the published
checkpoints, any witness records and the public key; it exits 0 when the trail verifies, 1 when
it does not (naming the first bad entry: a witness names the first entry cut from the tail)
and 2 on unusable input. The hub's own CLI wraps the same functions for the database.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from audit.checkpoint import read_checkpoints
from audit.signing import generate_signing_key, load_verifier
from audit.verify import read_export, read_export_head, verify
from audit.witness import read_witness


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m audit", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    keygen = commands.add_parser("keygen", help="make an Ed25519 checkpoint signing key pair")
    keygen.add_argument("private", type=Path)
    keygen.add_argument("public", type=Path)
    check = commands.add_parser("verify", help="verify an export offline")
    check.add_argument("export", type=Path)
    check.add_argument("checkpoints", type=Path)
    check.add_argument("public_key", type=Path)
    check.add_argument(
        "--witness",
        type=Path,
        action="append",
        default=[],
        help="heads kept outside the hub (witness file, syslog extract, time-stamp tokens)",
    )
    check.add_argument(
        "--unsigned-grace",
        type=float,
        default=None,
        metavar="SECONDS",
        help="an entry no signature covers and older than this is an error",
    )
    args = parser.parse_args(argv)

    try:
        if args.command == "keygen":
            key_id = generate_signing_key(args.private, args.public)
            print(f"wrote {args.private} (private, 0600) and {args.public}; key id {key_id}")
            return 0
        head = read_export_head(args.export)
        checkpoints = [
            *read_checkpoints(args.checkpoints),
            *(cp for path in args.witness for cp in read_witness(path)),
            *([head] if head is not None else []),
        ]
        report = verify(
            read_export(args.export),
            checkpoints,
            load_verifier(args.public_key),
            unsigned_grace=args.unsigned_grace,
        )
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(
        f"entries checked: {report.entries_checked}, checkpoints checked: "
        f"{report.checkpoints_checked}, last signed entry: {report.last_checkpoint_seq}, "
        f"unsigned tail: {report.unsigned_tail}"
    )
    if report.ok:
        print("OK: the audit trail verifies")
        return 0
    print(f"FAILED at entry {report.first_bad_seq}: {report.problem}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
