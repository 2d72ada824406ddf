"""What a file's imports bind, resolved cheaply to qualified names.

LibCST's scope analysis (``QualifiedNameProvider``) costs about ten times the
parse.  The rules only need to know that ``F.softmax`` is
``torch.nn.functional.softmax``, so this module reads the ``import``
statements (anywhere in the file) and the simple module-level aliases
(``Dense = layers.Dense``) and resolves dotted expressions against them.
"""

from __future__ import annotations

import libcst as cst

from actlint.picture import keras_semantics, torch_semantics

SPELLINGS = keras_semantics.SPELLINGS + torch_semantics.SPELLINGS
FLAT_PACKAGES = keras_semantics.FLAT_PACKAGES
_FLAT_ROOTS = tuple(FLAT_PACKAGES)


def canonical(qualname: str) -> str:
    """Map the spellings of one framework object onto one name (the tables live in the framework's semantics)."""
    dotted = qualname + "."
    for prefix, replacement in SPELLINGS:
        if dotted.startswith(prefix):
            return canonical((replacement + dotted[len(prefix):])[:-1])
    if qualname.startswith(_FLAT_ROOTS):
        for package, flat in FLAT_PACKAGES.items():
            if qualname.startswith(package):
                rest = qualname[len(package):].split(".")
                # a class (capitalised) or any name below a submodule; a submodule itself stays as it is
                if len(rest) >= 2 or rest[0][:1].isupper():
                    return flat + rest[-1]
                break
    return qualname


def dotted_name(node: cst.BaseExpression) -> str | None:
    """``a.b.c`` for a Name/Attribute chain, else None."""
    parts: list[str] = []
    while type(node) is cst.Attribute:
        parts.append(node.attr.value)
        node = node.value
    if type(node) is cst.Name:
        parts.append(node.value)
        return ".".join(reversed(parts))
    return None


def _module_name(node: cst.BaseExpression | None) -> str:
    if node is None:
        return ""
    return dotted_name(node) or ""


class Bindings:
    """Names bound by imports and module-level aliases, to qualified names."""

    def __init__(self) -> None:
        self._names: dict[str, str] = {}
        self.stars: list[str] = []  # modules star-imported (``from common import *``), in import order
        # id(node) -> (node, qualified name): the flow resolves the same callee each time it runs a function
        # (the node is kept, so its id is not reused while the entry lives); emptied whenever a name is bound
        self._resolved: dict[int, tuple] = {}

    def bind(self, local: str, qualname: str) -> None:
        self._names[local] = canonical(qualname)
        self._resolved.clear()

    def add_import(self, node: cst.Import) -> None:
        for alias in node.names:
            full = _module_name(alias.name)
            if alias.asname is not None and type(alias.asname.name) is cst.Name:
                self.bind(alias.asname.name.value, full)
            else:
                top = full.split(".")[0]
                self.bind(top, top)

    def add_import_from(self, node: cst.ImportFrom) -> None:
        if node.relative:
            module = "." * len(node.relative) + _module_name(node.module)
        else:
            module = _module_name(node.module)
        if type(node.names) is cst.ImportStar:
            self.stars.append(module)
            return
        for alias in node.names:
            name = _module_name(alias.name)
            local = name
            if alias.asname is not None and type(alias.asname.name) is cst.Name:
                local = alias.asname.name.value
            joined = f"{module}{name}" if module.endswith(".") else f"{module}.{name}" if module else name
            self.bind(local, joined)

    def add_alias(self, target: str, value: cst.BaseExpression) -> None:
        """``Dense = keras.layers.Dense``: bind only when the value resolves."""
        resolved = self.resolve(value)
        if resolved is not None and target not in self._names:
            self.bind(target, resolved)

    def resolve(self, node: cst.BaseExpression) -> str | None:
        """The qualified name of a dotted expression, or None when unknown."""
        hit = self._resolved.get(id(node))
        if hit is not None and hit[0] is node:
            return hit[1]
        qual = self._resolve(node)
        self._resolved[id(node)] = (node, qual)
        return qual

    def _resolve(self, node: cst.BaseExpression) -> str | None:
        dotted = dotted_name(node)
        if dotted is None:
            return None
        head, _, rest = dotted.partition(".")
        bound = self._names.get(head)
        if bound is None:
            return None
        return canonical(f"{bound}.{rest}") if rest else bound

    def imports_any(self, *roots: str) -> bool:
        return any(q == r or q.startswith(r + ".") for q in self._names.values() for r in roots)

    def __contains__(self, local: str) -> bool:
        return local in self._names

    def items(self):
        return self._names.items()
