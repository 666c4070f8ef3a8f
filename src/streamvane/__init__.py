"""Streamvane: Genesys Cloud conversation events in, per-queue interval KPI feeds out.

Importing the package stays cheap: nothing here imports Faust, Kafka or HTTP clients.
"""

__version__ = "0.1.0"
