"""Provider accounts: the secret-free name under which the store keeps an account's runs,
rate windows and state, and the check that its credentials are there."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from smscli.errors import ConfigError

if TYPE_CHECKING:
    from smscli.config import Settings
    from smscli.providers.base import Account, Capabilities


def account_id(account: Account, capabilities: Capabilities) -> str:
    """A stable, secret-free name for the credentials of a provider account: what the
    provider counts its rate limits against (its key, or its user), and the state it reports
    (credits). Never the profile's name nor the ``base_url`` (however it is spelt, or which
    host name leads to the provider): the provider counts per key, not per URL.

    API keys are represented by a truncated SHA-256, never by the key itself. A provider
    without network (the sandbox) has one account, named after it. A run keeps it, to say
    when a resumed run's credentials changed; what resumes a run never depends on it.
    """
    if not capabilities.network:
        return account.provider
    who = account.username or ""
    if account.api_key:
        import hashlib  # not on the dry run's path: ~5 ms to load OpenSSL

        who = "key-" + hashlib.sha256(account.api_key.encode()).hexdigest()[:12]
    return f"{account.provider}:{who}"


def legacy_account_id(account: Account, capabilities: Capabilities) -> str:
    """:func:`account_id` as smscli wrote it before 0.2 (with the ``base_url``), of which the
    oldest runs' fingerprints were made."""
    own = account_id(account, capabilities)
    return own if not capabilities.network else f"{own}@{account.base_url.rstrip('/')}"


def require_credentials(settings: Settings, provider: str, capabilities: Capabilities) -> None:
    """Every credential the driver declares is set, else a ConfigError saying where to set it."""
    from smscli.config import ENV_VARS

    for key in capabilities.credentials:
        if not settings.get(key):
            where = f"or {ENV_VARS[key]}" if key in ENV_VARS else "or the environment"
            raise ConfigError(
                f"{provider} needs {key}",
                hint=f"set {key} in the profile ({settings.config.path}) {where}",
            )


def check_base_url(url: str, where: str = "") -> str:
    """``url`` if it can be a provider's root: ``http(s)://`` and a host that parses, without
    credentials (they would travel in every request line and log). Raises ConfigError naming
    the value (its user-info part masked) and where it was set: nothing can have been sent."""
    from urllib.parse import urlsplit

    from smscli.redact import MASK

    at = f"{where}: " if where else ""
    try:
        parts = urlsplit(url)
        shown = url.replace(f"{parts.netloc.rpartition('@')[0]}@", f"{MASK}@", 1)
    except ValueError:
        parts, shown = None, url.split("@")[-1]
    fix = "for example https://api.example.com/v1 (the provider's documented root)"
    if parts is None:
        raise ConfigError(f"{at}base_url {shown!r} is not a URL (it does not parse)", hint=fix)
    if parts.scheme.lower() not in ("http", "https"):
        raise ConfigError(f"{at}base_url {shown!r} is not an http:// or https:// URL", hint=fix)
    if "@" in parts.netloc:
        raise ConfigError(
            f"{at}base_url {shown!r} holds credentials (user:password@host)",
            hint="give them as api_key, or username and password, never inside the URL",
        )
    try:
        port, host = parts.port, parts.hostname
        if host:
            host.encode("idna")
    except (ValueError, UnicodeError):
        port, host = None, None
    if not host or (port is not None and not 0 < port < 65536):
        raise ConfigError(f"{at}base_url {shown!r} has no valid host name or port", hint=fix)
    return url


def make_account(provider: str, get: Any, default_base_url: str, where: str = "") -> Account:
    """The account of a profile's values (``get(key)`` reads one, None when unset); a
    ``base_url`` that cannot be a provider's root is refused here, before any request."""
    from smscli.providers.base import Account

    given = get("base_url")
    return Account(
        provider=provider,
        base_url=check_base_url(given, where) if given else default_base_url,
        api_key=get("api_key"),
        username=get("username"),
        password=get("password"),
        timeout=float(get("timeout") or 30.0),
    )
