-- devirt's invariant checks that are natural in SQL, as named views.
-- `devirt check` installs them in the database it checks (so they stay
-- there for anyone to query) and reads them; each view has one row per item
-- checked: (run, seq, switch, ok, detail), ok = 1 when the item holds.
-- I1 (transparency against a baseline) and parts of I4 and I7 need a second
-- run and are computed by analysis/check.c; their rules are written there.

-- What devirt check concluded, per run and invariant (PASS, FAIL, N/A),
-- so that a run without violations can be told from one never checked.
CREATE TABLE IF NOT EXISTS check_result (
  run       INTEGER NOT NULL,
  invariant TEXT NOT NULL,
  result    TEXT NOT NULL CHECK (result IN ('PASS', 'FAIL', 'N/A')),
  checked   INTEGER NOT NULL,
  failed    INTEGER NOT NULL,
  detail    TEXT,
  baseline  INTEGER,
  PRIMARY KEY (run, invariant)
);

-- I2 Deferred replay: every deferred access reached the device exactly once,
-- in its original order, after the switch and before any later guest access
-- to that device was served.
DROP VIEW IF EXISTS check_i2;
CREATE VIEW check_i2 AS
SELECT d.run, d.seq, d.switch,
       (d.replays = 1
        AND d.replay_seq IS NOT NULL AND d.replay_seq > d.seq
        AND NOT EXISTS (SELECT 1 FROM deferred x WHERE x.run = d.run AND x.switch = d.switch
                        AND x.ord < d.ord AND x.replay_pos > d.replay_pos)
        AND NOT EXISTS (SELECT 1 FROM access a
                        WHERE a.run = d.run AND a.device = s.device
                          AND a.seq > d.seq AND a.seq < d.replay_seq
                          AND a.dir = 'w' AND a.path IN ('direct', 'track', 'emulate'))) AS ok,
       CASE
         WHEN d.replays = 0 OR d.replay_seq IS NULL THEN 'deferred access never replayed'
         WHEN d.replays > 1 THEN 'deferred access replayed ' || d.replays || ' times'
         WHEN d.replay_seq <= d.seq THEN 'replayed before it was deferred'
         WHEN EXISTS (SELECT 1 FROM deferred x WHERE x.run = d.run AND x.switch = d.switch
                      AND x.ord < d.ord AND x.replay_pos > d.replay_pos)
           THEN 'replayed out of order: deferral ' || d.ord || ' reached the device before an earlier one'
         ELSE 'a later guest access (seq ' ||
              (SELECT min(a.seq) FROM access a WHERE a.run = d.run AND a.device = s.device
                 AND a.seq > d.seq AND a.seq < d.replay_seq
                 AND a.dir = 'w' AND a.path IN ('direct', 'track', 'emulate')) || ') was served before the replay'
       END AS detail
FROM deferred d JOIN switch s ON s.run = d.run AND s.id = d.switch;

-- I3 Bounded pause: every pause and wait window within its bound, in
-- virtual time, and in wall time within bound x the wall factor (table
-- check_param, default 1000: an exit costs ~1 us of virtual time but ~10 us
-- of wall time here, and re-mapping a KVM memory slot ~1 ms).
CREATE TABLE IF NOT EXISTS check_param (key TEXT PRIMARY KEY, value);
INSERT OR IGNORE INTO check_param VALUES ('wall_factor', 1000);
DROP VIEW IF EXISTS check_i3;
CREATE VIEW check_i3 AS
SELECT p.run, p.start_seq AS seq, p.switch,
       (p.end_vtime_ns - p.start_vtime_ns <= p.bound_ns
        AND (p.wall_ns IS NULL OR p.wall_ns <= p.bound_ns *
             (SELECT value FROM check_param WHERE key = 'wall_factor'))) AS ok,
       p.kind || ' on ' || p.device || ' lasted ' || (p.end_vtime_ns - p.start_vtime_ns) ||
       ' ns virtual, ' || coalesce(p.wall_ns, '?') || ' ns wall; bound ' || p.bound_ns || ' ns' AS detail
FROM pause p;

-- I4 Interrupt conservation, the part one run can show: no spurious
-- interrupt, i.e. no injection of a device line's vector without a new
-- edge on that line since its previous injection (IRQ 0, the timer, and
-- the cascade and IRQ 7 vectors are left out). Lost interrupts need the
-- baseline: analysis/check.c compares the number the guest took per device.
-- (A hardware edge the monitor keeps is not necessarily lost: the guest may
-- have masked the device, e.g. ATA nIEN, while the monitor's driver uses
-- interrupts; only the guest's view can tell.)
DROP VIEW IF EXISTS check_i4_edges;
CREATE VIEW check_i4_edges AS
SELECT i.run, i.seq, i.device, i.line, i.target,
       CASE WHEN i.line < 8 THEN 32 + i.line ELSE 40 + i.line - 8 END AS vector,
       coalesce((SELECT min(n.seq) FROM irq n WHERE n.run = i.run AND n.line = i.line
                 AND n.target = i.target AND n.event = 'raise' AND n.seq > i.seq), 1 << 62) AS next_seq
FROM irq i WHERE i.event = 'raise';

DROP VIEW IF EXISTS check_i4;
CREATE VIEW check_i4 AS
-- no injection of a device's vector without a new edge since the last one
SELECT j.run, j.seq, NULL,
       EXISTS (SELECT 1 FROM irq g WHERE g.run = j.run AND g.event = 'raise' AND g.target = 'guest'
               AND (CASE WHEN g.line < 8 THEN 32 + g.line ELSE 40 + g.line - 8 END) = j.vector
               AND g.seq < j.seq
               AND g.seq > coalesce((SELECT max(p.seq) FROM irq p WHERE p.run = j.run AND p.event = 'inject'
                                     AND p.vector = j.vector AND p.seq < j.seq), -1)) AS ok,
       'vector ' || j.vector || ' injected without a new edge on its line (spurious)' AS detail
FROM irq j
WHERE j.event = 'inject' AND j.vector BETWEEN 33 AND 47 AND j.vector <> 39 AND j.vector <> 34;

-- I5 Mode preservation: what the guest had programmed before a completed
-- switch is what the device has after it (both sampled by the engine where
-- the guest cannot move them).
DROP VIEW IF EXISTS check_i5;
CREATE VIEW check_i5 AS
SELECT s.run, s.completed_seq AS seq, s.id AS switch,
       (s.mode_before = s.mode_after) AS ok,
       s.device || ' ' || s.action || ': mode before "' || s.mode_before || '" after "' ||
       s.mode_after || '"' AS detail
FROM switch s
WHERE s.outcome = 'done' AND s.mode_before IS NOT NULL AND s.mode_after IS NOT NULL;

-- I6 Drain: when a devirtualization completes, the monitor's queue is empty
-- and none of its I/O is outstanding (the engine's D3 report).
DROP VIEW IF EXISTS check_i6;
CREATE VIEW check_i6 AS
SELECT s.run, st.seq, s.id AS switch,
       (st.detail = 'queued=0 outstanding=0') AS ok,
       s.device || ' devirtualized with ' || coalesce(st.detail, 'no D3 report') AS detail
FROM switch s LEFT JOIN step st ON st.run = s.run AND st.switch = s.id AND st.step = 'D3'
WHERE s.action = 'devirtualize' AND s.outcome = 'done';

-- I7 Data integrity, the run's own part: the guest's verdict (its own
-- checks of what it read back). analysis/check.c adds the disk images'
-- content against the baseline's.
DROP VIEW IF EXISTS check_i7;
CREATE VIEW check_i7 AS
SELECT r.id AS run, NULL AS seq, NULL AS switch, (r.verdict = 'pass') AS ok,
       'guest verdict ' || coalesce(r.verdict, 'none (never finished)') ||
       CASE WHEN r.exit_code IS NOT NULL AND r.verdict <> 'pass'
            THEN ' (code ' || printf('0x%x', r.exit_code) || ')' ELSE '' END AS detail
FROM run r WHERE r.kind <> 'import';
