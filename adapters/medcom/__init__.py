"""The MedCom adapter (Denmark): CareCommunication over FHIR messaging. Importing this package
imports no HTTP client."""
