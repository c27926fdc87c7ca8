"""Adverse-action notices: the score disclosure a refusal of credit carries under the US FCRA.

When a gate refuses a service the policy names in ``due_process.adverse_action.services`` (the
US policy: ``credit``), the refusal notice (:mod:`socialcredit.disclosure.notices`) also gives,
as FCRA §615(a), 15 U.S.C. 1681m(a), asks of a person taking adverse action based on a consumer
report:

* the numerical score used, the range of possible scores, up to four key factors that
  adversely affected it (most costly first), the date it was created and who created it
  (§615(a)(2) by reference to §609(f)(1)(A)-(E), 15 U.S.C. 1681g(f)(1); §609(f)(1)(C) caps
  the key factors at four, adding the number of inquiries when it is one — this model has
  no inquiries factor);
* that the registry did not take the decision and cannot say why it was taken (§615(a)(3)(B));
* the consumer's right to a free copy of their file within 60 days (§615(a)(4)(A), §612(b))
  and to dispute what is in it (§615(a)(4)(B), §611).

:func:`score_disclosure` reads the subject's newest ``scores`` row for the named score; a
subject never scored has none (the text then says no score was used).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from socialcredit.policy.model import Policy
from socialcredit.store.tables import scores

__all__ = ["MAX_KEY_FACTORS", "adverse_action_words", "score_disclosure"]

#: Key factors disclosed (FCRA §609(f)(1)(C), 15 U.S.C. 1681g(f)(1)(C): "not more than 4").
MAX_KEY_FACTORS = 4


def score_disclosure(conn: Any, policy: Policy, subject_id: int) -> dict[str, Any] | None:
    """The disclosure owed with a refusal of ``subject_id``, or None when the policy asks for
    none. Shape: ``{"score_name", "title", "score": int | None, "range": [min, max],
    "key_factors": [{"code", "reason"}] (≤ 4, most costly first), "date": ISO local date |
    None, "source"}``; ``score`` and ``date`` are None when the subject has no score row."""
    aa = policy.due_process.adverse_action
    if aa is None or aa.score not in policy.scores:
        return None
    spec = policy.scores[aa.score]
    row = conn.execute(select(scores.c.value, scores.c.reasons, scores.c.as_of).where(
        scores.c.subject_id == subject_id, scores.c.score == aa.score)
        .order_by(scores.c.id.desc()).limit(1)).first()
    reason_of = {f.code: f.reason for f in spec.factors}
    # only factors that cost points are "key factors that adversely affected" the score
    adverse = {f.code for f in spec.factors if f.points < 0}
    codes = [c for c in (json.loads(row.reasons) if row is not None else []) if c in adverse]
    return {"score_name": aa.score, "title": spec.title,
            "score": None if row is None else int(row.value), "range": [spec.min, spec.max],
            "key_factors": [{"code": c, "reason": reason_of.get(c, c)}
                            for c in codes[:MAX_KEY_FACTORS]],
            "date": None if row is None else row.as_of, "source": aa.source}


def adverse_action_words(d: dict[str, Any] | None, gate: str) -> str:
    """The sentences a refusal notice adds for disclosure ``d`` (:func:`score_disclosure`);
    ``""`` for None."""
    if d is None:
        return ""
    if d["score"] is None:
        used = (f" No {d['title'].lower()} was on file for you when {gate} decided, so none "
                "was used.")
    else:
        lo, hi = d["range"]
        factors = "; ".join(f"{f['code']} {f['reason']}" for f in d["key_factors"]) or "none"
        used = (f" Your {d['title'].lower()}: {d['score']} (possible scores {lo} to {hi}), "
                f"created {d['date']} by {d['source']}. Key factors that lowered it: "
                f"{factors}.")
    return (" This is an adverse action based on your consumer report (FCRA 615(a))."
            f"{used} The decision was taken by {gate}, not by the registry, which cannot say "
            "why it was taken. You may get a free copy of your file from the registry within "
            "60 days (FCRA 612(b)) and dispute anything in it that is inaccurate or incomplete "
            "(FCRA 611) at /me.")
