"""Protobuf (casedesk.keys.v1) <-> the key service's and casedesk_keys' values, nothing else.
Shared by the servicer and the client."""
