"""autoclerk package."""
