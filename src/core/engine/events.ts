import type { ReplicationPreflight, ThrottleEvent } from './replicas.js';
import type { Blocker, Direction, OrphanCount, SessionInfo, StatementRef, WriterRole } from './types.js';

/** What the engine reports while it works; the CLI renders these as spinners, lines or NDJSON. */
export type EngineEvent =
  | { type: 'run:start'; command: 'migrate' | 'rollback'; versions: number[]; statements: number; database: string }
  | { type: 'lock:wait'; holder?: { pid: number; application_name: string; since: Date | null } }
  | {
      type: 'lock:orphan';
      holder: { pid: number; application_name: string; since: Date | null };
      query?: string;
      runningMs?: number;
      phase?: string;
      pct?: number;
      waitMs: number;
    }
  | {
      type: 'migration:start';
      version: number;
      name: string;
      direction: Direction;
      transactional: boolean;
      statements: number;
      resumeFrom?: number;
    }
  | ({ type: 'statement:start'; estimateMs?: number; sideBySide?: number } & StatementRef)
  | ({ type: 'statement:skip'; reason: string } & StatementRef)
  | ({ type: 'statement:done'; durationMs: number; estimateMs?: number } & StatementRef)
  | ({ type: 'statement:failed'; durationMs: number; code?: string; error: string } & StatementRef)
  | { type: 'migration:done'; version: number; name: string; direction: Direction; durationMs: number; statements: number }
  | ({
      type: 'progress';
      elapsedMs: number;
      phase?: string;
      pct?: number;
      etaMs?: number;
      waitEvent?: string;
      waiting: Blocker[];
    } & StatementRef)
  | ({ type: 'retry'; attempt: number; of: number; delayMs: number; reason: string } & StatementRef)
  | { type: 'preflight'; sessions: SessionInfo[]; orphans: OrphanCount[]; writers: WriterRole[] }
  | { type: 'orphans:detached'; table: string; column: string; rows: number }
  | ({ type: 'replicas'; limit: string | null } & ReplicationPreflight)
  | Exclude<ThrottleEvent, { type: 'warning' }>
  | { type: 'eta'; etaMs: number; left: number; running: number }
  | {
      type: 'parallel';
      builds: number;
      maintenanceWorkMemBytes: number;
      totalBytes: number;
      workersPerBuild: number;
      serverMemoryBytes?: number;
      /** The server's cores, when known (local server or --server-cpus). */
      cores?: number;
    }
  | { type: 'window'; deadline: string; leftMs: number; estimateMs: number }
  | { type: 'notice'; message: string }
  | { type: 'warning'; message: string };

export type Emit = (e: EngineEvent) => void;
