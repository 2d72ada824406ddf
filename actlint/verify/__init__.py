"""The runtime verifier (``actlint --verify``): builds each model in a child process and measures.

Parent side (never imports a framework): :mod:`targets` (which models, which arguments),
:mod:`builder` (the restricted module source), :mod:`runner` (isolated children with a
time limit), :mod:`probes` (verdicts), :mod:`diagnostics` (runtime-only codes),
:mod:`report` (JSON + HTML with plots).  Child side: :mod:`child` (build, run, measure).
"""
