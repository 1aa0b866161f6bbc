"""Causal roles as data: a small graph of a study's variables, the adjustment sets it
implies, and what an effect estimated under a set may be called.

The graph is deliberately coarse. Every variable has one *role* relative to the exposure
(the focal level, e.g. the living form), a level (row or group) and a one-line reason; a
few explicit edges between covariates record paths a claim is about (education -> shared
norms). The roles:

* ``confounder``: fixed before the exposure was chosen and plausibly related to both the
  exposure and the outcomes (a pre-move characteristic, the location of a building);
* ``two_sided``: possibly a confounder, possibly changed by the exposure (a motive held
  before the move but reported after it; care received where the form provides care) --
  its role is not decided by the study design, so effects are reported with and without it;
* ``mediator``: possibly changed by the exposure and on the way to the outcomes;
* ``form_feature``: part of what the exposure *is* in practice (a building's size where
  forms differ in size), held fixed only for a controlled effect;
* ``gate``: follows from another outcome that defines the subset an outcome is asked on
  (daily contact for friendly contact) -- used only in a conditional model.

Adjustment sets are unions of roles (:data:`SET_ROLES`). An effect is called *total* only
when it is unconditional (not restricted to a gate) and its terms hold no mediator,
form feature or gate term; with a two-sided covariate held fixed it is total *under the
assumption that the covariate is a confounder*, which the ``assumes`` text says. Pearl
(2009), *Causality*, ch. 3; VanderWeele (2019), "Principles of confounder selection",
*Eur J Epidemiol* 34:211-219 (adjust for pre-exposure causes of exposure or outcome).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

__all__ = ["CONFOUNDER", "FORM_FEATURE", "GATE", "MEDIATOR", "ROLES", "SET_ROLES",
           "TWO_SIDED", "CausalGraph", "EffectLabel", "Node"]

CONFOUNDER = "confounder"
TWO_SIDED = "two_sided"
MEDIATOR = "mediator"
FORM_FEATURE = "form_feature"
GATE = "gate"
ROLES = (CONFOUNDER, TWO_SIDED, MEDIATOR, FORM_FEATURE, GATE)

# the named adjustment sets as unions of roles (a role outside every set is never adjusted
# for by default; outcome-specific extras are added by the study's suite)
SET_ROLES: Mapping[str, tuple[str, ...]] = {
    "pre_residence": (CONFOUNDER,),
    "pre_residence_wide": (CONFOUNDER, TWO_SIDED),
    "study": (CONFOUNDER, TWO_SIDED, MEDIATOR),
}
# roles that make a held-fixed effect a *controlled* one rather than a total one
_BLOCKING = (MEDIATOR, FORM_FEATURE, GATE)


@dataclass(frozen=True)
class Node:
    """One variable: its role relative to the exposure, its level and why."""

    name: str
    role: str
    reason: str
    level: str = "row"  # "row" (tenant) or "group" (complex)

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"variable {self.name!r}: unknown causal role {self.role!r}; "
                             f"choose one of {ROLES}")


@dataclass(frozen=True)
class EffectLabel:
    """What an estimated effect may be called, and on which assumptions.

    ``effect``: ``unconditional`` or ``conditional`` (on a gate); ``interpretation``:
    ``total``, ``controlled`` (possible mediators held fixed: ``held_fixed``) or
    ``conditional``; ``assumes``: the assumptions under which the reading holds.
    """

    effect: str
    interpretation: str
    held_fixed: tuple[str, ...]
    assumes: str


@dataclass(frozen=True)
class CausalGraph:
    """The roles of a study's variables and the extra edges between them.

    ``exposure`` is the focal variable; ``outcomes`` the outcome names (every confounder and
    two-sided covariate points to every outcome; mediators and form features are pointed to
    by the exposure and point to the outcomes). ``edges`` are further ``(cause, effect,
    reason)`` paths between covariates.
    """

    exposure: str
    nodes: tuple[Node, ...]
    outcomes: tuple[str, ...] = ()
    edges: tuple[tuple[str, str, str], ...] = ()
    _index: dict = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index = {}
        for node in self.nodes:
            if node.name in index:
                raise ValueError(f"variable {node.name!r} has two causal roles")
            index[node.name] = node
        object.__setattr__(self, "_index", index)
        for cause, effect, _ in self.edges:
            for name in (cause, effect):
                if name not in index and name not in self.outcomes:
                    raise ValueError(f"edge {cause} -> {effect}: {name!r} has no role")

    def role(self, name: str) -> str | None:
        """The role of a variable (an interaction or level ``x[2]`` by its base), or None."""
        return self._index[base].role if (base := _base(name)) in self._index else None

    def with_roles(self, roles: Mapping[str, tuple[str, str] | str]) -> CausalGraph:
        """A copy with the roles of ``roles`` (``name -> role`` or ``(role, reason)``)
        replaced or added -- a config declaring roles for its own variables."""
        nodes = {n.name: n for n in self.nodes}
        for name, value in roles.items():
            role, reason = (value, "declared in the config") if isinstance(value, str) \
                else value
            old = nodes.get(name)
            nodes[name] = replace(old, role=role, reason=reason) if old else \
                Node(name, role, reason)
        return replace(self, nodes=tuple(nodes.values()))

    def adjustment_set(self, name: str, candidates: Iterable[str]) -> tuple[str, ...]:
        """The ``candidates`` (in their order) whose role belongs to the set ``name``."""
        if name not in SET_ROLES:
            raise ValueError(f"unknown adjustment set {name!r}; choose one of "
                             f"{tuple(SET_ROLES)}")
        keep = SET_ROLES[name]
        return tuple(c for c in candidates if self.role(c) in keep)

    def descendants(self, name: str) -> set[str]:
        """Covariates reachable from ``name`` by the explicit edges (its mediators)."""
        out, todo = set(), [name]
        while todo:
            here = todo.pop()
            for cause, effect, _ in self.edges:
                if cause == here and effect not in out:
                    out.add(effect)
                    todo.append(effect)
        return out

    def label(self, terms: Iterable[str], *, conditional: bool) -> EffectLabel:
        """What an effect of the exposure estimated with ``terms`` held fixed may be called.

        A term without a role (a config's own variable with no declared role) makes the
        effect ``adjusted``: total only if every such term is a pre-exposure confounder,
        which the ``assumes`` text says -- declare the roles to decide it.
        """
        terms = list(dict.fromkeys(_base(t) for t in terms))
        held = tuple(t for t in terms if self.role(t) in _BLOCKING)
        two_sided = tuple(t for t in terms if self.role(t) == TWO_SIDED)
        unknown = tuple(t for t in terms if self.role(t) is None)
        effect = "conditional" if conditional else "unconditional"
        if conditional:
            return EffectLabel(effect, "conditional", held,
                               "among those the gate lets through; not a total effect")
        if held:
            return EffectLabel(effect, "controlled", held,
                               f"holds fixed what the {self.exposure} may change: "
                               f"{', '.join(held)}")
        assumes = "no unmeasured confounding"
        if two_sided:
            assumes += f"; {', '.join(two_sided)} read as confounders (pre-exposure)"
        if unknown:
            return EffectLabel(effect, "adjusted", (),
                               f"{assumes}; total only if {', '.join(unknown)} precede the "
                               f"{self.exposure} (their causal roles are not declared)")
        return EffectLabel(effect, "total", (), assumes)

    def edge_list(self) -> list[tuple[str, str, str]]:
        """Every edge of the graph: role-implied ones and the explicit ``edges``."""
        out = []
        for node in self.nodes:
            if node.role in (CONFOUNDER, TWO_SIDED):
                out.append((node.name, self.exposure, node.reason))
                if node.role == TWO_SIDED:
                    out.append((self.exposure, node.name, node.reason))
            elif node.role in (MEDIATOR, FORM_FEATURE):
                out.append((self.exposure, node.name, node.reason))
            out.extend((node.name, o, "") for o in self.outcomes)
        out.extend((self.exposure, o, "the effect of interest") for o in self.outcomes)
        out.extend(self.edges)
        return out


def _base(term: str) -> str:
    """``age_group[2]`` -> ``age_group``; ``clustered:extraversion`` -> itself."""
    return term.split("[", 1)[0]
