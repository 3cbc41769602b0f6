"""Casedesk intake: the public gRPC edge that channel frontends call to reach support."""
