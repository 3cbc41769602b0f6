"""Classification of a case by Russian keyword rules, when the frontend did not give it.

The rules are data (a TOML file shipped in the package, replaceable by a setting), so support can
tune the vocabulary without a release. See classification_rules.toml for the matching rules;
adapters/classification_rules.py reads the file, the classifier gets its parsed document.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from casedesk_intake.domain.keywords import Keyword, KeywordError, KeywordIndex
from casedesk_vocabulary.enums import CaseType, Category

CATEGORIES = tuple(category.value for category in Category)
CASE_TYPES = tuple(case_type.value for case_type in CaseType)


class RulesError(ValueError):
    """The rules file is malformed; the message names the offending entry."""


@dataclass(frozen=True)
class Classification:
    case_type: str
    category: str
    queue: str
    rules_version: str


@dataclass(frozen=True)
class Rule:
    name: str
    keywords: tuple[Keyword, ...]
    case_type: str = ""
    queue: str = ""
    overrides_category: bool = False


class Classifier:
    def __init__(self, document: dict[str, Any]) -> None:
        try:
            self.version = str(document["version"])
            defaults = document["defaults"]
            self.default_category = _member(defaults["category"], CATEGORIES, "defaults.category")
            self.default_type = _member(defaults["type"], CASE_TYPES, "defaults.type")
            self.categories = tuple(
                _rule(entry, CATEGORIES, f"category[{i}]")
                for i, entry in enumerate(document.get("category", []))
            )
            self.types = tuple(
                _rule(entry, CASE_TYPES, f"type[{i}]")
                for i, entry in enumerate(document.get("type", []))
            )
        except KeyError as missing:
            raise RulesError(f"classification rules lack {missing}") from None
        rules = (*self.categories, *self.types)
        self._index = KeywordIndex(k for r in rules for k in r.keywords)
        # A rule scores the stems of its keywords found in the text. Counted from the few found
        # keywords (each with the rules that list it, by the rule's id) rather than by looking
        # every rule's every keyword up, which cost a case more than finding the keywords.
        self._listed_in: dict[Keyword, list[tuple[int, int]]] = {}
        for rule in rules:
            for keyword in rule.keywords:
                self._listed_in.setdefault(keyword, []).append((id(rule), len(keyword.stems)))

    def classify(self, text: str, case_type: str = "", category: str = "") -> Classification:
        """Fill in what the frontend left empty; what it gave is kept as given."""
        scores = self._scores(self._index.found_in(text))
        rule = next((r for r in self.categories if r.name == category), None)
        if not category:
            rule = _best(self.categories, scores)
            category = rule.name if rule else self.default_category
        return Classification(
            case_type=case_type or self._type_for(scores, rule),
            category=category,
            queue=rule.queue if rule else "",
            rules_version=self.version,
        )

    def _scores(self, found: frozenset[Keyword]) -> dict[int, int]:
        """Each rule's score by its id; rules without a found keyword are left out (score 0)."""
        scores: dict[int, int] = {}
        for keyword in found:
            for rule_id, stems in self._listed_in.get(keyword, ()):
                scores[rule_id] = scores.get(rule_id, 0) + stems
        return scores

    def _type_for(self, scores: dict[int, int], category_rule: Rule | None) -> str:
        overriding = _best([r for r in self.types if r.overrides_category], scores)
        if overriding:
            return overriding.name
        if category_rule and category_rule.case_type:
            return category_rule.case_type
        hinted = _best(self.types, scores)
        return hinted.name if hinted else self.default_type


def _best(rules: Any, scores: dict[int, int]) -> Rule | None:
    """The first of `rules` with the highest score above 0."""
    best, best_score = None, 0
    for rule in rules:
        score = scores.get(id(rule), 0)
        if score > best_score:
            best, best_score = rule, score
    return best


def _member(value: Any, allowed: tuple[str, ...], where: str) -> str:
    if value not in allowed:
        raise RulesError(f"{where}: {value!r} is not one of {', '.join(allowed)}")
    return str(value)


def _rule(entry: dict[str, Any], names: tuple[str, ...], where: str) -> Rule:
    case_type = entry.get("type", "")
    return Rule(
        name=_member(entry.get("name"), names, f"{where}.name"),
        keywords=_keywords(entry.get("keywords", []), where),
        case_type=_member(case_type, CASE_TYPES, f"{where}.type") if case_type else "",
        queue=str(entry.get("queue", "")),
        overrides_category=bool(entry.get("overrides_category", False)),
    )


def _keywords(phrases: list[str], where: str) -> tuple[Keyword, ...]:
    try:
        return tuple(Keyword.parse(phrase) for phrase in phrases)
    except KeywordError as problem:
        raise RulesError(f"{where}: {problem}") from None
