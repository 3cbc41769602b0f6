"""Mapping between the domain and the protobuf contract (casedesk.common.v1, casedesk.case.v1).

Enums are mapped by member name, so the numbers live only in the .proto files.
"""
