"""The embedded scheduler: the beat schedule run in the web process where no beat runs."""
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from backend.alerts.models import Alert
from backend.core import scheduler
from backend.core.scheduler import EmbeddedScheduler, Job, jobs_from_beat_schedule
from tests.backend.factories import DeviceFactory, PatientFactory


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_each_job_runs_at_its_interval_and_a_failing_job_does_not_stop_the_others():
    clock, calls = Clock(), []

    def broken():
        calls.append("broken")
        raise RuntimeError("boom")

    jobs = [Job("often", 10, lambda: calls.append("often")), Job("broken", 10, broken),
            Job("rarely", 60, lambda: calls.append("rarely"))]
    runner = EmbeddedScheduler(jobs, clock=clock)
    assert runner.run_due() == [] and runner.seconds_to_next() == scheduler.FIRST_RUN_DELAY
    clock.now += scheduler.FIRST_RUN_DELAY
    assert runner.run_due() == ["often", "broken", "rarely"]
    clock.now += 10
    assert runner.run_due() == ["often", "broken"]
    clock.now += 50
    assert runner.run_due() == ["often", "broken", "rarely"]
    assert calls.count("often") == 3


def test_it_runs_every_beat_entry_and_the_alert_job_raises_real_alerts(clinician):
    jobs = {job.name: job for job in jobs_from_beat_schedule(settings.CELERY_BEAT_SCHEDULE)}
    assert set(jobs) == set(settings.CELERY_BEAT_SCHEDULE)
    assert jobs["evaluate-alerts"].interval == settings.CELERY_BEAT_SCHEDULE["evaluate-alerts"]["schedule"]
    patient = PatientFactory(clinicians=[clinician], consent_recorded_at=timezone.now() - timedelta(days=5))
    device = DeviceFactory(patient=patient)  # enrolled five days ago, and silent since
    type(device).objects.filter(pk=device.pk).update(enrolled_at=timezone.now() - timedelta(days=5))
    jobs["evaluate-alerts"].run()  # no upload for 5 days: the no-data rule
    assert Alert.objects.filter(patient=patient, kind=Alert.Kind.NO_DATA).exists()


def test_it_starts_only_where_settings_ask_for_it(settings, monkeypatch):
    settings.MOODWATCH_EMBEDDED_SCHEDULER = False
    assert scheduler.embedded_scheduler_start() is None
    settings.MOODWATCH_EMBEDDED_SCHEDULER = True
    settings.CELERY_BEAT_SCHEDULE = {"tick": {"task": "backend.alerts.tasks.evaluate_alerts", "schedule": 3600}}
    monkeypatch.setattr(scheduler, "_started", None)
    started = scheduler.embedded_scheduler_start()
    try:
        assert started is not None and started._thread.is_alive() and started._thread.daemon
        assert scheduler.embedded_scheduler_start() is started, "once per process"
    finally:
        started.stop()
    assert not started._thread.is_alive()
