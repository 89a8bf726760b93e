"""Site-wide conventions of the partner API: English unless the client asks otherwise, and
JSON errors even for paths no view answers."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def hangul(text: str) -> bool:
    return any("\uac00" <= ch <= "\ud7a3" for ch in text)


def test_the_api_speaks_english_by_default_and_korean_when_asked(client):
    english = client.get("/api/v1/products/")
    assert english.status_code == 401
    assert english.json()["message"] == "Authentication credentials were not provided."
    assert english["Content-Language"] == "en"
    korean = client.get("/api/v1/products/", HTTP_ACCEPT_LANGUAGE="ko-KR,ko;q=0.9")
    assert korean["Content-Language"] == "ko"
    assert hangul(korean.json()["message"])
    # the shop itself stays Korean first whatever the browser says
    assert client.get("/", HTTP_ACCEPT_LANGUAGE="en-US")["Content-Language"] == "ko"


def test_the_schema_describes_the_api_in_english(client):
    """Descriptions are English (examples may hold Korean addresses, as real data does)."""
    schema = client.get("/api/schema/?format=json").json()
    parameters = schema["paths"]["/api/v1/products/"]["get"]["parameters"]
    descriptions = [p.get("description", "") for p in parameters]
    assert {"cursor", "limit"} <= {p["name"] for p in parameters}
    assert all(descriptions)
    assert not any(hangul(text) for text in descriptions)


@pytest.mark.parametrize("path", ["/api/v1/nowhere/", "/api/v1/products/%2F/", "/api/"])
def test_unknown_api_paths_answer_the_json_error_format(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json() == {"code": "not_found", "message": "Not found.", "fields": {}}
