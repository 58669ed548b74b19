"""Batch formation of one model on one instance, per scheduling policy (see eoesim.serving.settings).

``form_batch`` decides the next iteration of a model: which sequences decode, which prompt tokens are
processed, which waiting sequences are admitted (KV blocks for their whole prompt, keeping the
watermark free), and how many identical decode steps may run as one event. It asks the engine's
``KVSpace`` whether blocks fit and records admissions and allocations through it; it never advances time.

Policies follow the systems they are named after (vLLM v0 ``Scheduler``, Sarathi-Serve, Orca), as
re-implemented by Vidur's replica schedulers:
- ``continuous``: decodes of every running sequence + whole prompts of running partial prefills and of
  newly admitted sequences, FCFS, while ``max_num_seqs`` and ``max_batched_tokens`` allow (a prompt longer
  than the budget runs alone);
- ``chunked_prefill``: decodes first, then the remaining prompt chunks of running prefills, then new
  sequences, each taking ``min(its remaining prompt, the token budget left)`` of ``chunk_tokens``;
- ``prefill_priority``: if a waiting sequence can be admitted, an iteration of prompts only; otherwise a
  decode iteration;
- ``static``: when no static batch is running, up to ``max_num_seqs`` waiting sequences form one (KV for
  prompt + output reserved up front), prefill together padded to the longest prompt, then decode padded
  until the longest output is done; finished sequences keep their slot.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Protocol

from eoesim.serving.sequences import RUNNING, Seq


class KVSpace(Protocol):
    def fits(self, seq: Seq, blocks: int, watermark: float) -> bool: ...
    def alloc(self, seq: Seq, blocks: int, hold: bool = True) -> None: ...
    def hold(self, seq: Seq, blocks: int) -> None: ...
    def admit(self, seq: Seq) -> None: ...
    def reserve_admission(self, seq: Seq, blocks: int) -> bool: ...


@dataclass
class ModelState:
    """One model (expert) served by one instance: its queues."""

    name: str
    costs: object  # serving.costs.ModelCosts
    waiting: deque = field(default_factory=deque)
    running: list = field(default_factory=list)
    swapped: deque = field(default_factory=deque)
    static_batch: list | None = None
    static_pad_prompt: int = 0

    def queue_first(self, seq) -> None:
        """``seq`` waits at the head of the queue, behind the sequences there that hold their admission's blocks
        already (reserved with a composition partner's admission): those take no more room and go first, else
        a head waiting for room would keep their blocks - the room it waits for - idle for ever."""
        i = 0
        while i < len(self.waiting) and self.waiting[i].blocks:
            i += 1
        self.waiting.insert(i, seq)

    def has_work(self) -> bool:
        return bool(self.waiting or self.swapped or any(not s.blocked for s in self.running)
                    or self.static_batch)

    def leave_static_batch(self, seq: Seq) -> None:
        """A preempted sequence leaves its static batch (it joins a later one); a batch whose members that
        are left have all finished ends."""
        if self.static_batch is None or seq not in self.static_batch:
            return
        self.static_batch.remove(seq)
        if all(s.remaining <= 0 for s in self.static_batch):
            self.static_batch = None

    def outstanding_tokens(self) -> int:
        return sum(s.outstanding_tokens() for s in self.waiting) + sum(
            s.outstanding_tokens() for s in self.running) + sum(s.outstanding_tokens() for s in self.swapped)


@dataclass
class ModelBatch:
    """One model's part of an iteration (or of ``steps`` identical decode iterations)."""

    model: ModelState
    decodes: list  # sequences taking a decode step
    prefills: list  # (sequence, prompt tokens processed)
    steps: int = 1
    padded_rows: int = 0  # static batching: rows computed for sequences already finished

    @property
    def tokens(self) -> int:
        return len(self.decodes) + self.padded_rows + sum(q for _, q in self.prefills)


def blocks_for(tokens: int, block_tokens: int) -> int:
    return -(-tokens // block_tokens)


def lone_sequence_blocks(prompt_tokens: int, total_tokens: int, block_tokens: int, watermark: float,
                         whole_output: bool = False) -> float:
    """KV space, in blocks, a sequence needs to run to completion alone: all its tokens, and at admission its
    prompt with the watermark share of the space kept free - or, when its admission reserves its whole output
    too (``whole_output``: static batching), all its tokens with the watermark free."""
    admitted = total_tokens if whole_output else prompt_tokens
    return max(blocks_for(total_tokens, block_tokens), blocks_for(admitted, block_tokens) / (1.0 - watermark))


def _admit(seq: Seq, kv: KVSpace, block_tokens: int, tokens: int) -> bool:
    """Allocate the blocks of ``tokens`` (keeping the watermark free) and admit; a composition part reserves its
    partners' prompt blocks at once, or none (KVSpace.reserve_admission)."""
    need = blocks_for(tokens, block_tokens) - seq.blocks
    if need > 0 and not kv.reserve_admission(seq, need):
        return False
    kv.admit(seq)
    return True


def decode_steps(decodes: list, kv: KVSpace, block_tokens: int, limit: int) -> int:
    """How many decode steps the batch may take as one event: at most ``limit``, until a sequence emits
    its last token; 0 when the blocks of one step do not fit. Only the first step's blocks are allocated
    here, as iteration by iteration: the later ones are taken once the step's length is known (``take_ahead``),
    so no batch formed beside this one sees less room than it would one iteration at a time."""
    if not decodes:
        return 0
    needs = [max(0, blocks_for(s.cached + 1, block_tokens) - s.blocks) for s in decodes]
    if any(needs) and not _fits_all(decodes, needs, kv):
        return 0
    for s, n in zip(decodes, needs):
        if n:
            kv.alloc(s, n)
        kv.hold(s, blocks_for(s.cached + 1, block_tokens))
    return min(limit, min(s.remaining for s in decodes))


def take_ahead(decodes: list, kv: KVSpace, block_tokens: int, k: int) -> int:
    """Allocate the blocks of ``k`` decode iterations of ``decodes`` (the first one's are taken): fewer
    iterations, halving, while they do not fit. Returns the iterations allocated (at least 1)."""
    while k > 1:
        needs = [max(0, blocks_for(s.cached + k, block_tokens) - s.blocks) for s in decodes]
        if not any(needs) or _fits_all(decodes, needs, kv):
            for s, n in zip(decodes, needs):
                if n:
                    kv.alloc(s, n, hold=False)  # the later iterations' blocks are in use once those begin
            return k
        k //= 2
    return 1


def _fits_all(seqs: list, needs: list, kv: KVSpace) -> bool:
    """Whether all the blocks fit together (per stack and model, as KVSpace.fits tallies them)."""
    tally = getattr(kv, "fits_many", None)
    if tally is not None:
        return tally(seqs, needs)
    return all(kv.fits(s, n, 0.0) for s, n in zip(seqs, needs) if n)


def form_batch(m: ModelState, policy: str, cfg: dict, kv: KVSpace, decode_ok: bool, prefill_ok: bool,
               step_limit: int) -> ModelBatch | None:
    """The next iteration of model ``m`` (module docstring), or None when it has nothing to run.
    ``decode_ok`` / ``prefill_ok``: the instance's role allows decode / prefill work."""
    bs = cfg["kv_block_tokens"]
    if policy == "static":
        return _static(m, cfg, kv, step_limit)
    max_seqs, budget = cfg["max_num_seqs"], cfg["max_batched_tokens"]
    if policy == "chunked_prefill":
        budget = cfg["chunk_tokens"]
    running = m.running
    # a composition part waiting for its partners' tokens runs in no iteration: it takes no max_num_seqs seat
    # (else blocked parts could fill every seat while the partners they wait for wait for one)
    seats = sum(1 for s in running if not s.blocked)
    decodes = [s for s in running if not s.blocked and not s.in_prefill and s.remaining > 0] if decode_ok else []
    partial = [s for s in running if s.in_prefill] if prefill_ok else []
    if policy == "prefill_priority" and prefill_ok and (m.waiting or partial):
        batch = _prefills(m, partial, kv, bs, max_seqs - seats, budget, chunked=False, used=0)
        if batch:
            return ModelBatch(m, [], batch)
    if policy == "prefill_priority":
        partial = []
        admit_new = False
    else:
        admit_new = prefill_ok
    decodes = decodes[:max_seqs]
    if decodes and not partial and not (admit_new and m.waiting):
        k = decode_steps(decodes, kv, bs, step_limit)
        if k == 0:
            return ModelBatch(m, [], [], steps=0)  # out of KV blocks: the caller preempts
        return ModelBatch(m, decodes, [], steps=k)
    used = len(decodes)
    if decodes:
        k = decode_steps(decodes, kv, bs, 1)
        if k == 0:
            return ModelBatch(m, [], [], steps=0)
    prefills = _prefills(m, partial, kv, bs, max_seqs - seats if admit_new else 0, budget - used,
                         chunked=policy == "chunked_prefill", used=used) if prefill_ok else []
    if not decodes and not prefills:
        return None
    return ModelBatch(m, decodes, prefills, steps=1)


def _prefills(m: ModelState, partial: list, kv: KVSpace, bs: int, new_slots: int, budget: int,
              chunked: bool, used: int) -> list:
    """Prompt work for one iteration: running partial prefills first, then admitted waiting sequences."""
    out = []
    for s in partial:
        left = s.prompt_total - s.prefilled
        q = min(left, budget) if chunked else left
        if q <= 0 or (not chunked and q > budget and (out or used)):
            break
        out.append((s, q))
        budget -= q
    while m.waiting and new_slots > 0 and budget > 0:
        s = m.waiting[0]
        left = s.prompt_total - s.prefilled
        q = min(left, budget) if chunked else left
        if not chunked and q > budget and (out or used):
            break
        if not _admit(s, kv, bs, s.prompt_total):
            break
        m.waiting.popleft()
        s.state = RUNNING
        m.running.append(s)
        out.append((s, q))
        budget -= q
        new_slots -= 1
    return out


def _static(m: ModelState, cfg: dict, kv: KVSpace, step_limit: int) -> ModelBatch | None:
    if m.static_batch is None:
        batch = _admit_static(m, cfg, kv)
        if not batch:
            return None
        m.static_batch = batch
        m.static_pad_prompt = max(s.prompt_total for s in batch)
        return ModelBatch(m, [], [(s, m.static_pad_prompt) for s in batch])
    unprefilled = [s for s in m.static_batch if s.in_prefill]
    if unprefilled:  # the iteration that formed the batch did not start (its instance waited for a partner)
        return ModelBatch(m, [], [(s, m.static_pad_prompt) for s in unprefilled])
    live = [s for s in m.static_batch if s.remaining > 0 and not s.blocked]
    if not live:
        # every member waits for its composition partners (or is done): the batch takes in the waiting parts
        # whose partners run elsewhere - those partners may be what this batch's members wait for, each batch
        # waiting for the other to end, for ever. Other waiting sequences wait for the batch to end.
        joined = _admit_static(m, cfg, kv, partnered=True)
        if not joined:
            return None
        m.static_batch += joined
        pad = max(s.prompt_total for s in joined)
        m.static_pad_prompt = max(m.static_pad_prompt, pad)
        return ModelBatch(m, [], [(s, pad) for s in joined])
    longest = max(s.remaining for s in m.static_batch)
    k = min(step_limit, min(s.remaining for s in live), longest)
    return ModelBatch(m, live, [], steps=k, padded_rows=len(m.static_batch) - len(live))


def _admit_static(m: ModelState, cfg: dict, kv: KVSpace, partnered: bool = False) -> list:
    """Waiting sequences admitted (in order, up to max_num_seqs, until one does not fit) with KV for their
    whole prompt and output; ``partnered``: only composition parts with a partner running, the others keep
    their place."""
    bs = cfg["kv_block_tokens"]
    batch: list = []
    for s in list(m.waiting):
        if len(batch) >= cfg["max_num_seqs"]:
            break
        if s not in m.waiting:  # an admission before it sent it back to wait for its experts
            continue
        if partnered and not (s.group is not None and any(p.state == RUNNING for p in s.group.parts)):
            continue
        if not _admit(s, kv, bs, s.prompt_total + s.remaining):
            break
        m.waiting.remove(s)
        s.state = RUNNING
        m.running.append(s)
        batch.append(s)
    return batch
