"""Faults of the production shape, each on servers of its own: nothing lost, nothing run
twice. PostgreSQL restarted, Redis restarted, one of two API processes killed, the
services process killed."""

from __future__ import annotations

import signal

import pytest

from blueprint_harness.guide import expectations as expected
from blueprint_harness.guide import guide_steps
from blueprint_harness.guide.commands import deploy
from blueprint_harness.guide.faults import (
    fresh_requests,
    start_long_run,
    wait_ready_answers,
    whole_story,
)
from blueprint_harness.guide.schedules import daily_occurrences, local_times

pytestmark = pytest.mark.faults

# The services' recent-deployments loop runs every 5 s: three of them with nothing new.
SCHEDULER_SILENCE_SECONDS = 15


def settled_whole(stack, run):
    """The run once settled: its whole story, run once."""
    record, problems = whole_story(stack, run)

    assert not problems, "\n".join([*problems, record.describe()])
    return record


@pytest.mark.postgresql
def test_postgresql_restarted_mid_run_ready_says_so_and_the_run_keeps_its_history(
    production_stack, production_workers, faults_servers
):
    postgresql = faults_servers["postgresql"].process
    run = start_long_run(production_stack)

    postgresql.stop()
    down = wait_ready_answers(production_stack, lambda status: status == 503, "ready to say 503")
    postgresql.start()  # same cluster, same port
    wait_ready_answers(production_stack, lambda status: status == 200, "ready to say 200 again")

    assert down == 503
    settled_whole(production_stack, run)


@pytest.mark.production
def test_redis_restarted_mid_run_runs_end_and_their_events_and_logs_arrive(
    production_stack, production_workers, faults_servers
):
    redis = faults_servers["redis"].process
    run = start_long_run(production_stack)

    redis.stop()  # a graceful shutdown: the append-only file is kept
    redis.start()
    record = settled_whole(production_stack, run)

    assert any(expected.retry_announcement_pattern(3).search(m) for m in record.log_messages)


@pytest.mark.production
def test_one_api_process_killed_the_other_keeps_serving_and_it_is_replaced(
    production_stack, production_workers
):
    run = start_long_run(production_stack)
    before = production_stack.server.api_processes()
    victim = before[0]

    victim.kill()
    victim.wait(timeout=30)
    right_after = fresh_requests(f"{production_stack.sandbox.api_url}/health", 20)
    replaced = production_stack.monitor.wait_for(
        production_stack.server.api_processes,
        lambda now: len(now) == len(before) and victim.pid not in {p.pid for p in now},
        timeout=production_stack.runs.timeout,
        expected=f"the supervisor to replace API process {victim.pid}",
        describe=lambda now: str([p.pid for p in now]),
    )

    assert right_after.all_ok, f"requests right after the kill: {right_after}"
    assert len(replaced) == len(before) == 2
    settled_whole(production_stack, run)


@pytest.mark.production
def test_the_services_killed_scheduling_stops_and_restarted_it_catches_up_once(
    production_stack, production_workers, production_steps
):
    deployment = guide_steps.deployment(production_steps).result().deployment
    services = production_stack.server.services
    runs = production_stack.runs
    before = runs.wait_scheduled(deployment.id, at_least=1)

    services.send_signal(signal.SIGKILL)
    services.popen.wait(timeout=30)
    deploy(production_stack.cli)  # replaces the deployment's future scheduled runs
    while_down = runs.scheduled_during(deployment.id, seconds=SCHEDULER_SILENCE_SECONDS)
    services.start()
    after = runs.wait_scheduled(deployment.id, at_least=len(before))
    starts = sorted(run.expected_start_time for run in after)
    first = local_times(starts, expected.SCHEDULE_TIMEZONE)[0]

    assert while_down == [], [str(run) for run in while_down]
    assert len(starts) == len(set(starts)), "two scheduled runs for the same time"
    assert starts == daily_occurrences(
        first, expected.SCHEDULE_LOCAL_TIME, expected.SCHEDULE_TIMEZONE, len(starts)
    )
