"""Task registry: recipe `task:` names -> task classes."""

from __future__ import annotations

import importlib

from attnlab.errors import UserError

_TASKS = {
    "translation": "attnlab.tasks.translation:TranslationTask",
    "classification": "attnlab.tasks.classification:ClassificationTask",
    "lm": "attnlab.tasks.lm:LanguageModelTask",
    "chat": "attnlab.tasks.chat:ChatTask",
    "classic": "attnlab.tasks.classic:ClassicTask",
}


def task_names() -> list[str]:
    return sorted(_TASKS)


def get_task(name: str):
    if not isinstance(name, str) or name not in _TASKS:  # a list or mapping (YAML) is no task name
        raise UserError(f"unknown task {name!r}; valid tasks: {', '.join(task_names())}")
    module, cls = _TASKS[name].split(":")
    return getattr(importlib.import_module(module), cls)
