"""Clients of outside APIs a Streamvane process reads (Genesys' analytics API): HTTP shells over
the pure query and parsing code in :mod:`streamvane.feeds`."""
