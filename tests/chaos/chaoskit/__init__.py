"""The chaos run (issue 21): Casedesk on a three-broker cluster through faults on a schedule, then
checked for anything lost or doubled. See tests/chaos/README.md."""
