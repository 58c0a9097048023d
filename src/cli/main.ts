import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BoosterzError, ExitCode, interruptedError, isConnectionLoss, sqlState, type PgErrorLike } from '../errors.js';
import type { CommandContext, RunCommand } from './context.js';
import { guardStdio, isStdioError, Output, writeStd, type GlobalFlags } from './output.js';

export interface MainOptions {
  packageRoot: string;
}

type Loader = () => Promise<{ register(cmd: Command, run: RunCommand): void }>;

/** Commands, loaded only when used so that --help stays instant. */
const COMMANDS: Record<string, { summary: string; load: Loader }> = {
  migrate: { summary: 'apply pending migrations in order, with live progress', load: () => import('./commands/migrate.js') },
  status: { summary: 'applied / pending / part-way migrations, checksums, drift', load: () => import('./commands/status.js') },
  rollback: { summary: 'run the rollback scripts of applied migrations, newest first', load: () => import('./commands/rollback.js') },
  check: {
    summary: 'for CI: lint, then apply all → roll back all → apply all on a throwaway PostgreSQL, proving the catalog each time',
    load: () => import('./commands/check.js'),
  },
  'refresh-views': {
    summary: 'refresh the stale materialized views (or --all, or the named ones)',
    load: () => import('./commands/refresh-views.js'),
  },
  cleanup: { summary: 'apply the retention policy in small batches (--dry-run counts)', load: () => import('./commands/cleanup.js') },
  verify: { summary: "the guide's validation checklist on a live database, ✓/✗ per point", load: () => import('./commands/verify.js') },
  daemon: {
    summary: 'long-running scheduler: refresh (default hourly) and cleanup (default daily 03:00), NOTIFY-driven refresh',
    load: () => import('./commands/daemon.js'),
  },
  jobs: { summary: "the daemon's last runs and next scheduled times", load: () => import('./commands/jobs.js') },
  bench: {
    summary: 'generate Boosterz-shaped data, time the five workloads of the guide before and after migrate',
    load: () => import('./commands/bench.js'),
  },
  demo: {
    summary: 'on the embedded default: schema, sample data, the workloads, migrate with progress, verify, the workloads again, reports',
    load: () => import('./commands/demo.js'),
  },
  doctor: {
    summary: "server settings against the guide's postgresql.conf, and prerequisites (version, extensions, privileges)",
    load: () => import('./commands/doctor.js'),
  },
  report: { summary: 'slow-queries | unused-indexes | duplicate-indexes | invalid-indexes', load: () => import('./commands/report.js') },
  lint: { summary: 'static safety checks of migration files (parser-based)', load: () => import('./commands/lint.js') },
  baseline: {
    summary: 'mark an existing database as being at version V without running anything',
    load: () => import('./commands/baseline.js'),
  },
};

function program(): Command {
  return new Command('boosterz-db')
    .description('Apply, roll back and maintain the Boosterz PostgreSQL optimisation plan on a live database')
    .option('-d, --database-url <url>', 'PostgreSQL URL (else DATABASE_URL, else PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE/PGSSLMODE)')
    .option('--embedded [dir]', 'start a local PostgreSQL from the embedded binaries (data in DIR, default .boosterz/pgdata)')
    .option('--json', 'machine-readable output on stdout (NDJSON events for migrate/rollback)')
    .option('--no-color', 'no colours (NO_COLOR is honoured too)')
    .option('-q, --quiet', 'only results and errors')
    .option('-v, --verbose', 'more detail (server notices, skipped statements)')
    .option('--migrations-dir <dir>', 'migration files (default: the ones shipped in the package)')
    .option('--rollback-dir <dir>', 'rollback scripts (default: the ones shipped in the package)')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ writeOut: (s) => writeStd('stdout', s), writeErr: (s) => writeStd('stderr', s) });
}

/** Entry point: parses argv, runs one command, exits with the contract's code. Only place that exits. */
export async function main(argv: string[], o: MainOptions): Promise<never> {
  const cleanups: Array<() => Promise<void>> = [];
  const abort = new AbortController();
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    if (signals > 1) process.exit(ExitCode.interrupted);
    writeStd('stderr', `\n${sig}: stopping at a safe point (press again to quit at once)\n`);
    abort.abort(interruptedError(`by ${sig}`));
  };
  // the reader of our output went away (`| head -1`): stop at a safe point, as on SIGTERM, but say nothing
  guardStdio((name) => abort.abort(interruptedError(`because ${name} was closed`)));
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  let code: number = ExitCode.ok;
  let out = new Output({});
  const cmd = program();
  try {
    cmd.version(
      (JSON.parse(readFileSync(join(o.packageRoot, 'package.json'), 'utf8')) as { version: string }).version,
      '-V',
      'print the version (baseline uses --version for a migration version)',
    );
  } catch {
    // a package without its package.json still runs
  }
  const run: RunCommand = async (fn) => {
    const flags = cmd.opts<GlobalFlags>();
    out = new Output(flags);
    const ctx: CommandContext = {
      flags,
      out,
      packageRoot: o.packageRoot,
      signal: abort.signal,
      onCleanup: (f) => void cleanups.unshift(f),
    };
    code = (await fn(ctx)) ?? ExitCode.ok;
  };
  const name = argv.slice(2).find((a) => a in COMMANDS);
  for (const [n, c] of Object.entries(COMMANDS)) {
    const sub = new Command(n).description(c.summary).copyInheritedSettings(cmd);
    if (n === name) (await c.load()).register(sub, run);
    cmd.addCommand(sub);
  }
  const runCleanups = async () => {
    for (const f of cleanups.splice(0)) await f().catch((e) => out.warn(`cleanup: ${(e as Error).message}`));
  };
  // an error thrown outside the command's promise (e.g. by a driver whose socket died): one line, cleanups, exit
  const fatal = (err: unknown) => {
    if (isStdioError(err)) return; // already handled by guardStdio: never a database error
    const c = report(asKnownFailure(err), out);
    void runCleanups().finally(() => process.exit(c));
  };
  process.on('uncaughtException', fatal);
  process.on('unhandledRejection', fatal);
  try {
    await cmd.parseAsync(argv);
  } catch (err) {
    code = isStdioError(err) ? code : report(asKnownFailure(err), out);
  } finally {
    await runCleanups();
  }
  process.exit(code);
}

/** The driver's errors a command did not foresee that still have a documented exit code: a lost connection, a missing privilege. */
const asKnownFailure = (err: unknown) => asMissingPrivilege(asLostConnection(err));

/** A driver error saying the server went away becomes exit 5 with one line; anything else is returned as is. */
function asLostConnection(err: unknown): unknown {
  // an EPIPE of stdout/stderr carries the same code as one of a database socket
  if (err instanceof BoosterzError || isStdioError(err) || !isConnectionLoss(err)) return err;
  return new BoosterzError(
    `lost the connection to the server: ${(err as Error).message}`,
    ExitCode.statementFailed,
    ['rerun: migrate and rollback resume from their journal'],
    {},
    { cause: err },
  );
}

/**
 * A privilege the connecting role lacks (SQLSTATE 42501) that no command foresaw becomes a
 * refusal (exit 6) with the server's one line and where to look, not an "unexpected" error.
 */
function asMissingPrivilege(err: unknown): unknown {
  if (err instanceof BoosterzError || sqlState(err) !== '42501') return err;
  return new BoosterzError(
    `the connecting role lacks a privilege: ${(err as Error).message}`,
    ExitCode.refused,
    ['grant it, or connect as the role that owns the objects; `boosterz-db doctor` lists what this role may do'],
    {},
    { cause: err },
  );
}

/** --verbose: the errors an error stands for (the driver's, the system's), outermost first, with a server error's fields. */
function causes(err: Error): string[] {
  const lines: string[] = [];
  let c: unknown = err.cause;
  for (let depth = 0; c !== undefined && depth < 5; depth++) {
    if (!(c instanceof Error)) {
      lines.push(`caused by: ${JSON.stringify(c)}`);
      break;
    }
    const e = c as Error & Partial<PgErrorLike>;
    lines.push(`caused by: ${e.name}${e.code ? ` [${e.code}]` : ''}: ${e.message}`);
    if (e.detail) lines.push(`  detail: ${e.detail}`);
    if (e.hint) lines.push(`  hint: ${e.hint}`);
    c = e.cause;
  }
  return lines;
}

function report(err: unknown, out: Output): number {
  if (err instanceof CommanderError) {
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return ExitCode.ok;
    // help shown because something was missing (e.g. `report` without its subcommand) is a usage error
    return err.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
  }
  if (err instanceof BoosterzError) {
    out.error(err.message, out.flags.verbose ? [...err.details, ...causes(err)] : err.details);
    if (out.json) out.jsonLine({ type: 'error', exitCode: err.exitCode, error: err.message, details: err.details, ...err.data });
    return err.exitCode;
  }
  const e = err as Error;
  out.error(
    `unexpected: ${e?.message ?? String(err)}`,
    out.flags.verbose && e?.stack ? [e.stack] : ['rerun with --verbose for the stack trace'],
  );
  if (out.json) out.jsonLine({ type: 'error', exitCode: 1, error: e?.message ?? String(err) });
  return ExitCode.checkFailed;
}
