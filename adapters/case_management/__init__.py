"""The municipalities' case-management systems (Paraplyet, Lifecare, Procapita) over the hub's
SOAP contract: ``adapter`` speaks to them, ``mapping`` turns documents into requests and answers
into plain data. The registry names ``adapter:CaseManagementAdapter``; importing this package
imports no SOAP client.
"""
