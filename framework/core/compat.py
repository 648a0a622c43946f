"""The compatibility check between a modality and a model, run before any data loads."""

from __future__ import annotations

from framework.core.errors import IncompatibleError
from framework.core.spec import ModalitySpec, ModelRequirement


def missing_for(spec: ModalitySpec, needs: ModelRequirement) -> str | None:
    """Returns what ``spec`` lacks for a model with ``needs``, or None if the pair works."""
    if spec.layout not in needs.layouts:
        wanted = " or ".join(sorted(layout.value for layout in needs.layouts))
        return f"it needs a {wanted} layout, and {spec.name} has a {spec.layout.value} layout"
    if needs.scope is not None and needs.scope not in spec.scopes:
        return (
            f"attention scope '{needs.scope}' is not offered by {spec.name} "
            f"(offered: {', '.join(spec.scopes)}); set model.scope to one of those"
        )
    if needs.needs_edges and not spec.has_edges:
        return f"it needs edges, and {spec.name} provides none"
    if needs.raw_inputs and spec.raw_features is None:
        return f"it reads raw features, and {spec.name} offers none; set model.inputs=shared"
    return None


def check_compatible(spec: ModalitySpec, needs: ModelRequirement, model_name: str) -> None:
    """Raises :class:`IncompatibleError` naming the modality, the model and what is missing."""
    missing = missing_for(spec, needs)
    if missing is not None:
        raise IncompatibleError(f"model '{model_name}' cannot run on modality '{spec.name}': {missing}")
