"""gdlab's outer layer: the command line now, and the HTTP service to come."""
