"""Time reports from any provider's app: the visit model, its ``timereport.visit`` v2 document,
the checks a batch must pass, the CSV import's columns and the approval state of a batch."""
