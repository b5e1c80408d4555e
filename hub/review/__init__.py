"""Log review (loggkontroll, HSLF-FS 2016:40 4 kap. 9 §): the rules that pick accesses out of
the audit trail for a data-protection officer to look at (pure), beside the service that draws,
assigns and records the verdicts (``hub.services.log_review``)."""
