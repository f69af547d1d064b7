"""Serving colornet models: a TF Serving-compatible gRPC server, its client and production configs."""
