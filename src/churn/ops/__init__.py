"""Tools for running and watching the service, beside the data's path rather than on it: the
native stack, the alert receiver, the metrics export and the containers' healthcheck."""
