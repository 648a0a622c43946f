"""Config fuzzing: any command line either runs a fast_dev_run step or stops with one clean error line.

The overrides are drawn from the config schema itself (the keys, defaults and ``a | b | c``
choices written in ``conf/``): valid values, near misses, wrong types (strings for numbers,
negative numbers, floats for ints, booleans, null, lists, interpolations), unknown and deleted
keys, unknown group options and groups set to things that are no option name (``model=3``).
Each command line goes through what ``run.py`` does, in this process: the group-override check,
Hydra's compose API, then :func:`framework.train.run.run` with ``trainer=debug`` (one fast_dev_run
step). A sample of the inputs the fuzzer found also runs through ``python run.py``.

A command line passes when it

- runs (``status: ok``), or
- fails with an :class:`~framework.core.errors.ArenaError` whose message is one line (the CLI prints
  it as ``error: ...`` and exits with status 2), or
- is refused by Hydra while composing: a ``CompactHydraException``, which ``run.py`` prints as
  one line, with exit status 2.

Anything else (a raw ``TypeError``, an OmegaConf error, a multi-line message) fails the test:
it would reach the user as a traceback.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import signal
import sys
import threading
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from conftest import CONF, QUIET, config_names
from hydra import compose, initialize_config_dir
from hydra.errors import CompactHydraException
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from omegaconf import DictConfig, OmegaConf

from framework.config.checks import is_number
from framework.config.group_overrides import check_group_overrides
from framework.core.errors import ArenaError
from framework.train.run import run

# ---------------------------------------------------------------------------------------------
# The schema: every leaf key of conf/, its default, and the choices its comment lists.
# ---------------------------------------------------------------------------------------------

GROUPS = ("modality", "model", "trainer", "logger", "callbacks")
"""The config groups whose keys are fuzzed (the top-level keys of ``config.yaml`` are fuzzed too)."""

LEFT_OUT = re.compile(r"(^|\.)(hydra|sweep|defaults)(\.|$)|dir(path)?$|^trainer\.fast_dev_run$")
"""Keys the fuzzer never sets: folders (a fuzzer must write nowhere but its own run folder),
``sweep`` (read by multiruns only), Hydra's own settings, and ``trainer.fast_dev_run`` (the one
step that makes every case cheap)."""


def _expensive_datasets(value: object) -> bool:
    return value in ("mnist", "cifar10", "pubmed")


def _several(value: object) -> bool:
    """Whether Lightning could read ``value`` as several devices or nodes: ``2``, ``-1`` (all), ``'3'``, ``[1, 2]``."""
    if isinstance(value, list):
        return True
    text = str(value).strip()
    return (
        not isinstance(value, bool) and re.fullmatch(r"-?\d+(,\s*\d+)*,?", text) is not None and text not in ("0", "1")
    )


EXPENSIVE: dict[str, Callable[[object], bool]] = {
    # Valid values that cannot run in a unit test; other tests cover them.
    "modality.dataset": _expensive_datasets,  # not in the offline data: they would download
    "modality.num_workers": lambda value: (
        isinstance(value, int) and not isinstance(value, bool) and value > 0
    ),  # forks workers
    "trainer.devices": _several,  # DDP would start processes by running pytest's command line again
    "trainer.num_nodes": _several,  # waits for other machines
    "compile.enabled": lambda value: value is True,  # torch.compile takes 10-18 s on CPU
    # draws every validation set: a minute of pictures
    "callbacks.attention_maps.examples": lambda value: is_number(value) and value > 16,
}
"""Per key, the values the fuzzer leaves out because they are valid but slow or start processes."""

CHOICES = re.compile(r"[\w.-]+(?: \([^)]*\))?(?: \| [\w.-]+(?: \([^)]*\))?)+")
"""An ``a | b (note) | c`` list in a comment: the documented options of a string key."""


@dataclass(frozen=True)
class Key:
    """One leaf of the config schema: ``model.heads`` with its default and documented choices."""

    path: str
    default: Any
    choices: tuple[Any, ...]


def comments(path: Path) -> dict[str, str]:
    """The comment on each key's line of a YAML file, by dotted path (nesting read from the indentation)."""
    found, stack = {}, []
    for line in path.read_text().splitlines():
        match = re.match(r"^(\s*)(\w+):([^#]*)(?:#(.*))?$", line)
        if not match:
            continue
        indent = len(match[1])
        stack = [(depth, name) for depth, name in stack if depth < indent] + [(indent, match[2])]
        found[".".join(name for _, name in stack)] = match[4] or ""
    return found


def keys_of(path: Path, prefix: str) -> list[Key]:
    """The leaf keys of one config file (and of the files of its group it lists in ``defaults``)."""
    if "@package _global_" in path.read_text():
        prefix = ""
    node = OmegaConf.to_container(OmegaConf.load(path), resolve=False)
    keys = []
    for base in node.pop("defaults", []) if isinstance(node, dict) else []:
        if isinstance(base, str) and (path.parent / f"{base}.yaml").is_file():
            keys += keys_of(path.parent / f"{base}.yaml", prefix)
    notes = comments(path)

    def walk(value: Any, dotted: str) -> None:
        if isinstance(value, dict) and value:
            for name, item in value.items():
                walk(item, f"{dotted}.{name}" if dotted else str(name))
            return
        full = f"{prefix}.{dotted}" if prefix else dotted
        if not LEFT_OUT.search(full):
            found = CHOICES.findall(notes.get(dotted, ""))
            options = [yaml.safe_load(option.split(" (")[0]) for choices in found for option in choices.split(" | ")]
            keys.append(Key(full, value, tuple(options)))

    walk(node if isinstance(node, dict) else {}, "")
    return keys


def schema() -> dict[str, list[Key]]:
    """The keys of every option of every fuzzed group (``model/attn``), and of ``config.yaml`` (``""``)."""
    found = {"": [key for key in keys_of(CONF / "config.yaml", "") if key.path.split(".")[0] not in GROUPS]}
    for group in GROUPS:
        for option in config_names(group):
            found[f"{group}/{option}"] = keys_of(CONF / group / f"{option}.yaml", group)
    return found


SCHEMA = schema()

# ---------------------------------------------------------------------------------------------
# Values and overrides.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Raw:
    """Override text written as is: an interpolation (``${seed}``) or text Hydra cannot parse."""

    text: str


WRONG: tuple[Any, ...] = (
    "x",
    "",
    "3",
    -1,
    0,
    2.5,
    -0.5,
    True,
    False,
    None,
    [1, 2],
    {"a": 1},
    Raw("${seed}"),
    Raw("${nope}"),
    Raw("${model.nope}"),
)
"""Values of the wrong type or range for most keys: strings, numbers, booleans, null, containers, interpolations."""

MALFORMED = (Raw("["), Raw("'open"), Raw("${"), Raw("a=b"), Raw("{a:"))
"""Override values that are not Hydra override syntax."""


def render(value: Any) -> str:
    """``value`` in Hydra's override syntax."""
    if isinstance(value, Raw):
        return value.text
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, list):
        return "[" + ",".join(map(render, value)) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{name}:{render(item)}" for name, item in value.items()) + "}"
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def nearby(default: Any) -> list[Any]:
    """Values of the default's own type around it: zero, negatives, doubling, halving."""
    if isinstance(default, bool):
        return [not default]
    if isinstance(default, int):
        return [default + 1, 2 * default, default // 2, -default, 1, 0, -1]
    if isinstance(default, float):
        return [default / 2, 2 * default, 0.0, 1.0, 1.5, -default]
    return []


def values_for(key: Key) -> list[Any]:
    """What a user might type for ``key``: default and choices first (hypothesis shrinks to them), then the rest."""
    interpolated = isinstance(key.default, str) and "${" in key.default
    candidates = ([] if interpolated else [key.default]) + list(key.choices) + nearby(key.default) + list(WRONG)
    expensive = EXPENSIVE.get(key.path, lambda value: False)
    unique = []
    for value in candidates:
        if not expensive(value) and not any(value == seen and type(value) is type(seen) for seen in unique):
            unique.append(value)
    return unique


@dataclass(frozen=True)
class CommandLine:
    """The group options and the overrides of one drawn command line."""

    options: dict[str, str]
    overrides: tuple[str, ...]

    def args(self) -> list[str]:
        return [f"{group}={option}" for group, option in self.options.items()] + list(self.overrides)


CHEAP = {
    "image": ["modality.eval_batch_size=64"],
    "text": ["modality.dataset=ambiguity", "modality.sentences=200", "modality.eval_batch_size=64"],
    "speech": ["modality.task=utterance", "modality.eval_batch_size=16"],  # an RNN over connected digits takes seconds
}
"""Per modality, settings keeping a step fast (with ``model.layers=1``); drawn overrides follow and may change them."""


def option_of(options: list[str] | tuple[str, ...]) -> st.SearchStrategy[str]:
    """One of ``options``; in about one draw in 15, an option that does not exist or a value that is no name.

    Such values are ``3`` or ``null``.
    """
    odd = ["nope", "nope", *(render(value) for value in WRONG if not isinstance(value, str))]
    return st.sampled_from([*options] * (200 // len(options)) + odd)


def keys_for(options: dict[str, str]) -> list[Key]:
    """The keys of the chosen options and of ``config.yaml``: the keys the composed config has."""
    return SCHEMA[""] + [key for group, option in options.items() for key in SCHEMA.get(f"{group}/{option}", [])]


@st.composite
def overrides(draw: st.DrawFn, options: dict[str, str]) -> str:
    """One override: a key of this config (or of another option) with a drawn value, or an unknown or deleted key."""
    own = keys_for(options)
    every = [key for keys in SCHEMA.values() for key in keys]
    kind = draw(
        st.sampled_from(
            ["set"] * 8 + ["other_option", "unknown", "add_unknown", "add_top", "delete", "delete_group", "malformed"]
        )
    )
    if kind in ("set", "other_option"):
        key = draw(st.sampled_from(own if kind == "set" else every))
        return f"{key.path}={render(draw(st.sampled_from(values_for(key))))}"
    if kind == "malformed":
        return f"{draw(st.sampled_from(own)).path}={render(draw(st.sampled_from(MALFORMED)))}"
    if kind == "delete":
        return f"~{draw(st.sampled_from(own)).path}"
    if kind == "delete_group":
        return f"~{draw(st.sampled_from(GROUPS))}"
    if kind == "add_top":
        return "+nonsense=1"
    group = draw(st.sampled_from(GROUPS))
    return f"{'+' if kind == 'add_unknown' else ''}{group}.nonsense=1"


@st.composite
def command_lines(draw: st.DrawFn, modalities: tuple[str, ...], loggers: tuple[str, ...]) -> CommandLine:
    """A command line: group options (``trainer=debug`` unless the option does not exist) and 0-4 overrides."""
    options = {
        "modality": draw(option_of(modalities)),
        "model": draw(option_of(config_names("model"))),
        "trainer": draw(option_of(["debug"])),
        "logger": draw(option_of(loggers)),
        "callbacks": draw(option_of(config_names("callbacks"))),
    }
    drawn = draw(st.lists(overrides(options), max_size=4))
    cheap = CHEAP.get(options["modality"], []) + (
        ["model.layers=1"] if options["model"] in config_names("model") else []
    )
    return CommandLine(options, tuple(cheap + drawn))


# ---------------------------------------------------------------------------------------------
# Running one command line in this process.
# ---------------------------------------------------------------------------------------------


@contextmanager
def torch_state_kept() -> Iterator[None]:
    """Restores the process-wide torch settings a run may change (``trainer.deterministic``, precision)."""
    deterministic, dtype = torch.are_deterministic_algorithms_enabled(), torch.get_default_dtype()
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(deterministic)
        torch.set_default_dtype(dtype)


def outcome(command: CommandLine, run_dir: Path, cache_dir: Path) -> str:
    """``ran``, ``error`` (one line), or ``hydra`` (refused while composing); any other exception propagates."""
    base = [
        f"output_dir={run_dir}",
        f"cache_dir={cache_dir}",
        *QUIET[1:],
        "callbacks.attention_maps.examples=1",
        "trainer.enable_model_summary=false",
        "+trainer.enable_progress_bar=false",
    ]
    try:
        check_group_overrides(command.args())  # what run.py checks before Hydra reads the command line
    except ArenaError:
        return "error"
    try:
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            cfg: DictConfig = compose("config", overrides=[*base, *command.args()])
    except CompactHydraException:
        return "hydra"
    with torch_state_kept(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            results = run(cfg)
        except ArenaError as error:
            assert "\n" not in str(error), f"a multi-line error message: {error}"
            return "error"
    assert results["status"] == "ok"
    return "ran"


def fuzz(
    tmp_path: Path, cache_dir: Path, examples: int, modalities: tuple[str, ...], loggers: tuple[str, ...]
) -> Counter:
    """Runs ``examples`` drawn command lines and counts their outcomes."""
    tally: Counter = Counter()
    cases = itertools.count()

    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        print_blob=False,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(command=command_lines(modalities, loggers))
    def check(command: CommandLine) -> None:
        tally[outcome(command, tmp_path / f"case{next(cases)}", cache_dir)] += 1

    check()
    return tally


def quiet(caplog: pytest.LogCaptureFixture) -> None:
    """Keeps Lightning's start-up lines of every case out of the report (it sets its own loggers to INFO)."""
    for name in ("", "pytorch_lightning", "lightning_fabric"):
        caplog.set_level(logging.WARNING, logger=name or None)


def report(tally: Counter, record_property: Callable[[str, object], None], capsys: pytest.CaptureFixture) -> None:
    """Records how many cases were tried (``fuzz_cases`` in a JUnit report) and prints it past pytest's capture."""
    cases = sum(tally.values())
    record_property("fuzz_cases", cases)
    with capsys.disabled():
        print(
            f"\nconfig fuzz: {cases} cases: {tally['ran']} ran, {tally['error']} one-line errors, "
            f"{tally['hydra']} refused by Hydra"
        )


FAST_MODALITIES = ("image", "image", "image", "image", "graph", "text")
"""The digits (no download) most often; Cora and the generated text sometimes. Speech features take
20-35 s to compute for each new setting, so speech is fuzzed in the slow test only."""


def test_any_command_line_runs_a_step_or_stops_with_one_clean_error(
    tmp_path, shared_cache, record_property, capsys, caplog
):
    """Drawn command lines on the fast modalities: none ends in an uncaught exception."""
    quiet(caplog)
    tally = fuzz(tmp_path, shared_cache, 150, FAST_MODALITIES, ("csv", "none"))
    report(tally, record_property, capsys)
    assert tally["ran"] and tally["error"] and tally["hydra"], "the fuzzer stopped covering one of the outcomes"


@pytest.mark.slow
def test_any_command_line_on_any_modality_or_logger_runs_a_step_or_stops_with_one_clean_error(
    tmp_path, shared_cache, record_property, capsys, caplog
):
    """More drawn command lines, speech and W&B (offline) included."""
    quiet(caplog)
    tally = fuzz(tmp_path, shared_cache, 1000, (*FAST_MODALITIES, "speech"), tuple(config_names("logger")))
    report(tally, record_property, capsys)


# ---------------------------------------------------------------------------------------------
# Extreme values, every numeric and string key of every option: each case under a time limit.
# ---------------------------------------------------------------------------------------------

EXTREME_NUMBERS: tuple[Any, ...] = (0, -1, 10**12, float("nan"), float("inf"), float("-inf"))
EXTREME_TEXTS: tuple[Any, ...] = ("", "ß字π✓", "x" * 1000)
MORE_NUMBERS: tuple[Any, ...] = (-(10**12), 1e-12, 2**64)  # 2**64 overflows every integer tensor type
MORE_TEXTS: tuple[Any, ...] = (" ", "../../..", "${oc.env:ARENA_NO_SUCH_VARIABLE}")
VALUES_PER_KEY = 2
"""In the default size each key gets this many of its type's extreme values, in turn, so that
every value still meets many keys; the slow size tries every value on every key."""
CASE_SECONDS = 180
"""The most one case may take (the first speech case computes its features: 20-35 s alone, more on busy cores):
a value that makes a run hang fails the test instead of stalling it."""


def extreme_cases(every: bool) -> Iterator[Any]:
    """Cases (the group option that has the key, ``key=value``) for every numeric and string key of every option.

    ``every``: each key with all extreme values of its type, more of them; otherwise
    :data:`VALUES_PER_KEY` of them, taken in turn along the keys.
    """
    numbers, texts = (
        (EXTREME_NUMBERS + MORE_NUMBERS, EXTREME_TEXTS + MORE_TEXTS) if every else (EXTREME_NUMBERS, EXTREME_TEXTS)
    )
    turn = itertools.count()
    for option, keys in SCHEMA.items():
        group, _, name = option.partition("/")
        if group == "trainer" and name != "debug":  # one fast_dev_run step; ddp would run pytest again, gpu needs one
            continue
        options = {group: name} if group else {}
        for key in keys:
            numeric = isinstance(key.default, (int, float)) and not isinstance(key.default, bool)
            values = numbers if numeric else texts if isinstance(key.default, str) else ()
            if values and not every:
                start = next(turn) * VALUES_PER_KEY
                values = tuple(values[(start + step) % len(values)] for step in range(VALUES_PER_KEY))
            expensive = EXPENSIVE.get(key.path, lambda value: False)
            for value in (value for value in values if not expensive(value)):
                case = f"{key.path}={render(value)}"
                yield pytest.param(options, case, id=f"{option or 'config'}:{case[:40]}")


@contextmanager
def time_limit(seconds: int, what: str) -> Iterator[None]:
    """Raises ``TimeoutError`` in this (main) thread if the block runs longer than ``seconds``.

    A block stuck where no Python code runs (waiting on processes it started) cannot be
    interrupted: at twice the limit a watchdog names it and ends the test process, so a hang is
    a loud failure, never a stalled suite.
    """

    def expire(signum: int, frame: Any) -> None:
        raise TimeoutError(f"no answer within {seconds} s: {what}")

    def end_the_process() -> None:
        print(f"\nhung for {2 * seconds} s, stopping the tests: {what}", file=sys.__stderr__, flush=True)
        os._exit(3)

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    watchdog = threading.Timer(2 * seconds, end_the_process)
    watchdog.daemon = True
    watchdog.start()
    try:
        yield
    finally:
        watchdog.cancel()
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def run_extreme_case(options: dict[str, str], override: str, run_dir: Path, cache_dir: Path) -> None:
    """One extreme value on the cheapest setting of its option: it runs a step, or stops with one line, in time
    and with nothing written."""
    defaults = {"modality": "image", "model": "attn", "trainer": "debug", "logger": "none", "callbacks": "default"}
    chosen = defaults | options
    cheap = CHEAP.get(chosen["modality"], []) + ["model.layers=1"]
    command = CommandLine(chosen, (*cheap, override))
    with time_limit(CASE_SECONDS, " ".join(command.args())):
        result = outcome(command, run_dir, cache_dir)
    left = sorted(path.name for path in run_dir.iterdir()) if run_dir.exists() else []
    assert result == "ran" or not left, f"a refused command left {left} in its run folder"


@pytest.mark.parametrize(("options", "override"), list(extreme_cases(every=False)))
def test_an_extreme_value_runs_a_step_or_stops_with_one_clean_error_in_time(
    options, override, tmp_path, shared_cache, caplog
):
    quiet(caplog)
    run_extreme_case(options, override, tmp_path / "run", shared_cache)


@pytest.mark.slow
@pytest.mark.parametrize(("options", "override"), list(extreme_cases(every=True)))
def test_every_extreme_value_on_every_key_runs_a_step_or_stops_with_one_clean_error_in_time(
    options, override, tmp_path, shared_cache, caplog
):
    quiet(caplog)
    run_extreme_case(options, override, tmp_path / "run", shared_cache)


# ---------------------------------------------------------------------------------------------
# Names that become paths, and values Hydra resolves itself, through the command line.
# ---------------------------------------------------------------------------------------------

PATH_KEYS = (
    "model.name",
    "modality.name",
    "hydra.job.name",
    "callbacks.checkpoint.filename",
    "logger.name",
    "output_dir",
    "hydra.run.dir",
)
"""Keys whose values become (part of) the path of a file or folder the run writes."""
HOSTILE_NAMES = ("../x", "a/b", "..", ".", "", "${oc.env:ARENA_NO_SUCH_VARIABLE}", "${nope}")
"""Names that would lead a file out of its folder or that cannot be resolved (a folder key may name ``../x``, and
a logger an empty name)."""


def path_cases(every: bool) -> Iterator[Any]:
    """``key=value`` for the keys of :data:`PATH_KEYS` with hostile values: all of them (``every``), else two each,
    taken in turn."""
    turn = itertools.count()
    for key in PATH_KEYS:
        values = [
            value
            for value in HOSTILE_NAMES
            if not (key.endswith("dir") and value in ("../x", "a/b"))
            and not (key == "logger.name" and value == "")  # Lightning's way to log in save_dir itself
        ]
        if not every:
            start = next(turn) * VALUES_PER_KEY
            values = [values[(start + step) % len(values)] for step in range(VALUES_PER_KEY)]
        for value in values:
            yield pytest.param(f"{key}={render(value)}", id=f"{key}={value}")


def check_path_case(cli, tmp_path: Path, override: str) -> None:
    """The command stops with one line and exit status 2, and writes nothing: not beside its folder, not in it."""
    beside = sorted(tmp_path.parent.iterdir())
    folder = [] if override.startswith("hydra.run.dir=") else [f"hydra.run.dir={tmp_path / 'run'}"]

    result = cli("trainer=debug", "logger=csv", *QUIET[1:], *folder, override)

    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: ")
    assert sorted(tmp_path.parent.iterdir()) == beside and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("override", list(path_cases(every=False)))
def test_a_hostile_name_or_unresolvable_path_stops_the_command_in_one_line_writing_nothing(cli, tmp_path, override):
    check_path_case(cli, tmp_path, override)


@pytest.mark.slow
@pytest.mark.parametrize("override", list(path_cases(every=True)))
def test_every_hostile_name_on_every_path_key_stops_the_command_in_one_line_writing_nothing(cli, tmp_path, override):
    check_path_case(cli, tmp_path, override)


# ---------------------------------------------------------------------------------------------
# The same through the command line: a sample of what the fuzzer found.
# ---------------------------------------------------------------------------------------------

FOUND = {
    "group_set_to_a_number": ["model=3"],  # was Hydra's ValueError traceback
    "key_for_a_base_class": ["+modality.nonsense=1"],  # was a TypeError from Modality.__init__
    "unresolvable_interpolation": ["model.dim=${nope}"],  # was omegaconf's InterpolationKeyError
}


@pytest.mark.parametrize("overrides", FOUND.values(), ids=FOUND.keys())
def test_an_input_the_fuzzer_found_stops_the_command_with_one_error_line(cli, overrides):
    result = cli("trainer=debug", *QUIET, *overrides)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: ")


def test_hydra_refuses_an_unknown_key_in_one_line(cli):
    """What the in-process check assumes of a ``CompactHydraException``: run.py says it in one line, exit status 2."""
    result = cli("trainer=debug", *QUIET, "model.nonsense=1")
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: Could not override 'model.nonsense'; To append to your config use +model.nonsense=1")
