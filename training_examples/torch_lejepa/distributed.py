"""torchrun glue: one process per device, gloo on CPU and nccl on CUDA."""

from __future__ import annotations

import dataclasses
import os

import torch
import torch.distributed as dist


@dataclasses.dataclass(frozen=True)
class Runtime:
    """Where this process runs, and its place in the job."""

    device: torch.device
    rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def start_runtime() -> Runtime:
    """Join the process group that torchrun describes in the environment (if any)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    cuda = torch.cuda.is_available()
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = torch.device("cuda", local_rank) if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    if world_size == 1:
        return Runtime(device)
    dist.init_process_group(backend="nccl" if cuda else "gloo")
    return Runtime(device, dist.get_rank(), dist.get_world_size())


def stop_runtime(runtime: Runtime) -> None:
    if runtime.distributed:
        dist.barrier()
        dist.destroy_process_group()

