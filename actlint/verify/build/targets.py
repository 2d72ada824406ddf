"""Which models to build: from the static findings, the file's definitions and ``[tool.actlint.verify]``.

For each file it finds the model classes (``nn.Module``/``keras.Model`` subclasses not
used inside another model) and module-level models (``nn.Sequential(...)``, Keras
``Sequential``/functional ``Model``), the constructor arguments (a call site in the file
whose arguments the restricted module can evaluate, then defaults, then a guess from the
parameter's name, then configuration), the loss the file feeds the model's output to,
and which static findings each model can answer.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from actlint.config import ConfigError
from actlint.findings import Finding
from actlint.verify.build.builder import import_names, module_level_names, restricted_source
from actlint.verify.build.function_models import STEP_ATTRS, FunctionModel, cut_function, function_models
from actlint.verify.build.inputs import input_hints, nodes_of
from actlint.verify.build.tf_alias import real_tensorflow_use

# The probe each static rule asks the child for (see actlint/verify/measure/experiments.py PROBES).
PROBE_KIND = {
    "ACT101": "twin_relu", "ACT102": "normalised", "ACT110": "normalised", "ACT113": "normalised",
    "ACT103": "fused", "ACT109": "fused", "ACT104": "implicit_dim", "ACT105": "output_range",
    "ACT111": "output_range", "ACT114": "output_range", "ACT106": "matched_init", "ACT112": "float16",
    "ACT108": "leading",
}
TWIN_CODES = frozenset({"ACT101", "ACT106"})
_TORCH_BASES = {"Module", "LightningModule"}
_KERAS_BASES = {"Model"}
_CONTAINERS = {"Sequential", "Model", "Functional"}
_MOVES = {"to", "cuda", "cpu", "double", "float", "half", "train", "eval", "requires_grad_"}


@dataclass
class Settings:
    """``[tool.actlint.verify]``: per-model overrides, an extra factory, device, timeout, steps."""

    models: dict[str, dict] = field(default_factory=dict)
    factories: list[str] = field(default_factory=list)
    device: str | None = None
    timeout: float = 60.0
    train_steps: int = 3
    batch: int = 64
    run_scripts: bool = True     # run a training file under the tracer first (its own model, batch and loss)

    @classmethod
    def from_config(cls, items: tuple) -> "Settings":
        table = dict(items)
        known = {"models", "factory", "device", "timeout", "train-steps", "train_steps", "batch", "run-scripts"}
        for key in table:
            if key not in known:
                raise ConfigError(f"[tool.actlint.verify] unknown key {key!r} (known: {', '.join(sorted(known))})")
        models = table.get("models", {})
        if not isinstance(models, dict) or not all(isinstance(v, dict) for v in models.values()):
            raise ConfigError("[tool.actlint.verify] models must be a table of \"file.py:Name\" = {args, input, ...}")
        for name, spec in models.items():
            if ":" not in name:
                raise ConfigError(f"[tool.actlint.verify] models key {name!r} must be \"file.py:Name\"")
            bad = set(spec) - {"args", "kwargs", "input", "dtype", "high", "factory"}
            if bad:
                raise ConfigError(f"[tool.actlint.verify] models.{name}: unknown key(s) {sorted(bad)}")
        factory = table.get("factory", [])
        factories = [factory] if isinstance(factory, str) else list(factory)
        if any(":" not in f for f in factories):
            raise ConfigError("[tool.actlint.verify] factory must be \"pkg.mod:function\"")
        try:
            timeout = float(table.get("timeout", 60))
            steps = int(table.get("train-steps", table.get("train_steps", 3)))
            batch = int(table.get("batch", 64))
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"[tool.actlint.verify] {exc}") from exc
        run_scripts = table.get("run-scripts", True)
        if not isinstance(run_scripts, bool):
            raise ConfigError(f"[tool.actlint.verify] run-scripts = {run_scripts!r}: expected true or false")
        return cls(models, factories, table.get("device"), timeout, steps, batch, run_scripts)

    def model_override(self, path: str, name: str) -> dict | None:
        posix = Path(path).as_posix()
        for key, spec in self.models.items():
            file, _, model = key.rpartition(":")
            if model == name and (posix == file or posix.endswith("/" + file.lstrip("./"))):
                return spec
        return None


@dataclass
class Target:
    """One model to build and run in a child process."""

    label: str                   # "path.py:Net"
    path: str                    # as findings show it
    file: Path                   # the real file
    name: str
    framework: str               # torch | keras
    build: dict
    source: str                  # the restricted module source
    lines: set[int]              # lines of the definition (for mapping findings)
    input: dict | None = None
    loss: dict | None = None
    findings: list[Finding] = field(default_factory=list)
    assumptions: list[str] = field(default_factory=list)
    input_hints: dict = field(default_factory=dict)  # what the file says about the input (verify/inputs.py)
    line: int = 0                # where it is made (a variable's assignment), when that is not its first line

    def spec(self) -> dict[str, Any]:
        probes = []
        for i, f in enumerate(self.findings):
            kind = PROBE_KIND.get(f.code)
            if kind:
                # A twin fixes every finding of its rule in the model at once, as the fix would.
                same = [g for g in self.findings if g.code == f.code] if f.code in TWIN_CODES else [f]
                lines = sorted({ln for g in same for ln in range(g.line, g.end_line + 1)})
                probes.append({"id": str(i), "code": f.code, "kind": kind, "lines": lines,
                               "loss_family": "binary" if f.code == "ACT110" else "categorical",
                               **(log_form(f) if f.code == "ACT109" else {})})
        needs_tf = bool(re.search(r"^\s*(import|from)\s+tensorflow\b", self.source, re.M))
        module_name, root = package_module(self.file, self.source)
        return {"source": self.source, "user_file": str(self.file.resolve()), "build": self.build,
                "needs_tensorflow": needs_tf, "tf_real": real_tensorflow_use(self.source) if needs_tf else None,
                "module_name": module_name, "package_root": root,
                "framework": self.framework, "input": self.input, "loss": self.loss, "probes": probes,
                "input_hints": self.input_hints,
                "sys_path": [str(self.file.resolve().parent)] + ([root] if root else [])}


def package_module(file: Path, source: str) -> tuple[str | None, str | None]:
    """For a file with relative imports: its module name in its package and the project root above it.

    The root is the nearest folder above the file without ``__init__.py`` (the package's parent).
    """
    if not re.search(r"^\s*from\s+\.", source, re.M):
        return None, None
    path = file.resolve()
    parts = [path.stem]
    folder = path.parent
    while (folder / "__init__.py").is_file() and folder.parent != folder:
        parts.insert(0, folder.name)
        folder = folder.parent
    if len(parts) == 1:  # not inside a package: run it as the package its folder would be
        parts.insert(0, path.parent.name)
        folder = path.parent.parent
    if not all(p.isidentifier() for p in parts):
        return None, None
    return ".".join(parts), str(folder)


def _dotted(expr: ast.AST) -> str:
    parts = []
    while isinstance(expr, ast.Attribute):
        parts.append(expr.attr)
        expr = expr.value
    if isinstance(expr, ast.Name):
        parts.append(expr.id)
    elif isinstance(expr, ast.Call):
        parts.append(_dotted(expr.func) + "()")
    return ".".join(reversed(parts))


def _imports(tree: ast.Module) -> dict[str, str]:
    """Local name -> the module path it was imported from (``Sequential`` -> ``keras.models.Sequential``)."""
    out = {}
    for node in nodes_of(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                out[(a.asname or a.name).split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module:
            for a in node.names:
                out[a.asname or a.name] = f"{node.module}.{a.name}"
    return out


def _framework_of(dotted: str, imports: dict[str, str]) -> str | None:
    head = dotted.split(".")[0]
    full = imports.get(head, head) + dotted[len(head):]
    if full.startswith(("torch", "pytorch_lightning", "lightning")):
        return "torch"
    if full.startswith(("keras", "tensorflow", "tf.")):
        return "keras"
    return None


CONFIG_PARAMS = frozenset({"config", "cfg", "conf", "args", "opt", "opts", "hparams", "hp", "params",
                           "model_args", "model_config", "options", "settings"})
_SCALARS = {"int": int, "float": float, "bool": bool, "str": str}


def _guess(param: str, annotation: str | None = None, init: ast.FunctionDef | None = None) -> Any:
    """A stand-in value for a required constructor parameter: from how ``__init__`` uses it, its
    annotation, then its name."""
    used = _usage_guess(param, init) if init is not None else None
    if used is not None:
        return used
    p = param.lower()
    kind = _SCALARS.get((annotation or "").rsplit(".", 1)[-1])
    if kind is bool:
        return False
    if "drop" in p or p == "p":
        return 0.1
    if "shape" in p:
        return (3, 32, 32)  # an image shape: unpacked as channels, height, width
    if "factor" in p or "upscale" in p or "stride" in p:
        return 2
    if kind is str:
        return "default"
    value = _name_guess(p)
    if kind is int and not isinstance(value, int):
        return 2 if value == 1.0 else int(value)
    if kind is float:
        return float(value)
    return value


def _name_guess(p: str) -> Any:
    if any(k in p for k in ("class", "label", "tag", "out", "action", "target")):
        return 1.0 if "max" in p or "scale" in p else 10
    if "vocab" in p or "token" in p:
        return 1000
    if p in ("in_channels", "in_ch", "c_in", "in_c", "input_channels", "image_channels"):
        return 3
    if "channel" in p:
        return 16  # feature channels: divisible by the usual reductions (SE blocks, groups)
    if "head" in p:
        return 4
    if "layer" in p or "depth" in p or "block" in p:
        return 2
    if "rate" in p or p == "lr" or "scale" in p or "max" in p:
        return 1.0
    return 32


def _usage_guess(param: str, init: ast.FunctionDef) -> Any:
    """What ``__init__`` does with ``param``: compared with strings (``rnn_type in ['LSTM', 'GRU']``)
    gives the first string; unpacked into three names gives an image shape; indexed gives a tuple;
    passed to ``range``/``PixelShuffle`` gives an int."""
    for node in ast.walk(init):
        if isinstance(node, ast.Compare) and isinstance(node.left, ast.Name) and node.left.id == param:
            for comp in node.comparators:
                consts = [comp] if isinstance(comp, ast.Constant) else list(getattr(comp, "elts", []))
                strings = [c.value for c in consts if isinstance(c, ast.Constant) and isinstance(c.value, str)]
                if strings:
                    return strings[0]
        if (isinstance(node, ast.Assign) and isinstance(node.value, ast.Name) and node.value.id == param
                and isinstance(node.targets[0], ast.Tuple)):
            n = len(node.targets[0].elts)
            return (3, 32, 32) if n == 3 else tuple([16] * n)
        if isinstance(node, ast.Call):
            called = _dotted(node.func).rsplit(".", 1)[-1]
            if called in ("range", "PixelShuffle", "PixelUnshuffle") and any(
                    isinstance(a, ast.Name) and a.id == param for a in node.args):
                return 2
    return None


# Layers with parameters (their constructors, by the last part of the name), for ACT107's choice of model.
_LEARNED = re.compile(r"^(Lazy)?(Linear|Bilinear|Conv(Transpose)?[123]d|Embedding(Bag)?|(LSTM|GRU|RNN)(Cell)?|"
                      r"MultiheadAttention|Transformer\w*|BatchNorm[123]d|LayerNorm|GroupNorm|InstanceNorm[123]d|"
                      r"PReLU|Parameter|Dense|Conv[123]D(Transpose)?|DepthwiseConv2D|SeparableConv[12]D|SimpleRNN|"
                      r"MultiHeadAttention|BatchNormalization|LayerNormalization|Bidirectional|EinsumDense)$")
# Packages whose calls make no model on their own (a model's layers are counted by _LEARNED).
_PLAIN_PACKAGES = frozenset({"torch", "keras", "tensorflow", "tf", "numpy", "np", "math", "random", "os", "sys",
                             "functools", "itertools", "collections", "typing", "dataclasses", "argparse", "json",
                             "pathlib", "re", "time", "copy", "einops", "matplotlib", "pandas", "sklearn",
                             "scipy", "tqdm", "logging", "warnings", "pytorch_lightning", "lightning"})
_NO_PARAMS = ("ReLU", "Sigmoid", "Tanh", "Dropout", "Flatten", "Identity", "Softmax", "load", "open", "print")


class FileModels:
    """The models of one file and what the verifier needs to build them."""

    def __init__(self, path: str, file: Path, text: str, settings: Settings) -> None:
        self.path, self.file, self.text, self.settings = path, file, text, settings
        self.tree = ast.parse(text)
        self.imports = _imports(self.tree)
        self.evaluable = module_level_names(text) | {"True", "False", "None"}
        self.classes = self._model_classes()
        self.targets: list[Target] = []
        # What the static picture says the script trains: model classes by name, other models by the
        # line that makes them (see :func:`trained_models`).
        self.trained_names: set[str] = set()
        self.trained_lines: set[int] = set()
        self._learned: dict[str, int] = {}
        self.unbuildable: dict[str, str] = {}  # function name -> why its model is not built
        self._find_targets()

    # ---- discovery

    def _model_classes(self) -> dict[str, tuple[ast.ClassDef, str]]:
        found: dict[str, tuple[ast.ClassDef, str]] = {}
        defs = [n for n in self.tree.body if isinstance(n, ast.ClassDef)]
        changed = True
        while changed:
            changed = False
            for cls in defs:
                if cls.name in found:
                    continue
                for base in cls.bases:
                    dotted = _dotted(base)
                    last = dotted.rsplit(".", 1)[-1]
                    fw = _framework_of(dotted, self.imports)
                    if dotted in found:
                        found[cls.name] = (cls, found[dotted][1])
                    elif last in _TORCH_BASES or (last == "Sequential" and fw == "torch"):
                        found[cls.name] = (cls, "torch")
                    elif last in _KERAS_BASES or (last == "Sequential" and fw == "keras"):
                        found[cls.name] = (cls, "keras")
                    else:
                        continue
                    changed = True
                    break
        return found

    def _find_targets(self) -> None:
        used_inside: set[str] = set()
        for name, (cls, _) in self.classes.items():
            used_inside |= {n.id for n in ast.walk(cls) if isinstance(n, ast.Name)} - {name}
        module_vars = []
        for node in self.tree.body:
            if (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
                    and isinstance(node.value, ast.Call)):
                dotted = _dotted(node.value.func)
                last = dotted.rsplit(".", 1)[-1]
                fw = _framework_of(dotted, self.imports)
                if (last in _CONTAINERS and fw) or self._trained_layer(node.targets[0].id, dotted):
                    module_vars.append((node, fw or "torch"))
                    used_inside |= {n.id for n in ast.walk(node.value) if isinstance(n, ast.Name)}
        for name, (cls, fw) in self.classes.items():
            if name not in used_inside:
                self.targets.append(self._class_target(name, cls, fw))
        for node, fw in module_vars:
            self.targets.append(self._var_target(node, fw))
        self._function_targets(used_inside)

    def _container_framework(self, call: ast.Call) -> str | None:
        dotted = _dotted(call.func)
        fw = _framework_of(dotted, self.imports)
        return fw if dotted.rsplit(".", 1)[-1] in _CONTAINERS and fw else None

    def _function_targets(self, used_inside: set[str]) -> None:
        """Models a module-level function makes (a factory, or a training function before its fit)."""
        made = function_models(self.tree, self.text, self._container_framework)
        makers = {fm.function.name for fm in made}
        for fm in made:
            name = fm.function.name
            if name in used_inside or name in self.classes:
                continue  # a block of another model: built as part of it
            target = self._function_target(fm, makers)
            if isinstance(target, str):
                self.unbuildable[name] = target
            else:
                self.targets.append(target)

    def _function_target(self, fm: FunctionModel, makers: set[str] = frozenset()) -> "Target | str":
        name, fn = fm.function.name, fm.function
        source, kept = restricted_source(fm.text, {name})
        made = f"the statements of {name}() that make {fm.var}" if fm.var else "the model it returns"
        build: dict[str, Any] = {"kind": "function", "name": name, "args": [], "kwargs": {}, "source_args": True}
        call = self._call_site(name)
        enclosing = self._enclosing_call(name, fm.text, fm.function) if call is None else None
        caller_lines: set[int] = set()
        if call is not None:
            args, kwargs, line = call
            roots = {n.id for src in list(args) + list(kwargs.values())
                     for n in ast.walk(ast.parse(src, mode="eval")) if isinstance(n, ast.Name)}
            if roots:
                source, kept = restricted_source(fm.text, {name} | roots)
            build.update(args=args, kwargs=kwargs)
            shown = ", ".join(list(args) + [f"{k}={v}" for k, v in kwargs.items()])
            how = f"built by calling {name}({shown}) as at line {line}: {made}"
        elif enclosing is not None:
            outer, cut_text, var, line = enclosing
            source, kept = restricted_source(cut_text, {outer.name})
            inside = set(range(outer.lineno, outer.end_lineno + 1))
            if outer.name in makers:  # the caller makes a model of its own: its lines are that model's
                kept = [ln for ln in kept if ln not in inside]
            else:  # the caller trains this model: its lines (the training the cut leaves out) are this one's
                caller_lines = inside
            build.update(name=outer.name)
            how = (f"built by running {outer.name}() up to its call {var} = {name}(...) at line {line} (the "
                   f"arguments as the file computes them): {made}")
        else:
            params = fn.args.posonlyargs + fn.args.args
            required = params[:len(params) - len(fn.args.defaults)]
            data = {p for p in fm.params if _read_as_data(fn, p)}
            if data:
                many = len(data) > 1
                return (f"in {name}(), whose model is made from its argument{'s' if many else ''} "
                        f"{', '.join(sorted(data))} (no call in the file gives {'them' if many else 'it'}): run "
                        f"the script with actlint run")
            values, notes = [], []
            for p in required:
                if p.arg in fm.params:
                    value = _guess(p.arg, _dotted(p.annotation) if p.annotation is not None else None, fn)
                    if fm.framework == "keras" and value == (3, 32, 32):
                        value = (32, 32, 3)  # Keras images are channels last
                    notes.append(f"{p.arg}={value!r}")
                else:
                    value = None
                values.append(repr(value))
            build["args"] = values
            how = f"built by calling {name}({', '.join(values)}): {made}"
            if notes:
                how += " (arguments guessed, no call in the file: " + ", ".join(notes) + ")"
        if fm.trains:
            how += "; the function's training is left out"
        lines = self._lines(kept) | set(range(fn.lineno, fn.end_lineno + 1)) | caller_lines  # the training too
        target = Target(f"{self.path}:{name}", self.path, self.file, name, fm.framework, build, source, lines,
                        assumptions=[how])
        self._apply_input(target, self.settings.model_override(self.path, name))
        return target

    def _enclosing_call(self, name: str, text: str, exclude: ast.FunctionDef | None = None):
        """``var = name(...)`` or ``return name(...)`` at the top of a module-level function G that takes no
        required arguments (``def build_and_train_models(): ...; discriminator = build_discriminator(inputs)``,
        ``def DPN26(): cfg = {...}; return DPN(cfg)``): G cut down to what computes that call and returns its
        value.  Returns (G, the cut text, var or None, line) or None."""
        modules = import_names(self.tree)
        for outer in self.tree.body:
            if not isinstance(outer, ast.FunctionDef) or outer is exclude or outer.decorator_list:
                continue
            a = outer.args
            if len(a.posonlyargs + a.args) > len(a.defaults) or None in a.kw_defaults:
                continue  # its own arguments would be guesses again
            for stmt in outer.body:
                if any(isinstance(c, ast.Call) and isinstance(c.func, ast.Attribute) and c.func.attr in STEP_ATTRS
                       for c in ast.walk(stmt)):
                    break  # training started: what follows is not how the model is made
                value = stmt.value if isinstance(stmt, (ast.Assign, ast.Return)) else None
                if not (isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == name):
                    continue
                if isinstance(stmt, ast.Return):
                    var = None
                elif len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
                    var = stmt.targets[0].id
                else:
                    break
                cut = cut_function(outer, text, var, modules)
                if cut is not None:
                    return outer, cut, var, stmt.lineno
                break
        return None

    def _trained_layer(self, var: str, dotted: str) -> bool:
        """A module-level ``model = nn.Linear(1, 1)`` whose parameters the file optimises: a model too."""
        head = dotted.split(".")[0]
        full = self.imports.get(head, head) + dotted[len(head):]
        last = full.rsplit(".", 1)[-1]
        if not full.startswith("torch.nn.") or not last[:1].isupper() or last.endswith("Loss"):
            return False
        return re.search(rf"\b{re.escape(var)}\.parameters\(", self.text) is not None

    def _class_target(self, name: str, cls: ast.ClassDef, framework: str) -> Target:
        source, kept = restricted_source(self.text, {name})
        build: dict[str, Any] = {"kind": "class", "name": name}
        assumptions: list[str] = []
        override = self.settings.model_override(self.path, name)
        if override and override.get("factory"):
            build = {"kind": "factory", "factory": override["factory"], "args": override.get("args", []),
                     "kwargs": override.get("kwargs", {})}
            assumptions.append(f"built by the factory {override['factory']}")
        elif override and ("args" in override or "kwargs" in override):
            build.update(args=override.get("args", []), kwargs=override.get("kwargs", {}))
            assumptions.append("constructor arguments from [tool.actlint.verify]")
        else:
            call = self._call_site(name)
            defaults = self._defaults(name) if call is None else None
            factory = None
            if defaults and defaults[1]:  # required arguments, no call to take them from
                factory = self._enclosing_call(name, self.text)
            if factory is not None:
                outer, cut_text, var, line = factory
                source, kept = restricted_source(cut_text, {outer.name})
                # the caller is called in the model's place; its input hints stay the class's
                build = {"kind": "caller", "name": outer.name, "args": [], "kwargs": {}, "source_args": True}
                made = f"{var} = {name}(...)" if var else f"return {name}(...)"
                assumptions.append(f"built by running {outer.name}() up to its {made} at line {line} (the "
                                   f"arguments as the file computes them)")
            elif call is not None:
                args, kwargs, line = call
                extra_roots = set()
                for src in list(args) + list(kwargs.values()):
                    extra_roots |= {n.id for n in ast.walk(ast.parse(src, mode="eval")) if isinstance(n, ast.Name)}
                if extra_roots:
                    source, kept = restricted_source(self.text, {name} | extra_roots)
                build.update(args=args, kwargs=kwargs, source_args=True)
                shown = ", ".join(list(args) + [f"{k}={v}" for k, v in kwargs.items()])
                assumptions.append(f"constructor arguments from the call at line {line}: {name}({shown})")
            else:
                args, guessed, roots = defaults
                if roots:
                    source, kept = restricted_source(self.text, {name} | roots)
                build.update(args=args, kwargs={}, source_args=True)
                if guessed:
                    assumptions.append("constructor arguments guessed (no call site in the file): "
                                       + ", ".join(guessed))
        target = Target(f"{self.path}:{name}", self.path, self.file, name, framework, build, source,
                        self._lines(kept), assumptions=assumptions)
        self._apply_input(target, override)
        return target

    def _var_target(self, node: ast.Assign, framework: str) -> Target:
        name = node.targets[0].id
        source, kept = restricted_source(self.text, {name}, (node.lineno, node.end_lineno))
        override = self.settings.model_override(self.path, name)
        target = Target(f"{self.path}:{name}", self.path, self.file, name, framework, {"kind": "var", "name": name},
                        source, self._lines(kept), line=node.lineno)
        self._apply_input(target, override)
        return target

    def _apply_input(self, target: Target, override: dict | None) -> None:
        if override and override.get("input"):
            target.input = {"shape": list(override["input"]), "dtype": override.get("dtype", "float"),
                            "high": override.get("high")}
            target.assumptions.append(f"input shape {override['input']} from [tool.actlint.verify]")

    def _lines(self, kept: list[int]) -> set[int]:
        imports = {ln for n in self.tree.body if isinstance(n, (ast.Import, ast.ImportFrom))
                   for ln in range(n.lineno, n.end_lineno + 1)}
        return set(kept) - imports

    def _call_site(self, name: str):
        """The first call ``Name(...)`` in the file whose arguments the restricted module can evaluate."""
        for node in nodes_of(self.tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
            if called != name or any(isinstance(a, ast.Starred) for a in node.args) or any(
                    k.arg is None for k in node.keywords):
                continue
            exprs = list(node.args) + [k.value for k in node.keywords]
            names = {n.id for e in exprs for n in ast.walk(e) if isinstance(n, ast.Name)}
            if names - self.evaluable - set(dir(__builtins__) if isinstance(__builtins__, dict) else dir(__builtins__)):
                continue
            if any(isinstance(n, (ast.Call, ast.Lambda)) and not _is_cheap(n) for e in exprs for n in ast.walk(e)):
                continue
            args = [ast.get_source_segment(self.text, a) for a in node.args]
            kwargs = {k.arg: ast.get_source_segment(self.text, k.value) for k in node.keywords}
            return args, kwargs, node.lineno
        return None

    def _defaults(self, name: str) -> tuple[list[str], list[str], set[str]]:
        """Source expressions for the required parameters: a config built with its defaults where the
        parameter is a config, else a guess; the notes for the assumptions; the names they need."""
        init = self._find_init(name)
        if init is None:
            return [], [], set()
        a = init.args
        params = (a.posonlyargs + a.args)[1:]  # self
        required = params[:len(params) - len(a.defaults)]
        values, notes, roots = [], [], set()
        for p in required:
            annotation = _dotted(p.annotation) if p.annotation is not None else None
            config = self._config_for(p.arg, annotation)
            if config is not None:
                expr, why, root = config
                values.append(expr)
                roots.add(root)
                notes.append(f"{p.arg}={expr} ({why})")
                continue
            value = _guess(p.arg, annotation, init)
            values.append(repr(value))
            notes.append(f"{p.arg}={value!r}")
        return values, notes, roots

    def _config_for(self, param: str, annotation: str | None) -> tuple[str, str, str] | None:
        """A config object for ``param``: its annotated class (defined here or imported), a config-like
        class of the file for a parameter named config/args/…, or the file's parsed ``argparse`` options.
        Returns (expression, why, the name it needs)."""
        classes = {n.name: n for n in self.tree.body if isinstance(n, ast.ClassDef)}
        ann = (annotation or "").rsplit(".", 1)[-1]
        if ann and ann not in _SCALARS and ann not in self.classes:
            if ann in classes:
                return (*self._config_expr(classes[ann]), ann)
            if ann in self.imports and not _framework_of(ann, self.imports):
                return f"{ann}()", f"{ann} built with its defaults", ann
        if param.lower() not in CONFIG_PARAMS:
            return None
        configs = [c for name, c in classes.items() if name not in self.classes and _is_config_class(c)]
        if configs:
            return (*self._config_expr(configs[0]), configs[0].name)
        parsed = self._parsed_args()
        if parsed:
            return parsed, "the script's argparse options at their defaults", parsed
        return None

    def _config_expr(self, cls: ast.ClassDef) -> tuple[str, str]:
        """``Cls(field=guess, ...)`` for the fields without a usable default (none, or ``None`` for a number)."""
        fields, capped = [], False
        if _is_dataclass(cls):
            for node in cls.body:
                if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                    ann, name = _dotted(node.annotation), node.target.id
                    value = node.value.value if isinstance(node.value, ast.Constant) else None
                    if node.value is None or (value is None and ann in ("int", "float")) or (
                            isinstance(value, int) and not isinstance(value, bool) and value < 0):
                        fields.append((name, _guess(name, ann)))  # no default, None or a -1 sentinel
                    elif isinstance(value, int) and not isinstance(value, bool) and _capped(name, value) != value:
                        fields.append((name, _capped(name, value)))
                        capped = True
        else:
            init = next((n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"), None)
            if init is not None:
                params = (init.args.posonlyargs + init.args.args)[1:]
                required = params[:len(params) - len(init.args.defaults)]
                fields = [(p.arg, _guess(p.arg, _dotted(p.annotation) if p.annotation else None, init))
                          for p in required]
        why = f"{cls.name} built with its defaults" + ("; sizes capped to depth 2, width 256" if capped else "")
        return f"{cls.name}(" + ", ".join(f"{k}={v!r}" for k, v in fields) + ")", why

    def _parsed_args(self) -> str | None:
        """The module-level variable assigned ``parser.parse_args()`` (or ``parse_known_args()[0]``)."""
        for node in self.tree.body:
            if (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
                    and any(isinstance(c, ast.Call) and _dotted(c.func).endswith(".parse_args")
                            for c in ast.walk(node.value))):
                return node.targets[0].id
        return None

    def _find_init(self, name: str, seen=None) -> ast.FunctionDef | None:
        seen = seen or set()
        if name in seen or name not in self.classes:
            return None
        seen.add(name)
        cls = self.classes[name][0]
        for node in cls.body:
            if isinstance(node, ast.FunctionDef) and node.name == "__init__":
                return node
        for base in cls.bases:
            found = self._find_init(_dotted(base), seen)
            if found:
                return found
        return None

    # ---- findings

    def assign(self, findings: list[Finding], links: dict[int, set[int]] | None = None) -> list[tuple[Finding, str]]:
        """Attach each finding to the target that can answer it; the rest come back with a reason.

        ``links`` maps a line of the static picture's loss or log sites to the lines of the ops that
        feed it: a finding there belongs to the model that made those ops.
        """
        unmapped = []
        for f in findings:
            fed_by = set().union(*(links.get(ln, set()) for ln in range(f.line, f.end_line + 1))) if links else set()
            producer = next((t for t in self.targets if t.lines & fed_by), None)
            if f.code == "ACT107" and self.targets:
                target = self._seed_target(f)  # the model the script trains, never a helper beside it
            else:
                target = producer or self._target_for(f)
            if isinstance(target, Target):
                target.findings.append(f)
            else:
                unmapped.append((f, target))
        return unmapped

    def _target_for(self, f: Finding) -> Target | str:
        lines = set(range(f.line, f.end_line + 1))
        inside = [t for t in self.targets if t.lines & lines]
        if inside:
            return inside[0]
        # Outside every definition (a loss call, a training loop): the model the line uses.
        for stmt in self._statements_at(f.line):
            named = self._target_named(stmt)
            if named is not None:
                return named
        top = next(iter(reversed(self._statements_at(f.line))), None)
        if top is None:
            return "not inside a model the verifier can build"
        if isinstance(top, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            return (self.unbuildable.get(top.name)
                    or f"in {top.name}(), which is not part of a model the verifier builds")
        if len(self.targets) == 1:
            return self.targets[0]
        return "no model in this file could be matched to this line"

    def _seed_target(self, f: Finding) -> Target | str:
        """ACT107's model: the one the script trains (its parameters go to an optimiser, it is compiled or
        fitted), the one named where training starts first; else, when the file trains nothing it defines,
        the one with the most learned layers.  A model without any (``Swish()``, ``Reshape()``) never
        answers: its two builds hash nothing."""
        named = [t for t in self.targets if t.lines & set(range(f.line, f.end_line + 1))]
        for stmt in self._statements_at(f.line):
            named += [t for t in self._targets_named(stmt) if t not in named]
        trained = [t for t in self.targets if self._trained(t)]
        learned = [t for t in self.targets if self._learned_count(t) > 0]
        for pool in (trained, learned):
            for t in named:
                if t in pool:
                    return t
            if pool:
                return max(pool, key=self._learned_count)  # the first of the largest
        names = ", ".join(t.name for t in self.targets)
        return (f"the model the script trains is not one the verifier builds (the models defined here have no "
                f"learned layers: {names})")

    def _trained(self, t: Target) -> bool:
        if t.name in self.trained_names or t.lines & self.trained_lines:
            return True
        return t in self._optimised_targets()

    def _learned_count(self, t: Target) -> int:
        """Learned layers the target's code constructs (a rough count of its parameters' owners), or calls that
        may make some (a model from another package); a base class from elsewhere counts as one."""
        if t.label in self._learned:
            return self._learned[t.label]
        count = 0
        for node in nodes_of(self.tree):
            if not isinstance(node, (ast.Call, ast.ClassDef)) or node.lineno not in t.lines:
                continue
            if isinstance(node, ast.ClassDef):
                if node.name == t.name and any(self._foreign_base(b) for b in node.bases):
                    count += 1
                continue
            dotted = _dotted(node.func)
            last = dotted.rsplit(".", 1)[-1]
            if _LEARNED.match(last) or self._foreign_call(dotted):
                count += 1
        self._learned[t.label] = count
        return count

    def _foreign_base(self, base: ast.expr) -> bool:
        """A base class that may bring its own layers: neither a framework's plain model class nor this file's."""
        dotted = _dotted(base)
        last = dotted.rsplit(".", 1)[-1]
        if dotted in self.classes or last in _TORCH_BASES | _KERAS_BASES | {"Sequential", "object"}:
            return False
        return dotted.split(".")[0] in self.imports

    def _foreign_call(self, dotted: str) -> bool:
        """A call into a package that is not a framework (``torchvision.models.resnet18()``, ``timm.create_model``)."""
        head = dotted.split(".")[0]
        full = self.imports.get(head)
        return bool(full) and full.split(".")[0] not in _PLAIN_PACKAGES and not dotted.endswith(_NO_PARAMS)

    def _statements_at(self, line: int) -> list[ast.stmt]:
        """The statements containing ``line``, innermost first."""
        found = [n for n in nodes_of(self.tree) if isinstance(n, ast.stmt) and n.lineno <= line <= n.end_lineno]
        return sorted(found, key=lambda n: n.end_lineno - n.lineno)

    def _target_named(self, stmt: ast.stmt) -> Target | None:
        return next(iter(self._targets_named(stmt)), None)

    def _targets_named(self, stmt: ast.stmt) -> list[Target]:
        names = {n.id for n in ast.walk(stmt) if isinstance(n, ast.Name)}
        names |= {n.attr for n in ast.walk(stmt) if isinstance(n, ast.Attribute)}
        return [t for t in self.targets if t.name in names or self._instances(t.name) & names]

    def loss_for(self, target: Target, sites: list[dict]) -> dict | None:
        """The loss site this model's output reaches: by the producing op, else by the loss call's names."""
        for s in sites:
            if set(s["producers"]) & target.lines:
                return s
        for s in sites:
            stmt = next(iter(self._statements_at(s["line"])), None)
            if stmt is not None and self._target_named(stmt) is target:
                return s
        return sites[0] if sites and len(self.targets) == 1 else None

    def _optimised_targets(self) -> list[Target]:
        """The targets the file trains by name: ``.parameters()`` taken (for an optimiser), ``.compile``/``.fit``
        called on them, or passed to a trainer's ``fit``."""
        if hasattr(self, "_optimised"):
            return self._optimised
        found: list[Target] = []

        def mark(expr) -> None:
            name = expr.id if isinstance(expr, ast.Name) else getattr(expr, "attr", None)
            for t in self.targets:
                if name and (name == t.name or name in self._instances(t.name)) and t not in found:
                    found.append(t)

        for node in nodes_of(self.tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                if node.func.attr in ("parameters", "named_parameters", "compile", "fit", "fit_generator",
                                      "train_on_batch"):
                    mark(node.func.value)
                if node.func.attr == "fit" and node.args:  # trainer.fit(model)
                    mark(node.args[0])
        self._optimised = found
        return found

    def _instances(self, name: str) -> set[str]:
        """Variables assigned an instance of model class ``name`` anywhere in the file."""
        out = set()
        for node in nodes_of(self.tree):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
                value = node.value
                while (isinstance(value.func, ast.Attribute) and isinstance(value.func.value, ast.Call)
                       and value.func.attr in _MOVES):
                    value = value.func.value  # Net().to(device), Net().cuda().train()
                func = value.func
                called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
                if called == name:
                    for t in node.targets:
                        out |= {n.id for n in ast.walk(t) if isinstance(n, ast.Name)}
        return out


def _read_as_data(fn: ast.FunctionDef, param: str) -> bool:
    """``param`` is an array or an object in ``fn`` (``x.shape[1]``, ``x[0]``, ``len(x)``, ``x()``): no guess fits it."""
    for n in ast.walk(fn):
        if isinstance(n, (ast.Attribute, ast.Subscript)) and isinstance(n.value, ast.Name) and n.value.id == param:
            return True
        if isinstance(n, ast.Call) and (isinstance(n.func, ast.Name) and n.func.id == param or any(
                isinstance(a, ast.Name) and a.id == param for a in n.args) and _dotted(n.func) == "len"):
            return True
    return False


def _capped(name: str, value: int) -> int:
    """A config's size kept small enough for a CPU child (a 7B-parameter default would not fit):
    depth at most 2, width at most 256."""
    p = name.lower()
    if re.search(r"layer|depth|block", p) and value > 4:
        return 2
    if re.search(r"dim|embd|embed|hidden|d_model|width", p) and value > 1024:
        return 256
    return value


def _is_dataclass(cls: ast.ClassDef) -> bool:
    return any(_dotted(d.func if isinstance(d, ast.Call) else d).rsplit(".", 1)[-1] == "dataclass"
               for d in cls.decorator_list)


def _is_config_class(cls: ast.ClassDef) -> bool:
    """A dataclass, or a class named like a configuration (``GPTConfig``, ``ModelArgs``, ``HParams``)."""
    named = re.search(r"(Config|Conf|Cfg|Args|Arguments|Params|Options|Settings)$", cls.name)
    return _is_dataclass(cls) or bool(named)


def _is_cheap(node: ast.AST) -> bool:
    """Calls allowed in constructor arguments: ``len``, ``int``, ``tuple`` and the like."""
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in {
        "len", "int", "float", "tuple", "list", "dict", "range", "max", "min", "sum", "abs", "round", "str"}


def _picture(text: str):
    """The file's static model picture and index, or (None, None) when it cannot be built."""
    try:
        import libcst as cst

        from actlint.index import FileIndex
        from actlint.picture.flow import build_picture

        index = FileIndex(cst.parse_module(text))
        return build_picture(index), index
    except Exception:  # the static pass already reported what it could not read
        return None, None


def trained_models(built) -> tuple[set[str], set[int]]:
    """What the static picture says the file trains (handed to an optimiser, compiled or fitted): the names
    of model classes, and the lines where other models (``nn.Sequential``, Keras models) are made."""
    from actlint.picture.values import options

    picture, index = built
    names: set[str] = set()
    lines: set[int] = set()
    if picture is None:
        return names, lines
    for value in picture.trained:
        for v in options(value):
            info = getattr(v, "info", None)
            if getattr(info, "name", None):
                names.add(info.name)
            node = getattr(v, "node", None)
            where = index.find_position(node) if node is not None else None
            if where is not None:
                lines.add(where[0])
    return names, lines


def picture_links(text: str, built=None) -> tuple[list[dict], dict[int, set[int]]]:
    """The loss sites, and for each loss or log line the lines of the ops that feed it."""
    picture, index = built or _picture(text)
    if picture is None:
        return [], {}
    sites = loss_sites(text, (picture, index))
    links: dict[int, set[int]] = {}
    for s in sites:
        links.setdefault(s["line"], set()).update(s["producers"])
    for site in picture.log_sites:
        at, src = index.find_position(site.op.node), index.find_position(site.source.node)
        if at is not None and src is not None:
            links.setdefault(at[0], set()).add(src[0])
    return sites, links


def loss_sites(text: str, built=None) -> list[dict]:
    """The file's loss sites from the static model picture: kind, line, and the lines of what feeds them."""
    picture, index = built or _picture(text)
    if picture is None:
        return []
    sites = []
    for site in picture.loss_sites:
        spec = site.spec
        kind = {("categorical", "logits"): "cross_entropy", ("categorical", "probs"): "nll_probs",
                ("nll", "log_probs"): "nll", ("binary", "probs"): "bce", ("binary", "logits"): "bce_logits",
                ("regression", "any"): "mse"}.get((spec.family, spec.expects))
        if kind:
            # an op of unknown origin (a call the picture could not follow) has no node: no producer line
            places = [index.find_position(op.node) for op in site.last_ops() if op is not None]
            where = index.find_position(site.node)
            if where is None:
                continue
            sites.append({"kind": kind, "label": spec.label, "line": where[0],
                          "producers": sorted({p[0] for p in places if p is not None}), "expects": spec.expects})
    return sites


def file_targets(path: str, file: Path, text: str, findings: list[Finding], settings: Settings):
    """The targets of one file, with its findings attached; and the findings no target can answer."""
    try:
        models = FileModels(path, file, text, settings)
    except SyntaxError:
        return [], [(f, "the file does not parse") for f in findings]
    built = _picture(text) if models.targets else (None, None)
    sites, links = picture_links(text, built) if models.targets else ([], {})
    models.trained_names, models.trained_lines = trained_models(built)
    unmapped = models.assign(findings, links)
    for t in models.targets:
        t.loss = models.loss_for(t, sites)
        kind = t.build.get("kind", "class")
        t.input_hints = input_hints(text, t.name, "var" if kind == "function" else kind, t.framework)
    _unique_labels(models.targets)
    return models.targets, unmapped


def _unique_labels(targets: list[Target]) -> None:
    """A name bound to several models (``model = ...`` again in the next notebook cell) gives several targets:
    each is labelled by the line it starts at, so each is run, and judged, on its own child's numbers."""
    by_label: dict[str, list[Target]] = {}
    for t in targets:
        by_label.setdefault(t.label, []).append(t)
    for label, same in by_label.items():
        if len(same) > 1:
            for number, t in enumerate(same, 1):
                t.label = f"{label}@{t.line or (min(t.lines) if t.lines else number)}"


def factory_targets(settings: Settings, root: Path) -> list[Target]:
    """Models built by ``factory = "pkg.mod:make_model"`` (imported normally, from the project root)."""
    out = []
    for factory in settings.factories:
        # measured as PyTorch (a Keras 3 model on the torch backend is a torch module too)
        t = Target(factory, factory, root / "pyproject.toml", factory.rpartition(":")[2], "torch",
                   {"kind": "factory", "factory": factory, "args": [], "kwargs": {}}, "", set(),
                   assumptions=[f"built by the factory {factory}"])
        out.append(t)
    return out


def log_form(f: Finding) -> dict:
    """Which form the log call ``f`` flags takes: ``{"complement": log(1 - p)?, "eps": an epsilon added?}``,
    each None where the flagged text is not a call the verifier can read."""
    import libcst as cst

    from actlint.checks.rewrite import call_input, strip_epsilon

    try:
        lines = Path(f.path).read_text(encoding="utf-8").splitlines()
        if f.cell is not None or not 0 < f.line <= f.end_line <= len(lines):
            return {"complement": None, "eps": None}
        chunk = lines[f.line - 1:f.end_line]
        end = f.end_column - 1  # columns are 1-based, the end one past the call
        chunk[-1] = chunk[-1][:end] if f.end_line > f.line else chunk[-1][f.column - 1:end]
        if f.end_line > f.line:
            chunk[0] = chunk[0][f.column - 1:]
        node = cst.parse_expression("\n".join(chunk))
    except (OSError, UnicodeDecodeError, cst.ParserSyntaxError, IndexError):
        return {"complement": None, "eps": None}
    arg = call_input(node)
    if arg is None:
        return {"complement": None, "eps": None}
    base = strip_epsilon(arg)
    if isinstance(base, cst.BinaryOperation) and isinstance(base.operator, cst.Subtract) \
            and isinstance(base.left, (cst.Integer, cst.Float)):
        inner = strip_epsilon(base.right)  # 1 - (p + eps) / 1 - p
        return {"complement": True, "eps": base is not arg or inner is not base.right}
    return {"complement": False, "eps": base is not arg}


__all__ = ["Settings", "Target", "file_targets", "factory_targets", "log_form"]
