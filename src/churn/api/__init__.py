"""The HTTP service: app factory, routes, request and response schemas."""
