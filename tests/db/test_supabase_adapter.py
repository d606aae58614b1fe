"""The supabase-py adapter's wire contract, with respx standing in for PostgREST."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
import respx

from app.db.supabase import SupabaseDatabase
from app.errors import (
    DatabaseConflict,
    InternalError,
    NoAvailability,
    ServiceUnavailable,
)

URL = "https://abcdefghijklmnop.supabase.co"
KEY = "service-role-key-for-tests"
RPC = f"{URL}/rest/v1/rpc/check_availability"


@pytest.fixture
async def supabase_db() -> AsyncIterator[SupabaseDatabase]:
    database = await SupabaseDatabase.connect(URL, KEY, request_timeout=2)
    try:
        yield database
    finally:
        await database.close()


class TestRequest:
    async def test_posts_named_arguments_with_both_key_headers(
        self, supabase_db: SupabaseDatabase, no_outbound_http: respx.MockRouter
    ) -> None:
        route = no_outbound_http.post(RPC).respond(200, json={"available": True})
        result = await supabase_db.rpc(
            "check_availability", {"p_date": "2026-12-06", "p_party_size": 4}
        )
        assert result == {"available": True}
        assert route.call_count == 1
        request = route.calls.last.request
        assert request.method == "POST"
        assert str(request.url) == RPC
        assert request.headers["apikey"] == KEY
        assert request.headers["authorization"] == f"Bearer {KEY}"
        assert request.headers["content-type"].startswith("application/json")
        assert json.loads(request.content) == {"p_date": "2026-12-06", "p_party_size": 4}

    async def test_list_results_pass_through(
        self, supabase_db: SupabaseDatabase, no_outbound_http: respx.MockRouter
    ) -> None:
        no_outbound_http.post(RPC).respond(200, json=[{"n": 1}, {"n": 2}])
        assert await supabase_db.rpc("check_availability") == [{"n": 1}, {"n": 2}]

    async def test_flush_after_is_a_second_request_after_the_call(
        self, supabase_db: SupabaseDatabase, no_outbound_http: respx.MockRouter
    ) -> None:
        order: list[str] = []

        def answer(name: str, response: httpx.Response) -> httpx.Response:
            order.append(name)
            return response

        call = no_outbound_http.post(RPC).mock(
            side_effect=lambda _: answer("call", httpx.Response(200, json={"ok": 1}))
        )
        flush = no_outbound_http.post(f"{URL}/rest/v1/rpc/tb_flush_wal").mock(
            side_effect=lambda _: answer("flush", httpx.Response(204))
        )
        assert await supabase_db.rpc("check_availability", {}, flush_after=True) == {"ok": 1}
        assert order == ["call", "flush"]
        assert json.loads(flush.calls.last.request.content) == {}
        # Without it, the call alone.
        await supabase_db.rpc("check_availability", {})
        assert (call.call_count, flush.call_count) == (2, 1)

    async def test_a_failed_flush_is_unavailable(
        self, supabase_db: SupabaseDatabase, no_outbound_http: respx.MockRouter
    ) -> None:
        no_outbound_http.post(RPC).respond(200, json={"ok": 1})
        no_outbound_http.post(f"{URL}/rest/v1/rpc/tb_flush_wal").respond(503, text="upstream down")
        with pytest.raises(ServiceUnavailable):
            await supabase_db.rpc("check_availability", {}, flush_after=True)


class TestErrorMapping:
    async def test_business_refusal(
        self, supabase_db: SupabaseDatabase, no_outbound_http: respx.MockRouter
    ) -> None:
        no_outbound_http.post(RPC).respond(
            400,
            json={
                "code": "P0001",
                "message": "NO_AVAILABILITY",
                "details": "Only 3 covers are left at 19:00.",
                "hint": '{"available_capacity": 3}',
            },
        )
        with pytest.raises(NoAvailability) as info:
            await supabase_db.rpc("check_availability", {"p_party_size": 6})
        assert info.value.message == "Only 3 covers are left at 19:00."
        assert info.value.details == {"available_capacity": 3}

    async def test_unique_violation(
        self, supabase_db: SupabaseDatabase, no_outbound_http: respx.MockRouter
    ) -> None:
        no_outbound_http.post(RPC).respond(
            409,
            json={
                "code": "23505",
                "message": 'duplicate key value violates unique constraint "x"',
                "details": "Key (id)=(1) already exists.",
                "hint": None,
            },
        )
        with pytest.raises(DatabaseConflict):
            await supabase_db.rpc("check_availability")

    async def test_function_not_in_schema_cache(
        self, supabase_db: SupabaseDatabase, no_outbound_http: respx.MockRouter
    ) -> None:
        no_outbound_http.post(RPC).respond(
            404,
            json={
                "code": "PGRST202",
                "message": "Could not find the function public.check_availability"
                " in the schema cache",
                "details": None,
                "hint": None,
            },
        )
        with pytest.raises(InternalError) as info:
            await supabase_db.rpc("check_availability")
        assert "schema cache" not in info.value.message

    @pytest.mark.parametrize("status", [500, 502, 503, 504])
    async def test_server_errors_are_unavailable(
        self, supabase_db: SupabaseDatabase, no_outbound_http: respx.MockRouter, status: int
    ) -> None:
        no_outbound_http.post(RPC).respond(status, text="<html>upstream down</html>")
        with pytest.raises(ServiceUnavailable):
            await supabase_db.rpc("check_availability")

    async def test_pool_exhausted_is_unavailable(
        self, supabase_db: SupabaseDatabase, no_outbound_http: respx.MockRouter
    ) -> None:
        no_outbound_http.post(RPC).respond(
            504, json={"code": "PGRST003", "message": "Timed out acquiring connection"}
        )
        with pytest.raises(ServiceUnavailable):
            await supabase_db.rpc("check_availability")

    async def test_timeout_is_unavailable(
        self, supabase_db: SupabaseDatabase, no_outbound_http: respx.MockRouter
    ) -> None:
        no_outbound_http.post(RPC).mock(side_effect=httpx.ReadTimeout("slow"))
        with pytest.raises(ServiceUnavailable):
            await supabase_db.rpc("check_availability")

    async def test_connection_refused_is_unavailable(
        self, supabase_db: SupabaseDatabase, no_outbound_http: respx.MockRouter
    ) -> None:
        no_outbound_http.post(RPC).mock(side_effect=httpx.ConnectError("refused"))
        with pytest.raises(ServiceUnavailable):
            await supabase_db.rpc("check_availability")
