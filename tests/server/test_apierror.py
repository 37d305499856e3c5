"""The server's error codes are the one ErrorCode enum the registry client reads them with."""

from __future__ import annotations

import json

import pytest
from support.oci_http import SPEC_CODES

from hoist.errors import ErrorCode, RegistryError
from hoist.server.apierror import CODES, ApiError
from hoist.transport.response import parse_errors


def test_server_codes_are_the_enum() -> None:
    assert set(CODES) == set(ErrorCode)
    assert {str(c) for c in ErrorCode} == SPEC_CODES
    assert all(isinstance(code, ErrorCode) for code in CODES)


def test_an_answer_reads_back_as_the_same_member() -> None:
    err = ApiError(ErrorCode.BLOB_UNKNOWN, detail={"digest": "sha256:00"})
    assert err.status == 404 and str(err) == "BLOB_UNKNOWN: blob unknown to registry"
    assert json.loads(err.body())["errors"][0]["code"] == "BLOB_UNKNOWN"
    (code, message, detail), *_ = parse_errors(err.body())
    back = RegistryError(code, message, status=err.status, detail=detail)
    assert back.code is ErrorCode.BLOB_UNKNOWN
    assert str(back) == "BLOB_UNKNOWN: blob unknown to registry"


def test_the_server_refuses_codes_outside_the_spec() -> None:
    with pytest.raises(ValueError, match="not a distribution-spec error code"):
        ApiError("RANGE_INVALID")  # type: ignore[arg-type]


def test_registry_error_codes() -> None:
    assert RegistryError("MANIFEST_UNKNOWN", "gone").code is ErrorCode.MANIFEST_UNKNOWN
    own = RegistryError("PAGINATION_NUMBER_INVALID", "bad n", status=400)
    assert own.code == "PAGINATION_NUMBER_INVALID" and not isinstance(own.code, ErrorCode)
    bare = RegistryError(None, "Not Found", status=404, where="HEAD r/v2/x")
    assert bare.code is None and str(bare) == "HTTP 404: Not Found (HEAD r/v2/x)"
