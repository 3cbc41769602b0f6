"""The escalation rules, pure: what a case looks like from here, what triggers an escalation, and
the policy that decides. The enums (tiers, statuses, reasons, ...) are casedesk_vocabulary's."""
