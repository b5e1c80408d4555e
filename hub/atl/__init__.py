"""Working-time checks (ATL) for personal assistance, before a payment reaches UBW.

``rules`` holds the pure rules (shifts in, violations out), ``config`` their thresholds and legal
sources per rule set (a strict TOML file per collective agreement), ``shifts`` reads a
``timereport.assistance_shift`` body, ``hold`` checks a payment voucher at ingest and holds it.
"""
