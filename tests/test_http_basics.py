"""Health, the error envelope for everything, and the OpenAPI documents."""

from __future__ import annotations

import gc
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel, Field, SecretStr

from app.config import Settings
from app.db.postgres import PostgresDatabase
from app.main import create_app
from tests.conftest import asgi_client, envelope_error


class Payload(BaseModel):
    name: str = Field(min_length=1)
    party_size: int = Field(ge=1, le=20)


probe = APIRouter(prefix="/_probe")


@probe.post("/echo")
async def echo(payload: Payload) -> dict[str, Any]:
    return {"success": True, "data": payload.model_dump()}


@probe.get("/boom")
async def boom() -> dict[str, Any]:
    raise RuntimeError("select * from secrets where password = 'hunter2'")


@pytest.fixture
async def probe_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    app.include_router(probe)
    async with asgi_client(app) as c:
        yield c


class TestHealth:
    async def test_ok_when_the_database_answers(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/health")
        assert response.status_code == 200
        assert response.json() == {"status": "ok", "database": "ok"}

    async def test_503_when_the_database_does_not_answer(self, settings: Settings) -> None:
        # A port nothing listens on: the pool cannot connect.
        down = await PostgresDatabase.connect(
            "postgresql://postgres@127.0.0.1:9/postgres", connect_timeout=1
        )
        async with asgi_client(create_app(settings, database=down)) as c:
            response = await c.get("/health")
        await down.close()
        assert response.status_code == 503
        body = response.json()
        assert body["status"] == "unavailable" and body["database"] == "unavailable"
        assert envelope_error(response)["code"] == "SERVICE_UNAVAILABLE"


class TestEnvelope:
    async def test_unknown_path(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/api/nothing-here")
        assert response.status_code == 404
        error = envelope_error(response)
        assert error["code"] == "NOT_FOUND"
        assert "/api/nothing-here" in error["message"]

    async def test_wrong_method(self, client: httpx.AsyncClient) -> None:
        response = await client.delete("/health")
        assert response.status_code == 405
        assert envelope_error(response)["code"] == "METHOD_NOT_ALLOWED"

    async def test_missing_and_invalid_fields_are_named(
        self, probe_client: httpx.AsyncClient
    ) -> None:
        response = await probe_client.post("/_probe/echo", json={"party_size": 99})
        assert response.status_code == 400
        error = envelope_error(response)
        assert error["code"] == "VALIDATION_ERROR"
        fields = {d["field"] for d in error["details"]}
        assert fields == {"name", "party_size"}

    async def test_malformed_json(self, probe_client: httpx.AsyncClient) -> None:
        response = await probe_client.post(
            "/_probe/echo", content=b'{"name": "x",', headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 400
        assert envelope_error(response)["code"] == "VALIDATION_ERROR"

    async def test_valid_body_passes(self, probe_client: httpx.AsyncClient) -> None:
        response = await probe_client.post("/_probe/echo", json={"name": "Ann", "party_size": 2})
        assert response.status_code == 200
        assert response.json() == {"success": True, "data": {"name": "Ann", "party_size": 2}}

    async def test_unhandled_error_leaks_nothing(
        self, probe_client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
    ) -> None:
        response = await probe_client.get("/_probe/boom")
        assert response.status_code == 500
        error = envelope_error(response)
        assert error["code"] == "INTERNAL_ERROR"
        assert "hunter2" not in response.text and "select" not in response.text.lower()
        assert "Traceback" not in response.text
        assert any("http.unhandled_error" in r.message for r in caplog.records)


class TestCors:
    async def test_pub_website_may_call(self, client: httpx.AsyncClient) -> None:
        response = await client.options(
            "/health",
            headers={
                "Origin": "https://www.the-anchor.pub",
                "Access-Control-Request-Method": "GET",
            },
        )
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == "https://www.the-anchor.pub"

    async def test_other_origins_get_no_grant(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/health", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in response.headers


class TestDocs:
    async def test_openapi_describes_the_service(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/openapi.json")
        assert response.status_code == 200
        schema = response.json()
        assert schema["info"]["title"] == "The Anchor table-booking API"
        assert schema["info"]["version"] == "0.1.0"
        assert "envelope" in schema["info"]["description"]
        schemes = schema["components"]["securitySchemes"]
        assert schemes["ApiKey"] == {
            "type": "apiKey",
            "in": "header",
            "name": "X-API-Key",
            "description": "An API key `anch_...` issued by the pub.",
        }
        assert schemes["Bearer"]["type"] == "http" and schemes["Bearer"]["scheme"] == "bearer"
        assert "/health" in schema["paths"]

    @pytest.mark.parametrize(
        ("path", "assets"),
        [
            ("/docs", ["swagger-ui-bundle.js", "swagger-ui.css"]),
            ("/redoc", ["redoc.standalone.js"]),
        ],
    )
    async def test_doc_pages_work_offline(
        self, client: httpx.AsyncClient, path: str, assets: list[str]
    ) -> None:
        response = await client.get(path)
        assert response.status_code == 200
        assert "/openapi.json" in response.text
        # Everything the page loads comes from the service itself, never a CDN or font host.
        external = re.findall(r"(?:src|href)=[\"'](https?://[^\"']+)", response.text)
        assert external == []
        for asset in assets:
            url = f"/static-offline-docs/{asset}"
            assert url in response.text
            served = await client.get(url)
            assert served.status_code == 200
            assert len(served.content) > 10_000


class TestServingProcess:
    async def test_startup_objects_are_left_out_of_the_cyclic_collector(
        self, settings: Settings, db: PostgresDatabase, database_url: str
    ) -> None:
        # An app that opens its own database is a serving process: what it made at startup is
        # frozen (gc.freeze), so full collections stop walking it. Apps given a database (the
        # tests) freeze nothing.
        gc.unfreeze()
        assert gc.get_freeze_count() == 0
        async with asgi_client(create_app(settings, database=db)):
            assert gc.get_freeze_count() == 0
        own = settings.model_copy(update={"database_url": SecretStr(database_url)})
        try:
            async with asgi_client(create_app(own)) as c:
                assert gc.get_freeze_count() > 10_000
                assert (await c.get("/health")).status_code == 200
        finally:
            gc.unfreeze()
