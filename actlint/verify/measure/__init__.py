"""What the model did: the recorder (ops, layers, gradients) and the per-rule experiments. Child side: imports torch."""
