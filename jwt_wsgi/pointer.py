"""Claim names in policies: a top-level name, or an RFC 6901 JSON Pointer into the claims.

Identity providers put roles in nested or list claims (Keycloak's
``realm_access.roles``, Entra ID's ``roles``, Okta's ``groups``). A policy names such a
claim with a JSON Pointer, ``/realm_access/roles``; any name that does not start with
``/`` is one top-level claim, dots and slashes inside included, so Auth0's namespaced
``https://example.com/roles`` means what it says.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .errors import ConfigError

#: What a lookup returns when the pointer leads nowhere (distinct from a JSON ``null``).
MISSING: Any = object()
_INDEX = re.compile(r"0|[1-9][0-9]{0,8}")  # RFC 6901 section 4: no leading zeros
_BAD_ESCAPE = re.compile(r"~(?![01])")
#: Deeper pointers cannot match a verified token: tokens nest at most 32 levels.
MAX_DEPTH = 32


class ClaimPath:
    """Where a policy looks in the claims: ``name`` as written, ``parts`` to walk.

    :param name: a claim name, or a JSON Pointer when it starts with ``/``.
    :param where: the route key, for the error message.
    :raises ConfigError: an empty name, or a pointer with a bad ``~`` escape.

    >>> ClaimPath("/realm_access/roles", "route").find({"realm_access": {"roles": ["a"]}})
    ['a']
    >>> ClaimPath("https://example.com/roles", "route").parts
    ('https://example.com/roles',)
    """

    __slots__ = ("name", "parts")

    def __init__(self, name: str, where: str) -> None:
        if not isinstance(name, str) or not name:
            raise ConfigError(f"{where}: a claim name must be a non-empty string")
        self.name = name
        if not name.startswith("/"):
            self.parts: tuple[str, ...] = (name,)
            return
        if _BAD_ESCAPE.search(name):
            raise ConfigError(f"{where}: JSON Pointer {name!r} has a '~' that is not '~0' "
                              "(for '~') or '~1' (for '/'), as RFC 6901 spells them")
        parts = tuple(part.replace("~1", "/").replace("~0", "~")
                      for part in name[1:].split("/"))
        if len(parts) > MAX_DEPTH:
            raise ConfigError(f"{where}: JSON Pointer {name!r} is deeper than {MAX_DEPTH} "
                              "levels, more than any token may nest")
        self.parts = parts

    def find(self, claims: Mapping[str, Any]) -> Any:
        """The value the path names, or :data:`MISSING`."""
        if len(self.parts) == 1:
            return claims.get(self.parts[0], MISSING)
        value: Any = claims
        for part in self.parts:
            if type(value) is dict:  # the usual step, without the checks below
                value = value.get(part, MISSING)
                if value is MISSING:
                    return MISSING
                continue
            if isinstance(value, dict):
                value = value.get(part, MISSING)
            elif isinstance(value, list) and _INDEX.fullmatch(part) and int(part) < len(value):
                value = value[int(part)]
            else:
                return MISSING
            if value is MISSING:
                return MISSING
        return value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ClaimPath) and other.parts == self.parts

    def __hash__(self) -> int:
        return hash(self.parts)

    def __lt__(self, other: ClaimPath) -> bool:
        return self.parts < other.parts

    def __repr__(self) -> str:
        return f"ClaimPath({self.name!r})"
