"""Registry references (docs/registry.md, "References"): `registry/<model>`,
`<entity>/registry/<model>` or a bare `<model>`, followed by an optional `:<alias>`,
`@<alias>`, `:v<N>` or `:latest` (default `latest`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fwtrack import path_names
from fwtrack.artifacts.registry import ALIAS_RE, LATEST, check_alias, check_name

__all__ = ["REGISTRY", "STAGES", "ModelRef", "check_model_alias", "parse_model_ref"]

REGISTRY = "registry"
"""The path part that marks a registry reference (`registry/<model>`)."""
STAGES = ("staging", "production", "archived")
"""The standard stages: aliases like any other, shown as stages (`RegisteredModel.stages`)."""
_VERSION_RE = re.compile(r"v(\d+)")
_HINT = (
    "use 'registry/<model>', '<entity>/registry/<model>' or '<model>', optionally followed by "
    "':<alias>', '@<alias>', ':v<N>' or ':latest', e.g. 'registry/mnist-cnn:production'"
)


@dataclass(frozen=True)
class ModelRef:
    """A parsed registry reference: `entity` (None: the default one), `model`, `ref`
    (`vN`, an alias or `latest`; None when the reference named no version)."""

    entity: str | None
    model: str
    ref: str | None

    @property
    def version_ref(self) -> str:
        """The version asked for (`latest` when none was named)."""
        return self.ref or LATEST

    def __str__(self) -> str:
        head = f"{self.entity}/{REGISTRY}" if self.entity else REGISTRY
        return f"{head}/{self.model}" + (f":{self.ref}" if self.ref is not None else "")


def version_index(ref: str) -> int | None:
    """N of `vN`, else None."""
    m = _VERSION_RE.fullmatch(ref)
    return int(m.group(1)) if m else None


def check_model_alias(alias: object) -> str:
    """An alias that can be set on a model version (the rule of artifact aliases)."""
    return check_alias(alias)


def parse_model_ref(spec: object, *, what: str = "registry reference") -> ModelRef:
    """Parse `spec` (see the module docstring); ValueError naming the bad part and the forms
    that work, TypeError for a non-str."""
    if not isinstance(spec, str):
        raise TypeError(
            f"a {what} must be a str like 'registry/mnist-cnn:production', got {spec!r}"
        )
    text = spec.strip()
    ref: str | None = None
    path = text
    if "@" in text:
        path, _, ref = text.partition("@")
        if ":" in ref or "@" in ref:
            raise ValueError(f"invalid {what} {spec!r}: more than one version part; {_HINT}")
    elif ":" in text:
        path, _, ref = text.partition(":")
    if ref is not None and not ref:
        raise ValueError(f"invalid {what} {spec!r}: nothing after ':' or '@'; {_HINT}")
    parts = path.split("/")
    entity: str | None = None
    if len(parts) == 1:
        model = parts[0]
    elif len(parts) == 2 and parts[0] == REGISTRY:
        model = parts[1]
    elif len(parts) == 3 and parts[1] == REGISTRY:
        entity, model = parts[0], parts[2]
    else:
        raise ValueError(f"invalid {what} {spec!r}: {_HINT}")
    try:
        if entity is not None:
            entity = path_names.check_entity(entity)
        model = check_name(model)
    except ValueError as exc:
        raise ValueError(f"invalid {what} {spec!r} ({exc}); {_HINT}") from None
    if (
        ref is not None
        and ref != LATEST
        and version_index(ref) is None
        and ALIAS_RE.fullmatch(ref) is None
    ):
        raise ValueError(
            f"invalid {what} {spec!r}: {ref[:80]!r} is not a version (v<N>), 'latest' or an "
            f"alias (1-128 of A-Z a-z 0-9 _ . -); {_HINT}"
        )
    return ModelRef(entity, model, ref)


def parse_model_name(spec: object, *, what: str = "registered model") -> ModelRef:
    """A reference that names a model, not a version (`registry/<model>`, ...): ValueError
    when it names a version too."""
    ref = parse_model_ref(spec, what=what)
    if ref.ref is not None:
        raise ValueError(
            f"invalid {what} {spec!r}: it names a version ({ref.ref!r}); name the model alone, "
            f"e.g. 'registry/{ref.model}'"
        )
    return ref
