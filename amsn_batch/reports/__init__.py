"""Reports written back to senders and to staff."""
