"""The tamper-evident audit trail: every access to personal data, one entry each.

Entries are appended in the caller's own database transaction (``trail.AuditTrail.append``),
chained by SHA-256 (``entry.chain_hash``); each append signs the new head with Ed25519 in the
same transaction (``head.py``) and first checks that the head it builds on is one the hub
signed, so an entry written with database access alone trips an alarm and the trail fails
closed (``alarm.py``). Every few seconds the relay copies the signed head into a checkpoint,
``checkpoints.jsonl`` and the witnesses outside the host (``witness.py``: a WORM file, syslog;
``timestamping.py``: RFC 3161). ``verify.verify`` checks a stream of entries against the
signatures with the public key alone, so a data-protection officer can verify an export offline
(``python -m audit verify``); ``stored.verify_stored`` checks the database read-only.

This package imports nothing else of the hub: it defines its own key interface
(``signing.Signer`` / ``signing.Verifier``) and raises only standard exceptions; the hub maps
a failed verification to ``hub.errors.AuditIntegrityError`` at its boundary.
"""
