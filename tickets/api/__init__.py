"""The organiser and attendee REST API (``/api/v1/``)."""
