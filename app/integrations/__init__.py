"""Vendor integrations: each wraps an injected HTTP client and raises its own error tree."""
