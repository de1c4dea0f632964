"""The OpenAPI document: well formed, every path routed and every route described, every
reference resolved, and the API's real answers match the schemas it declares."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest
from django.test import Client
from django.urls import Resolver404, resolve
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

from cnsc.dashboard import api_urls

pytestmark = pytest.mark.django_db

SERVED = "/api/v1/openapi.json"
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


@pytest.fixture
def doc(client) -> dict[str, Any]:
    response = client.get(SERVED)
    assert response.status_code == 200
    return response.json()


def refs_in(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if "$ref" in node else []
        return found + [r for value in node.values() for r in refs_in(value)]
    if isinstance(node, list):
        return [r for value in node for r in refs_in(value)]
    return []


def follow(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = doc
    for part in ref[2:].split("/"):
        node = node[part]
    return node


def check(doc: dict[str, Any], schema: dict[str, Any], value: Any, where: str = "$") -> None:
    """The JSON Schema keywords the document uses: $ref, type (with null), required,
    properties, items, enum, minimum, maximum, pattern."""
    if "$ref" in schema:
        check(doc, follow(doc, schema["$ref"]), value, where)
        return
    types = schema.get("type")
    if types is not None:
        allowed = types if isinstance(types, list) else [types]
        python = {
            "object": dict,
            "array": list,
            "string": str,
            "integer": int,
            "number": (int, float),
            "boolean": bool,
            "null": type(None),
        }
        matches = [
            t
            for t in allowed
            if isinstance(value, python[t]) and not (t in ("integer", "number") and value is True)
        ]
        assert matches, f"{where}: {value!r} is not {allowed}"
    if "enum" in schema:
        assert value in schema["enum"], f"{where}: {value!r} not in {schema['enum']}"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema:
            assert value >= schema["minimum"], where
        if "maximum" in schema:
            assert value <= schema["maximum"], where
    if isinstance(value, str) and "pattern" in schema:
        assert re.search(schema["pattern"], value), f"{where}: {value!r}"
    if isinstance(value, dict):
        for key in schema.get("required", []):
            assert key in value, f"{where}: {key} missing"
        for key, sub in schema.get("properties", {}).items():
            if key in value:
                check(doc, sub, value[key], f"{where}.{key}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            check(doc, schema["items"], item, f"{where}[{i}]")


def response_schema(doc: dict[str, Any], path: str, status: str = "200") -> dict[str, Any]:
    response = doc["paths"][path]["get"]["responses"][status]
    if "$ref" in response:
        response = follow(doc, response["$ref"])
    (content,) = response["content"].values()
    return content["schema"]


def test_the_document_is_openapi_3_1(doc):
    assert doc["openapi"] == "3.1.0"
    assert doc["info"]["title"]
    assert doc["info"]["version"]
    assert doc["servers"][0]["url"].endswith("/api/v1")
    assert doc["components"]["securitySchemes"]["token"] == {
        "type": "http",
        "scheme": "bearer",
        "description": doc["components"]["securitySchemes"]["token"]["description"],
    }
    operation_ids = [
        op["operationId"]
        for item in doc["paths"].values()
        for method, op in item.items()
        if method in METHODS
    ]
    assert len(operation_ids) == len(set(operation_ids))
    for item in doc["paths"].values():
        for method, op in item.items():
            assert method in METHODS
            assert "200" in op["responses"]
            for parameter in op.get("parameters", []):
                if "$ref" in parameter:
                    parameter = follow(doc, parameter["$ref"])
                assert parameter["in"] in ("query", "path")
                if parameter["in"] == "path":
                    assert parameter["required"] is True


def test_every_reference_resolves(doc):
    refs = refs_in(doc)
    assert refs
    for ref in refs:
        assert follow(doc, ref) is not None, ref


def test_every_path_is_routed_and_every_route_is_described(doc):
    for path in doc["paths"]:
        url = "/api/v1" + path.replace("{province}", "79")
        try:
            resolve(url)
        except Resolver404:
            pytest.fail(f"{path} is described but not routed")
    described = {re.sub(r"\{\w+\}", "<str:province>", p.lstrip("/")) for p in doc["paths"]}
    routed = {str(p.pattern) for p in api_urls.urlpatterns}
    assert routed == described


def test_the_document_validates_with_openapi_spec_validator(doc):
    validate(doc)


def test_the_validator_rejects_the_document_broken(doc):
    """The validation above can fail: the served document with one parameter in the request
    body (not an OpenAPI 3.1 location) or one answer without its description is refused."""
    misplaced = copy.deepcopy(doc)
    misplaced["components"]["parameters"]["unit"]["in"] = "body"
    with pytest.raises(OpenAPIValidationError, match="'body' is not one of"):
        validate(misplaced)
    undescribed = copy.deepcopy(doc)
    del undescribed["components"]["responses"]["BadRequest"]["description"]
    with pytest.raises(OpenAPIValidationError, match="'description' is a required property"):
        validate(undescribed)


def test_real_answers_match_the_schemas(built, doc, token_for, api, settings):
    settings.OPEN_DATA_MIN_HOUSEHOLDS = 3
    client = api(token_for("79"))
    answers = {
        "/indicators": client.get("/api/v1/indicators"),
        "/units": client.get("/api/v1/units", {"within": "79", "level": "former_district"}),
        "/values": client.get(
            "/api/v1/values", {"unit": "79,25747", "start": "202510", "end": "202601"}
        ),
        "/dataValueSets.json": client.get(
            "/api/v1/dataValueSets.json", {"unit": "25747", "period": "202512"}
        ),
        "/open/": Client().get("/api/v1/open/"),
    }
    for path, response in answers.items():
        assert response.status_code == 200, path
        body = response.json()
        check(doc, response_schema(doc, path), body, path)
    open_json = Client().get("/api/v1/open/79/values.json")
    body = json.loads(b"".join(open_json.streaming_content))
    assert body["data"]
    check(doc, response_schema(doc, "/open/{province}/values.json"), body, "open json")
    metadata = Client().get("/api/v1/open/79/values.csv-metadata.json").json()
    check(doc, response_schema(doc, "/open/{province}/values.csv-metadata.json"), metadata)


def test_errors_match_the_error_schema(built, doc, token_for, api):
    error = doc["components"]["schemas"]["Error"]
    client = api(token_for("25747"))
    for response in (
        Client().get("/api/v1/values", {"unit": "79", "period": "2025"}),
        client.get("/api/v1/values", {"unit": "79", "period": "2025"}),
        client.get("/api/v1/values", {"unit": "25747", "period": "nope"}),
        client.get("/api/v1/values", {"unit": "nope!", "period": "2025"}),
    ):
        assert response.status_code in (400, 401, 403, 404)
        check(doc, error, response.json())
        assert str(response.status_code) in doc["paths"]["/values"]["get"]["responses"]
