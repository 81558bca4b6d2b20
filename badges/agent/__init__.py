"""The print agent (``python -m badges.agent``): prints a print station's badges on a CUPS
queue or a Brother QL label printer, exactly once, across crashes (docs/badges.md, "Print
agent").

A remote client of the station API: it imports no Django model and needs no database, only
the server's address and the station's token. The rooms: ``client`` (the station API),
``journal`` (the local write-ahead journal), ``outputs/`` (``cups``, ``brother``),
``loop`` (claim, print, report; reconcile after a crash), ``__main__`` (the command).
"""
