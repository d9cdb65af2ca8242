"""How the JSON API answers a request it will not serve: one body schema for each kind of error.

* 422, bad input: FastAPI's validation-error list, ``{"detail": [{"loc", "msg", "type"}, ...]}``,
  also for the checks a route makes itself (``validation_error``), for a body that is not UTF-8
  JSON and for ``NaN`` and ``Infinity``, which are not JSON numbers (``JSONRoute``). Bad input is
  answered before anything else, so a route asks for the active model only after its checks.
* Every other error: ``{"detail": "what went wrong, and what to do"}`` (``ErrorMessage``), each
  status code a route returns declared in its OpenAPI ``responses`` (``error_responses``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Annotated, Any, NoReturn

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, Discriminator, Tag

WRITE_ERRORS = (401, 403)
# Every route of a reader's data: once readers are made, it needs the reader's own token.
READER_ERRORS = (401, 403)

_DESCRIPTIONS = {
    400: "The request body could not be parsed (a malformed multipart upload)",
    401: "The token is missing or wrong (`Authorization: Bearer <token>`): the API token for "
    "writes, and once readers are made a reader's own token for their data",
    403: "A write from another site, or from another machine while no API token is set; or "
    "the admin token where a reader's is needed, or a reader's where the admin's is",
    404: "Not found",
    409: "Conflicts with what the service is doing or has",
    413: "The request body is larger than ARXIV_RECO_MAX_REQUEST_BYTES",
    503: "No model is active, or the active one cannot be loaded; the detail says what to do",
}


class ErrorMessage(BaseModel):
    detail: str


def error_responses(
    *codes: int, notes: Mapping[int, str] | None = None
) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI ``responses`` of a route's error codes, each with the ``ErrorMessage`` body;
    ``notes`` says what a code means for this route."""
    notes = notes or {}
    return {
        code: {"model": ErrorMessage, "description": notes.get(code, _DESCRIPTIONS[code])}
        for code in codes
    }


def validation_error(loc: tuple[str | int, ...], msg: str) -> RequestValidationError:
    """A 422 in FastAPI's own shape for a check the schema cannot express: raise it in a route,
    e.g. ``raise validation_error(("query", "to"), "to=2025-03-01 is before date=2025-03-05")``.
    ``loc`` starts with where the value was: ``"path"``, ``"query"`` or ``"body"``."""
    return RequestValidationError([{"loc": loc, "msg": msg, "type": "value_error"}])


def parse_json(body: bytes) -> Any:
    """A JSON body as RFC 8259 has it: UTF-8 text, numbers without ``NaN`` and ``Infinity``.

    Python's parser takes both (and ``1e999`` as infinity), and a non-finite number cannot be
    written back in a 422 answer. Each refusal is a ``JSONDecodeError``, which FastAPI answers
    with its 422 ``json_invalid`` error.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as err:
        raise json.JSONDecodeError(
            f"the body is not UTF-8 text ({err.reason})",
            body.decode("utf-8", "replace"),
            err.start,
        ) from None

    def refuse(what: str, literal: str) -> NoReturn:
        raise json.JSONDecodeError(f"{what}: {literal[:40]}", text, max(text.find(literal), 0))

    def finite(literal: str) -> float:
        value = float(literal)
        if not math.isfinite(value):
            refuse("a number out of the range of a double", literal)
        return value

    try:
        return json.loads(
            text,
            parse_constant=lambda name: refuse("NaN and Infinity are not JSON numbers", name),
            parse_float=finite,
        )
    except json.JSONDecodeError:
        raise
    except RecursionError:
        raise json.JSONDecodeError("the body is nested too deeply", text, 0) from None
    except ValueError as err:  # an integer of more digits than Python converts
        raise json.JSONDecodeError(str(err), text, 0) from None


class _JSONRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = parse_json(await self.body())
        return self._json


# The shapes of a body that is one object or a list of them (``one_or_many``); an error's loc
# names the shape only until JSONRoute takes it out.
_ONE, _MANY = "(one)", "(many)"


def _shape(value: Any) -> str:
    return _MANY if isinstance(value, list) else _ONE


def one_or_many(model: type[BaseModel]) -> Any:
    """The body type of a route that takes one ``model`` or a list of them. With a plain union,
    pydantic tries both and a body missing a field is refused twice ("Field required" and "Input
    should be a valid list"); here the body's shape picks the one to check, and its errors read
    as the route's own checks do (``["body", "abstract"]``, ``["body", 1, "abstract"]``)."""
    return Annotated[
        Annotated[model, Tag(_ONE)] | Annotated[list[model], Tag(_MANY)],  # type: ignore[valid-type]
        Discriminator(_shape),
    ]


def _without_shape(errors: Sequence[Any]) -> list[Any]:
    return [
        {**error, "loc": tuple(part for part in error["loc"] if part not in (_ONE, _MANY))}
        for error in errors
    ]


class JSONRoute(APIRoute):
    """A route whose JSON body is parsed by ``parse_json``; every API router uses it
    (``APIRouter(route_class=JSONRoute)``)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict_json_handler(request: Request) -> Response:
            try:
                return await handler(_JSONRequest(request.scope, request.receive))
            except RequestValidationError as err:
                raise RequestValidationError(_without_shape(err.errors()), body=err.body) from None

        return strict_json_handler
