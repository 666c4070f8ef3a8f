"""Feed profiles from YAML files, one per feed, with errors that name the file, the field and the
problem (``profiles/wfm.yaml: endpoint.auth.password: Field required``).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from streamvane.errors import ConfigError
from streamvane.feeds.overlay import ENV_DIR, OverlayError, apply_overlay
from streamvane.feeds.profile import FeedProfile


class ProfileError(ConfigError):
    """One or more profile files are invalid; ``problems`` lists one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def profile_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        raise ProfileError([f"{directory}: not a directory"])
    return sorted(p for p in directory.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())


def read_mapping(path: Path) -> dict[str, Any]:
    """A YAML file's top-level mapping, or a :class:`ProfileError` naming the file and line."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ProfileError([f"{path}: cannot read: {exc.strerror}"]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ProfileError([f"{path}:{where} not valid YAML: {getattr(exc, 'problem', exc)}"]) from None
    if not isinstance(data, dict):
        raise ProfileError([f"{path}: expected a mapping of profile fields at the top level"])
    return data


def load_profile(path: Path, env: str | None = None) -> FeedProfile:
    """The profile of ``path``; with ``env``, its overlay in ``<dir>/env/<env>/`` applied."""
    data = read_mapping(path)
    label = str(path)
    if env is not None:
        overlay = overlays(path.parent, env).get(str(data.get("id")))
        if overlay is not None:
            try:
                data = apply_overlay(data, read_mapping(overlay), str(overlay))
            except OverlayError as exc:
                raise ProfileError([str(exc)]) from None
            label = f"{path} + {overlay}"
    try:
        return FeedProfile.model_validate(data)
    except ValidationError as exc:
        raise ProfileError(
            [
                f"{label}: {'.'.join(str(p) for p in err['loc']) or '<top>'}: {err['msg']}"
                for err in exc.errors(include_url=False)
            ]
        ) from None


def overlays(directory: Path, env: str) -> dict[str, Path]:
    """Profile id → its overlay file in ``<directory>/env/<env>/``."""
    found: dict[str, Path] = {}
    for path in profile_files(directory / ENV_DIR / env):
        profile_id = read_mapping(path).get("id")
        if not isinstance(profile_id, str):
            raise ProfileError([f"{path}: an overlay names the profile it changes: id: <profile id>"])
        if profile_id in found:
            raise ProfileError([f"{path}: id: {profile_id!r} is already overlaid by {found[profile_id]}"])
        found[profile_id] = path
    return found


def load_profiles(paths: Iterable[Path], env: str | None = None) -> tuple[FeedProfile, ...]:
    """Every file's profile (and one feed per further payload version: :meth:`FeedProfile.side_by_side`);
    all problems of all files are reported together, plus duplicate ids."""
    problems: list[str] = []
    profiles: list[FeedProfile] = []
    seen: dict[str, Path] = {}
    for path in paths:
        try:
            profile = load_profile(path, env)
        except ProfileError as exc:
            problems.extend(exc.problems)
            continue
        for feed in profile.side_by_side():
            if feed.id in seen:
                problems.append(f"{path}: id: {feed.id!r} is already used by {seen[feed.id]}")
                continue
            seen[feed.id] = path
            profiles.append(feed)
    if problems:
        raise ProfileError(problems)
    return tuple(profiles)


def load_profiles_dir(directory: Path, env: str | None = None) -> tuple[FeedProfile, ...]:
    """The directory's profiles; with ``env``, each with its overlay from ``env/<env>/`` (an
    overlay naming no profile of the directory is an error)."""
    profiles = load_profiles(profile_files(directory), env)
    if env is not None:
        ids = {p.id for p in profiles}
        stray = [
            f"{path}: id: no profile {pid!r} in {directory}"
            for pid, path in overlays(directory, env).items()
            if pid not in ids
        ]
        if stray:
            raise ProfileError(stray)
    return profiles
