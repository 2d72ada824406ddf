"""A model from its definitions: targets, restricted source, guarded loader, synthetic inputs, the child."""
