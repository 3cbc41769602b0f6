"""The one vocabulary of Casedesk: every fact that more than one process uses.

- `enums`: the domain enumerations, member for member the protobuf enums of casedesk.common.v1
  (a test keeps them equal);
- `topics`: the Kafka topic names;
- `wording`: the Russian words citizens read (status labels, tier names, deadline phrasing, why a
  case was closed, what a phone callback is for);
- `moscow`: the Moscow time zone and the conversions between instants and microseconds;
- `attachments`: the media types of the files citizens may attach.

Standard library only, so that pure domain code may import it.
"""
