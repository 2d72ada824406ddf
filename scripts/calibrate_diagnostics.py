"""Calibrate the runtime diagnostics ACT901–ACT905 on healthy and broken models.

Healthy: torchvision's and timm's standard classifiers built with default arguments, measured
here with the child's own code (``actlint.verify.measure.recorder``: the base forward/backward, then
``train_steps``), and the models of any paths given on the command line, built and measured by
the verifier itself (``actlint.verify.session.verify``, one child per model).  Broken: the
models of fixtures/verify/diagnostics and the runtime pages' Examples (``--broken``).

Prints one row per model: each diagnostic's statistic at init and after the training steps,
and which codes the current thresholds give.

    python scripts/calibrate_diagnostics.py --zoo                      # torchvision + timm
    python scripts/calibrate_diagnostics.py /work/corpus/pytorch+examples
    python scripts/calibrate_diagnostics.py --broken
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from actlint.verify.judge.diagnostics import diagnose, statistics  # noqa: E402

# (library, name, input shape): default arguments; the smallest input the model accepts.
ZOO = [
    ("torchvision", "resnet18", (16, 3, 64, 64)), ("torchvision", "resnet50", (16, 3, 64, 64)),
    ("torchvision", "vgg11", (16, 3, 64, 64)), ("torchvision", "vgg16", (16, 3, 64, 64)),
    ("torchvision", "alexnet", (16, 3, 64, 64)), ("torchvision", "squeezenet1_0", (16, 3, 64, 64)),
    ("torchvision", "mobilenet_v2", (16, 3, 64, 64)), ("torchvision", "mobilenet_v3_small", (16, 3, 64, 64)),
    ("torchvision", "mobilenet_v3_large", (16, 3, 64, 64)), ("torchvision", "efficientnet_b0", (16, 3, 64, 64)),
    ("torchvision", "densenet121", (16, 3, 64, 64)), ("torchvision", "shufflenet_v2_x1_0", (16, 3, 64, 64)),
    ("torchvision", "regnet_y_400mf", (16, 3, 64, 64)), ("torchvision", "convnext_tiny", (16, 3, 64, 64)),
    ("torchvision", "vit_b_16", (8, 3, 224, 224)),
    ("timm", "resnet18", (16, 3, 64, 64)), ("timm", "resnet50", (16, 3, 64, 64)),
    ("timm", "efficientnet_b0", (16, 3, 64, 64)), ("timm", "mobilenetv3_large_100", (16, 3, 64, 64)),
    ("timm", "convnext_atto", (16, 3, 64, 64)), ("timm", "regnety_004", (16, 3, 64, 64)),
    ("timm", "vit_tiny_patch16_224", (8, 3, 224, 224)), ("timm", "deit_tiny_patch16_224", (8, 3, 224, 224)),
    ("timm", "mixer_s16_224", (8, 3, 224, 224)), ("timm", "lcnet_050", (16, 3, 64, 64)),
]


def measure_zoo_model(library: str, name: str, shape, steps: int = 3, seed: int = 0) -> dict:
    """What child.py does for one model, on a model object built here."""
    import torch

    from actlint.verify.measure import recorder as measure

    torch.manual_seed(seed)
    if library == "torchvision":
        import torchvision

        model = getattr(torchvision.models, name)()
    else:
        import timm

        model = timm.create_model(name)
    model = model.train()
    torch.manual_seed(seed)
    desc = {"shape": list(shape), "dtype": "float"}
    run = measure.Run(model, measure.make_input(desc, "cpu", seed), "torch")
    run.forward()
    run.backward(None, seed)
    layers = run.layer_table()
    out = measure.output_tensor(run.out)
    result = {"ok": True, "ops": run.op_table(), "layers": layers, "output": measure.stats(out),
              "loss": {"value": measure.num(run.loss), "finite": bool(torch.isfinite(run.loss))},
              "grads_nonfinite": sum(int((~torch.isfinite(p.grad)).sum()) for _, p in measure.named_params(model)
                                     if p.grad is not None)}
    measure.zero_grads(model)
    result["after_training"] = measure.train_steps(model, run.x, steps, seed, None)
    return result


def verifier_models(paths: list[str]) -> list[tuple[str, dict]]:
    """The models of ``paths`` as ``actlint --verify`` builds them: (label, child result)."""
    from actlint.config import load_config
    from actlint.discover import discover
    from actlint.engine import lint_paths
    from actlint.verify.session import verify
    from actlint.verify.build.targets import Settings

    config = load_config(Path(paths[0]))
    found = discover(paths, config)
    report = lint_paths(found.files, config, jobs=1, cache=None)
    outcome = verify(report.findings, found.files, Settings.from_config(config.verify), config.root, workers=1,
                     show_progress=False)
    return [(m.target.label, m.result) for m in outcome.models if m.ok]


def broken_models() -> list[tuple[str, dict]]:
    """fixtures/verify/diagnostics and each runtime page's Example and 'Use instead'."""
    from actlint.pages import read_page
    from actlint.verify.judge.diagnostics import RUNTIME_RULES

    work = Path(tempfile.mkdtemp(prefix="actlint-calibrate-"))
    for code in RUNTIME_RULES:
        page = read_page(code)
        for heading, stem in (("## Example", "page_bad"), ("## Use instead", "page_good")):
            section = page.split(heading, 1)[1].split("\n## ", 1)[0]
            block = section.split("```python\n", 1)[1].split("```", 1)[0]
            (work / f"{stem}_{code}.py").write_text(block)
    paths = [str(work)] + [str(p) for p in sorted((ROOT / "fixtures" / "verify" / "diagnostics").glob("*.py"))]
    return verifier_models(paths)


def row(label: str, result: dict) -> dict:
    codes = sorted({f.code for f in diagnose(result, "x.py", label, 1)})
    return dict(statistics(result), model=label, fires=",".join(codes) or "-")


COLUMNS = [("model", "model"), ("dead_init", "all-zero@init"), ("dead_after", "all-zero@after"),
           ("dead_margin_init", "901 dead@init"), ("dead_margin_after", "901 dead@after"),
           ("dead_margin_lb", "901 statistic"), ("grad_ratio", "902/903 g1/gL@init"),
           ("grad_ratio_after", "g1/gL@after"), ("max_rel", "903 max g/w"), ("sat", "904 sat"),
           ("nonfinite", "905"), ("fires", "fires")]


def fmt(v) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.3g}" if v == 0 or 1e-3 <= abs(v) < 1e4 else f"{v:.2e}"
    return str(v)


def print_table(rows: list[dict]) -> None:
    print("| " + " | ".join(title for _, title in COLUMNS) + " |")
    print("|" + "|".join("---" for _ in COLUMNS) + "|")
    for r in rows:
        print("| " + " | ".join(fmt(r.get(key)) for key, _ in COLUMNS) + " |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="*", help="files or folders whose models the verifier builds")
    parser.add_argument("--zoo", action="store_true", help="torchvision and timm classifiers")
    parser.add_argument("--broken", action="store_true", help="fixtures/verify/diagnostics and the page examples")
    parser.add_argument("--only", help="comma-separated zoo model names")
    parser.add_argument("--json", help="also write the rows here")
    args = parser.parse_args()
    rows = []
    if args.zoo:
        import torch

        torch.set_num_threads(2)
        for library, name, shape in ZOO:
            if args.only and name not in args.only.split(","):
                continue
            start = time.perf_counter()
            try:
                result = measure_zoo_model(library, name, shape)
            except Exception as exc:  # noqa: BLE001 - a model that does not build is listed, not fatal
                print(f"{library}.{name}: {type(exc).__name__}: {exc}", file=sys.stderr)
                continue
            rows.append(row(f"{library}.{name} {tuple(shape)}", result))
            print(f"{library}.{name}: {time.perf_counter() - start:.1f} s", file=sys.stderr)
    if args.paths:
        rows += [row(label, result) for label, result in verifier_models(args.paths)]
    if args.broken:
        rows += [row(label, result) for label, result in broken_models()]
    print_table(rows)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
