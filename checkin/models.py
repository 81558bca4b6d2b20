"""Check-in data model (lists, devices, scans) — see the check-in issue."""
