"""Provider accounts: the secret-free name under which the store keeps an account's runs,
rate windows and state, and the check that its credentials are there."""

from __future__ import annotations

from typing import TYPE_CHECKING

from smscli.errors import ConfigError

if TYPE_CHECKING:
    from smscli.config import Settings
    from smscli.providers.base import Account, Capabilities


def account_id(account: Account, capabilities: Capabilities) -> str:
    """A stable, secret-free name for the credentials of a provider account: what the
    provider counts its rate limits against (its key), and the state it reports (credits).

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
    return f"{account.provider}:{who}@{account.base_url.rstrip('/')}"


def account_name(account: Account, profile: str | None) -> str:
    """The account as a user names it, for what must survive a key rotation or a respelt
    ``base_url`` (``send``'s idempotency keys): the provider and its user name where it has
    one (masgsm's user code), else the profile's name."""
    return f"{account.provider}:{account.username or profile or '-'}"


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
