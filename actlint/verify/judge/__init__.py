"""Numbers to verdicts, runtime diagnostics and the report (parent side: no framework)."""
