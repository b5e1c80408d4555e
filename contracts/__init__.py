"""Data-processing agreements (GDPR art. 28/30): model, file format, store, cache and policy.

A city district (the controller) lets a processor, such as Stockholm's Äldre direkt contact
centre, handle its clients' data only under a written agreement. This package holds those
agreements and decides, default deny, whether a message may enter the hub or be delivered.

    model.py       Agreement (one immutable version)
    fileformat.py  strict TOML import/export
    tables.py      SQLAlchemy tables, own ``metadata``
    store.py       AgreementStore: append-only versions over a caller's connection
    cache.py       AgreementCache: per-district lists in memory, bounded staleness
    policy.py      decide_ingest / decide_delivery -> Decision
    errors.py      this package's errors and the refusal codes

Imports nothing of the hub; category and type names come in as plain sets.
"""
