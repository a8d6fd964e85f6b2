"""amsn-batch: file exchanges between an occupational health service and its members."""

__version__ = "0.1.0"
