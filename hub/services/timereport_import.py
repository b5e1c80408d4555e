"""``omsorgshub timereports import FILE --provider P``: a provider's CSV export of actual visits
as one batch (columns: ``hub.timereports.csv_import``).

The file is read whole, every row converted and checked, and the batch stored all or nothing
as ``hub.services.timereports`` does for the JSON API; each problem names its line. The import
runs on behalf of the provider's registered system (the batch's sender) and is audited as the
operator who ran it (the order lookups, a refusal).
"""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

from hub.bootstrap import Hub
from hub.errors import InputError
from hub.services.principal import Kind, Principal
from hub.services.timereports import BatchReceipt, Progress, report_batch
from hub.storage import timereports as rows
from hub.timereports.checks import Finding
from hub.timereports.csv_import import read_rows
from hub.timereports.incoming import from_row
from hub.timereports.model import Visit


def import_csv(
    hub: Hub,
    principal: Principal,
    path: Path,
    *,
    provider: str,
    batch_id: str | None = None,
    progress: Progress = lambda stage, n: None,
) -> BatchReceipt:
    principal.require(Kind.OPERATOR)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text ({exc.reason})", reason="csv_invalid") from exc
    except OSError as exc:
        raise InputError(f"{path}: {exc.strerror or exc}", reason="file_unreadable") from exc
    zone = ZoneInfo(hub.settings.time_zone)
    read = list(read_rows(text, zone))
    if not read:
        raise InputError(f"{path}: no visits after the header", reason="csv_empty")
    progress("rows", len(read))
    visits: list[Visit] = []
    findings: list[Finding] = []
    for index, (line, row) in enumerate(read):
        out = from_row(row, index, line)
        if isinstance(out, Finding):
            findings.append(out)
        else:
            visits.append(out)
    with hub.reader.connect() as conn:
        registered = rows.provider_row(conn, provider)
    if registered is None:
        raise InputError(
            f"no provider {provider!r} reports time here (timereports provider)",
            reason="provider_unknown",
        )
    return report_batch(
        hub,
        principal,
        sender=registered.system,
        provider=provider,
        visits=visits,
        findings=findings,
        batch_id=batch_id,
        progress=progress,
    )
