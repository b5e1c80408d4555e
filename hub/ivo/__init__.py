"""IVO reporting of decisions not carried out within three months (SoL/LSS).

``model`` holds the values, ``due`` the due rules (pure functions), ``events`` reads execution
events (``case.execution_event`` v1 and v2), ``codes`` makes IVO's code for a person,
``legal`` reads the configured legal references and ``worklist`` turns tracked decisions into
the quarter's individual reports (CSV, PDF, ``ivo.individual_report`` bodies). The use cases
that read and write the tracking rows are in ``hub.services.ivo_tracking`` and
``hub.services.ivo_reports``.
"""
