"""HTTP routes of the tracking server, one module per resource."""
