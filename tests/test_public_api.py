"""The public surface is explicit and pinned; internals may change freely."""

from __future__ import annotations

import socialcredit
from socialcredit import errors


def test_exported_members() -> None:
    assert sorted(socialcredit.__all__) == sorted([
        "AuthError", "ConfigError", "Conflict", "IdentifierError", "InputError",
        "LedgerBroken", "NotFound", "PayloadTooLarge", "PermissionDenied", "RateLimited",
        "Registry", "Settings",
        "SocialCreditError", "StoreUnavailable", "UnknownService", "ValidationFailed",
        "__version__", "create_app"])
    for name in socialcredit.__all__:
        assert getattr(socialcredit, name) is not None


def test_every_error_has_a_code_status_and_the_json_shape() -> None:
    for name in errors.__all__:
        cls = getattr(errors, name)
        err = cls("message", details={"x": 1})
        assert isinstance(err, errors.SocialCreditError)
        assert 400 <= err.status_code < 600
        assert err.to_dict() == {"error": {"code": cls.code, "message": "message",
                                           "details": {"x": 1}}}
    codes = [getattr(errors, n).code for n in errors.__all__]
    assert len(codes) == len(set(codes))


def test_split_modules_keep_their_public_names() -> None:
    """identity/model.py, gate/snapshot.py and policy/model.py became packages and the
    transparency report's page (reports/render.py, now web/report.py) lost its helpers to
    facets (issue #18); the names other modules import from them stay where they were."""
    from socialcredit.gate import snapshot
    from socialcredit.identity import model
    from socialcredit.policy import model as policy_model
    from socialcredit.web import report as render

    assert sorted(model.__all__) == sorted([
        "COLUMNS", "LinkageModel", "backend_api", "best_links", "blocking_warnings",
        "linkage_settings", "local_spark", "predict", "train"])
    assert sorted(render.__all__) == sorted([
        "DECISIONS", "ENTRY_STATES", "LIST_TITLES", "SERVICE_LABELS", "headline",
        "render_report"])
    assert sorted(snapshot.__all__) == sorted([
        "FORMAT_VERSION", "KEY_KINDS", "MAGIC", "SnapshotBenefit", "SnapshotError", "SnapshotHit",
        "SnapshotInfo",
        "SnapshotItem", "SnapshotReader", "keyed_digest", "load_signing_key", "new_gate_key",
        "new_signing_key", "public_key_pem", "save_signing_key", "verify_snapshot",
        "write_snapshot"])
    assert sorted(policy_model.__all__) == sorted([
        "Condition", "CriteriaRule", "DecayBand", "DisplayTier", "DueProcessSpec", "Exemption",
        "ExtensionRule", "FURNISHER_KINDS", "FieldSpec", "GateSpec", "GradeBand", "IdentitySpec",
        "IncentiveSpec",
        "Jurisdiction", "KindSpec", "LiftingRule", "ListSpec", "ObligationSpec", "Policy",
        "Range", "RatingRule", "RemovalRule",
        "SanctionSpec", "ScoreFactor", "ScoreSource", "ScoreSpec", "SharingAgreement",
        "TriggerRule", "line_of", "load_policy", "resolve_policy_path", "shipped_policies",
        "yaml_lines"])
    for module in (model, policy_model, render, snapshot):
        for name in module.__all__:
            assert getattr(module, name) is not None
