"""The tamper-evident audit trail: every access to personal data, one entry each.

Entries are appended in the caller's own database transaction (``trail.AuditTrail.append``),
chained by SHA-256 (``entry.chain_hash``) and periodically sealed by Ed25519-signed checkpoints
(``trail.AuditTrail.checkpoint``) that are also published to a JSON-lines file outside the
database. ``verify.verify`` checks a stream of entries against the checkpoints with the public
key alone, so a data-protection officer can verify an export offline (``python -m audit
verify``).

This package imports nothing else of the hub: it defines its own key interface
(``signing.Signer`` / ``signing.Verifier``) and raises only standard exceptions; the hub maps
a failed verification to ``hub.errors.AuditIntegrityError`` at its boundary.
"""
