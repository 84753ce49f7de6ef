"""The model registry of a fwtrack server: the routes under `/api/v1/registry/{entity}`
(docs/registry.md, "HTTP routes"), with the methods and answers of `local.LocalModels`.

Server refusals become registry errors: `404` → ModelNotFoundError (listing the models or
versions that exist), `403` → RegistryPermissionError (the server's message), `409` →
RegistryConflictError, `400` → RegistryRequestError.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from fwtrack._http import (
    HttpClient,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    ServerError,
)
from fwtrack.artifacts.remote import RemoteRegistry
from fwtrack.errors import (
    ModelNotFoundError,
    RegistryConflictError,
    RegistryPermissionError,
    RegistryRequestError,
)

__all__ = ["RemoteModels"]


def _q(*parts: str) -> str:
    return "/".join(urllib.parse.quote(str(p), safe="") for p in parts)


class RemoteModels:
    """The registered models of one server, read and changed with one API key; `entity`
    (or a callable asked once, when first needed) is the default entity."""

    def __init__(
        self,
        client: HttpClient,
        entity: str | Callable[[], str],
        artifacts: RemoteRegistry | None = None,
    ) -> None:
        self.client = client
        self._entity = entity
        self.artifacts = artifacts if artifacts is not None else RemoteRegistry(client, entity)

    def __repr__(self) -> str:
        return f"RemoteModels({self.client.base_url!r})"

    @property
    def where(self) -> str:
        return self.client.base_url

    def default_entity(self) -> str:
        if callable(self._entity):
            self._entity = str(self._entity())
        return self._entity

    def _base(self, entity: str | None, *tail: str) -> str:
        path = f"/registry/{_q(entity or self.default_entity())}/models"
        return "/".join([path, _q(*tail)]) if tail else path

    @contextmanager
    def _errors(self, entity: str | None, name: str | None = None) -> Iterator[None]:
        try:
            yield
        except PermissionDeniedError as exc:
            raise RegistryPermissionError(
                f"{exc.detail or 'permission denied'} ({self.client.base_url})", exc.detail
            ) from None
        except NotFoundError as exc:
            raise ModelNotFoundError(self._not_found(entity, name, exc)) from None
        except InvalidRequestError as exc:
            raise RegistryRequestError(exc.detail or str(exc)) from None
        except ServerError as exc:
            if exc.status == 409:
                raise RegistryConflictError(exc.detail or str(exc)) from None
            raise

    def _not_found(self, entity: str | None, name: str | None, exc: ServerError) -> str:
        entity = entity or self.default_entity()
        head = f"{exc.detail or 'not found'} (in {entity}'s registry on {self.client.base_url})"
        try:
            names = [str(m["name"]) for m in self.client.get_json(self._base(entity))]
        except ServerError:
            return head
        if name is not None and name in names:
            return head + "\nhint: list the versions with Api(base_url=...).registry.versions(name)"
        have = f"the models are {', '.join(names)}" if names else "there are no models yet"
        return f"{head}: {have}"

    # -- reading -----------------------------------------------------------------------------

    def models(self, entity: str | None, tag: str | None = None) -> list[dict[str, Any]]:
        with self._errors(entity):
            return list(self.client.get_json(self._base(entity), {"tag": tag}))

    def model(self, entity: str | None, name: str) -> dict[str, Any]:
        with self._errors(entity, name):
            return dict(self.client.get_json(self._base(entity, name)))

    def versions(self, entity: str | None, name: str) -> list[dict[str, Any]]:
        with self._errors(entity, name):
            return list(self.client.get_json(f"{self._base(entity, name)}/versions"))

    def version(self, entity: str | None, name: str, ref: str) -> dict[str, Any]:
        with self._errors(entity, name):
            return dict(self.client.get_json(f"{self._base(entity, name)}/versions/{_q(ref)}"))

    def card(self, entity: str | None, name: str, ref: str) -> dict[str, Any]:
        with self._errors(entity, name):
            return dict(self.client.get_json(f"{self._base(entity, name)}/versions/{_q(ref)}/card"))

    def audit(
        self, entity: str | None, name: str, limit: int = 200, before: int | None = None
    ) -> list[dict[str, Any]]:
        with self._errors(entity, name):
            return list(
                self.client.get_json(
                    f"{self._base(entity, name)}/audit", {"limit": limit, "before": before}
                )
            )

    # -- writing -----------------------------------------------------------------------------

    def _send(self, method: str, path: str, payload: Any = None) -> Any:
        return self.client.send_json(method, path, payload)

    def create(
        self,
        entity: str | None,
        name: str,
        description: str | None = None,
        metadata: dict[str, Any] | None = None,
        tags: list[str] | None = None,
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {"name": name}
        for key, value in (("description", description), ("metadata", metadata), ("tags", tags)):
            if value is not None:
                payload[key] = value
        with self._errors(entity):
            return dict(self._send("POST", self._base(entity), payload))

    def update(self, entity: str | None, name: str, fields: dict[str, Any]) -> dict[str, Any]:
        with self._errors(entity, name):
            return dict(self._send("PATCH", self._base(entity, name), fields))

    def delete(self, entity: str | None, name: str) -> dict[str, Any]:
        with self._errors(entity, name):
            return dict(self._send("DELETE", self._base(entity, name)))

    def link(
        self,
        entity: str | None,
        name: str,
        artifact: dict[str, Any],
        aliases: list[str],
        run: dict[str, Any] | None,
    ) -> dict[str, Any]:
        body = {
            "artifact": {
                "entity": artifact.get("entity") or self.artifacts.entity,
                "project": artifact["project"],
                "name": artifact["name"],
                "ref": artifact.get("ref") or "latest",
            },
            "aliases": list(aliases),
            "run": None if not run else {"project": run["project"], "id": run["id"]},
        }
        with self._errors(entity, name):
            return dict(self._send("POST", f"{self._base(entity, name)}/links", body))

    def set_alias(
        self, entity: str | None, name: str, alias: str, version: str, expect: str | None = None
    ) -> dict[str, Any]:
        # Sent only when given: the server reads any `expect` (null included: "no version")
        # as a compare-and-set, while None here means "move it wherever it is".
        body: dict[str, Any] = {"version": version}
        if expect is not None:
            body["expect"] = expect
        with self._errors(entity, name):
            return dict(self._send("PUT", f"{self._base(entity, name)}/aliases/{_q(alias)}", body))

    def remove_alias(self, entity: str | None, name: str, alias: str) -> dict[str, Any]:
        with self._errors(entity, name):
            return dict(self._send("DELETE", f"{self._base(entity, name)}/aliases/{_q(alias)}"))
