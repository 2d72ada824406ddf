"""Isolation: children with a time limit and their own process group, and the audit hook inside them."""
