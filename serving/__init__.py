"""Serving with TF Serving: configuration (`prepare`), clients (`client`), and a local server
speaking TF Serving's REST (and gRPC) API for development and tests (`server`)."""
