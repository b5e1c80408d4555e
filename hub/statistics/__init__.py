"""Monthly statistics and the chargeback of the contact centre's calls, pure: the month and its
bounds in the hub's time zone, prices and fixed fees with their validity, the invoice basis.
The counts come from ``hub.storage.service_stats``; the use cases are
``hub.services.service_stats``."""
