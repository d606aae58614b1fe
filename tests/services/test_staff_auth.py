"""Staff token verification: HS256 with the shared secret, and ES256/RS256 against a JWKS."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
import pytest
import respx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from app.errors import ServiceUnavailable, Unauthorized
from app.services.staff_auth import (
    StaffTokenVerifier,
    StaffUser,
    looks_like_jwt,
    mint_staff_token,
)

SECRET = "a-test-shared-secret-of-more-than-32-bytes-0123456789"
OTHER_SECRET = "another-shared-secret-of-more-than-32-bytes-987654321"
SUPABASE_URL = "https://abcdefgh.supabase.co"
ISSUER = f"{SUPABASE_URL}/auth/v1"
JWKS_URL = f"{SUPABASE_URL}/auth/v1/.well-known/jwks.json"
USER_ID = "8a1f3c52-6b7d-4e0f-9a21-3c4d5e6f7a8b"
EMAIL = "manager@the-anchor.pub"


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_json(value: dict[str, Any]) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {
        "sub": USER_ID,
        "email": EMAIL,
        "aud": "authenticated",
        "role": "authenticated",
        "iss": ISSUER,
        "iat": now,
        "exp": now + 3600,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def hs256(payload: dict[str, Any], secret: str = SECRET, **headers: Any) -> str:
    return jwt.encode(payload, secret, algorithm="HS256", headers=headers or None)


def forged_hs256(payload: dict[str, Any], key: bytes, kid: str) -> str:
    """An HS256 token MACed with ``key`` by hand (PyJWT refuses public keys as HMAC secrets)."""
    signing_input = (
        f"{b64url_json({'alg': 'HS256', 'typ': 'JWT', 'kid': kid})}.{b64url_json(payload)}"
    )
    mac = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(mac)}"


def unsigned(payload: dict[str, Any]) -> str:
    return f"{b64url_json({'alg': 'none', 'typ': 'JWT'})}.{b64url_json(payload)}."


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def ec_jwk(key: ec.EllipticCurvePrivateKey, kid: str) -> dict[str, Any]:
    jwk: dict[str, Any] = ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return {**jwk, "kid": kid, "alg": "ES256", "use": "sig", "key_ops": ["verify"]}


def rsa_jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    jwk: dict[str, Any] = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return {**jwk, "kid": kid, "alg": "RS256", "use": "sig"}


@pytest.fixture
def jwks(ec_key: ec.EllipticCurvePrivateKey, rsa_key: rsa.RSAPrivateKey) -> dict[str, Any]:
    return {"keys": [ec_jwk(ec_key, "ec-1"), rsa_jwk(rsa_key, "rsa-1")]}


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def hs_verifier(http: httpx.AsyncClient) -> StaffTokenVerifier:
    return StaffTokenVerifier(jwt_secret=SECRET, supabase_url=None, http=http)


@pytest.fixture
def jwks_verifier(http: httpx.AsyncClient, clock: FakeClock) -> StaffTokenVerifier:
    return StaffTokenVerifier(jwt_secret=None, supabase_url=SUPABASE_URL, http=http, clock=clock)


@pytest.fixture
def jwks_route(no_outbound_http: respx.MockRouter, jwks: dict[str, Any]) -> respx.Route:
    return no_outbound_http.get(JWKS_URL).respond(json=jwks)


async def refused(verifier: StaffTokenVerifier, token: str) -> Unauthorized:
    with pytest.raises(Unauthorized) as caught:
        await verifier.verify(token)
    # Messages are for people: never an echo of the token or its claims.
    if len(token) > 8:
        assert token not in caught.value.message
    assert USER_ID not in caught.value.message
    return caught.value


class TestLooksLikeJwt:
    def test_a_minted_token_looks_like_one(self) -> None:
        assert looks_like_jwt(mint_staff_token(secret=SECRET, user_id=USER_ID, email=None))

    def test_an_unsigned_token_still_looks_like_one(self) -> None:
        assert looks_like_jwt(unsigned(claims()))

    @pytest.mark.parametrize(
        "token",
        [
            "",
            "anch_" + "A" * 43,
            "abc.def",
            "a.b.c.d",
            ".payload.sig",
            "head..sig",
            "he ad.pay.sig",
            "head.pay+load.sig",
            "head.payload.sig=",
        ],
    )
    def test_other_strings_do_not(self, token: str) -> None:
        assert not looks_like_jwt(token)

    def test_an_oversize_token_does_not(self) -> None:
        assert not looks_like_jwt("a" * 5000 + "." + "b" * 5000 + ".c")


class TestMintStaffToken:
    async def test_round_trips_through_verify(self, hs_verifier: StaffTokenVerifier) -> None:
        token = mint_staff_token(secret=SECRET, user_id=USER_ID, email=EMAIL)
        assert await hs_verifier.verify(token) == StaffUser(user_id=USER_ID, email=EMAIL)

    async def test_round_trips_without_email(self, hs_verifier: StaffTokenVerifier) -> None:
        token = mint_staff_token(secret=SECRET, user_id=USER_ID, email=None)
        assert await hs_verifier.verify(token) == StaffUser(user_id=USER_ID, email=None)

    def test_sets_supabase_shaped_claims(self) -> None:
        before = int(time.time())
        token = mint_staff_token(
            secret=SECRET, user_id=USER_ID, email=EMAIL, ttl_seconds=600, issuer=ISSUER
        )
        header = jwt.get_unverified_header(token)
        payload = jwt.decode(token, options={"verify_signature": False})
        assert header["alg"] == "HS256"
        assert payload["sub"] == USER_ID
        assert payload["email"] == EMAIL
        assert payload["aud"] == "authenticated"
        assert payload["role"] == "authenticated"
        assert payload["iss"] == ISSUER
        assert before <= payload["iat"] <= int(time.time())
        assert payload["exp"] == payload["iat"] + 600

    def test_leaves_out_iss_unless_given(self) -> None:
        token = mint_staff_token(secret=SECRET, user_id=USER_ID, email=None)
        assert "iss" not in jwt.decode(token, options={"verify_signature": False})

    async def test_an_expired_minted_token_is_refused(
        self, hs_verifier: StaffTokenVerifier
    ) -> None:
        token = mint_staff_token(secret=SECRET, user_id=USER_ID, email=None, ttl_seconds=-60)
        error = await refused(hs_verifier, token)
        assert "expired" in error.message


class TestSharedSecretMode:
    async def test_a_valid_token_gives_the_staff_user(
        self, hs_verifier: StaffTokenVerifier
    ) -> None:
        user = await hs_verifier.verify(hs256(claims()))
        assert user == StaffUser(user_id=USER_ID, email=EMAIL)

    async def test_an_uppercase_uuid_is_normalised(self, hs_verifier: StaffTokenVerifier) -> None:
        user = await hs_verifier.verify(hs256(claims(sub=USER_ID.upper())))
        assert user.user_id == USER_ID

    async def test_an_empty_email_becomes_none(self, hs_verifier: StaffTokenVerifier) -> None:
        user = await hs_verifier.verify(hs256(claims(email="")))
        assert user.email is None

    async def test_a_token_just_past_exp_is_within_the_leeway(
        self, hs_verifier: StaffTokenVerifier
    ) -> None:
        user = await hs_verifier.verify(hs256(claims(exp=int(time.time()) - 5)))
        assert user.user_id == USER_ID

    async def test_an_expired_token_is_refused(self, hs_verifier: StaffTokenVerifier) -> None:
        now = int(time.time())
        error = await refused(hs_verifier, hs256(claims(iat=now - 7200, exp=now - 120)))
        assert error.message == "Your sign-in has expired. Please sign in again."

    async def test_a_token_without_exp_is_refused(self, hs_verifier: StaffTokenVerifier) -> None:
        payload = claims()
        del payload["exp"]
        await refused(hs_verifier, hs256(payload))

    async def test_the_wrong_secret_is_refused(self, hs_verifier: StaffTokenVerifier) -> None:
        error = await refused(hs_verifier, hs256(claims(), secret=OTHER_SECRET))
        assert error.message == "Your sign-in is not valid. Please sign in again."

    @pytest.mark.parametrize("aud", ["anon", "authenticated-extra", ["authenticated", "other"]])
    async def test_the_wrong_audience_is_refused(
        self, hs_verifier: StaffTokenVerifier, aud: Any
    ) -> None:
        await refused(hs_verifier, hs256(claims(aud=aud)))

    async def test_a_token_without_audience_is_refused(
        self, hs_verifier: StaffTokenVerifier
    ) -> None:
        payload = claims()
        del payload["aud"]
        await refused(hs_verifier, hs256(payload))

    @pytest.mark.parametrize("role", ["service_role", "anon", ""])
    async def test_another_role_is_refused(
        self, hs_verifier: StaffTokenVerifier, role: str
    ) -> None:
        await refused(hs_verifier, hs256(claims(role=role)))

    async def test_a_token_without_role_is_accepted(self, hs_verifier: StaffTokenVerifier) -> None:
        payload = claims()
        del payload["role"]
        assert (await hs_verifier.verify(hs256(payload))).user_id == USER_ID

    async def test_alg_none_is_refused(self, hs_verifier: StaffTokenVerifier) -> None:
        await refused(hs_verifier, unsigned(claims()))

    async def test_alg_none_with_a_copied_signature_is_refused(
        self, hs_verifier: StaffTokenVerifier
    ) -> None:
        genuine = hs256(claims())
        forged = unsigned(claims()) + genuine.rsplit(".", 1)[1]
        await refused(hs_verifier, forged)

    async def test_an_rs256_token_is_refused(
        self, hs_verifier: StaffTokenVerifier, rsa_key: rsa.RSAPrivateKey
    ) -> None:
        await refused(hs_verifier, jwt.encode(claims(), rsa_key, algorithm="RS256"))

    @pytest.mark.parametrize(
        "sub", ["staff-1", "12345", "{" + USER_ID + "}", "urn:uuid:" + USER_ID, 42, ""]
    )
    async def test_a_sub_that_is_not_a_uuid_is_refused(
        self, hs_verifier: StaffTokenVerifier, sub: Any
    ) -> None:
        await refused(hs_verifier, hs256(claims(sub=sub)))

    async def test_a_token_without_sub_is_refused(self, hs_verifier: StaffTokenVerifier) -> None:
        payload = claims()
        del payload["sub"]
        await refused(hs_verifier, hs256(payload))

    @pytest.mark.parametrize(
        "token",
        [
            "",
            "garbage",
            "a.b.c",
            "anch_" + "A" * 43,
            "eyJhbGciOiJIUzI1NiJ9.bm90IGpzb24.c2ln",
            "Bearer " + uuid.uuid4().hex,
            "\u00e9\u00e9.\u00e9.\u00e9",
        ],
    )
    async def test_garbage_is_refused(self, hs_verifier: StaffTokenVerifier, token: str) -> None:
        await refused(hs_verifier, token)

    async def test_a_tampered_payload_is_refused(self, hs_verifier: StaffTokenVerifier) -> None:
        header, _, signature = hs256(claims()).split(".")
        other = b64url_json(claims(sub=str(uuid.uuid4())))
        await refused(hs_verifier, f"{header}.{other}.{signature}")

    async def test_an_oversize_token_is_refused_even_when_signed(
        self, hs_verifier: StaffTokenVerifier
    ) -> None:
        token = hs256(claims(padding="x" * 9000))
        assert len(token) > 8 * 1024
        await refused(hs_verifier, token)

    async def test_the_secret_mode_makes_no_http_call(
        self, hs_verifier: StaffTokenVerifier, no_outbound_http: respx.MockRouter
    ) -> None:
        await hs_verifier.verify(hs256(claims()))
        assert no_outbound_http.calls.call_count == 0


class TestJwksMode:
    async def test_a_valid_es256_token_gives_the_staff_user(
        self,
        jwks_verifier: StaffTokenVerifier,
        jwks_route: respx.Route,
        ec_key: ec.EllipticCurvePrivateKey,
    ) -> None:
        token = jwt.encode(claims(), ec_key, algorithm="ES256", headers={"kid": "ec-1"})
        assert await jwks_verifier.verify(token) == StaffUser(user_id=USER_ID, email=EMAIL)
        assert jwks_route.call_count == 1

    async def test_a_valid_rs256_token_gives_the_staff_user(
        self,
        jwks_verifier: StaffTokenVerifier,
        jwks_route: respx.Route,
        rsa_key: rsa.RSAPrivateKey,
    ) -> None:
        token = jwt.encode(claims(), rsa_key, algorithm="RS256", headers={"kid": "rsa-1"})
        assert (await jwks_verifier.verify(token)).user_id == USER_ID

    async def test_a_trailing_slash_on_the_url_is_ignored(
        self,
        http: httpx.AsyncClient,
        jwks_route: respx.Route,
        ec_key: ec.EllipticCurvePrivateKey,
    ) -> None:
        verifier = StaffTokenVerifier(jwt_secret=None, supabase_url=SUPABASE_URL + "/", http=http)
        token = jwt.encode(claims(), ec_key, algorithm="ES256", headers={"kid": "ec-1"})
        assert (await verifier.verify(token)).user_id == USER_ID
        assert jwks_route.call_count == 1

    async def test_the_jwks_is_fetched_once_for_several_verifications(
        self,
        jwks_verifier: StaffTokenVerifier,
        jwks_route: respx.Route,
        ec_key: ec.EllipticCurvePrivateKey,
        rsa_key: rsa.RSAPrivateKey,
    ) -> None:
        for _ in range(3):
            await jwks_verifier.verify(
                jwt.encode(claims(), ec_key, algorithm="ES256", headers={"kid": "ec-1"})
            )
            await jwks_verifier.verify(
                jwt.encode(claims(), rsa_key, algorithm="RS256", headers={"kid": "rsa-1"})
            )
        assert jwks_route.call_count == 1

    async def test_concurrent_verifications_fetch_once(
        self,
        jwks_verifier: StaffTokenVerifier,
        no_outbound_http: respx.MockRouter,
        jwks: dict[str, Any],
        ec_key: ec.EllipticCurvePrivateKey,
    ) -> None:
        async def slow_jwks(request: httpx.Request) -> httpx.Response:
            await asyncio.sleep(0.02)
            return httpx.Response(200, json=jwks)

        route = no_outbound_http.get(JWKS_URL).mock(side_effect=slow_jwks)
        token = jwt.encode(claims(), ec_key, algorithm="ES256", headers={"kid": "ec-1"})
        users = await asyncio.gather(*(jwks_verifier.verify(token) for _ in range(5)))
        assert {u.user_id for u in users} == {USER_ID}
        assert route.call_count == 1

    async def test_the_jwks_is_fetched_again_after_its_ttl(
        self,
        jwks_verifier: StaffTokenVerifier,
        jwks_route: respx.Route,
        clock: FakeClock,
        ec_key: ec.EllipticCurvePrivateKey,
    ) -> None:
        token = jwt.encode(claims(), ec_key, algorithm="ES256", headers={"kid": "ec-1"})
        await jwks_verifier.verify(token)
        clock.now += 299
        await jwks_verifier.verify(token)
        assert jwks_route.call_count == 1
        clock.now += 2
        await jwks_verifier.verify(token)
        assert jwks_route.call_count == 2

    async def test_an_unknown_kid_refetches_once_then_is_refused(
        self,
        jwks_verifier: StaffTokenVerifier,
        jwks_route: respx.Route,
        clock: FakeClock,
        ec_key: ec.EllipticCurvePrivateKey,
    ) -> None:
        good = jwt.encode(claims(), ec_key, algorithm="ES256", headers={"kid": "ec-1"})
        await jwks_verifier.verify(good)
        assert jwks_route.call_count == 1

        stranger = jwt.encode(claims(), ec_key, algorithm="ES256", headers={"kid": "ec-9"})
        await refused(jwks_verifier, stranger)
        assert jwks_route.call_count == 2
        # Within 30 seconds another unknown kid does not reach Supabase again.
        clock.now += 29
        await refused(jwks_verifier, stranger)
        assert jwks_route.call_count == 2
        clock.now += 2
        await refused(jwks_verifier, stranger)
        assert jwks_route.call_count == 3

    async def test_a_rotated_in_key_is_found_by_the_refetch(
        self,
        jwks_verifier: StaffTokenVerifier,
        no_outbound_http: respx.MockRouter,
        jwks: dict[str, Any],
        ec_key: ec.EllipticCurvePrivateKey,
    ) -> None:
        new_key = ec.generate_private_key(ec.SECP256R1())
        rotated = {"keys": [*jwks["keys"], ec_jwk(new_key, "ec-2")]}
        route = no_outbound_http.get(JWKS_URL).mock(
            side_effect=[httpx.Response(200, json=jwks), httpx.Response(200, json=rotated)]
        )
        await jwks_verifier.verify(
            jwt.encode(claims(), ec_key, algorithm="ES256", headers={"kid": "ec-1"})
        )
        user = await jwks_verifier.verify(
            jwt.encode(claims(), new_key, algorithm="ES256", headers={"kid": "ec-2"})
        )
        assert user.user_id == USER_ID
        assert route.call_count == 2

    async def test_a_token_without_kid_is_refused(
        self,
        jwks_verifier: StaffTokenVerifier,
        jwks_route: respx.Route,
        ec_key: ec.EllipticCurvePrivateKey,
    ) -> None:
        await refused(jwks_verifier, jwt.encode(claims(), ec_key, algorithm="ES256"))

    async def test_a_signature_by_another_key_is_refused(
        self, jwks_verifier: StaffTokenVerifier, jwks_route: respx.Route
    ) -> None:
        intruder = ec.generate_private_key(ec.SECP256R1())
        token = jwt.encode(claims(), intruder, algorithm="ES256", headers={"kid": "ec-1"})
        await refused(jwks_verifier, token)

    @pytest.mark.parametrize(
        "iss", ["https://evil.supabase.co/auth/v1", SUPABASE_URL, ISSUER + "/", None]
    )
    async def test_the_wrong_issuer_is_refused(
        self,
        jwks_verifier: StaffTokenVerifier,
        jwks_route: respx.Route,
        ec_key: ec.EllipticCurvePrivateKey,
        iss: str | None,
    ) -> None:
        token = jwt.encode(claims(iss=iss), ec_key, algorithm="ES256", headers={"kid": "ec-1"})
        await refused(jwks_verifier, token)

    async def test_the_wrong_audience_is_refused(
        self,
        jwks_verifier: StaffTokenVerifier,
        jwks_route: respx.Route,
        ec_key: ec.EllipticCurvePrivateKey,
    ) -> None:
        token = jwt.encode(claims(aud="anon"), ec_key, algorithm="ES256", headers={"kid": "ec-1"})
        await refused(jwks_verifier, token)

    async def test_an_expired_token_is_refused(
        self,
        jwks_verifier: StaffTokenVerifier,
        jwks_route: respx.Route,
        ec_key: ec.EllipticCurvePrivateKey,
    ) -> None:
        now = int(time.time())
        payload = claims(iat=now - 7200, exp=now - 120)
        token = jwt.encode(payload, ec_key, algorithm="ES256", headers={"kid": "ec-1"})
        error = await refused(jwks_verifier, token)
        assert "expired" in error.message

    async def test_an_hs256_token_signed_with_the_public_key_is_refused(
        self,
        jwks_verifier: StaffTokenVerifier,
        jwks_route: respx.Route,
        rsa_key: rsa.RSAPrivateKey,
    ) -> None:
        public_pem = rsa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        await refused(jwks_verifier, forged_hs256(claims(), public_pem, kid="rsa-1"))
        # Refused on the header alone: the JWKS was never needed.
        assert jwks_route.call_count == 0

    async def test_an_hs256_token_with_a_shared_secret_is_refused(
        self, jwks_verifier: StaffTokenVerifier, jwks_route: respx.Route
    ) -> None:
        await refused(jwks_verifier, hs256(claims(), kid="ec-1"))
        assert jwks_route.call_count == 0

    async def test_a_symmetric_key_in_the_jwks_is_never_used(
        self,
        jwks_verifier: StaffTokenVerifier,
        no_outbound_http: respx.MockRouter,
        jwks: dict[str, Any],
    ) -> None:
        oct_key = {"kty": "oct", "kid": "oct-1", "alg": "HS256", "k": b64url(SECRET.encode())}
        no_outbound_http.get(JWKS_URL).respond(json={"keys": [*jwks["keys"], oct_key]})
        await refused(jwks_verifier, hs256(claims(), kid="oct-1"))
        forged = forged_hs256(claims(), SECRET.encode(), kid="oct-1").split(".")
        es_header = b64url_json({"alg": "ES256", "typ": "JWT", "kid": "oct-1"})
        await refused(jwks_verifier, ".".join([es_header, *forged[1:]]))

    async def test_an_algorithm_that_does_not_match_the_key_is_refused(
        self,
        jwks_verifier: StaffTokenVerifier,
        jwks_route: respx.Route,
        rsa_key: rsa.RSAPrivateKey,
    ) -> None:
        # Signed by the RSA key but naming the EC key's kid.
        token = jwt.encode(claims(), rsa_key, algorithm="RS256", headers={"kid": "ec-1"})
        await refused(jwks_verifier, token)

    async def test_alg_none_is_refused(
        self, jwks_verifier: StaffTokenVerifier, jwks_route: respx.Route
    ) -> None:
        await refused(jwks_verifier, unsigned(claims()))
        assert jwks_route.call_count == 0

    async def test_an_empty_jwks_refuses_every_token(
        self,
        jwks_verifier: StaffTokenVerifier,
        no_outbound_http: respx.MockRouter,
        ec_key: ec.EllipticCurvePrivateKey,
    ) -> None:
        no_outbound_http.get(JWKS_URL).respond(json={"keys": []})
        token = jwt.encode(claims(), ec_key, algorithm="ES256", headers={"kid": "ec-1"})
        await refused(jwks_verifier, token)

    @pytest.mark.parametrize("status", [500, 502, 503, 404])
    async def test_a_failing_jwks_is_service_unavailable(
        self,
        jwks_verifier: StaffTokenVerifier,
        no_outbound_http: respx.MockRouter,
        ec_key: ec.EllipticCurvePrivateKey,
        status: int,
    ) -> None:
        no_outbound_http.get(JWKS_URL).respond(status_code=status)
        token = jwt.encode(claims(), ec_key, algorithm="ES256", headers={"kid": "ec-1"})
        with pytest.raises(ServiceUnavailable):
            await jwks_verifier.verify(token)

    @pytest.mark.parametrize(
        "failure",
        [
            httpx.ConnectTimeout("timed out"),
            httpx.ReadTimeout("timed out"),
            httpx.ConnectError("refused"),
        ],
    )
    async def test_an_unreachable_jwks_is_service_unavailable(
        self,
        jwks_verifier: StaffTokenVerifier,
        no_outbound_http: respx.MockRouter,
        ec_key: ec.EllipticCurvePrivateKey,
        failure: httpx.HTTPError,
    ) -> None:
        no_outbound_http.get(JWKS_URL).mock(side_effect=failure)
        token = jwt.encode(claims(), ec_key, algorithm="ES256", headers={"kid": "ec-1"})
        with pytest.raises(ServiceUnavailable):
            await jwks_verifier.verify(token)

    @pytest.mark.parametrize("body", [b"<html>oops</html>", b"[]", b'{"keys": {}}', b"null"])
    async def test_an_invalid_jwks_body_is_service_unavailable(
        self,
        jwks_verifier: StaffTokenVerifier,
        no_outbound_http: respx.MockRouter,
        ec_key: ec.EllipticCurvePrivateKey,
        body: bytes,
    ) -> None:
        no_outbound_http.get(JWKS_URL).respond(200, content=body)
        token = jwt.encode(claims(), ec_key, algorithm="ES256", headers={"kid": "ec-1"})
        with pytest.raises(ServiceUnavailable):
            await jwks_verifier.verify(token)

    async def test_a_failed_fetch_is_retried_on_the_next_request(
        self,
        jwks_verifier: StaffTokenVerifier,
        no_outbound_http: respx.MockRouter,
        jwks: dict[str, Any],
        ec_key: ec.EllipticCurvePrivateKey,
    ) -> None:
        route = no_outbound_http.get(JWKS_URL).mock(
            side_effect=[httpx.Response(503), httpx.Response(200, json=jwks)]
        )
        token = jwt.encode(claims(), ec_key, algorithm="ES256", headers={"kid": "ec-1"})
        with pytest.raises(ServiceUnavailable):
            await jwks_verifier.verify(token)
        assert (await jwks_verifier.verify(token)).user_id == USER_ID
        assert route.call_count == 2

    async def test_the_shared_secret_wins_when_both_are_configured(
        self,
        http: httpx.AsyncClient,
        jwks_route: respx.Route,
        ec_key: ec.EllipticCurvePrivateKey,
    ) -> None:
        verifier = StaffTokenVerifier(jwt_secret=SECRET, supabase_url=SUPABASE_URL, http=http)
        assert (await verifier.verify(hs256(claims()))).user_id == USER_ID
        es256 = jwt.encode(claims(), ec_key, algorithm="ES256", headers={"kid": "ec-1"})
        await refused(verifier, es256)
        assert jwks_route.call_count == 0


class TestNotConfigured:
    @pytest.mark.parametrize("secret", [None, ""])
    async def test_every_token_is_refused(
        self,
        http: httpx.AsyncClient,
        no_outbound_http: respx.MockRouter,
        secret: str | None,
    ) -> None:
        verifier = StaffTokenVerifier(jwt_secret=secret, supabase_url=None, http=http)
        for token in (
            hs256(claims()),
            mint_staff_token(secret=SECRET, user_id=USER_ID, email=None),
        ):
            error = await refused(verifier, token)
            assert error.message == "Staff sign-in is not configured."
        assert no_outbound_http.calls.call_count == 0
