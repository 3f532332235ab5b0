-- devirt trace store, schema version 2 (v1 databases are upgraded in place
-- when opened for writing: the run columns marked v2 are added).
-- One database holds many runs. Every event a run logs (trapped access,
-- halt, interrupt event) takes the next value of the run's `seq`, so
-- (run, seq) keys every row and orders a run's events across tables.
-- Times: vtime_ns is the run's virtual clock (deterministic); wall_ns is
-- host monotonic time since the run started (not deterministic).

CREATE TABLE IF NOT EXISTS meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
INSERT OR IGNORE INTO meta VALUES ('schema_version', '2');

CREATE TABLE IF NOT EXISTS run (
  id            INTEGER PRIMARY KEY,
  guest         TEXT NOT NULL,               -- workload name or image path
  image         TEXT,                        -- image path as loaded
  args          TEXT NOT NULL DEFAULT '',    -- guest arguments
  seed          INTEGER,
  config        TEXT NOT NULL DEFAULT '',    -- options that made the run (command line or campaign section)
  kind          TEXT NOT NULL DEFAULT 'live' CHECK (kind IN ('live', 'replay', 'import')),
  source        TEXT,                        -- import: the log file; replay: what was replayed
  parent        INTEGER REFERENCES run(id),  -- replay: the run it re-drove
  disk          TEXT,                        -- ATA image path (NULL: anonymous)
  start_wall    TEXT NOT NULL,               -- ISO 8601 UTC
  end_wall      TEXT,
  end_vtime_ns  INTEGER,
  verdict       TEXT,                        -- pass|fail|hung|vtime-timeout|wall-timeout|crash|stopped; NULL: never finished
  exit_code     INTEGER,                     -- value written to the exit port
  exits         INTEGER,                     -- events the monitor counted
  version       TEXT NOT NULL,               -- devirt version that wrote the run
  -- v2: what a replay needs to rebuild the run
  image_sha256  TEXT,                        -- SHA-256 of the guest image
  disk_bytes    INTEGER,                     -- ATA image size
  disk_sha256   TEXT,                        -- SHA-256 of the ATA image before the run (its content: disk_base)
  ringblk_disk  TEXT,                        -- ringblk image path (NULL: anonymous)
  ringblk_bytes INTEGER,
  ringblk_sha256 TEXT,
  disk_after_sha256 TEXT,                    -- content ids of the images when the run ended
  ringblk_after_sha256 TEXT,
  mem           INTEGER,                     -- guest RAM bytes
  exit_cost_ns  INTEGER,                     -- virtual time per exit
  switches      TEXT,                        -- --switch specs, space-separated
  policy        TEXT,                        -- engine policy and bounds
  modes         TEXT                         -- devices started virtualized, space-separated
);

CREATE TABLE IF NOT EXISTS device (
  run    INTEGER NOT NULL REFERENCES run(id),
  name   TEXT NOT NULL,
  model  TEXT NOT NULL,
  space  TEXT NOT NULL CHECK (space IN ('pio', 'mmio')),
  base   INTEGER NOT NULL,
  size   INTEGER NOT NULL,
  irq    INTEGER,
  PRIMARY KEY (run, space, base)
);

-- Every trapped guest access (port I/O or MMIO exit).
CREATE TABLE IF NOT EXISTS access (
  run       INTEGER NOT NULL,
  seq       INTEGER NOT NULL,
  vtime_ns  INTEGER NOT NULL,
  wall_ns   INTEGER,
  space     TEXT NOT NULL CHECK (space IN ('pio', 'mmio')),
  addr      INTEGER NOT NULL,
  size      INTEGER NOT NULL CHECK (size IN (1, 2, 4, 8)),
  dir       TEXT NOT NULL CHECK (dir IN ('r', 'w')),
  value     INTEGER NOT NULL,                -- written, or returned to the guest
  device    TEXT,                            -- NULL: nothing serves the address
  reg       TEXT,                            -- register name for dir
  path      TEXT NOT NULL DEFAULT 'direct' CHECK (path IN ('direct', 'track', 'emulate', 'defer', 'busy')),
  sm_state  TEXT,                            -- engine state machine state
  mode      TEXT,                            -- device mode as the engine knows it
  rip       INTEGER,                         -- guest instruction pointer
  PRIMARY KEY (run, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS access_device ON access (run, device, seq);
CREATE INDEX IF NOT EXISTS access_path ON access (run, path) WHERE path <> 'direct';

-- Interrupt events: device lines rising and falling, injections into the guest.
CREATE TABLE IF NOT EXISTS irq (
  run       INTEGER NOT NULL,
  seq       INTEGER NOT NULL,
  vtime_ns  INTEGER NOT NULL,
  wall_ns   INTEGER,
  device    TEXT,                            -- source device (inject: NULL)
  line      INTEGER,                         -- IRQ line (inject: NULL)
  event     TEXT NOT NULL CHECK (event IN ('raise', 'lower', 'inject', 'eoi')),
  target    TEXT NOT NULL CHECK (target IN ('guest', 'monitor')),
  vector    INTEGER,                         -- inject: the vector delivered
  PRIMARY KEY (run, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS irq_device ON irq (run, device, seq);

-- Guest halts (HLT exits); the clock then jumps to the next event.
CREATE TABLE IF NOT EXISTS halt (
  run       INTEGER NOT NULL,
  seq       INTEGER NOT NULL,
  vtime_ns  INTEGER NOT NULL,
  wall_ns   INTEGER,
  rip       INTEGER,
  PRIMARY KEY (run, seq)
) WITHOUT ROWID;

-- Engine: one row per requested switch.
CREATE TABLE IF NOT EXISTS switch (
  run                 INTEGER NOT NULL,
  id                  INTEGER NOT NULL,
  device              TEXT NOT NULL,
  action              TEXT NOT NULL CHECK (action IN ('virtualize', 'devirtualize')),
  policy              TEXT,                  -- e.g. "midseq=wait block=defer"
  requested_seq       INTEGER, requested_vtime_ns INTEGER,
  started_seq         INTEGER, started_vtime_ns   INTEGER,
  completed_seq       INTEGER, completed_vtime_ns INTEGER,
  wall_ns             INTEGER,               -- wall time the switch took
  outcome             TEXT CHECK (outcome IN ('done', 'aborted', 'pending')),
  reason              TEXT,
  mode_before         TEXT, mode_after TEXT,
  PRIMARY KEY (run, id)
);

-- Engine: each V1..V6 / D1..D7 step a switch took.
CREATE TABLE IF NOT EXISTS step (
  run       INTEGER NOT NULL,
  switch    INTEGER NOT NULL,
  step      TEXT NOT NULL,                   -- 'V1'..'V6', 'D1'..'D7'
  seq       INTEGER,
  vtime_ns  INTEGER,
  wall_ns   INTEGER,
  detail    TEXT
);
CREATE INDEX IF NOT EXISTS step_switch ON step (run, switch);

-- Engine: windows in which the guest was held off (busy / not ready / waiting).
CREATE TABLE IF NOT EXISTS pause (
  run             INTEGER NOT NULL,
  switch          INTEGER,
  device          TEXT NOT NULL,
  kind            TEXT NOT NULL CHECK (kind IN ('busy', 'wait', 'defer', 'quiesce')),
  start_seq       INTEGER, start_vtime_ns INTEGER,
  end_seq         INTEGER, end_vtime_ns   INTEGER,
  wall_ns         INTEGER,
  bound_ns        INTEGER,
  polls           INTEGER                    -- guest accesses answered busy
);

-- Engine: guest accesses deferred during a switch and when they reached the hardware.
CREATE TABLE IF NOT EXISTS deferred (
  run         INTEGER NOT NULL,
  switch      INTEGER NOT NULL,
  seq         INTEGER NOT NULL,              -- the guest access (row in access)
  ord         INTEGER NOT NULL,              -- position in the deferral log
  replay_seq  INTEGER,                       -- event seq at which it was replayed; NULL: never
  replays     INTEGER NOT NULL DEFAULT 0,    -- times it reached the hardware
  replay_pos  INTEGER,                       -- v2: its place among the run's replays (order check)
  PRIMARY KEY (run, seq)
);

-- v2: the content of each disk image before the run (a copy-on-write base):
-- its non-zero 64 KiB chunks, zlib-compressed; absent chunks are zeros.
CREATE TABLE IF NOT EXISTS disk_base (
  run    INTEGER NOT NULL,
  device TEXT NOT NULL,                      -- 'ata' or 'ringblk'
  chunk  INTEGER NOT NULL,                   -- byte offset / 65536
  data   BLOB NOT NULL,
  PRIMARY KEY (run, device, chunk)
) WITHOUT ROWID;

-- v2: register stores the guest made through a mapped register page
-- (pass-through: they never trapped), noticed at the next exit.
CREATE TABLE IF NOT EXISTS mapped (
  run       INTEGER NOT NULL,
  seq       INTEGER NOT NULL,
  vtime_ns  INTEGER NOT NULL,
  wall_ns   INTEGER,
  device    TEXT NOT NULL,
  off       INTEGER NOT NULL,
  size      INTEGER NOT NULL,
  value     INTEGER NOT NULL,
  reg       TEXT,
  PRIMARY KEY (run, seq)
) WITHOUT ROWID;

-- v2: guest memory devices read (DMA in: ring entries, data to write).
CREATE TABLE IF NOT EXISTS dma (
  run       INTEGER NOT NULL,
  seq       INTEGER NOT NULL,
  vtime_ns  INTEGER NOT NULL,
  wall_ns   INTEGER,
  addr      INTEGER NOT NULL,
  size      INTEGER NOT NULL,
  data      BLOB NOT NULL,
  PRIMARY KEY (run, seq)
) WITHOUT ROWID;

-- Fault injection: what was injected where.
CREATE TABLE IF NOT EXISTS fault (
  run       INTEGER NOT NULL,
  seq       INTEGER,
  vtime_ns  INTEGER,
  device    TEXT,
  kind      TEXT NOT NULL,
  detail    TEXT
);

-- Kernel-side observer (devirt observe, devirt run --kernel-trace): KVM's
-- tracepoints as the kernel saw them for one process, in the kernel's order.
-- reason: 'exit' (kvm_exit: value = hardware exit reason, addr = guest RIP),
-- 'entry' (kvm_entry), 'pio' / 'mmio' (one row per element accessed: the
-- port or guest-physical address, size, direction, value; a read's value is
-- the one the guest received), 'mmio-pending' (an MMIO read sent to
-- userspace, value unknown yet), or the KVM_EXIT_* name of a return to the
-- monitor (kvm_userspace_exit: value = its code). user = 1: the access
-- reached the monitor (a userspace exit), 0: KVM handled it in the kernel.
CREATE TABLE IF NOT EXISTS kexit (
  run       INTEGER NOT NULL,
  seq       INTEGER NOT NULL,                -- observer's own order
  ktime_ns  INTEGER NOT NULL,                -- CLOCK_MONOTONIC
  reason    TEXT NOT NULL,
  space     TEXT CHECK (space IN ('pio', 'mmio')),
  addr      INTEGER, size INTEGER,
  dir       TEXT CHECK (dir IN ('r', 'w')),
  value     INTEGER,
  tid       INTEGER,                         -- v2: the vCPU thread
  user      INTEGER,                         -- v2: I/O rows: reached userspace
  wall_ns   INTEGER,                         -- v2: --kernel-trace: on the run's wall_ns clock
  PRIMARY KEY (run, seq)
) WITHOUT ROWID;

-- v2: one row per observed run: what was traced and whether anything was lost.
CREATE TABLE IF NOT EXISTS observer (
  run       INTEGER PRIMARY KEY,
  target    TEXT NOT NULL,                   -- 'self' (--kernel-trace), 'pid N' or the command
  tgid      INTEGER NOT NULL,
  events    INTEGER NOT NULL,                -- tracepoint hits of the process
  lost      INTEGER NOT NULL,                -- hits that found the ring buffer full
  io        INTEGER NOT NULL,                -- pio/mmio rows that reached userspace
  start_ns  INTEGER, end_ns INTEGER          -- CLOCK_MONOTONIC
);

-- Checkers: every invariant violation found.
CREATE TABLE IF NOT EXISTS violation (
  run        INTEGER NOT NULL,
  invariant  TEXT NOT NULL,                  -- 'I1'..'I8'
  seq        INTEGER,
  switch     INTEGER,
  detail     TEXT NOT NULL,
  checker    TEXT
);
CREATE INDEX IF NOT EXISTS violation_run ON violation (run, invariant);
