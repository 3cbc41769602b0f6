"""Intake's pure domain: identifier checks, classification, acknowledgements, e-mail parsing.

Nothing here imports gRPC, protobuf, databases or settings.
"""
