"""Events, ticket types, attendees and tickets: registration, signed QR codes, PDFs, e-mail."""
