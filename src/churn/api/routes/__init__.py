"""One router per resource: predictions, service status, administration."""
