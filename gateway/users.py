"""Users, their passwords and their API tokens.

Passwords are hashed with Argon2 (argon2-cffi), which is slow on purpose. API tokens
are 256 random bits, so guessing is hopeless and a single SHA-256 is enough to keep
them unreadable in the database while staying fast on every request.
"""

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from orchestrator.db import ApiToken, User

TOKEN_PREFIX = "cts_"

_hasher = PasswordHasher()
_UNKNOWN_USER_HASH = _hasher.hash(secrets.token_urlsafe(16))


class UserExistsError(ValueError):
    pass


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class UserStore:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def add(self, name: str, password: str | None, admin: bool = False) -> str:
        """Create a user and answer their first API token.

        A user made without a password can only use tokens.

        Raises:
            UserExistsError: the name is taken.
        """
        secret = password if password is not None else secrets.token_urlsafe(32)
        user = User(name=name, password_hash=_hasher.hash(secret), is_admin=admin)
        try:
            with self._sessions.begin() as session:
                session.add(user)
        except IntegrityError as error:
            raise UserExistsError(f"user {name!r} exists") from error
        return self.issue_token(name)

    def issue_token(self, name: str) -> str:
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self._sessions.begin() as session:
            user = session.scalars(select(User).where(User.name == name)).one()
            session.add(ApiToken(user_id=user.id, token_hash=_token_hash(token)))
        return token

    def get(self, name: str) -> User | None:
        with self._sessions() as session:
            return session.scalars(select(User).where(User.name == name)).first()

    def exists(self, name: str) -> bool:
        return self.get(name) is not None

    def is_admin(self, name: str) -> bool:
        user = self.get(name)
        return user is not None and user.is_admin

    def check_password(self, name: str, password: str) -> User | None:
        user = self.get(name)
        # An unknown name costs a hash check too, so that answer times do not
        # tell which names exist.
        password_hash = user.password_hash if user else _UNKNOWN_USER_HASH
        try:
            _hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return None
        return user

    def check_token(self, token: str) -> User | None:
        query = (
            select(User)
            .join(ApiToken, ApiToken.user_id == User.id)
            .where(ApiToken.token_hash == _token_hash(token))
        )
        with self._sessions() as session:
            return session.scalars(query).first()
