"""Keystone's backend: users, projects and tokens with a lifetime on the scenario clock."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from ..errors import NotFound, Unauthorized
from ..service import CloudContext, Principal

DEFAULT_DOMAIN = {"id": "default", "name": "Default"}
# Keystone words every authentication failure the same, so as not to say what was wrong.
AUTH_FAILED = "The request you have made requires authentication."


@dataclass(frozen=True)
class Credentials:
    """A user of the fake cloud, with the project it is a member of.

    Attributes:
        username: the user name (domain ``Default``).
        password: the password; never logged.
        project_name: the project it may scope to (domain ``Default``).
        roles: its roles on that project.
    """

    username: str = "admin"
    password: str = "password"
    project_name: str = "admin"
    roles: tuple[str, ...] = ("admin", "member", "reader")

    def __repr__(self) -> str:
        # Keep the password out of tracebacks and logs.
        return f"Credentials(username={self.username!r}, project_name={self.project_name!r})"


@dataclass
class Token:
    """An issued token."""

    principal: Principal
    issued_at: float
    expires_at: float
    methods: tuple[str, ...]
    audit_id: str


class IdentityBackend:
    """Users and tokens.

    Args:
        context: the cloud.
        users: the accounts that can authenticate.
        token_ttl: seconds (scenario time) a token stays valid.
    """

    def __init__(
        self, context: CloudContext, users: tuple[Credentials, ...], token_ttl: float
    ) -> None:
        self.context = context
        self.token_ttl = token_ttl
        self._users: dict[str, tuple[Credentials, Principal]] = {}
        for creds in users:
            principal = Principal(
                user_id=context.new_uuid().replace("-", ""),
                user_name=creds.username,
                project_id=context.new_uuid().replace("-", ""),
                project_name=creds.project_name,
                roles=creds.roles,
            )
            self._users[creds.username] = (creds, principal)
        self._tokens: dict[str, Token] = {}

    def principal(self, username: str) -> Principal:
        """Return the principal of a user.

        Raises:
            KeyError: if there is no such user.
        """
        return self._users[username][1]

    def password_auth(
        self, user: dict[str, object], project: dict[str, object] | None, now: float
    ) -> tuple[str, Token]:
        """Check a password and issue a token.

        Args:
            user: keystone's ``password.user`` object (``name`` or ``id``, ``password``).
            project: keystone's ``scope.project`` object (``name`` or ``id``), if any.

        Raises:
            Unauthorized: if the user, password or project does not match.
        """
        for creds, principal in self._users.values():
            named = user.get("name") == creds.username or user.get("id") == principal.user_id
            if named and secrets.compare_digest(str(user.get("password", "")), creds.password):
                self._check_scope(principal, project)
                return self._issue(principal, now, ("password",))
        raise Unauthorized(AUTH_FAILED)

    def token_auth(
        self, token: str, project: dict[str, object] | None, now: float
    ) -> tuple[str, Token]:
        """Exchange a valid token for a new one.

        Raises:
            Unauthorized: if the token is not valid or the scope does not match.
        """
        principal = self.validate(token, now)
        if principal is None:
            raise Unauthorized(AUTH_FAILED)
        self._check_scope(principal, project)
        return self._issue(principal, now, ("token",))

    def lookup(self, token: str, now: float) -> Token:
        """Return a valid token's record.

        Raises:
            NotFound: as keystone answers for unknown or expired tokens.
        """
        found = self._tokens.get(token)
        if found is None or found.expires_at <= now:
            raise NotFound("Could not find token.")
        return found

    def validate(self, token: str, now: float) -> Principal | None:
        """Return the principal of a valid token, or None."""
        found = self._tokens.get(token)
        if found is None or found.expires_at <= now:
            return None
        return found.principal

    def expire(self, token: str | None = None) -> None:
        """Expire one token, or all of them: the next use of each gets a 401."""
        if token is None:
            self._tokens.clear()
        else:
            self._tokens.pop(token, None)

    def _check_scope(self, principal: Principal, project: dict[str, object] | None) -> None:
        if project is None:
            return
        if project.get("name") not in (None, principal.project_name) or project.get("id") not in (
            None,
            principal.project_id,
        ):
            raise Unauthorized(AUTH_FAILED)

    def _issue(
        self, principal: Principal, now: float, methods: tuple[str, ...]
    ) -> tuple[str, Token]:
        # Expired tokens are dropped as new ones are issued, so a short TTL under load
        # does not grow the table without bound.
        if len(self._tokens) > 1000:
            self._tokens = {k: t for k, t in self._tokens.items() if t.expires_at > now}
        token_id = "gAAAAA" + secrets.token_urlsafe(48)
        record = Token(principal, now, now + self.token_ttl, methods, secrets.token_urlsafe(16))
        self._tokens[token_id] = record
        return token_id, record
