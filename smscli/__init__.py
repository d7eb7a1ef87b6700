"""smscli: send SMS through HTTP SMS gateways, exactly once."""

__version__ = "0.1.0"
