"""Celery tasks looked up by name, so that services can enqueue them without importing them.

A task is a thin wrapper that calls a service, so an app's `tasks` module imports its `services`.
A service that enqueues work (a batch to process, an alert to e-mail) therefore names the task
instead of importing it: the name is a constant beside the service, the task is declared with
`@shared_task(name=...)` from that same constant, and each app's `ready()` imports its tasks module
so that the web process has them registered too (the worker also finds them by autodiscovery).
The object returned is the task itself: `.delay`, `.apply_async` and eager mode (`make run`) work as
with an imported task.
"""
from celery import Task, current_app


def task_named(name: str) -> Task:
    return current_app.tasks[name]
