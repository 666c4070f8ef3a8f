"""What a Streamvane process serves over HTTP besides deliveries: health probes with metrics, and
(``streamvane serve``) the status page and the read API over the computed interval documents."""
