"""Intake's pure domain: submissions and their checks, identifiers, classification, rate limits,
e-mail parsing, the acknowledgement's wording, and the refusals.

Standard library and casedesk_vocabulary only: no gRPC, protobuf, databases, settings or files.
"""
