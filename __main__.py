"""The Pulumi program: load the stack's config, build the components, export the outputs."""
