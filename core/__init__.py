"""The platform under both apps: the one error hierarchy and error-body builder, the API's
infrastructure (exception handler, schema hooks, pagination, renderers, strict serializers),
request and rate limits, the login lockout, the language list, the text rules and the CSV
neutraliser. Nothing here imports ``tickets`` or ``checkin`` (docs/architecture.md)."""
