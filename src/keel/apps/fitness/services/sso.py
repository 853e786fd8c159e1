"""Sign in with Apple, Google or Facebook: who the provider says the person is, then the user
that identity signs into (made on first sign-in, or an existing account linked by email)."""

import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.fitness.models import SocialAccount, User
from keel.apps.fitness.schemas import SSOProvider, SSORequest
from keel.apps.fitness.services import accounts
from keel.core.errors import Conflict, Forbidden, NotFound, ServiceUnavailable, Unauthorized, Unprocessable
from keel.core.security.identity import normalize_email
from keel.core.security.jwks import JWKSVerifier
from keel.settings import Settings

GRAPH_TIMEOUT = 5.0
_TITLES = {SSOProvider.apple: "Apple", SSOProvider.google: "Google", SSOProvider.facebook: "Facebook"}


@dataclass(frozen=True, slots=True)
class Identity:
    """A person as a provider vouches for them."""

    provider: SSOProvider
    uid: str
    email: str | None
    email_verified: bool
    name: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # When the provider issued the token (None when it does not say): how fresh a confirmation is.
    issued_at: datetime | None = None


async def identify(settings: Settings, provider: SSOProvider, data: SSORequest) -> Identity:
    """Check the token with its provider; `Unauthorized` for a token that is not good."""
    if provider is SSOProvider.facebook:
        if not data.access_token:
            raise Unprocessable("Facebook sign-in needs an access_token", loc=("body", "access_token"))
        return await _facebook(settings, data.access_token)
    if not data.id_token:
        raise Unprocessable(f"{_TITLES[provider]} sign-in needs an id_token", loc=("body", "id_token"))
    claims = await _verifier(settings, provider).verify(data.id_token)
    email = claims.get("email")
    return Identity(
        provider=provider,
        uid=claims["sub"],
        email=email if isinstance(email, str) and email else None,
        # Apple sends the string "true"; Google a boolean.
        email_verified=claims.get("email_verified") in (True, "true"),
        name=claims.get("name") if isinstance(claims.get("name"), str) else None,
        extra={k: claims[k] for k in ("email", "name", "picture", "is_private_email") if k in claims},
        issued_at=_time(claims["iat"]),  # the verifier requires it
    )


def _time(timestamp: Any) -> datetime | None:
    return datetime.fromtimestamp(timestamp, UTC) if isinstance(timestamp, int | float) else None


def _not_configured(provider: SSOProvider) -> NotFound:
    # Not offered by this server: a 404 like any other missing feature, not a server fault.
    return NotFound(f"Sign in with {_TITLES[provider]} is not available on this server")


def _verifier(settings: Settings, provider: SSOProvider) -> JWKSVerifier:
    if provider is SSOProvider.apple:
        url, issuers, audiences = (
            settings.fitness_apple_jwks_url,
            [settings.fitness_apple_issuer],
            settings.fitness_apple_client_ids,
        )
    else:
        url, issuers, audiences = (
            settings.fitness_google_jwks_url,
            settings.fitness_google_issuers,
            settings.fitness_google_client_ids,
        )
    if not audiences:
        raise _not_configured(provider)
    return JWKSVerifier(url, issuers=issuers, audiences=audiences)


async def _facebook(settings: Settings, access_token: str) -> Identity:
    """Facebook access tokens are opaque: the Graph API says whether one is valid and for which
    app (a token made for another app must not sign in here), then who it belongs to."""
    app_id, secret = settings.fitness_facebook_app_id, settings.fitness_facebook_app_secret
    if not app_id or not secret:
        raise _not_configured(SSOProvider.facebook)
    graph = settings.fitness_facebook_graph_url.rstrip("/")
    async with httpx.AsyncClient(timeout=GRAPH_TIMEOUT) as client:
        debug = await _graph_get(
            client,
            f"{graph}/debug_token",
            {"input_token": access_token, "access_token": f"{app_id}|{secret}"},
        )
        data = debug.get("data") if isinstance(debug, dict) else None
        if not isinstance(data, dict) or data.get("is_valid") is not True:
            raise Unauthorized("Invalid Facebook access token")
        if str(data.get("app_id")) != app_id:
            raise Unauthorized("Facebook access token was issued for another application")
        # appsecret_proof: required by apps that turn on "Require App Secret", harmless otherwise.
        proof = hmac.new(secret.encode(), access_token.encode(), hashlib.sha256).hexdigest()
        me = await _graph_get(
            client,
            f"{graph}/me",
            {"fields": "id,email,name", "access_token": access_token, "appsecret_proof": proof},
        )
    uid = me.get("id") if isinstance(me, dict) else None
    if not isinstance(uid, str) or not uid or (data.get("user_id") and str(data["user_id"]) != uid):
        raise Unauthorized("Invalid Facebook access token")
    email, name = me.get("email"), me.get("name")
    return Identity(
        provider=SSOProvider.facebook,
        uid=uid,
        email=email if isinstance(email, str) and email else None,
        # The Graph API only ever returns an address the person has confirmed.
        email_verified=True,
        name=name if isinstance(name, str) else None,
        extra={k: me[k] for k in ("email", "name") if k in me},
        issued_at=_time(data.get("issued_at")),
    )


async def _graph_get(client: httpx.AsyncClient, url: str, params: dict[str, str]) -> Any:
    try:
        response = await client.get(url, params=params)
        body = response.json() if response.content else None
    except (httpx.HTTPError, ValueError):
        raise ServiceUnavailable("Facebook could not be reached; please retry") from None
    if response.status_code >= 500:
        raise ServiceUnavailable("Facebook could not be reached; please retry")
    if response.status_code >= 400:
        # The Graph API answers 400 with an error object for tokens that are bad or expired.
        raise Unauthorized("Invalid Facebook access token")
    return body


async def sign_in(session: AsyncSession, identity: Identity) -> tuple[User, bool]:
    """The user this identity signs into, and whether it was made just now.

    An existing account with the same email is linked only when the provider vouches for the
    address; and no account is made for an address nobody verified, which would let someone
    claim another person's email before they sign up (account pre-hijacking).
    """
    account = (
        await session.execute(
            select(SocialAccount).where(
                SocialAccount.provider == identity.provider.value, SocialAccount.provider_uid == identity.uid
            )
        )
    ).scalar_one_or_none()
    if account is not None:
        user = await session.get_one(User, account.user_id)
        _require_active(user)
        if identity.extra and account.extra_data != identity.extra:
            account.extra_data = identity.extra
        return user, False

    if identity.email is None:
        raise Unprocessable("The provider did not share an email address")
    email = normalize_email(identity.email)
    user = (await session.execute(select(User).where(User.email == email))).scalar_one_or_none()
    if user is not None and not identity.email_verified:
        raise Conflict("An account with this email exists; sign in with your password to link it")
    if user is None and not identity.email_verified:
        raise Forbidden("The provider has not verified this email address")
    created = user is None
    if user is None:
        user = await accounts.create_user(session, email, _display_name(identity, email), password=None)
    _require_active(user)
    session.add(
        SocialAccount(
            user_id=user.id,
            provider=identity.provider.value,
            provider_uid=identity.uid,
            extra_data=identity.extra,
        )
    )
    try:
        await session.flush()
    except IntegrityError:
        # The same first sign-in, twice at once: the other one made the link.
        raise Conflict("This account is being signed in elsewhere; please retry") from None
    return user, created


def _require_active(user: User) -> None:
    if not user.is_active:
        raise Unauthorized("Account is disabled")


def _display_name(identity: Identity, email: str) -> str:
    name = (identity.name or "").strip() or email.partition("@")[0]
    return name[:100]
