"""Omsorgshub's benchmark: ``python -m bench`` (embedded) and ``python -m bench --scaled-out``.

Every figure is printed next to a baseline measured in the same run with the same number of
operations, so a slow or busy machine moves both and the ratio stays meaningful:

=====================  =======================================  ================================
scenario               what is timed                            baseline
=====================  =======================================  ================================
pipeline               ``ingest_many`` in batches; ``ingest``   bare SQLAlchemy inserts of the
                       from 8 threads (SQLite, guards on)       same rows, same batch sizes
http-ingest            POST /api/v1/messages to ``omsorgshub    the same server answering
                       serve --no-worker`` (own process)        GET /healthz, same clients
end-to-end-embedded    first ingest → the HTTP double has       the double alone, POSTed the
                       every message (``hub.start()``)          same bodies by the same loop
end-to-end-scaled      PostgreSQL + RabbitMQ + Celery worker    bare Celery no-op tasks on the
                       + ``omsorgshub relay`` → double          same broker and worker settings
guards                 ingest and end to end with guards on     the same run with guards off
audit                  ``AuditTrail.append`` at 1, 5, 20, 500   bare inserts of the same rows;
                       entries per transaction; verify in       a bare SHA-256 chain over the
                       memory and as ``omsorgshub audit         pre-encoded canonical bytes
                       verify`` does (``verify_trail``)
=====================  =======================================  ================================

Speed is measured here and never asserted in tests. Each scenario builds a fresh hub in a
temporary folder (``hub.demo.sandbox.Sandbox``) and removes it afterwards. Results and the machine
they were measured on are in docs/BENCHMARKS.md.
"""
