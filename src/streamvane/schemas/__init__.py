"""Versioned Avro schemas (``<name>.v<N>.avsc``), shipped inside the package."""
