"""The record of processing activities (GDPR art. 30), generated from the agreements: its rows
(``processing``, pure) and its PDF (``pdf``). The use case is ``hub.services.processing_record``."""
