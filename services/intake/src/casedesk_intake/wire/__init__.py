"""Protobuf <-> domain: the only place that builds or reads protobuf messages and maps enums."""
