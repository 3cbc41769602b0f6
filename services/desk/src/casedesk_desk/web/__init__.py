"""The desk's transport: server-rendered HTML over HTTP (Starlette + Jinja2), no gRPC served."""
