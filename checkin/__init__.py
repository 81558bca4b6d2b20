"""Check-in at the door: lists, scanner devices, the scan endpoint, the scan log, attendance."""
