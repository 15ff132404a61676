"""The GraphQL layer: Strawberry types, the schema, the ASGI app, request context and DataLoaders."""
