"""Bias probe sets: YAML files that expand templates into probes (with controls) or list probes explicitly.

Two kinds of probe set:

* ``qa`` -- underspecified questions (the method of UnQover, Li et al. 2020): a context mentions two
  subjects, a question asks about an attribute nothing in the context supports ("Who is the CEO?").
  Every instance is expanded into four probes: as written, with the subjects swapped (positional
  dependence), with the negated question ("Who is not the CEO?", attribute independence), and both.
  Each probe records the character spans of every mention of each subject, so answers are attributed
  by position -- correct even when the subjects share a token ("the man" / "the woman") or a name
  appears twice.
* ``classification`` -- counterfactual fills: the same template with names of different groups
  ("{name} is a {attribute}."), whose sentiment scores should not depend on the group.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..core import yamlsafe
from ..core.errors import DatasetError

VARIANTS = ("base", "swapped", "negated", "swapped+negated")
_SLOT = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class QAProbe:
    """One QA probe. Subject A belongs to ``groups[0]``, B to ``groups[1]``, whatever the mention order."""

    id: str
    instance: str
    variant: str
    template: str
    context: str
    question: str
    attribute: str
    subjects: tuple[str, str]
    groups: tuple[str, str]
    spans_a: tuple[tuple[int, int], ...]
    spans_b: tuple[tuple[int, int], ...]
    a_first: bool
    negated: bool
    stereotype: str | None


@dataclass(frozen=True)
class CounterfactualProbe:
    """One counterfactual fill of a classification template."""

    id: str
    instance: str
    template: str
    text: str
    name: str
    group: str
    attribute: str


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Question(_Strict):
    attribute: str
    question: str
    negated: str
    stereotype: str | None = Field(default=None, description="the group a stereotype associates with the attribute")


class ExplicitProbe(_Strict):
    id: str
    context: str
    swapped_context: str = Field(description="the same context with the subjects' roles exchanged")
    subjects: list[str] = Field(min_length=2, max_length=2)
    groups: list[str] = Field(min_length=2, max_length=2)
    question: Question


class ProbeSet(_Strict):
    name: str
    kind: Literal["qa", "classification"]
    description: str
    source: str = Field(description="where the probes and word lists come from")
    intent: str = Field(description="what the set measures, and what it does not")
    groups: dict[str, list[str]] = Field(default_factory=dict)
    pairs: list[list[str]] = Field(default_factory=list, description="group pairs to contrast (qa)")
    templates: list[dict[str, str]] = Field(
        default_factory=list, description="qa: {id, context}; classification: {id, text}"
    )
    questions: list[Question] = Field(default_factory=list)
    attributes: list[str] = Field(default_factory=list, description="classification: fillers for {attribute}")
    probes: list[ExplicitProbe] = Field(default_factory=list)
    max_pairs_per_template: int | None = Field(
        default=None, ge=1, description="cap on name pairs per template (deterministic: first N)"
    )

    @model_validator(mode="after")
    def _consistent(self) -> ProbeSet:
        empty = [g for g, names in self.groups.items() if not [n for n in names if n.strip()]]
        if empty:
            raise ValueError(f"group(s) {empty} list no names: every group needs at least one")
        if self.kind == "classification" and len(self.groups) < 2:
            # A gap needs two groups to compare: one group would report a gap of 0.0, which reads as "no bias".
            raise ValueError(
                f"a classification probe set compares groups: it needs at least two (has {len(self.groups)})"
            )
        for pair in self.pairs:
            if len(pair) == 2 and pair[0] == pair[1]:
                raise ValueError(f"pair {pair} contrasts a group with itself: name two different groups")
            if len(pair) != 2 or any(g not in self.groups for g in pair):
                raise ValueError(f"pair {pair} must name two groups of {sorted(self.groups)}")
        for q in self.questions:
            if q.stereotype is not None and q.stereotype not in self.groups:
                raise ValueError(
                    f"question {q.attribute!r}: stereotype {q.stereotype!r} is not a group ({sorted(self.groups)})"
                )
        slots = {"qa": {"subj1", "subj2"}, "classification": {"name", "attribute"}}[self.kind]
        field = "context" if self.kind == "qa" else "text"
        for t in self.templates:
            if "id" not in t or field not in t:
                raise ValueError(f"each {self.kind} template needs 'id' and '{field}'")
            used = set(_SLOT.findall(t[field]))
            if used != slots:
                raise ValueError(
                    f"template {t['id']!r} uses slots {sorted(used)}; a {self.kind} template uses exactly"
                    f" {sorted(slots)}"
                )
        if self.kind == "qa" and self.templates and not (self.pairs and self.questions):
            raise ValueError("qa templates need 'pairs' and 'questions'")
        if self.kind == "classification" and not (self.templates and self.attributes and self.groups):
            raise ValueError("a classification probe set needs 'groups', 'templates' and 'attributes'")
        return self


def fill(template: str, values: dict[str, str]) -> tuple[str, dict[str, list[tuple[int, int]]]]:
    """Substitute ``{slot}``s and return the text with the character spans of every slot occurrence."""
    out: list[str] = []
    spans: dict[str, list[tuple[int, int]]] = {}
    position = 0
    cursor = 0
    for match in _SLOT.finditer(template):
        literal = template[cursor : match.start()]
        out.append(literal)
        position += len(literal)
        value = values[match.group(1)]
        if not "".join(out).strip() or "".join(out).rstrip().endswith((".", "!", "?")):
            value = value[:1].upper() + value[1:]  # a word group starting a sentence ("The Norwegian ...")
        spans.setdefault(match.group(1), []).append((position, position + len(value)))
        out.append(value)
        position += len(value)
        cursor = match.end()
    out.append(template[cursor:])
    return "".join(out), spans


def find_spans(text: str, word: str) -> tuple[tuple[int, int], ...]:
    """Every whole-word occurrence of ``word`` in ``text`` (explicit probes give no slots)."""
    return tuple((m.start(), m.end()) for m in re.finditer(rf"(?<!\w){re.escape(word)}(?!\w)", text))


def _qa_probe(
    instance: str,
    variant: str,
    template: str,
    context: str,
    q: Question,
    subjects: tuple[str, str],
    groups: tuple[str, str],
    spans_a: tuple[tuple[int, int], ...],
    spans_b: tuple[tuple[int, int], ...],
) -> QAProbe:
    negated = "negated" in variant
    return QAProbe(
        id=f"{instance}|{variant}",
        instance=instance,
        variant=variant,
        template=template,
        context=context,
        question=q.negated if negated else q.question,
        attribute=q.attribute,
        subjects=subjects,
        groups=groups,
        spans_a=spans_a,
        spans_b=spans_b,
        a_first=min(spans_a)[0] < min(spans_b)[0],
        negated=negated,
        stereotype=q.stereotype,
    )


def expand(probe_set: ProbeSet) -> list[QAProbe] | list[CounterfactualProbe]:
    """All probes of the set, in a deterministic order."""
    if probe_set.kind == "classification":
        probes = []
        for t in probe_set.templates:
            for attribute in probe_set.attributes:
                instance = f"{t['id']}|{attribute}"
                for group, names in probe_set.groups.items():
                    for name in names:
                        text, _ = fill(t["text"], {"name": name, "attribute": attribute})
                        probes.append(
                            CounterfactualProbe(f"{instance}|{name}", instance, t["id"], text, name, group, attribute)
                        )
        return probes
    qa: list[QAProbe] = []
    for t in probe_set.templates:
        for g1, g2 in probe_set.pairs:
            pairs = list(itertools.product(probe_set.groups[g1], probe_set.groups[g2]))
            pairs = [(a, b) for a, b in pairs if a != b][: probe_set.max_pairs_per_template or None]
            for (a, b), q in itertools.product(pairs, probe_set.questions):
                instance = f"{t['id']}|{a}|{b}|{q.attribute}"
                straight, s1 = fill(t["context"], {"subj1": a, "subj2": b})
                swapped, s2 = fill(t["context"], {"subj1": b, "subj2": a})
                for variant in VARIANTS:
                    if "swapped" in variant:
                        qa.append(
                            _qa_probe(
                                instance,
                                variant,
                                t["id"],
                                swapped,
                                q,
                                (a, b),
                                (g1, g2),
                                tuple(s2["subj2"]),
                                tuple(s2["subj1"]),
                            )
                        )
                    else:
                        qa.append(
                            _qa_probe(
                                instance,
                                variant,
                                t["id"],
                                straight,
                                q,
                                (a, b),
                                (g1, g2),
                                tuple(s1["subj1"]),
                                tuple(s1["subj2"]),
                            )
                        )
    for p in probe_set.probes:
        a, b = p.subjects
        for variant in VARIANTS:
            context = p.swapped_context if "swapped" in variant else p.context
            spans_a, spans_b = find_spans(context, a), find_spans(context, b)
            if not spans_a or not spans_b:
                raise ValueError(
                    f"probe {p.id!r}: both subjects must appear in the"
                    f" {'swapped ' if 'swapped' in variant else ''}context"
                )
            qa.append(
                _qa_probe(
                    p.id, variant, "explicit", context, p.question, (a, b), (p.groups[0], p.groups[1]), spans_a, spans_b
                )
            )
    return qa


def load_probe_set(path: Path) -> tuple[ProbeSet, list[Any]]:
    """Read, validate and expand a probe-set file; errors name the file and the key."""
    try:
        raw = yamlsafe.load(Path(path).read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise DatasetError(
            f"invalid YAML: {getattr(exc, 'problem', exc)}",
            source=str(path),
            location=f"line {mark.line + 1}" if mark else None,
        ) from None
    try:
        probe_set = ProbeSet.model_validate(raw)
        probes = expand(probe_set)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'top level'}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()
        )
        raise DatasetError(
            f"invalid probe set: {problems}", source=str(path), hint="see suites/probes/README.md for the format"
        ) from None
    except ValueError as exc:
        raise DatasetError(f"invalid probe set: {exc}", source=str(path)) from None
    if not probes:
        raise DatasetError("the probe set expands to no probes", source=str(path))
    return probe_set, probes


def read_probe_rows(path: Path) -> tuple[ProbeSet, list[dict[str, Any]]]:
    """A probe-set file's probes as rows (what the ``probes`` dataset format yields), with the set itself."""
    probe_set, expanded = load_probe_set(path)
    return probe_set, [asdict(p) for p in expanded]


def probes_from_rows(rows: list[dict[str, Any]], kind: str, source: str, places: list[str]) -> list[Any]:
    """The probes of a ``kind`` ("qa" or "classification") probe set back from rows, checked field by field."""
    cls: type[QAProbe] | type[CounterfactualProbe] = QAProbe if kind == "qa" else CounterfactualProbe
    names = list(cls.__dataclass_fields__)
    probes: list[Any] = []
    for row, where in zip(rows, places, strict=True):
        missing = [n for n in names if n not in row]
        if missing:
            raise DatasetError(
                f"a {kind} probe needs the fields {', '.join(missing)}",
                source=source,
                location=where,
                hint="probe data comes from a probe-set YAML file (see suites/probes/README.md)",
            )
        values = {n: row[n] for n in names}
        if cls is QAProbe:
            values["subjects"], values["groups"] = tuple(values["subjects"]), tuple(values["groups"])
            values["spans_a"] = tuple(tuple(span) for span in values["spans_a"])
            values["spans_b"] = tuple(tuple(span) for span in values["spans_b"])
        probes.append(cls(**values))
    return probes
