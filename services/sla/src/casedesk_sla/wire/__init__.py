"""Protobuf <-> domain: case.events.v1 into case facts, SLA facts into sla.events.v1."""
