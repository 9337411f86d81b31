"""Request and response bodies of the API, one module per resource; import from the module.

Naming: what a client sends is ``XCreate`` (or ``XUpdate`` for a change), what it gets back is
``XPublic`` (or ``XList`` for a collection). ``common.py`` holds the shared pieces.
One exception: ``audit.AuditPageOut`` keeps its old name (a test asserts it in /openapi.json).
"""
