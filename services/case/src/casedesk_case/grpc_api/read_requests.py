"""Read requests turned into the application's criteria, every problem named by its field."""

from __future__ import annotations

from casedesk.case.v1 import case_service_pb2 as pb
from casedesk_case.application.views import CaseFilter, CaseOrder
from casedesk_case.domain.values import Category, Channel, Status, Tier
from casedesk_case.grpc_api.checks import RequestCheck
from casedesk_case.wire.enums import from_proto

CITIZEN_KINDS = {
    pb.CITIZEN_ID_SNILS: "SNILS",
    pb.CITIZEN_ID_PHONE: "PHONE",
    pb.CITIZEN_ID_EMAIL: "EMAIL",
}

ORDERS = {
    pb.CASE_ORDER_UNSPECIFIED: CaseOrder.REGISTRATION,
    pb.CASE_ORDER_DEADLINE: CaseOrder.DEADLINE,
}


def case_filter(check: RequestCheck, request: pb.ListCasesRequest) -> CaseFilter:
    status = check.decode(lambda: from_proto(Status, request.status, "status", required=False))
    channel = check.decode(lambda: from_proto(Channel, request.channel, "channel", required=False))
    tier = check.decode(lambda: from_proto(Tier, request.tier, "tier", required=False))
    category = check.decode(
        lambda: from_proto(Category, request.category, "category", required=False)
    )
    order = ORDERS.get(request.order)
    check.require(order is not None, "order", f"unknown value {request.order}")
    if request.callback_owed:
        # The callbacks owed come earliest due first, their own order.
        check.require(
            request.order == pb.CASE_ORDER_UNSPECIFIED,
            "order",
            "leave it unset with callback_owed: the callbacks come earliest due first",
        )
        order = CaseOrder.CALLBACK
    check.require(request.page_size >= 0, "page_size", "must not be negative")
    check.require(
        not (request.unassigned and request.assignee),
        "unassigned",
        "give either an assignee or unassigned, not both",
    )
    citizen_kind = ""
    if request.HasField("citizen"):
        citizen_kind = CITIZEN_KINDS.get(request.citizen.kind, "")
        check.require(bool(citizen_kind), "citizen.kind", f"unknown value {request.citizen.kind}")
        # Its format is the search term's to check (application/search_terms.py).
        check.require(bool(request.citizen.value.strip()), "citizen.value", "is required")
    return CaseFilter(
        citizen_kind=citizen_kind, citizen_value=request.citizen.value,
        citizen_login=request.citizen_login, status=status, queue=request.queue,
        assignee=request.assignee, channel=channel, tier=tier, unassigned=request.unassigned,
        open_only=request.open_only, category=category, callback_owed=request.callback_owed,
        order=order or CaseOrder.REGISTRATION,
    )  # fmt: skip


def queue_position(check: RequestCheck, request: pb.WatchQueueRequest) -> int | None:
    """The notification id a WatchQueue stream resumes after; None: from now on."""
    text = request.after_position
    if not text:
        return None
    valid = text.isascii() and text.isdigit() and len(text) <= 19
    check.require(valid, "after_position", "is not a position a QueueChange carried")
    return int(text) if valid else None
