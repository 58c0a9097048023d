import type { ReservedSql, Sql } from '../../db/connection.js';
import { openSession, type Session } from '../../db/session.js';

/**
 * The sessions that parallel index builds run on, one build per session at a time, opened
 * when first needed (at most `max`) and closed at the end of the script.
 */
export class BuildSessions {
  private readonly idle: Session[] = [];
  private readonly all: Session[] = [];

  constructor(
    private readonly pool: Sql,
    private readonly max: number,
    /** max_parallel_maintenance_workers for each session (capacity.ts buildWorkers); undefined: the server's. */
    private readonly workers?: number,
  ) {}

  async acquire(): Promise<{ conn: ReservedSql; pid: number; release: () => void }> {
    let s = this.idle.pop();
    if (!s) {
      if (this.all.length >= this.max) throw new Error(`more than ${this.max} build sessions requested`);
      s = await openSession(this.pool, { name: `build-${this.all.length + 1}` });
      this.all.push(s);
      // a build whose client died (kill -9) is cancelled by the server instead of running on (PostgreSQL 14+)
      await s.sql`
        select set_config('client_connection_check_interval', '1000', false)
         where exists (select from pg_settings where name = 'client_connection_check_interval')`;
      if (this.workers !== undefined) await s.sql`select set_config('max_parallel_maintenance_workers', ${String(this.workers)}, false)`;
    }
    const got = s;
    return { conn: got.sql as unknown as ReservedSql, pid: got.pid, release: () => void this.idle.push(got) };
  }

  async close(): Promise<void> {
    await Promise.all(this.all.map((s) => s.close()));
  }
}
