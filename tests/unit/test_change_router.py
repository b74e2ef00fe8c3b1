"""Table changes reach exactly the reactions registered for their entity, kind and condition."""

from __future__ import annotations

from automations.logic.change_router import ChangeRouter, TableChange
from automations.logic.reactions import ROUTER


def change(event: str, new: dict | None, old: dict | None = None) -> TableChange:
    return TableChange(event=event, new=new, old=old)


def test_a_change_runs_every_matching_reaction_and_nothing_else() -> None:
    # Given a router with reactions for steps and runs
    router: ChangeRouter[list[str]] = ChangeRouter()
    seen: list[str] = []

    @router.on("step", "INSERT", "MODIFY")
    def any_step_change(c: TableChange, log: list[str]) -> str:
        log.append("step")
        return "noted"

    @router.on("step", "MODIFY", when=lambda c: c.changed("status"))
    def status_change(c: TableChange, log: list[str]) -> str:
        log.append("status")
        return "rolled up"

    @router.on("run", "INSERT")
    def new_run(c: TableChange, log: list[str]) -> str:
        log.append("run")
        return "started"

    # When a step's status changes
    done = router.route(
        change("MODIFY", {"entity": "step", "status": "failed"}, {"entity": "step", "status": "running"}), seen
    )
    # Then both step reactions ran, in registration order, and the run reaction did not
    assert done == ["any_step_change: noted", "status_change: rolled up"]
    assert seen == ["step", "status"]
    # and a step change that leaves the status alone skips the narrowed reaction
    assert router.route(
        change("MODIFY", {"entity": "step", "status": "failed", "x": 1}, {"entity": "step", "status": "failed"}), []
    ) == ["any_step_change: noted"]
    # and an entity or a kind nobody registered is ignored
    assert router.route(change("REMOVE", None, {"entity": "run"}), []) == []
    assert router.route(change("INSERT", {"entity": "apiKey"}), []) == []


def test_became_set_means_absent_before_and_present_now() -> None:
    assert change("MODIFY", {"outcome": "aborted"}, {}).became_set("outcome")
    assert not change("MODIFY", {"outcome": "aborted"}, {"outcome": "reached_end"}).became_set("outcome")
    assert not change("MODIFY", {}, {"outcome": "aborted"}).became_set("outcome")


def test_the_engines_reactions_are_one_entry_each() -> None:
    registered = {entity: [r.name for r in routes] for entity, routes in ROUTER.routes.items()}
    assert registered == {
        "execution": ["start_requested_execution", "follow_execution_end"],
        "run": ["start_first_execution", "stop_cancelled_run", "follow_run_leaving_waiting"],
        "step": ["roll_step_status_up"],
        "flow": ["follow_flow"],
    }
