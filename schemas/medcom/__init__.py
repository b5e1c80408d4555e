"""MedCom (Denmark) messaging over FHIR R4: CareCommunication and Acknowledgement.

The hub's neutral ``care.communication`` document (``document``), the FHIR message bundle it
maps to and from (``message`` builds one, ``reading`` checks and reads one against MedCom's
profile rules), and the acknowledgement bundle (``acknowledgement``). The FHIR resources are
``fhir.resources``' R4B models (R4B changed none of the resources used here from R4: Bundle,
MessageHeader, Organization, Patient, Practitioner(Role), Communication, Provenance,
OperationOutcome); the rules MedCom's profiles add on top are written here, by hand, because no
Python library validates FHIR profiles. Facts from ``medcomdk/dk-medcom-carecommunication``,
``dk-medcom-acknowledgement``, ``dk-medcom-messaging``, ``dk-medcom-core`` and
``dk-medcom-terminology``.

Like the rest of ``schemas/``, this package imports nothing of the hub or the adapters.
"""
