"""Checks that no plugin owns: every value resolves, ``_target_`` names a class, keys and types fit a constructor.

Each turns what would be a traceback (an OmegaConf error, a ``TypeError`` from binding the
arguments, an import error) into a one-line :class:`~framework.core.errors.ConfigError` naming the key
as the user would override it.
"""

from __future__ import annotations

import inspect
import math
import re
import types
import typing
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from hydra._internal.utils import _locate
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import (
    ConfigAttributeError,
    ConfigKeyError,
    InterpolationResolutionError,
    MissingMandatoryValue,
    OmegaConfBaseException,
)

from framework.core.errors import ArenaError, ConfigError, MissingValue, require

MAX_SEED = 2**32 - 1
"""The largest seed numpy (and so Lightning's ``seed_everything``) accepts."""


def raw_value(cfg: DictConfig, key: str) -> Any:
    """The value at dotted ``key`` (``logger.tags[0]``) as written, interpolations unresolved; None if absent."""
    value: Any = OmegaConf.to_container(cfg, resolve=False)
    for part in re.findall(r"[^.\[\]]+", key):
        try:
            value = value[int(part)] if isinstance(value, list) else value[part]
        except (KeyError, IndexError, TypeError, ValueError):
            return None
    return value


def unresolvable(error: OmegaConfBaseException, cfg: DictConfig) -> ArenaError:
    """The one-line error for a value OmegaConf could not resolve, or a key that is missing (deleted with ``~``)."""
    key = getattr(error, "full_key", None) or "config"
    reason = str(error).splitlines()[0] if str(error) else type(error).__name__
    if isinstance(error, InterpolationResolutionError):
        return ConfigError(key, raw_value(cfg, key), f"cannot be resolved: {reason}")
    if isinstance(error, (ConfigAttributeError, ConfigKeyError, MissingMandatoryValue)):
        return MissingValue(key, "the run")
    return ArenaError(f"invalid config value {key}: {reason}")


def check_resolves(cfg: DictConfig) -> None:
    """Raises :class:`ConfigError` naming the first value that does not resolve (``${nope}``, a resolver's failure)."""
    try:
        OmegaConf.to_container(cfg, resolve=True)
    except OmegaConfBaseException as error:
        raise unresolvable(error, cfg) from None


@contextmanager
def config_errors(cfg: DictConfig) -> Iterator[None]:
    """Turns an OmegaConf error raised while reading ``cfg`` (a key deleted with ``~``) into a one-line error."""
    try:
        yield
    except OmegaConfBaseException as error:
        raise unresolvable(error, cfg) from None


def is_number(value: object) -> bool:
    """Whether ``value`` is an int or a float (``true`` is not a number here, although Python's bool is an int)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def seed_of(cfg: DictConfig) -> int:
    """``cfg.seed``, checked: a whole number that numpy accepts (``seed_everything`` would raise a ``ValueError``)."""
    if "seed" not in cfg:
        raise MissingValue("seed", "every run")
    with config_errors(cfg):
        seed = cfg.get("seed")
    require(
        isinstance(seed, int) and not isinstance(seed, bool) and 0 <= seed <= MAX_SEED,
        "seed",
        seed,
        f"must be a whole number from 0 to {MAX_SEED}",
    )
    return seed


def target_of(cfg: DictConfig, group: str, base: type) -> type:
    """The class ``cfg._target_`` names, a subclass of ``base``; else a :class:`ConfigError` for ``group._target_``."""
    target = cfg.get("_target_")
    expected = f"must name a subclass of {base.__module__}.{base.__qualname__}"
    try:
        found = _locate(target) if isinstance(target, str) and target else None
    except (ImportError, ValueError, AttributeError):
        raise ConfigError(f"{group}._target_", target, f"{expected}; it cannot be imported") from None
    if not (isinstance(found, type) and issubclass(found, base)):
        raise ConfigError(f"{group}._target_", target, expected)
    return found


@dataclass(frozen=True)
class Parameters:
    """The keyword arguments a class or function takes from a config.

    ``types`` maps each parameter reached to its annotation (or None): for a class, those of its
    ``__init__`` and, through ``**kwargs``, of each base class's ``__init__`` that receives them.
    ``closed`` is False when a ``**kwargs`` reaches no further signature that would name them.
    ``required`` are the parameters of the first signature without a default.
    """

    types: dict[str, Any]
    required: frozenset[str]
    closed: bool


def annotations(function: Any) -> dict[str, Any]:
    """``function``'s evaluated annotations, less any that cannot be evaluated (a name imported for type checkers)."""
    function = inspect.unwrap(function)
    try:
        return typing.get_type_hints(function)
    except Exception:  # noqa: BLE001 - then one at a time: annotations only sharpen the checks
        pass
    hints = {}
    for name, annotation in getattr(function, "__annotations__", {}).items():
        try:
            one = types.SimpleNamespace(__annotations__={name: annotation})
            hints[name] = typing.get_type_hints(one, globalns=getattr(function, "__globals__", {}))[name]
        except Exception:  # noqa: BLE001 - the constructor still checks this one itself
            continue
    return hints


def parameters_of(target: Any, kwargs_to: Any = None) -> Parameters:
    """The :class:`Parameters` of ``target(...)``; for a class, following ``**kwargs`` up its bases.

    ``kwargs_to`` is the function that receives what is left in ``**kwargs`` when no base class
    takes it (a W&B logger passes its other settings to ``wandb.init``).
    """
    if isinstance(target, type):
        inits = [vars(klass).get("__init__") for klass in target.__mro__ if klass is not object]
        signatures = [(init, True) for init in inits if init is not None]
    else:
        signatures = [(target, False)]
    if kwargs_to is not None:
        signatures.append((kwargs_to, False))
    found: dict[str, Any] = {}
    required: frozenset[str] | None = None
    for function, bound in signatures:
        params = list(inspect.signature(function).parameters.values())[1 if bound else 0 :]  # a method without self
        named = [param for param in params if param.kind not in (param.VAR_KEYWORD, param.VAR_POSITIONAL)]
        hints = annotations(function)
        for param in named:
            found.setdefault(param.name, hints.get(param.name))
        if required is None:
            required = frozenset(param.name for param in named if param.default is param.empty)
        if not any(param.kind is param.VAR_KEYWORD for param in params):
            return Parameters(found, required, closed=True)
    return Parameters(found, required or frozenset(), closed=False)


TYPES = {
    int: (int,),
    float: (int, float),
    str: (str,),
    bool: (bool,),
    type(None): (type(None),),
    dict: (dict,),
    list: (list,),
}
"""The Python types a config value may have for each annotation (an int is a valid float)."""


def union_parts(hint: Any) -> tuple[Any, ...]:
    """``int | None`` → ``(int, NoneType)``; ``dict[str, int]`` → ``(dict,)``; a plain type → itself."""
    union = isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union
    parts = typing.get_args(hint) if union else (hint,)
    return tuple(typing.get_origin(part) or part for part in parts)


def allowed_types(hint: Any) -> tuple[type, ...] | None:
    """The value types ``hint`` allows; None when it is not made of the types in :data:`TYPES`."""
    parts = union_parts(hint)
    if not all(part in TYPES for part in parts):
        return None
    return tuple(allowed for part in parts for allowed in TYPES[part])


def type_name(hint: Any) -> str:
    """``int``, ``int or null``: an annotation as a user reads it."""
    return " or ".join("null" if part is type(None) else part.__name__ for part in union_parts(hint))


def check_types(parameters: Parameters, options: dict[str, Any], group: str) -> None:
    """Checks each option against the type its parameter is annotated with."""
    for key, value in options.items():
        hint = parameters.types.get(key)
        allowed = allowed_types(hint) if hint is not None else None
        # bool is an int in Python, but `dim=true` is a mistake, not a width.
        if allowed and (not isinstance(value, allowed) or (bool not in allowed and isinstance(value, bool))):
            raise ConfigError(f"{group}.{key}", value, f"must be of type {type_name(hint)}")


INT64_MAX = 2**63 - 1
"""The largest integer a tensor, a sampler or a step counter holds."""


def check_numbers(target: Any, options: dict[str, Any], group: str) -> None:
    """Refuses NaN, ±inf and integers beyond 64 bits in every option, inside lists and mappings too.

    A class allows +inf ("no limit") for the options it names in ``unbounded``; nothing takes NaN.
    """
    unbounded = getattr(target, "unbounded", ())
    for key, value in options.items():
        for number in numbers_in(value):
            if isinstance(number, int) and abs(number) > INT64_MAX:
                raise ConfigError(f"{group}.{key}", value, f"must be within ±{INT64_MAX:,} (a 64-bit integer)")
            if isinstance(number, float) and (
                math.isnan(number) or not (math.isfinite(number) or (key in unbounded and number > 0))
            ):
                limit = " (or inf for no limit)" if key in unbounded else ""
                raise ConfigError(f"{group}.{key}", value, f"must be a finite number{limit}")


def numbers_in(value: Any) -> Iterator[int | float]:
    """Every number in ``value`` (not booleans), a number or nested lists and mappings of them."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from numbers_in(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from numbers_in(item)


def check_keys(target: Any, parameters: Parameters, options: dict[str, Any], group: str, supplied: set[str]) -> None:
    """Refuses keys ``target`` does not take and reports the ones it needs that are missing (deleted with ``~``)."""
    accepted = sorted(parameters.types.keys() - supplied)
    for key in sorted(options.keys() & supplied):
        raise ConfigError(f"{group}.{key}", options[key], "unknown key; the run sets it itself")
    if parameters.closed:
        for key in options.keys() - parameters.types.keys():
            raise ConfigError(f"{group}.{key}", options[key], f"unknown key; {group} accepts {', '.join(accepted)}")
    for key in sorted(parameters.required - options.keys() - supplied):
        raise MissingValue(f"{group}.{key}", getattr(target, "__name__", group))


BINDING = re.compile(
    r"^(?P<callee>[\w.]+)\(\) (?:got an unexpected keyword argument '(?P<unknown>\w+)'"
    r"|got multiple values for (?:keyword )?argument '(?P<fixed>\w+)'"
    r"|missing \d+ required (?:positional |keyword-only )?arguments?: '(?P<missing>\w+)')"
)


def binding_error(error: TypeError, cls: type, options: dict[str, Any], group: str) -> ConfigError | None:
    """The config error behind a ``TypeError`` raised while binding a constructor's arguments, else None.

    Only errors that name the ``__init__`` of ``cls`` or of one of its bases count: a ``TypeError``
    from inside a constructor is a bug, not a config mistake.
    """
    match = BINDING.match(str(error))
    inits = {f"{klass.__qualname__}.__init__" for klass in cls.__mro__}
    # Python names the callee by its qualified name, module first where it knows it
    # (framework.core.modality.Modality.__init__).
    if match is None or not any(match["callee"] == init or match["callee"].endswith(f".{init}") for init in inits):
        return None
    if key := match["unknown"]:
        return ConfigError(f"{group}.{key}", options.get(key), f"unknown key for {cls.__name__}")
    if key := match["fixed"]:
        return ConfigError(f"{group}.{key}", options.get(key), f"unknown key; {cls.__name__} sets it itself")
    return MissingValue(f"{group}.{match['missing']}", cls.__name__)


def check_options(
    target: Any, options: dict[str, Any], group: str, supplied: Iterable[str] = (), kwargs_to: Any = None
) -> None:
    """Checks ``options`` for ``target(**options, <supplied>)``: known keys, none missing, values of annotated types,
    finite numbers within 64 bits.

    ``supplied`` are the arguments the caller passes itself; ``kwargs_to``: see :func:`parameters_of`.
    """
    parameters = parameters_of(target, kwargs_to)
    check_keys(target, parameters, options, group, set(supplied))
    check_types(parameters, options, group)
    check_numbers(target, options, group)


def rejected(error: InstantiationException, cfg: DictConfig, group: str) -> Exception:
    """What to raise for a config ``group`` whose class refused its values: a :class:`ConfigError` naming the key.

    Hydra wraps what the constructor raised. Our own classes raise ``ConfigError``; Lightning's raise
    ``ValueError``, ``TypeError``, ``MisconfigurationException`` or (for a value needing a package that is
    not installed) ``ImportError``, whose message names the setting
    (not always in the override's spelling), so the key is the config key the message mentions.
    Anything else is not a config mistake and is returned unchanged.
    """
    from lightning_fabric.utilities.exceptions import MisconfigurationException  # here: this module imports no torch

    cause = error.__cause__
    if isinstance(cause, ConfigError):
        return cause.in_group(group)
    if not isinstance(cause, (ValueError, TypeError, MisconfigurationException, ImportError)):
        return error
    return mentioned(cause, cfg, group)


def mentioned(cause: Exception, cfg: DictConfig, group: str) -> ArenaError:
    """A one-line error for a value of ``group`` a library refused with ``cause``, naming the key it mentions."""
    message = " ".join(str(cause).split())
    keys = [str(key) for key in cfg if not str(key).startswith("_")]
    # The key as a word (`devices`, devices=) before one inside another word (CPUAccelerator names no accelerator).
    key = next((key for key in keys if re.search(rf"(?<![\w.]){re.escape(key)}(?!\w)", message)), None) or next(
        (key for key in keys if key.lower() in message.lower()), None
    )
    if key is None:
        return ArenaError(f"invalid {group} config: {message}")
    return ConfigError(f"{group}.{key}", OmegaConf.to_container(cfg, resolve=True)[key], message)


HYDRA_KEYS = ("_target_", "_partial_", "_args_", "_convert_", "_recursive_")
"""Keys that tell Hydra's ``instantiate`` how to build, not what to pass."""


def instantiated(cfg: DictConfig, group: str, base: type, supplied: Iterable[str] = (), **kwargs: Any) -> Any:
    """``instantiate(cfg, **kwargs)`` once its target, keys and value types check; a refused value names ``group.key``.

    ``supplied`` are arguments given later (an optimizer's ``params``), ``kwargs`` those given now.
    """
    cls = target_of(cfg, group, base)
    options = {key: value for key, value in OmegaConf.to_container(cfg, resolve=True).items() if key not in HYDRA_KEYS}
    check_options(cls, options, group, {*supplied, *kwargs})
    try:
        return instantiate(cfg, **kwargs)
    except InstantiationException as error:
        raise rejected(error, cfg, group) from None
