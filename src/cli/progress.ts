import chalk from 'chalk';
import ora, { type Ora } from 'ora';
import { randomUUID } from 'node:crypto';
import type { EngineEvent, StatementRef } from '../core/events.js';
import { formatMs, type Output } from './output.js';

const label = (e: StatementRef) => `[${e.n}/${e.total}] ${String(e.version).padStart(4, '0')} ${e.kind}${e.target ? ` ${e.target}` : ''}${e.table && e.table !== e.target ? ` on ${e.table}` : ''}`;

/**
 * Turns engine events into a spinner per statement (TTY), timestamped lines (no TTY)
 * or NDJSON events on stdout (--json), each carrying the run id.
 */
export class ProgressRenderer {
  readonly runId = randomUUID();
  private spinner?: Ora;
  private timer?: NodeJS.Timeout;
  private started = 0;
  readonly slowest: { label: string; ms: number }[] = [];

  constructor(private readonly out: Output) {}

  readonly handle = (e: EngineEvent): void => {
    if (this.out.json) {
      this.out.jsonLine({ ...e, runId: this.runId, ts: new Date().toISOString() });
      this.track(e);
      return;
    }
    this.track(e);
    switch (e.type) {
      case 'run:start':
        this.out.info(e.statements ? `${e.command}: ${e.versions.length} migration(s), ${e.statements} statement(s) on ${e.database}` : `${e.command}: nothing to do on ${e.database}`);
        break;
      case 'lock:wait':
        this.out.info(`waiting for the migration lock held by ${e.holder ? `pid ${e.holder.pid} (${e.holder.application_name})` : 'another session'}`);
        break;
      case 'migration:start':
        this.out.info(chalk.bold(`${e.direction === 'up' ? '→' : '←'} ${String(e.version).padStart(4, '0')}_${e.name} (${e.statements} statements, ${e.transactional ? 'one transaction' : 'statement by statement, journaled'})`));
        break;
      case 'statement:start':
        this.startStatement(e);
        break;
      case 'statement:skip':
        this.out.verbose(`${label(e)} skipped: ${e.reason}`);
        break;
      case 'statement:done':
        this.endStatement(true, `${label(e)} ${chalk.dim(formatMs(e.durationMs))}`);
        break;
      case 'statement:failed':
        this.endStatement(false, `${label(e)} failed after ${formatMs(e.durationMs)}`);
        break;
      case 'migration:done':
        this.out.info(`${chalk.green('✓')} ${String(e.version).padStart(4, '0')}_${e.name} ${e.direction === 'up' ? 'applied' : 'rolled back'} in ${formatMs(e.durationMs)}`);
        break;
      case 'notice':
        this.out.verbose(`notice: ${e.message}`);
        break;
      case 'warning':
        this.pause();
        this.out.warn(e.message);
        break;
    }
  };

  private track(e: EngineEvent) {
    if (e.type === 'statement:done') {
      this.slowest.push({ label: `${String(e.version).padStart(4, '0')} ${e.kind}${e.target ? ` ${e.target}` : ''}`, ms: e.durationMs });
    }
  }

  private startStatement(e: StatementRef) {
    this.started = performance.now();
    if (!this.out.isTTY) return;
    if (this.out.flags.quiet) return;
    this.spinner = ora({ text: label(e), stream: process.stderr, discardStdin: false }).start();
    this.timer = setInterval(() => {
      if (this.spinner) this.spinner.text = `${label(e)} ${chalk.dim(formatMs(performance.now() - this.started))}`;
    }, 100);
    this.timer.unref();
  }

  private endStatement(ok: boolean, text: string) {
    clearInterval(this.timer);
    if (this.spinner) {
      if (ok) this.spinner.succeed(text);
      else this.spinner.fail(text);
      this.spinner = undefined;
    } else if (ok) this.out.info(text);
    else this.out.info(chalk.red(text));
  }

  /** Stops the spinner (before an error or warning is printed). */
  pause() {
    clearInterval(this.timer);
    this.spinner?.stop();
    this.spinner = undefined;
  }
}
