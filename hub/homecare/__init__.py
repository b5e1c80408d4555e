"""Home care under customer choice (seed 004): the compensation basis providers receive from
Pulsen Combine, and the follow-up of continuity and reported time (pure; the services read
and write)."""
