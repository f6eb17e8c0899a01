"""Entry point of one DDP process under torchrun (`python -m core.ml.ddp --workspace W --job J`).

Rank 0 reports progress, epochs and results exactly as a single-process run does, then leaves an
outcome file for the worker that launched torchrun; the other ranks only train.
"""

from __future__ import annotations

import argparse
import json
import logging
import os

import torch
import torch.distributed as dist

from core import runs
from core.files import write_atomic
from core.ml import runner, runtime, trainer
from core.workspace import open_workspace

log = logging.getLogger(__name__)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m core.ml.ddp")
    parser.add_argument("--workspace", required=True)
    parser.add_argument("--job", type=int, required=True)
    args = parser.parse_args()
    runtime.tune_allocator()
    rank, world, local = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), int(os.environ["LOCAL_RANK"])
    logging.basicConfig(
        level=logging.INFO if rank == 0 else logging.WARNING,
        format=f"%(asctime)s rank{rank} %(levelname)s %(message)s",
        datefmt="%H:%M:%S",
    )
    cuda = torch.cuda.is_available()
    if cuda:
        torch.cuda.set_device(local)
    dist.init_process_group("nccl" if cuda else "gloo")
    ws = open_workspace(args.workspace)
    run = runs.run_for_job(ws.conn, args.job)
    outcome = {"status": "done"}
    hooks = runner.DbHooks(ws.layout.db_path, args.job, run.id) if rank == 0 else trainer.Hooks()
    try:
        if rank == 0:
            hooks.__enter__()
        result = trainer.run_training(runner.context(ws, run, hooks, rank=rank, world=world, local_rank=local))
        if rank == 0:
            runner.record_run(ws, run, result)
            log.info("steps per epoch: %d (%d processes)", result.steps_per_epoch, world)
    except Exception as exc:  # rank 0 reports how it ended; the launching worker records it
        if rank == 0:
            status, error, hint = runner.outcome_of(exc, hooks, run.config.batch_size)
        else:  # a cancelled rank exits cleanly, so torchrun does not kill rank 0 before it reports
            status, error, hint = ("cancelled" if isinstance(exc, trainer.Cancelled) else "failed"), str(exc), None
        outcome = {"status": status, "error": error, "hint": hint}
        if status == "failed":
            log.exception("rank %d failed", rank)
    finally:
        if rank == 0:
            hooks.__exit__(None, None, None)
            write_atomic(ws.layout.run_dir(run.id) / runner.OUTCOME, json.dumps(outcome).encode())
        dist.destroy_process_group()
        ws.close()
    return 0 if outcome["status"] != "failed" else 1


if __name__ == "__main__":
    raise SystemExit(main())
