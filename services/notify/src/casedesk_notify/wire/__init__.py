"""Protobuf <-> notify: case.events.v1 records in, notification.events.v1 journal entries out."""
