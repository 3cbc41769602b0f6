"""Checks of what frontends send, field by field, before anything is stored or forwarded.

Every problem becomes a (field path, description) pair for google.rpc.BadRequest; all problems of
a request are reported at once, so a frontend can mark every bad field in one round trip.
"""
