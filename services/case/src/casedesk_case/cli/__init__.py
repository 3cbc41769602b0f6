"""Command-line tools next to the service: `python -m casedesk_case.cli.<tool>`.

`outbox_status` (how far the outbox relay has got) and `rebuild_index` (the case index again
from the event store); both read the service's store with the service's own variables.
"""
