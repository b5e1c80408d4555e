"""SDK (säker digital kommunikation): the secure-mailbox adapter over DIGG's REST API."""
