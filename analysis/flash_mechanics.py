"""MQSim's request mechanics in closed form: unloaded latencies and per-request resource demands.

Everything here follows the code of MQSim (CMU-SAFARI, commit 7ec40e3) for the calibration
configuration (analysis/calibration/mqsim/PROVENANCE.md: NVMe, ADVANCED write cache, page-level
mapping with a 2 MiB CMT, CWDP plane allocation, PRIORITY_OUT_OF_ORDER TSU, NV-DDR2 channels of
333 MT/s x 8 bit, 8 KiB pages, PCIe 4 x 1 GB/s). What the code does, and what this module models:

* Host interface: a request is split into one transaction per logical page (LPA) it touches, of
  the sectors it touches (``segment_user_request``). Read data go to the host after *all* its
  transactions are done, as one PCIe message of 128-B TLPs with 28 B overhead each (``PCIe_Link``:
  156/128 B per payload byte over 4 lanes of 1 B/ns); write data are fetched over PCIe first.
* Address mapping: at start MQSim stores the whole mapping table on flash
  (``Store_mapping_table_on_flash_at_start``), so the first access to an LPA misses the CMT and
  costs a *mapping read* of one 512-B sector from the translation page that holds it (one per
  distinct translation page, before the data reads). Translation page v is placed by CWDP like
  LPA v, at page index v // planes of its plane's translation block. LPAs never written are given
  a fresh physical page on first read (``online_create_entry_for_reads``): page indices grow with
  the pages allocated per plane during the run.
* CWDP: LPA l goes to channel l % C, chip (l // C) % W, die (l // CW) % D, plane (l // CWD) % P.
* TSU + PHY: a chip accepts a command only when it is idle *and* its channel is idle, one command
  per chip at a time (one die; up to P planes with the same page index = multiplane), and a read
  keeps its chip busy until its data are transferred out. Reads have priority over programs, but a
  running program is never suspended (``service_read_transaction`` falls through to ``return
  false`` for a busy chip). The result is a round discipline per channel: every chip with work
  gets a command (290 ns command transfer each), the array reads run in parallel (tR), then the
  data transfers of all chips follow one after the other on the channel (3 ns per byte: NV-DDR2
  moves 2 bytes per 6-ns t_RC), and only then the next round starts.
* Write cache (WRITE_CACHE): a write completes when its data are in the DRAM cache. The DRAM model
  is one FIFO channel whose access time is ``estimate_dram_access_time``: 26 ns + 5 ns/B up to one
  8-KiB row, and 41 us per *two* rows above it (integer division), i.e. ~200 MB/s for <= 8 KiB and
  ~400 MB/s above. Every new LPA is written back to flash at once (cold data), and at most one page
  per plane may be in flight (``back_pressure_buffer_max_depth`` = C W D P pages): a write larger
  than that waits for programs to finish.
* Flash latencies: SLC read 25 us, program 200 us; MLC (MQSim's own default) 75 us / 750 us; TLC
  read/program by page index (``Flash_Chip::Get_command_execution_latency``: LSB for pages 0-5, CSB for
  6-7, then LSB, LSB, CSB, CSB, MSB, MSB repeating): 60/80/100 us and 0.8/1.6/3.0 ms.
* Re-reads (the project's ``loads: N`` idiom: the same LBA range read again and again): the first
  pass allocates the range's pages (page indices 0 .. footprint / planes) and fills the CMT; later
  passes need no mapping read (the 2-MiB CMT holds far more entries than an expert's range). Only
  the planes the range covers work: CWDP puts footprint page l on channel l % C, chip (l // C) % W,
  ..., so a range of F pages covers min(C, F) channels, min(CW, F) chips and, per die, up to
  min(P, F // CWD) planes - the pages a chip can read with one multiplane command under load.

``unloaded_read_ns`` reproduces MQSim's isolated read latency exactly for aligned requests (e.g.
4ch x 2 chips SLC: 65.7, 79.2, 121.2, 215.6, 353.9, 1335.1 us for 4, 8, 64, 128, 256, 1024 KiB vs
MQSim's 65, 79, 121, 215, 355, 1340). Results are cached per design.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

SECTOR_BYTES = 512
PAGE_SECTORS = 16                    # 8 KiB pages
PAGE_BYTES = PAGE_SECTORS * SECTOR_BYTES
BLOCKS_PER_PLANE = 2048
PAGES_PER_BLOCK = 256
XFER_NS_PER_BYTE = 3.0               # NV-DDR2 at 333 MT/s, 8-bit channel: (bytes / 2) x t_RC (6 ns)
READ_CMD_NS = 290.0                  # t_CS + 6 t_WC + t_WB + t_RR
PROGRAM_CMD_NS = 361.0               # t_CS + 6 t_WC + t_ADL + t_WPST + t_WPSTH + t_WB
MAPPING_READ_BYTES = SECTOR_BYTES    # a mapping read moves one sector of the translation page
DRAM_ROW_BYTES = 8192
#: read / program latency (ns) per page type (LSB, CSB, MSB); SLC has one type
READ_NS = {"SLC": (25000.0, 25000.0, 25000.0), "MLC": (75000.0, 75000.0, 75000.0),
           "TLC": (60000.0, 80000.0, 100000.0)}
PROGRAM_NS = {"SLC": (200000.0, 200000.0, 200000.0), "MLC": (750000.0, 750000.0, 750000.0),
              "TLC": (800000.0, 1600000.0, 3000000.0)}
TECHNOLOGIES = tuple(READ_NS)
#: requests per run in the calibration data (page indices grow with the pages allocated in a run)
RUN_REQUESTS = 2000


def pcie_ns(nbytes: int) -> float:
    """PCIe transfer time of one message of ``nbytes`` payload (MQSim ``estimate_transfer_time``)."""
    full, rem = divmod(int(nbytes), 128)
    total = full * 156 + (rem + 28 if rem else 0)
    return float(math.ceil(total / 4))


def dram_ns(nbytes: int) -> float:
    """DRAM cache access time of one transfer (MQSim ``estimate_dram_access_time``, 100 MT/s, 8 KiB rows)."""
    nbytes = int(nbytes)
    if nbytes <= DRAM_ROW_BYTES:
        return 26.0 + (nbytes // 2) * 10.0
    return (26.0 + (DRAM_ROW_BYTES // 2) * 10.0 + 13.0) * (nbytes // DRAM_ROW_BYTES // 2) + 26.0 + \
        (nbytes % DRAM_ROW_BYTES) / 10.0


def page_type(page: int) -> int:
    """TLC page type (0 LSB, 1 CSB, 2 MSB) of a page index inside its block."""
    page %= PAGES_PER_BLOCK
    return 0 if page <= 5 else (1 if page <= 7 else ((page - 8) >> 1) % 3)


def _latency_stats(tech: str, table: dict, pages: np.ndarray) -> tuple[float, float]:
    lat = np.asarray(table[tech])[np.array([page_type(int(p)) for p in pages], dtype=int)]
    return float(lat.mean()), float((lat ** 2).mean())


def transactions(start_sector: int, sectors: int) -> list[tuple[int, int]]:
    """(LPA, bytes) of every transaction of a request (MQSim ``segment_user_request``)."""
    out, a, end = [], start_sector, start_sector + sectors
    while a < end:
        n = min(PAGE_SECTORS - a % PAGE_SECTORS, end - a)
        out.append((a // PAGE_SECTORS, n * SECTOR_BYTES))
        a += n
    return out


def data_phase_ns(trs: list[tuple[int, int]], C: int, W: int, D: int, P: int, t_read: float,
                  multiplane: bool, rounds: bool = False) -> float:
    """Unloaded time of a request's data reads under the per-channel round discipline (with
    ``rounds``: the number of rounds of the slowest channel instead)."""
    stripe = C * W * D * P
    worst, worst_rounds = 0.0, 0
    per_channel: dict[int, dict[int, list]] = {}
    for lpa, nbytes in trs:
        chip = (lpa // C) % W
        per_channel.setdefault(lpa % C, {}).setdefault(chip, []).append(
            (nbytes, (lpa // (C * W)) % D, (lpa // (C * W * D)) % P, lpa // stripe))
    for chips in per_channel.values():
        queues = {c: list(q) for c, q in chips.items()}
        t, nrounds = 0.0, 0
        while any(queues.values()):
            nrounds += 1
            ready, k = [], 0
            for c in sorted(queues):
                q = queues[c]
                if not q:
                    continue
                first, cmd = q[0], [q[0]]
                if multiplane:
                    for x in q[1:]:
                        if x[1] == first[1] and x[2] != first[2] and x[3] == first[3] and \
                                all(y[2] != x[2] for y in cmd):
                            cmd.append(x)
                            if len(cmd) == P:
                                break
                for x in cmd:
                    q.remove(x)
                k += 1
                ready.append((t + k * READ_CMD_NS + t_read, [x[0] for x in cmd]))
            bus = t + k * READ_CMD_NS
            for t_ready, sizes in sorted(ready):
                bus = max(bus, t_ready) + sum(sizes) * XFER_NS_PER_BYTE
            t = bus
        if t > worst:
            worst, worst_rounds = t, nrounds
    return float(worst_rounds) if rounds else worst


def entries_per_translation_page(C: int, W: int, D: int, P: int) -> int:
    """Mapping entries per 8-KiB translation page (GTD entry: log2(physical pages) + 16 status bits)."""
    total = C * W * D * P * BLOCKS_PER_PLANE * PAGES_PER_BLOCK
    return PAGE_BYTES // math.ceil((math.log2(total) + PAGE_SECTORS) / 8)


@dataclass(frozen=True)
class FlashDesign:
    """Per-design mechanics (times in ns, per request unless stated)."""

    read_miss_ns: float         # unloaded read latency: mapping read + data rounds + PCIe
    read_hit_ns: float          # the same without the mapping read (first page touched before)
    array_ns: float             # the array-read part of read_miss_ns (mapping read + data rounds x t_R)
    shared_fraction: float      # sequential: fraction of requests whose first page the previous one touched
    write_ns: float             # unloaded write latency: PCIe fetch + DRAM write (window at once, rest page by page)
    pcie_ns: float
    dram_ns: float
    dram_page_ns: float         # DRAM time per transaction when a write is accepted page by page
    pages: float                # transactions (pages touched) per request
    bytes: int
    t_read: float               # mean array read time of data pages in a run
    t_read_map: float           # mean array read time of translation pages
    t_prog: float               # mean program time and its second moment (ns^2)
    t_prog2: float
    planes: int
    channels_used: int          # channels, chips and pages per multiplane command that a loaded queue
    chips_used: int             # of this pattern can keep busy (re-reads: only what the range covers)
    multiplane: int


@lru_cache(maxsize=4096)
def flash_design(C: int, W: int, D: int, P: int, tech: str, sectors: int, sequential: bool,
                 run_requests: int = RUN_REQUESTS, footprint_pages: int = 0) -> FlashDesign:
    """Mechanics of one (SSD, request size, pattern) design; sizes need not be page multiples.

    ``footprint_pages`` > 0: the requests re-read a range of that many pages (sequentially, the range
    starting on a stripe boundary); page indices, mapping reads and the resources used follow from it.
    """
    planes = C * W * D * P
    reread = footprint_pages > 0
    capacity = planes * BLOCKS_PER_PLANE * PAGES_PER_BLOCK * PAGE_SECTORS
    nslots = max(int(0.9 * 0.93 * capacity // sectors) - 1, 1)
    # request start offsets inside a page: slot-aligned starts cycle through multiples of gcd(s, 16)
    period = PAGE_SECTORS // math.gcd(sectors, PAGE_SECTORS)
    base = 1000 * planes * PAGE_SECTORS  # a page-aligned, stripe-aligned region
    offsets = [base + i * sectors for i in range(period)]
    pages = float(np.mean([len(transactions(a, sectors)) for a in offsets]))
    # page indices of data pages grow with the pages allocated per plane over the run
    allocated = max(int(run_requests * (sectors / PAGE_SECTORS if sequential else pages) / planes), 1)
    if reread:
        allocated = max(math.ceil(footprint_pages / planes), 1)
    t_read, _ = _latency_stats(tech, READ_NS, np.arange(allocated))
    t_prog, t_prog2 = _latency_stats(tech, PROGRAM_NS, np.arange(allocated))
    entries = entries_per_translation_page(C, W, D, P)
    if reread:
        lpas = np.linspace(0, footprint_pages, 64)
    elif sequential:
        lpas = np.linspace(0, run_requests * sectors / PAGE_SECTORS, 64)
    else:
        lpas = np.linspace(0, nslots * sectors / PAGE_SECTORS, 256)
    t_read_map, _ = _latency_stats(tech, READ_NS, (lpas // entries).astype(int) // planes)
    mapping_ns = READ_CMD_NS + t_read_map + MAPPING_READ_BYTES * XFER_NS_PER_BYTE
    # multiplane at low load: sequential pages of one stripe have equal page indices in both planes;
    # random requests keep the planes' page counters equal only when they cover whole stripes
    whole_stripes = sectors % (planes * PAGE_SECTORS) == 0
    multiplane = sequential or reread or whole_stripes
    nbytes = sectors * SECTOR_BYTES
    pcie = pcie_ns(nbytes)
    miss, hit, array, shared = [], [], [], 0
    for a in offsets:
        trs = transactions(a, sectors)
        data = data_phase_ns(trs, C, W, D, P, t_read, multiplane)
        array.append(t_read_map + t_read * data_phase_ns(trs, C, W, D, P, t_read, multiplane, rounds=True))
        miss.append(mapping_ns + data + pcie)
        hit.append(data + pcie)
        shared += int(sequential and a % PAGE_SECTORS != 0 and len(trs) == 1)
    dram_page = float(np.mean([np.mean([dram_ns(b) for _, b in transactions(a, sectors)]) for a in offsets]))
    # write-back window (back_pressure_buffer_max_depth): one page per plane is accepted with the request,
    # every further page only when a program has finished, as its own DRAM access
    window = min(nbytes, planes * PAGE_BYTES)
    write = pcie + dram_ns(window) + max(0.0, pages - planes) * dram_ns(PAGE_BYTES)
    if reread:
        used = (min(C, footprint_pages), min(C * W, footprint_pages), max(1, min(P, footprint_pages // (C * W * D))))
    else:
        used = (C, C * W, P)
    return FlashDesign(float(np.mean(miss)), float(np.mean(hit)), float(np.mean(array)), shared / period, write, pcie,
                       dram_ns(nbytes), dram_page, pages, nbytes, t_read, t_read_map, t_prog, t_prog2, planes, *used)


def unloaded_read_ns(C: int, W: int, tech: str, sectors: int, D: int = 2, P: int = 2,
                     start_sector: int | None = None, t_read: float | None = None) -> float:
    """Isolated read latency of one request (mapping miss), e.g. to compare with a single MQSim run."""
    planes = C * W * D * P
    start = 1000 * planes * PAGE_SECTORS if start_sector is None else start_sector
    tr = READ_NS[tech][0] if t_read is None else t_read
    trs = transactions(start, sectors)
    mapping = READ_CMD_NS + tr + MAPPING_READ_BYTES * XFER_NS_PER_BYTE
    return mapping + data_phase_ns(trs, C, W, D, P, tr, True) + pcie_ns(sectors * SECTOR_BYTES)

