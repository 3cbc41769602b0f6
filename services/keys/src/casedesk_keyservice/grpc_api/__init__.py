"""The KeyService servicer, its access table and its refusals as gRPC statuses."""
