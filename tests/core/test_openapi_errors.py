"""The error answers are declared in the OpenAPI document once for all operations
(http/openapi.py, #13 point 7), with the app's error body."""

from __future__ import annotations

ERROR_BODY = {"$ref": "#/components/schemas/ErrorBody"}


def responses(app, method: str, path: str) -> dict:
    return app.openapi()["paths"][path][method]["responses"]


def test_a_scoped_list_declares_the_refusals_and_validation(app):
    declared = responses(app, "get", "/api/verification/tasks")
    assert set(declared) == {"200", "401", "403", "404", "422"}
    assert declared["422"]["content"]["application/json"]["schema"] == ERROR_BODY


def test_a_write_declares_conflict_size_and_rate_limit(app):
    declared = responses(app, "post", "/api/supervision/items")
    assert {"401", "403", "404", "409", "413", "422", "429"} <= set(declared)
    assert "423" not in declared


def test_the_routes_that_check_a_credential_declare_the_lockout(app):
    assert "423" in responses(app, "post", "/api/auth/login")
    assert "423" in responses(app, "post", "/api/accounts/activate")


def test_a_public_read_without_input_declares_no_error(app):
    assert set(responses(app, "get", "/api/health")) == {"200"}


def test_a_signed_in_read_without_input_declares_only_the_refusals(app):
    assert set(responses(app, "get", "/api/auth/me")) == {"200", "401", "403"}


def test_the_error_body_is_the_apps_and_fastapis_default_is_gone(app):
    document = app.openapi()
    schemas = document["components"]["schemas"]
    assert schemas["ErrorBody"]["required"] == ["error"]
    assert set(schemas["ErrorInfo"]["required"]) == {"code", "message"}
    assert "HTTPValidationError" not in str(document)
