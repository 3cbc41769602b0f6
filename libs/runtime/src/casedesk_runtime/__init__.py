"""Shared runtime of every Casedesk process: settings, logs, telemetry, gRPC server, Kafka."""
