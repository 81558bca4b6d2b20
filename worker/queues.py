"""Queue names. ``deliveries`` carries e-mail sending; ``default`` everything else."""

DEFAULT = "varco"
DELIVERIES = "deliveries"
ALL = (DEFAULT, DELIVERIES)
