"""The app's routers, one per resource."""
