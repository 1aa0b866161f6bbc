"""lme4/brms/Bambi formulas: parsed into the parts of a :class:`~models.spec.ModelSpec`, and
written back from a spec.

``score ~ girl + scale(hours) + C(ses, ref="low") + (1 | school/class_id)`` is what a user of
lme4, brms or Bambi writes; the config's split keys (``response``, ``terms``, ``levels``,
``nested``, ``slopes``, ``trials``) are what the builder reads. :func:`parse_formula` turns
the first into the second with Bambi's own parser (``formulae``) for the fixed part and a
small scanner for the grouping terms (``formulae`` flattens ``(1 + x | g)`` into separate
terms and cannot read ``||``); nothing is evaluated. A formula the builder has no
implementation for is refused with a :class:`FormulaError` naming the term, never
approximated. :func:`to_formula` writes a spec back as a formula (for ``check``, the
report and the methods text); for every spec a formula can describe,
``parse_formula(to_formula(spec))`` gives the spec's parts again.

The focal level (``focal``/``reference``) and the family stay config keys: a formula has no
word for "the highest grouping level whose contrasts are the estimand". See
``docs/formulas.md`` for the translation table and what is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from models.terms import Covariate, split_outside

__all__ = ["FormulaError", "FormulaParts", "describe", "parse_formula", "to_formula"]

_NAME = r"[A-Za-z][A-Za-z0-9_.]*"
_RESPONSE = {  # left-hand sides: plain; brms, Bambi and lme4's binomial trials
    "plain": re.compile(rf"^(?P<y>{_NAME})$"),
    "brms": re.compile(rf"^(?P<y>{_NAME})\s*\|\s*trials\(\s*(?P<n>{_NAME})\s*\)$"),
    "bambi": re.compile(rf"^p\(\s*(?P<y>{_NAME})\s*,\s*(?P<n>{_NAME})\s*\)$"),
    "lme4": re.compile(rf"^cbind\(\s*(?P<y>{_NAME})\s*,\s*(?P<n>{_NAME})\s*-\s*(?P<y2>{_NAME})"
                       rf"\s*\)$"),
}
_FACTOR = re.compile(rf"^{_NAME}(?:\s*[/:]\s*{_NAME})*$")
_TRANSFORMS = {"scale": "standardize", "center": "center"}


class FormulaError(ValueError):
    """A formula that cannot be read, or names a feature the builder does not implement."""


@dataclass(frozen=True)
class FormulaParts:
    """What a formula says about a model, in the spec's own terms.

    Attributes
    ----------
    response, trials
        The response column and (binomial) the trials column.
    terms
        The fixed terms, in the formula's order (``formulae`` expands ``x*z``).
    levels
        Grouping columns from lowest to highest (``(1 | school/class)`` -> class, school).
    nested
        ``True`` for one level or a chain ``a/b/c``; ``False`` for crossed levels.
    slopes
        Varying slopes as ``"term|level"`` (``(1 + x | g)`` -> ``"x|g"``).
    """

    response: str
    trials: str | None
    terms: tuple[Covariate, ...]
    levels: tuple[str, ...]
    nested: bool
    slopes: tuple[str, ...]

    @property
    def columns(self) -> tuple[str, ...]:
        """Every data column the formula reads."""
        cols = [self.response, *([self.trials] if self.trials else []), *self.levels,
                *(c for t in self.terms for c in t.columns)]
        return tuple(dict.fromkeys(cols))


def parse_formula(text: str, *, focal: str | None = None) -> FormulaParts:
    """Read an lme4/brms/Bambi formula into the parts of a model spec.

    Parameters
    ----------
    text
        ``response ~ fixed terms + (group terms)``. Fixed terms: columns, ``C(x)``,
        ``C(x, ref="a")``, ``scale(x)``, ``center(x)``, ``log(x)``, interactions of two
        columns ``x:z`` and ``x*z``. Group terms: ``(1 | g)``, nested ``(1 | a/b)`` (or
        ``(1 | a) + (1 | a:b)``), crossed ``(1 | a) + (1 | b)``, correlated varying slopes
        ``(1 + x | g)`` / ``(x | g)``; ``(1 || g)`` is ``(1 | g)``. Binomial responses as
        ``y | trials(n)`` (brms), ``p(y, n)`` (Bambi) or ``cbind(y, n - y)`` (lme4).
    focal
        The focal level (config key): it must be the highest grouping level, without
        slopes; crossed levels are reordered so that it comes last.

    Raises
    ------
    FormulaError
        Naming the term, for syntax the parser cannot read and for features the builder
        has no implementation for: no intercept (``0 +``, ``- 1``), uncorrelated slopes
        (``(1 + x || g)``, ``(0 + x | g)``), three-way or categorical interactions,
        ``I()``, ``offset()`` and other calls, nested and crossed levels in one model.
    """
    lhs, sep, rhs = text.partition("~")
    if not sep or "~" in rhs:
        raise FormulaError(f"formula {text!r}: needs exactly one '~' (response ~ terms)")
    response, trials = _response(lhs.strip(), text)
    fixed, groups = [], []
    for piece in _split(rhs, "+"):
        (groups if _is_group(piece) else fixed).append(piece)
    terms, intercept = _fixed_terms(" + ".join(fixed) or "1", text)
    if not intercept:
        raise FormulaError(f"formula {text!r}: a model without intercept ('0 +' or '- 1') is "
                           f"not supported: every family here has its intercept or thresholds")
    if not groups:
        raise FormulaError(f"formula {text!r}: needs at least one grouping term such as "
                           f"(1 | group): this workbench fits multilevel models")
    levels, nested, slopes = _grouping([_group(g, terms, text) for g in groups], focal, text)
    return FormulaParts(response=response, trials=trials, terms=terms, levels=levels,
                        nested=nested, slopes=slopes)


def _response(lhs: str, text: str) -> tuple[str, str | None]:
    for style, pattern in _RESPONSE.items():
        m = pattern.match(lhs)
        if m and (style != "lme4" or m["y"] == m["y2"]):
            return m["y"], m.groupdict().get("n")
    raise FormulaError(f"formula {text!r}: response {lhs!r} is not supported: write a column, "
                       f"or binomial successes as 'y | trials(n)', 'p(y, n)' or "
                       f"'cbind(y, n - y)'")


def _split(text: str, sep: str) -> list[str]:
    """Split on ``sep`` (one character) outside parentheses and quotes; empty parts dropped."""
    return [p for p in split_outside(text, sep) if p]


def _is_group(piece: str) -> bool:
    """``( ... | ... )``: a bar at the top level inside one pair of parentheses."""
    if not (piece.startswith("(") and piece.endswith(")")):
        return False
    inner = piece[1:-1]
    depth = 0
    for ch in inner:  # the outer pair must close at the end, not earlier
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth < 0:
            return False
        if ch == "|" and depth == 0:
            return True
    return False


def _fixed_terms(rhs: str, text: str) -> tuple[tuple[Covariate, ...], bool]:
    """The fixed terms of ``rhs`` (``formulae``'s reading) and whether it has an intercept."""
    from formulae import model_description
    from formulae.terms import Intercept

    try:
        desc = model_description(f"y ~ {rhs}")
    except Exception as err:  # formulae's ScanError / ParseError / ResolveError
        raise FormulaError(f"formula {text!r}: cannot parse {rhs!r}: {err}") from err
    intercept, out = False, []
    for term in desc.common_terms:
        if isinstance(term, Intercept):
            intercept = True
            continue
        cov = _covariate(term, out, text)
        if any(t.name == cov.name for t in out):  # x + scale(x): one column, two meanings
            raise FormulaError(f"formula {text!r}: term {term.name!r}: column {cov.name!r} "
                               f"enters the model twice (e.g. x + scale(x)); keep one")
        out.append(cov)
    return tuple(out), intercept


def _covariate(term, earlier: list[Covariate], text: str) -> Covariate:
    """One ``formulae`` term as a :class:`Covariate`, or a refusal naming it."""
    parts = [_component(c, text) for c in term.components]
    if len(parts) == 1:
        return parts[0]
    if len(parts) > 2:
        raise FormulaError(f"formula {text!r}: term {term.name!r}: interactions of more than "
                           f"two columns are not supported")
    first, second = parts
    if first.kind != "numeric" or second.kind != "numeric":
        raise FormulaError(f"formula {text!r}: term {term.name!r}: only interactions of two "
                           f"plain (numeric or 0/1) columns are supported, not of C(), "
                           f"scale(), center() or log() terms")
    main = {t.name: t for t in earlier}
    if main.get(second.name, second).kind != "numeric":  # the builder multiplies by the
        raise FormulaError(                               # main term's own column
            f"formula {text!r}: term {term.name!r}: {second.name!r} enters the model "
            f"transformed ({main[second.name].kind}); its interaction would use the "
            f"transformed column: write the interaction the other way round or drop the "
            f"transform")
    return Covariate(f"{first.name}:{second.name}", "interaction",
                     parts=(first.name, second.name))


def _component(comp, text: str) -> Covariate:
    from formulae.terms.call import Call
    from formulae.terms.call_resolver import LazyValue, LazyVariable
    from formulae.terms.variable import Variable

    if isinstance(comp, Variable):
        return Covariate(comp.name, "numeric")
    if not isinstance(comp, Call):
        raise FormulaError(f"formula {text!r}: term {comp!r} is not supported")
    call = comp.call
    fn = call.callee
    args = call.args
    column = args[0].name if len(args) == 1 and isinstance(args[0], LazyVariable) else None
    if fn == "C" and column and set(call.kwargs) <= {"ref"}:
        ref = call.kwargs.get("ref")
        if ref is not None and not isinstance(ref, LazyValue):
            raise FormulaError(f"formula {text!r}: term {comp.name!r}: ref must be a value")
        return Covariate(column, "categorical",
                         reference=None if ref is None else _level_text(ref.value))
    if fn in _TRANSFORMS and column and not call.kwargs:
        return Covariate(column, _TRANSFORMS[fn])
    if fn == "log" and column and not call.kwargs:
        return Covariate(f"log({column})", "log", parts=(column,))
    raise FormulaError(f"formula {text!r}: term {comp.name!r} is not supported: use a column, "
                       f"C(x), C(x, ref=\"level\"), scale(x), center(x), log(x) or x:z (derive "
                       f"other transforms, e.g. I(x**2), as a column of the data)")


def _level_text(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


@dataclass(frozen=True)
class _Group:
    factors: tuple[tuple[str, ...], ...]  # (1 | a/b) -> (a,), (a, b)
    slopes: tuple[str, ...]
    text: str


def _group(piece: str, fixed: tuple[Covariate, ...], text: str) -> _Group:
    inner = piece[1:-1]
    correlated = "||" not in inner
    expr, _, factor = inner.replace("||", "|").partition("|")
    expr, factor = expr.strip(), factor.strip()
    if not _FACTOR.match(factor) or ("/" in factor and ":" in factor):
        raise FormulaError(f"formula {text!r}: group term {piece!r}: the grouping factor must "
                           f"be a column, a nesting a/b/c or an interaction a:b (not "
                           f"{factor!r})")
    names = [n.strip() for n in re.split(r"[/:]", factor)]
    factors = tuple(tuple(names[:k]) for k in range(1, len(names) + 1)) if "/" in factor \
        else (tuple(names),)
    terms, intercept = _fixed_terms(expr or "1", text)
    if not intercept:
        raise FormulaError(f"formula {text!r}: group term {piece!r}: varying slopes without "
                           f"a varying intercept are not supported (only correlated "
                           f"intercepts and slopes: (1 + x | g))")
    if terms and not correlated:
        raise FormulaError(f"formula {text!r}: group term {piece!r}: uncorrelated varying "
                           f"slopes ('||') are not supported; the builder has correlated ones "
                           f"(an LKJ prior): write '|'")
    by_name = {t.name: t for t in fixed}
    for t in terms:
        if by_name.get(t.name) != t:
            raise FormulaError(f"formula {text!r}: group term {piece!r}: the slope of "
                               f"{t.name!r} must be a fixed term of the model as written "
                               f"there (the builder varies fixed coefficients by group)")
    return _Group(factors=factors, slopes=tuple(t.name for t in terms), text=piece)


def _grouping(groups: list[_Group], focal: str | None,
              text: str) -> tuple[tuple[str, ...], bool, tuple[str, ...]]:
    """``(levels lowest first, nested, slopes)`` from the group terms."""
    seen: dict[tuple[str, ...], str] = {}
    slopes_of: dict[tuple[str, ...], tuple[str, ...]] = {}
    for g in groups:
        for f in g.factors:
            if f in seen:
                raise FormulaError(f"formula {text!r}: group term {g.text!r}: grouping "
                                   f"{':'.join(f)!r} appears twice (also in {seen[f]!r}); one "
                                   f"term per grouping factor")
            seen[f] = g.text
            slopes_of[f] = g.slopes
    factors = list(seen)
    if all(len(f) == 1 for f in factors):
        levels = [f[0] for f in factors]
        nested = len(levels) == 1
        if focal in levels:  # crossed: the focal level is the highest, so last
            levels = [lv for lv in levels if lv != focal] + [focal]
        ordered = [(lv,) for lv in levels]
    else:
        chain = sorted(factors, key=len)
        if [len(f) for f in chain] != list(range(1, len(chain) + 1)) or \
                any(b[:-1] != a for a, b in zip(chain, chain[1:], strict=False)):
            raise FormulaError(
                f"formula {text!r}: the grouping terms {[seen[f] for f in factors]} are "
                f"neither one nesting chain (1 | a/b/c) nor crossed single columns "
                f"(1 | a) + (1 | b): a model has one nesting structure")
        if len({f[-1] for f in chain}) < len(chain):
            raise FormulaError(f"formula {text!r}: a column appears twice in the nesting "
                               f"{'/'.join(chain[-1])!r}")
        ordered = chain[::-1]
        levels, nested = [f[-1] for f in ordered], True
    if focal is not None:
        if focal not in levels:
            raise FormulaError(f"formula {text!r}: the focal level {focal!r} is not a "
                               f"grouping factor of the formula; write it as the highest "
                               f"level, e.g. (1 | {focal}/...) or (1 | {focal})")
        if levels[-1] != focal:
            raise FormulaError(f"formula {text!r}: the focal level {focal!r} must be the "
                               f"highest level of the nesting (here {levels[-1]!r})")
        if slopes_of[(focal,)]:
            raise FormulaError(f"formula {text!r}: group term {seen[(focal,)]!r}: the focal "
                               f"level takes no varying slopes")
    slopes = tuple(f"{t}|{f[-1]}" for f in ordered[::-1] for t in slopes_of[f])
    return tuple(levels), nested, slopes


# --------------------------------------------------------------------------------------
# Spec -> formula
# --------------------------------------------------------------------------------------
def _term_text(cov: Covariate) -> str:
    if cov.kind == "categorical":
        return f'C({cov.name}, ref="{cov.reference}")' if cov.reference else f"C({cov.name})"
    if cov.kind == "standardize":
        return f"scale({cov.name})"
    if cov.kind == "center":
        return f"center({cov.name})"
    if cov.kind == "interaction":
        return ":".join(cov.parts)
    if cov.kind == "log":
        return f"log({cov.parts[0]})"
    if cov.kind == "scaled" and (cov.center, cov.scale) != (0.0, 1.0):
        return f"I(({cov.name} - {cov.center:g}) / {cov.scale:g})"
    return cov.name


def to_formula(spec) -> str:
    """The lme4/brms formula of a :class:`~models.spec.ModelSpec`.

    ``score ~ girl + scale(hours) + C(ses) + (1 | school/class_id)``; a binomial response
    reads ``y | trials(n)`` (brms); nested levels with varying slopes are written expanded,
    ``(1 | a) + (1 + x | a:b)``. The focal level's variant shows as lme4 would fit it:
    ``hierarchical`` as its group term (``(1 | school/...)``, which reads back as this
    spec with the ``focal`` key), ``fixed`` as ``C(school, ref="S1")`` beside
    ``(1 | school:class_id)``, ``none`` without it. The family and what a formula cannot
    say are in :func:`describe`. An item-level (graded) model's left-hand side is its
    latent's name (the items are a key).
    """
    lhs = f"{spec.response} | trials({spec.trials})" if spec.trials else spec.response
    fixed = [_term_text(t) for t in spec.terms]
    top_down = list(reversed(spec.levels))
    focal_term = bool(spec.focal) and spec.variant == "hierarchical"
    if spec.focal and spec.variant == "fixed":
        fixed.append(f'C({spec.focal}, ref="{spec.reference}")')
    if spec.sd_by_focal and spec.focal:  # brms: the lowest level's SD by focal level
        groups = [f"(1 | {spec.focal})",
                  f"(1 | gr({spec.levels[0]}, by = {spec.focal}))"]
    elif spec.nested and len(top_down) > 1 and not spec.slopes and \
            (focal_term or not spec.focal):
        groups = [f"(1 | {'/'.join(top_down)})"]
    else:
        groups = []
        for k, lv in enumerate(top_down):
            if lv == spec.focal and not focal_term:
                continue
            factor = ":".join(top_down[:k + 1]) if spec.nested else lv
            expr = " + ".join(["1", *spec.slope_terms(lv)])
            groups.append(f"({expr} | {factor})")
        if not spec.nested:
            groups = groups[::-1]  # crossed: in the spec's order
    return f"{lhs} ~ {' + '.join([*fixed, *groups] or ['1'])}"


def describe(spec) -> str:
    """One line: the formula, the family and what the formula cannot say (focal level,
    variant, relaxed variants), e.g. ``score ~ ... + (1 | school/class_id); family
    gaussian; focal school (reference S1, hierarchical)``."""
    out = [to_formula(spec), f"family {spec.family}"]
    if spec.items:
        out.append(f"items {', '.join(spec.items)}")
    if spec.focal:
        out.append(f"focal {spec.focal} (reference {spec.reference}, {spec.variant})")
    if spec.focal_by_category:
        out.append(f"{spec.focal} effects by category (brms cs())")
    if spec.subset:
        out.append(f"rows {spec.subset}")
    return "; ".join(out)
