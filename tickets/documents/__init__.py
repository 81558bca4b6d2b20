"""The ticket's documents: the QR symbol (``qr``, ``qr_svg``), the PDF (``pdf``) with its
fonts (``fonts/``), and the calendar entry (``ics``)."""
