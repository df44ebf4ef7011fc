"""Pulumi ComponentResources for the node stack on AWS, one module per concern."""
