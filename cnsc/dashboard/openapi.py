"""The OpenAPI 3.1 description of /api/v1/, written by hand next to the views it describes
(cnsc.dashboard.api, cnsc.dashboard.opendata). A test walks it: every path is routed, every
reference resolves, and real answers match the schemas."""

from __future__ import annotations

from typing import Any

from .api import (
    CSV_COLUMNS,
    LEVEL_WITHIN,
    MAX_FILE_ROWS,
    MAX_PAGE_SIZE,
    MAX_PERIODS,
    MAX_UNITS,
    PAGE_SIZE,
    either,
)
from .indicators import CATALOGUE, Direction, Kind, Measure, UnitType
from .opendata import COLUMNS as OPEN_COLUMNS
from .periods import PeriodType


def _ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    """The error answers listed, and 429, which every route may give."""
    names = {
        400: "BadRequest",
        401: "Unauthorized",
        403: "Forbidden",
        404: "NotFound",
        429: "TooManyRequests",
    }
    return {str(code): _ref("responses", names[code]) for code in (*codes, 429)}


NULLABLE_INT = {"type": ["integer", "null"]}
PERIOD = {
    "type": "string",
    "description": "DHIS2 notation: 20261130 (day), 2026W48 (ISO week), 202611 (month), "
    "2026Q4 (quarter), 2026 (year).",
    "pattern": r"^\d{4}(\d{4}|W\d{1,2}|\d{2}|Q[1-4])?$",
    "examples": ["202611"],
}
UNIT_CODE = {
    "type": "string",
    "description": "79 (province, 2 digits), 25747 (commune, 5 digits), F74 / F718 / F25741 "
    "(province, district, commune before 1 July 2025), a hamlet's code, 25747-T01 (a team: "
    "commune code and the team's code in it).",
    "examples": ["25747"],
}


def _selection_parameters() -> list[dict[str, Any]]:
    return [
        _ref("parameters", "indicator"),
        _ref("parameters", "unit"),
        _ref("parameters", "level"),
        _ref("parameters", "period"),
        _ref("parameters", "start"),
        _ref("parameters", "end"),
    ]


def document(server: str) -> dict[str, Any]:
    """The document, with ``server`` (the absolute /api/v1 address) as its server."""
    value_properties: dict[str, Any] = {
        "indicator": {"type": "string", "enum": [i.code for i in CATALOGUE]},
        "unit": UNIT_CODE,
        "unit_type": {"type": "string", "enum": list(UnitType.values)},
        "period": PERIOD,
        "period_type": {"type": "string", "enum": list(PeriodType.values)},
        "numerator": {"type": "integer"},
        "denominator": {
            **NULLABLE_INT,
            "description": "None for counts, and for a target-based share without a plan.",
        },
        "value": {
            "type": ["number", "null"],
            "description": "A percentage (0-100, two decimals) or a count.",
        },
        "measure": {"type": "string", "enum": list(Measure.values)},
        "computed_at": {"type": "string", "format": "date-time"},
    }
    open_properties: dict[str, Any] = {
        name: {
            "type": {
                "string": "string",
                "number": ["number", "null"],
                "integer": ["integer", "null"],
                "dateTime": "string",
            }[datatype],
            "description": en,
        }
        for name, datatype, en, _vi in OPEN_COLUMNS
    }
    page_properties = {
        "count": {"type": "integer", "minimum": 0},
        "page": {"type": "integer", "minimum": 1},
        "page_size": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE},
        "pages": {"type": "integer", "minimum": 1},
        "next": {"type": ["string", "null"], "format": "uri"},
        "previous": {"type": ["string", "null"], "format": "uri"},
    }
    bearer: list[dict[str, list[str]]] = [{"token": []}]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "CNSC indicators API",
            "version": "1.0.0",
            "summary": "Figures of Vietnam's community digital technology teams (Tổ CNSC).",
            "description": (
                "Read-only. Precomputed figures by unit and period: at most a few minutes old "
                "(each says when it was computed). Units by official code (Decision "
                "19/2025/QĐ-TTg), periods in DHIS2 notation, values also as DHIS2 "
                "dataValueSets (idScheme=code) and as one long CSV. A count that is zero is "
                "not listed, as in DHIS2. Open data under /open/ needs no token."
            ),
            "license": {"name": "AGPL-3.0-or-later", "identifier": "AGPL-3.0-or-later"},
        },
        "servers": [{"url": server}],
        "security": bearer,
        "tags": [
            {"name": "figures", "description": "For clients with a token."},
            {"name": "open data", "description": "Aggregates for anyone, small counts withheld."},
        ],
        "paths": {
            "/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "This document.",
                    "security": [],
                    "responses": {"200": _json({"type": "object"}, "The OpenAPI document.")},
                }
            },
            "/indicators": {
                "get": {
                    "operationId": "listIndicators",
                    "tags": ["figures"],
                    "summary": "The indicator catalogue.",
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["data"],
                                "properties": {
                                    "data": {"type": "array", "items": _ref("schemas", "Indicator")}
                                },
                            },
                            "Every indicator.",
                        ),
                        **_errors(401),
                    },
                }
            },
            "/units": {
                "get": {
                    "operationId": "listUnits",
                    "tags": ["figures"],
                    "summary": "The token's units, or the units of one level inside one of them.",
                    "parameters": [
                        {
                            "name": "within",
                            "in": "query",
                            "description": "A unit the token reads; needs level.",
                            "schema": UNIT_CODE,
                        },
                        _ref("parameters", "level"),
                        _ref("parameters", "page"),
                        _ref("parameters", "page_size"),
                    ],
                    "responses": {
                        "200": _json(_ref("schemas", "UnitPage"), "A page of units."),
                        **_errors(400, 401, 403, 404),
                    },
                }
            },
            "/values": {
                "get": {
                    "operationId": "listValues",
                    "tags": ["figures"],
                    "summary": "Figures by unit, indicator and period, a page at a time.",
                    "parameters": [
                        *_selection_parameters(),
                        _ref("parameters", "page"),
                        _ref("parameters", "page_size"),
                    ],
                    "responses": {
                        "200": _json(_ref("schemas", "ValuePage"), "A page of figures."),
                        **_errors(400, 401, 403, 404),
                    },
                }
            },
            "/values.csv": {
                "get": {
                    "operationId": "valuesCsv",
                    "tags": ["figures"],
                    "summary": "The same figures as one long CSV: "
                    + ", ".join(CSV_COLUMNS)
                    + " (unit is the unit of measure: percent or count).",
                    "parameters": _selection_parameters(),
                    "responses": {
                        "200": {
                            "description": f"At most {MAX_FILE_ROWS:,} lines.",
                            "content": {"text/csv": {"schema": {"type": "string"}}},
                        },
                        **_errors(400, 401, 403, 404),
                    },
                }
            },
            "/dataValueSets.json": {
                "get": {
                    "operationId": "dataValueSets",
                    "tags": ["figures"],
                    "summary": "The same figures as a DHIS2 data value set, identified by code "
                    "(import with idScheme=code).",
                    "parameters": _selection_parameters(),
                    "responses": {
                        "200": _json(_ref("schemas", "DataValueSet"), "A data value set."),
                        **_errors(400, 401, 403, 404),
                    },
                }
            },
            "/open/": {
                "get": {
                    "operationId": "openCatalogue",
                    "tags": ["open data"],
                    "summary": "Provinces with open data, and their files.",
                    "security": [],
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["data"],
                                "properties": {
                                    "data": {
                                        "type": "array",
                                        "items": {
                                            "type": "object",
                                            "required": ["province", "name", "csv", "json"],
                                            "properties": {
                                                "province": {"type": "string"},
                                                "name": {"type": "string"},
                                                "csv": {"type": "string", "format": "uri"},
                                                "json": {"type": "string", "format": "uri"},
                                                "csv_metadata": {
                                                    "type": "string",
                                                    "format": "uri",
                                                },
                                                "json_metadata": {
                                                    "type": "string",
                                                    "format": "uri",
                                                },
                                            },
                                        },
                                    }
                                },
                            },
                            "The catalogue.",
                        )
                    },
                }
            },
            "/open/{province}/values.csv": {
                "get": {
                    "operationId": "openCsv",
                    "tags": ["open data"],
                    "summary": "A province's open figures as CSV; columns "
                    + ", ".join(c[0] for c in OPEN_COLUMNS)
                    + ".",
                    "security": [],
                    "parameters": [
                        _ref("parameters", "province"),
                        _ref("parameters", "period_type"),
                    ],
                    "responses": {
                        "200": {
                            "description": "The CSV file.",
                            "content": {"text/csv": {"schema": {"type": "string"}}},
                        },
                        **_errors(400, 404),
                    },
                }
            },
            "/open/{province}/values.json": {
                "get": {
                    "operationId": "openJson",
                    "tags": ["open data"],
                    "summary": "A province's open figures as JSON.",
                    "security": [],
                    "parameters": [
                        _ref("parameters", "province"),
                        _ref("parameters", "period_type"),
                    ],
                    "responses": {
                        "200": _json(_ref("schemas", "OpenData"), "The JSON file."),
                        **_errors(400, 404),
                    },
                }
            },
            "/open/{province}/values.csv-metadata.json": {
                "get": {
                    "operationId": "openCsvMetadata",
                    "tags": ["open data"],
                    "summary": "JSON-LD metadata of the CSV file (schema.org Dataset, DCAT, "
                    "CSVW table schema).",
                    "security": [],
                    "parameters": [_ref("parameters", "province")],
                    "responses": {
                        "200": {
                            "description": "JSON-LD.",
                            "content": {
                                "application/ld+json": {"schema": _ref("schemas", "Metadata")}
                            },
                        },
                        **_errors(404),
                    },
                }
            },
            "/open/{province}/values.json-metadata.json": {
                "get": {
                    "operationId": "openJsonMetadata",
                    "tags": ["open data"],
                    "summary": "JSON-LD metadata of the JSON file (schema.org Dataset, DCAT).",
                    "security": [],
                    "parameters": [_ref("parameters", "province")],
                    "responses": {
                        "200": {
                            "description": "JSON-LD.",
                            "content": {
                                "application/ld+json": {"schema": _ref("schemas", "Metadata")}
                            },
                        },
                        **_errors(404),
                    },
                }
            },
        },
        "components": {
            "securitySchemes": {
                "token": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The client's token, given once when the client is created.",
                }
            },
            "parameters": {
                "indicator": {
                    "name": "indicator",
                    "in": "query",
                    "description": "Indicator codes, comma-separated; all when left out.",
                    "schema": {"type": "string"},
                    "examples": {"one": {"value": "vneid_level2"}},
                },
                "unit": {
                    "name": "unit",
                    "in": "query",
                    "required": True,
                    "description": f"Unit codes, comma-separated, at most {MAX_UNITS}.",
                    "schema": UNIT_CODE,
                },
                "level": {
                    "name": "level",
                    "in": "query",
                    "description": "Instead of the unit itself, the units of this type inside "
                    "it: "
                    + "; ".join(
                        f"{level} (of a {either(within)})" for level, within in LEVEL_WITHIN.items()
                    )
                    + ". Any other pair is refused (400, bad_level).",
                    "schema": {
                        "type": "string",
                        "enum": sorted(str(level) for level in LEVEL_WITHIN),
                    },
                },
                "period": {
                    "name": "period",
                    "in": "query",
                    "description": f"Periods, comma-separated, at most {MAX_PERIODS}; or use "
                    "start and end.",
                    "schema": PERIOD,
                },
                "start": {
                    "name": "start",
                    "in": "query",
                    "description": "First period of a range (with end, of the same type). At "
                    "most 10 years of months, quarters or years; 53 weeks; 366 days.",
                    "schema": PERIOD,
                },
                "end": {
                    "name": "end",
                    "in": "query",
                    "description": "Last period of a range.",
                    "schema": PERIOD,
                },
                "page": {
                    "name": "page",
                    "in": "query",
                    "schema": {"type": "integer", "minimum": 1, "default": 1},
                },
                "page_size": {
                    "name": "page_size",
                    "in": "query",
                    "schema": {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": MAX_PAGE_SIZE,
                        "default": PAGE_SIZE,
                    },
                },
                "province": {
                    "name": "province",
                    "in": "path",
                    "required": True,
                    "description": "The province's official code.",
                    "schema": {"type": "string", "pattern": r"^\d{2}$"},
                },
                "period_type": {
                    "name": "period_type",
                    "in": "query",
                    "description": "Only this period type (default: months, quarters, years).",
                    "schema": {"type": "string", "enum": ["month", "quarter", "year"]},
                },
            },
            "responses": {
                "BadRequest": _json(_ref("schemas", "Error"), "Input that cannot be used."),
                "Unauthorized": _json(_ref("schemas", "Error"), "No valid token."),
                "Forbidden": _json(_ref("schemas", "Error"), "A unit outside the token's scope."),
                "NotFound": _json(_ref("schemas", "Error"), "An unknown unit or indicator code."),
                "TooManyRequests": {
                    **_json(
                        _ref("schemas", "Error"),
                        "Over the allowance: per client token, or per address for the public "
                        "documents.",
                    ),
                    "headers": {
                        "Retry-After": {
                            "description": "Seconds until requests are taken again.",
                            "schema": {"type": "integer"},
                        }
                    },
                },
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error", "message"],
                    "properties": {
                        "error": {"type": "string", "description": "A stable code."},
                        "message": {"type": "string", "description": "What to change."},
                    },
                },
                "Indicator": {
                    "type": "object",
                    "required": ["code", "name", "name_vi", "numerator", "measure", "kind"],
                    "properties": {
                        "code": {"type": "string"},
                        "name": {"type": "string"},
                        "name_vi": {"type": "string"},
                        "numerator": {"type": "string"},
                        "denominator": {"type": ["string", "null"]},
                        "measure": {"type": "string", "enum": list(Measure.values)},
                        "kind": {
                            "type": "string",
                            "enum": list(Kind.values),
                            "description": "stock: as at the end of the period; flow: during.",
                        },
                        "direction": {"type": "string", "enum": list(Direction.values)},
                        "unit_types": {
                            "type": "array",
                            "items": {"type": "string", "enum": list(UnitType.values)},
                        },
                        "default_target": {"type": ["number", "null"]},
                    },
                },
                "Unit": {
                    "type": "object",
                    "required": ["code", "type", "name"],
                    "properties": {
                        "code": UNIT_CODE,
                        "type": {"type": "string", "enum": list(UnitType.values)},
                        "name": {"type": "string"},
                        "parent": {"type": ["string", "null"]},
                    },
                },
                "Value": {
                    "type": "object",
                    "required": list(value_properties),
                    "properties": value_properties,
                },
                "UnitPage": {
                    "type": "object",
                    "required": [*page_properties, "data"],
                    "properties": {
                        **page_properties,
                        "data": {"type": "array", "items": _ref("schemas", "Unit")},
                    },
                },
                "ValuePage": {
                    "type": "object",
                    "required": [*page_properties, "data"],
                    "properties": {
                        **page_properties,
                        "data": {"type": "array", "items": _ref("schemas", "Value")},
                    },
                },
                "DataValueSet": {
                    "type": "object",
                    "required": ["dataValues"],
                    "properties": {
                        "dataValues": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["dataElement", "period", "orgUnit", "value"],
                                "properties": {
                                    "dataElement": {"type": "string"},
                                    "period": PERIOD,
                                    "orgUnit": UNIT_CODE,
                                    "value": {"type": "string"},
                                },
                            },
                        }
                    },
                },
                "OpenData": {
                    "type": "object",
                    "required": ["metadata", "province", "data"],
                    "properties": {
                        "metadata": {"type": "string", "format": "uri"},
                        "province": {"type": "string"},
                        "data": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": [c[0] for c in OPEN_COLUMNS],
                                "properties": open_properties,
                            },
                        },
                    },
                },
                "Metadata": {
                    "type": "object",
                    "required": ["@context", "@type", "name", "license", "distribution"],
                    "properties": {
                        "@context": {"type": "object"},
                        "@type": {"type": "array", "items": {"type": "string"}},
                        "name": {"type": "array"},
                        "license": {"type": "string"},
                        "distribution": {"type": "array"},
                        "variableMeasured": {"type": "array"},
                    },
                },
            },
        },
    }
