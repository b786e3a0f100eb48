"""Read typed values out of decoded JSON, raising PayloadError that names the dotted path.

Every accessor takes the object to read, a dotted path inside it (`pull_request.user.login`)
and an optional `at` prefix: the path of `obj` itself inside the whole payload, so that the
error names the full location even when a parser reads from a nested object
(`get_str(commit, "author.name", at="commits.2")` reports `commits.2.author.name`).

`get_*` raise when the value is missing, null or of the wrong type; `get_opt_*` return
None when the value (or any object on the way to it) is missing or null, and still raise
when it is present with the wrong type.
"""

from __future__ import annotations

from collections.abc import Mapping

from parsers.errors import PayloadError
from parsers.event import JSON

_MISSING = object()


def join(at: str, path: str) -> str:
    """Join a prefix and a dotted path the way error messages name them.

    Args:
        at: The location of the object being read, or "" for the payload root.
        path: The dotted path inside that object.

    Returns:
        `at.path`, or whichever of the two is not empty.
    """
    if at and path:
        return f"{at}.{path}"
    return at or path


def _lookup(obj: Mapping[str, JSON], path: str, at: str) -> object:
    """Walk `path` inside `obj`; return `_MISSING` when a key is absent or a step is null."""
    if "." not in path and type(obj) is dict:  # one key in a decoded object: most reads
        return obj.get(path, _MISSING)
    current: object = obj
    keys = path.split(".")
    for depth, key in enumerate(keys):
        if current is None:
            return _MISSING
        # Decoded JSON objects are dicts: the exact-type check spares the ABC's slow path.
        if type(current) is not dict and not isinstance(current, Mapping):
            walked = join(at, ".".join(keys[:depth]))
            raise PayloadError(f"expected an object, got {_type_name(current)}", walked)
        if key not in current:
            return _MISSING
        current = current[key]
    return current


def _type_name(value: object) -> str:
    """Name a decoded JSON value's type in JSON's own words."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


def get_opt_value(obj: Mapping[str, JSON], path: str, *, at: str = "") -> JSON:
    """Return the value at `path`, or None when it or an object on the way is missing.

    Args:
        obj: A decoded JSON object.
        path: Dotted path of the value inside `obj`.
        at: Path of `obj` inside the whole payload, for error messages.

    Returns:
        The value, which may be any JSON value, or None.

    Raises:
        PayloadError: A step on the way is not an object.
    """
    value = _lookup(obj, path, at)
    if value is _MISSING:
        return None
    return value  # type: ignore[return-value]  # _lookup only walks JSON values


def get_value(obj: Mapping[str, JSON], path: str, *, at: str = "") -> JSON:
    """Return the non-null value at `path`.

    Args:
        obj: A decoded JSON object.
        path: Dotted path of the value inside `obj`.
        at: Path of `obj` inside the whole payload, for error messages.

    Returns:
        The value, never None.

    Raises:
        PayloadError: The value is missing or null, or a step on the way is not an object.
    """
    value = get_opt_value(obj, path, at=at)
    if value is None:
        raise PayloadError("missing required value", join(at, path))
    return value


def as_str(value: JSON, path: str) -> str:
    """Check that an already-read value is a string.

    Args:
        value: The value.
        path: Where it came from, for the error message.

    Returns:
        The string.

    Raises:
        PayloadError: The value is not a string.
    """
    if not isinstance(value, str):
        raise PayloadError(f"expected a string, got {_type_name(value)}", path)
    return value


def as_int(value: JSON, path: str) -> int:
    """Check that an already-read value is an integer (booleans are not).

    Args:
        value: The value.
        path: Where it came from, for the error message.

    Returns:
        The integer.

    Raises:
        PayloadError: The value is not an integer.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise PayloadError(f"expected an integer, got {_type_name(value)}", path)
    return value


def as_bool(value: JSON, path: str) -> bool:
    """Check that an already-read value is a boolean.

    Args:
        value: The value.
        path: Where it came from, for the error message.

    Returns:
        The boolean.

    Raises:
        PayloadError: The value is not a boolean.
    """
    if not isinstance(value, bool):
        raise PayloadError(f"expected a boolean, got {_type_name(value)}", path)
    return value


def as_dict(value: JSON, path: str) -> dict[str, JSON]:
    """Check that an already-read value is an object.

    Args:
        value: The value.
        path: Where it came from, for the error message.

    Returns:
        The object.

    Raises:
        PayloadError: The value is not an object.
    """
    if not isinstance(value, dict):
        raise PayloadError(f"expected an object, got {_type_name(value)}", path)
    return value


def as_list(value: JSON, path: str) -> list[JSON]:
    """Check that an already-read value is an array.

    Args:
        value: The value.
        path: Where it came from, for the error message.

    Returns:
        The array.

    Raises:
        PayloadError: The value is not an array.
    """
    if not isinstance(value, list):
        raise PayloadError(f"expected an array, got {_type_name(value)}", path)
    return value


def get_str(obj: Mapping[str, JSON], path: str, *, at: str = "") -> str:
    """Return the string at `path`.

    Args:
        obj: A decoded JSON object.
        path: Dotted path of the value inside `obj`.
        at: Path of `obj` inside the whole payload, for error messages.

    Returns:
        The string (possibly empty).

    Raises:
        PayloadError: The value is missing, null or not a string.
    """
    if "." not in path and type(obj) is dict:  # the common case, without the layers
        found = obj.get(path)
        if type(found) is str:
            return found
    return as_str(get_value(obj, path, at=at), join(at, path))


def get_opt_str(obj: Mapping[str, JSON], path: str, *, at: str = "") -> str | None:
    """Return the string at `path`, or None when it is missing or null.

    Args:
        obj: A decoded JSON object.
        path: Dotted path of the value inside `obj`.
        at: Path of `obj` inside the whole payload, for error messages.

    Returns:
        The string, or None.

    Raises:
        PayloadError: The value is present and not a string.
    """
    if "." not in path and type(obj) is dict:  # the common case, without the layers
        found = obj.get(path)
        if found is None or type(found) is str:
            return found
    value = get_opt_value(obj, path, at=at)
    return None if value is None else as_str(value, join(at, path))


def get_int(obj: Mapping[str, JSON], path: str, *, at: str = "") -> int:
    """Return the integer at `path`.

    Args:
        obj: A decoded JSON object.
        path: Dotted path of the value inside `obj`.
        at: Path of `obj` inside the whole payload, for error messages.

    Returns:
        The integer.

    Raises:
        PayloadError: The value is missing, null or not an integer.
    """
    return as_int(get_value(obj, path, at=at), join(at, path))


def get_opt_int(obj: Mapping[str, JSON], path: str, *, at: str = "") -> int | None:
    """Return the integer at `path`, or None when it is missing or null.

    Args:
        obj: A decoded JSON object.
        path: Dotted path of the value inside `obj`.
        at: Path of `obj` inside the whole payload, for error messages.

    Returns:
        The integer, or None.

    Raises:
        PayloadError: The value is present and not an integer.
    """
    value = get_opt_value(obj, path, at=at)
    return None if value is None else as_int(value, join(at, path))


def get_bool(obj: Mapping[str, JSON], path: str, *, at: str = "") -> bool:
    """Return the boolean at `path`.

    Args:
        obj: A decoded JSON object.
        path: Dotted path of the value inside `obj`.
        at: Path of `obj` inside the whole payload, for error messages.

    Returns:
        The boolean.

    Raises:
        PayloadError: The value is missing, null or not a boolean.
    """
    return as_bool(get_value(obj, path, at=at), join(at, path))


def get_opt_bool(obj: Mapping[str, JSON], path: str, *, at: str = "") -> bool | None:
    """Return the boolean at `path`, or None when it is missing or null.

    Args:
        obj: A decoded JSON object.
        path: Dotted path of the value inside `obj`.
        at: Path of `obj` inside the whole payload, for error messages.

    Returns:
        The boolean, or None.

    Raises:
        PayloadError: The value is present and not a boolean.
    """
    value = get_opt_value(obj, path, at=at)
    return None if value is None else as_bool(value, join(at, path))


def get_dict(obj: Mapping[str, JSON], path: str, *, at: str = "") -> dict[str, JSON]:
    """Return the object at `path`.

    Args:
        obj: A decoded JSON object.
        path: Dotted path of the value inside `obj`.
        at: Path of `obj` inside the whole payload, for error messages.

    Returns:
        The object.

    Raises:
        PayloadError: The value is missing, null or not an object.
    """
    return as_dict(get_value(obj, path, at=at), join(at, path))


def get_opt_dict(obj: Mapping[str, JSON], path: str, *, at: str = "") -> dict[str, JSON] | None:
    """Return the object at `path`, or None when it is missing or null.

    Args:
        obj: A decoded JSON object.
        path: Dotted path of the value inside `obj`.
        at: Path of `obj` inside the whole payload, for error messages.

    Returns:
        The object, or None.

    Raises:
        PayloadError: The value is present and not an object.
    """
    value = get_opt_value(obj, path, at=at)
    return None if value is None else as_dict(value, join(at, path))


def get_list(obj: Mapping[str, JSON], path: str, *, at: str = "") -> list[JSON]:
    """Return the array at `path`.

    Args:
        obj: A decoded JSON object.
        path: Dotted path of the value inside `obj`.
        at: Path of `obj` inside the whole payload, for error messages.

    Returns:
        The array.

    Raises:
        PayloadError: The value is missing, null or not an array.
    """
    return as_list(get_value(obj, path, at=at), join(at, path))


def get_opt_list(obj: Mapping[str, JSON], path: str, *, at: str = "") -> list[JSON]:
    """Return the array at `path`, or an empty list when it is missing or null.

    Args:
        obj: A decoded JSON object.
        path: Dotted path of the value inside `obj`.
        at: Path of `obj` inside the whole payload, for error messages.

    Returns:
        The array, or [] when absent.

    Raises:
        PayloadError: The value is present and not an array.
    """
    value = get_opt_value(obj, path, at=at)
    if value is None:
        return []
    if type(value) is list:
        return value
    return as_list(value, join(at, path))


def get_opt_str_list(obj: Mapping[str, JSON], path: str, *, at: str = "") -> list[JSON]:
    """Return the array of strings at `path`, or an empty list when it is missing or null.

    Args:
        obj: A decoded JSON object.
        path: Dotted path of the value inside `obj`.
        at: Path of `obj` inside the whole payload, for error messages.

    Returns:
        The strings, or [] when absent.

    Raises:
        PayloadError: The value is present and not an array, or an item is not a string.
    """
    items = get_opt_list(obj, path, at=at)
    for i, item in enumerate(items):
        if type(item) is not str:  # the error's path is built only when there is one
            as_str(item, f"{join(at, path)}.{i}")
    return list(items)


def get_opt_names(obj: Mapping[str, JSON], path: str, key: str, *, at: str = "") -> list[JSON]:
    """Return `key` of each object in the array at `path` (label names, user logins).

    Objects without the key, or with it null, are skipped; a missing or null array reads
    as [].

    Args:
        obj: A decoded JSON object.
        path: Dotted path of the array inside `obj`.
        key: Dotted path of the string inside each item.
        at: Path of `obj` inside the whole payload, for error messages.

    Returns:
        The strings found, in order.

    Raises:
        PayloadError: The value is present and not an array, an item is not an object,
            or its `key` is present and not a string.
    """
    where = join(at, path)
    names: list[JSON] = []
    for i, item in enumerate(get_opt_list(obj, path, at=at)):
        name = get_opt_str(as_dict(item, f"{where}.{i}"), key, at=f"{where}.{i}")
        if name is not None:
            names.append(name)
    return names
