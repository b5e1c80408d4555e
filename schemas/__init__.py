"""Message schemas of the hub: the hardened XML parser, the XSDs per message type and version,
the registry of message types (with the data categories each carries) and the envelope reader.

This package imports nothing else of the hub, so the hub, ``contracts/`` and tools can all use
it. Import from the submodules; nothing is loaded or compiled at import.
"""
