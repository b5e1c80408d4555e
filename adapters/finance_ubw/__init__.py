"""The municipality's finance system, Unit4 Business World (Agresso), over its SOAP web
services: ``adapter`` speaks to UBW, ``mapping`` writes its documents and reads its answers,
``ocr`` checks the payment references of Swedish invoices. The registry names
``adapter:UbwFinanceAdapter``; importing this package imports no SOAP client (the UBW double
imports ``ocr`` from here).
"""
