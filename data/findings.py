"""The report's published conclusions as data (STUDY.md, "Published findings").

Each claim: outcome, the parameter it is about, and the expected direction (+1 / -1).
``contrast`` claims compare two living forms on the latent scale ("RB - HZ"); ``beta``
claims are tenant- or complex-level coefficients (term names as in the codebook). The
pairs of one sentence ("GG the most daily contact": GG - RO, GG - RR, GG - RB) are also
judged jointly. Claims of "little difference" are :data:`EQUIVALENCES`, judged against a
region of practical equivalence on the outcome scale.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["EQUIVALENCES", "FINDINGS", "Equivalence", "Finding"]


@dataclass(frozen=True)
class Finding:
    """One directional claim of the report."""

    outcome: str
    kind: str  # "contrast" | "beta"
    target: str
    direction: int
    claim: str
    # a claim about the path through another covariate ("higher education lowers cohesion
    # through norms"): judged only in a model that does not hold that covariate fixed
    through: str | None = None


@dataclass(frozen=True)
class Equivalence:
    """A "little difference between the forms" claim: every form within a region of
    practical equivalence of every other on the outcome scale."""

    outcome: str
    claim: str


# the report's non-directional conclusions (docs/STUDY.md, "Published findings")
EQUIVALENCES: tuple[Equivalence, ...] = (
    Equivalence("cohesion", "cohesion: little difference between forms"),
    Equivalence("lonely", "loneliness: little difference between forms"),
)


def _c(outcome: str, pairs: str, direction: int, claim: str) -> list[Finding]:
    return [Finding(outcome, "contrast", p.strip(), direction, claim) for p in pairs.split(",")]


def _b(outcome: str, terms: str, direction: int, claim: str,
       through: str | None = None) -> list[Finding]:
    return [Finding(outcome, "beta", t.strip(), direction, claim, through)
            for t in terms.split(",")]


FINDINGS: tuple[Finding, ...] = tuple(
    # living-form effects
    _c("contact", "RO - HZ, RR - HZ, RB - HZ, GG - HZ, RO - LZ, RR - LZ, RB - LZ, GG - LZ", +1,
       "RO, RR, RB and GG more often daily contact than LZ and HZ")
    + _c("contact", "GG - RO, GG - RR, GG - RB", +1, "GG the most daily contact")
    + _c("friendly_contact", "GG - HZ, LZ - HZ, RO - HZ, RR - HZ, RG - HZ, RB - HZ", +1,
         "friendly contact lower in HZ than in all other forms")
    + _c("activity_organised", "RO - HZ, RR - HZ, RG - HZ, RB - HZ, RO - LZ, RR - LZ, RG - LZ, "
         "RB - LZ", +1, "non-clustered forms more often 'none organised'")
    + _c("activity_participation", "RO - HZ, RR - HZ, RG - HZ, RB - HZ", +1,
         "clustered forms more participation in activities")
    + _c("organised_together", "RR - HZ, RB - HZ", +1, "organising together higher in RR, RB")
    + _c("maintained_together", "GG - HZ, RB - HZ", +1, "maintaining together higher in GG, RB")
    + _c("gossip", "RB - HZ, RG - HZ", +1, "gossip higher in RB, somewhat in RG")
    + _b("cohesion", "small_community", +1, "very small communities (<= 25 units) more cohesion")
    + _c("lonely", "RO - HZ, RO - RG", -1, "RO somewhat less lonely than high-rise forms")
    + _c("help_received", "GG - HZ, RB - HZ, GG - RR, RB - RR", +1,
         "help received higher in GG and RB than in HZ and RR")
    + _c("help_given", "RR - HZ, RG - HZ, RB - HZ, GG - HZ", +1,
         "help given higher in RR, RG, RB and GG than in HZ")
    + _b("contact", "rural", +1, "rural tenants more daily contact")
    + _b("help_given", "rural", +1, "rural tenants give more help")
    # tenant-level effects
    + _b("contact", "lives_alone, little_outside_contact", -1, "contact: lives alone -, "
         "little outside contact -")
    + _b("contact", "social_motive, extraversion", +1, "contact: social motive +, extraversion +")
    + _b("friendly_contact", "female, age_group[2], age_group[3], age_group[4], social_motive, "
         "extraversion, residence_duration[2], residence_duration[3]", +1,
         "friendly: female +, 55-64 lower than older, social motive +, extraversion +, "
         "residence < 1 year -")
    + _b("cohesion", "age_group[3], age_group[4], extraversion, social_motive, shared_norms", +1,
         "cohesion: 75+ +, extraversion +, social motive +, shared norms +")
    + _b("cohesion", "activity_limitation, lives_alone, little_outside_contact, "
         "financial_vulnerability, residence_duration[2], residence_duration[3]",
         -1, "cohesion: vulnerability -, residence < 1 year + (honeymoon)")
    # "through norms": a claim about education's effect *including* the path through shared
    # norms, so it is judged in a model that does not hold shared norms fixed (the causal
    # graph's edge education -> shared_norms; workflows.fit picks the model)
    + _b("cohesion", "education[3]", -1, "cohesion: higher education - (through norms)",
         through="shared_norms")
    + _b("lonely", "extraversion, social_motive, shared_norms", -1,
         "loneliness: extraversion -, social motive -, shared norms -")
    + _b("lonely", "lives_alone, little_outside_contact, activity_limitation, "
         "financial_vulnerability", +1, "loneliness: lives alone +, little outside contact +, "
         "activity limitation +, financial vulnerability +")
    + _b("help_received", "activity_limitation, lives_alone, extraversion, social_motive, "
         "residence_duration[2], residence_duration[3]", +1,
         "help received: limitation +, alone +, extraversion +, social motive +, "
         "residence < 1 year -")
    + _b("help_received", "age_group[4], little_outside_contact", -1,
         "help received: 85+ -, little outside contact -")
    + _b("help_given", "financial_vulnerability, social_motive, extraversion, "
         "residence_duration[2], residence_duration[3]", +1,
         "help given: financial vulnerability +, social motive +, extraversion +, "
         "residence < 1 year -, > 7 years +")
    + _b("help_given", "age_group[4], personal_care, lives_alone, little_outside_contact", -1,
         "help given: 85+ -, personal care -, lives alone -, little outside contact -")
)
