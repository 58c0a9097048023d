import type { Command } from 'commander';
import { ExitCode } from '../../errors.js';
import { Option } from 'commander';
import chalk from 'chalk';
import { join } from 'node:path';
import { duplicateIndexes, invalidIndexes, unusedIndexes } from '../../core/reports/indexes.js';
import { slowQueries } from '../../core/reports/slow-queries.js';
import { intArg, numberArg } from '../args.js';
import { connect, type CommandContext, type RunCommand } from '../context.js';
import { formatBytes, table } from '../render.js';

const sqlDir = (ctx: CommandContext) => join(ctx.packageRoot, 'src/sql');
const ms = (v: number | null) => (v == null ? '' : v >= 1000 ? `${(v / 1000).toFixed(2)}s` : `${v.toFixed(1)}ms`);
const cut = (q: string, n: number) => {
  const one = q.replace(/\s+/g, ' ').trim();
  return one.length > n ? `${one.slice(0, n - 1)}…` : one;
};

/** Reports run anywhere; on a hot standby they describe that standby's own statistics, and say so. */
async function reportConnect(ctx: CommandContext) {
  const { sql, where, role } = await connect(ctx, 'report');
  if (role === 'standby')
    ctx.out.info(`${where} is a hot standby: these are its own statistics (its queries and index scans), not the primary's`);
  return sql;
}

export function register(cmd: Command, run: RunCommand): void {
  cmd
    .command('slow-queries')
    .description('the slowest statements of this database, from pg_stat_statements')
    .addOption(
      new Option('--min-mean-ms <ms>', 'only statements whose mean time is at least this')
        .default(100)
        .argParser(numberArg('--min-mean-ms')),
    )
    .addOption(new Option('--min-calls <n>', 'only statements called at least this often').default(1).argParser(intArg('--min-calls', 1)))
    .addOption(new Option('--limit <n>', 'how many').default(10).argParser(intArg('--limit', 1)))
    .addOption(new Option('--sort <key>', 'order by').choices(['total', 'mean', 'calls']).default('total'))
    .addOption(
      new Option(
        '--fail-mean-ms <ms>',
        'exit 1 when any statement of this database (with at least --min-calls calls) has a mean time above this, whatever --limit and --min-mean-ms (for monitoring)',
      ).argParser(numberArg('--fail-mean-ms')),
    )
    .action((o: { minMeanMs: number; minCalls: number; limit: number; sort: 'total' | 'mean' | 'calls'; failMeanMs?: number }) =>
      run(async (ctx) => {
        const sql = await reportConnect(ctx);
        const r = await slowQueries(sql, o);
        const over = r.over?.count ?? 0;
        if (ctx.out.json) ctx.out.jsonLine({ ...r, failMeanMs: o.failMeanMs ?? null });
        else if (!r.queries.length)
          ctx.out.result(`no statement with a mean time ≥ ${o.minMeanMs} ms${o.minCalls > 1 ? ` and ≥ ${o.minCalls} calls` : ''}`);
        else {
          // the whole (one-lined) text off a TTY and in JSON; cut to the terminal's width on a TTY
          const width = process.stdout.isTTY ? Math.max(30, (process.stdout.columns ?? 160) - 90) : Infinity;
          ctx.out.result(
            table(
              ['query', 'calls', 'total', 'mean', 'rows/call', 'hit %', r.track_planning ? 'plan / exec' : 'exec'],
              r.queries.map((q) => [
                cut(q.query, width),
                q.calls,
                ms(q.total_ms),
                ms(q.mean_ms),
                q.rows_per_call.toFixed(1),
                q.hit_pct == null ? '' : q.hit_pct.toFixed(1),
                r.track_planning ? `${ms(q.mean_plan_ms)} / ${ms(q.mean_exec_ms)}` : ms(q.mean_exec_ms),
              ]),
            ),
          );
        }
        if (r.hidden)
          ctx.out.warn(
            `${r.hidden} statement(s) of other roles show as <insufficient privilege>: GRANT pg_read_all_stats TO the role to see their text`,
          );
        if (over) {
          ctx.out.error(`${over} statement(s) above --fail-mean-ms ${o.failMeanMs}: the slowest has a mean of ${ms(r.over!.max_mean_ms)}`);
          return ExitCode.checkFailed;
        }
      }),
    );

  cmd
    .command('unused-indexes')
    .description('indexes with 0 scans that no constraint or foreign key needs (prints the DROP, never runs it)')
    .action(() =>
      run(async (ctx) => {
        const sql = await reportConnect(ctx);
        const r = await unusedIndexes(sql, sqlDir(ctx));
        if (ctx.out.json) return void ctx.out.jsonLine(r);
        if (r.statsTooYoung) {
          ctx.out.warn(
            r.statsSource === 'stats_reset'
              ? `usage statistics were reset ${r.statsSince} (${r.statsAgeDays.toFixed(1)} days ago): younger than 7 days, an index may just not have been needed yet`
              : `usage statistics were never reset and the server started ${r.statsSince} (${r.statsAgeDays.toFixed(1)} days ago): they may not cover 7 days, an index may just not have been needed yet`,
          );
        }
        if (!r.indexes.length) return void ctx.out.result(`no unused index (statistics since ${r.statsSince})`);
        ctx.out.result(
          table(
            ['index', 'table', 'size', 'scans', 'tuples read', ...(r.indexes[0].last_idx_scan !== undefined ? ['last scan'] : [])],
            r.indexes.map((i) => [
              `${i.schema}.${i.index}`,
              i.table,
              formatBytes(i.bytes),
              i.scans,
              i.tuples_read,
              ...(i.last_idx_scan !== undefined ? [i.last_idx_scan ?? 'never'] : []),
            ]),
          ),
        );
        ctx.out.result(`statistics since ${r.statsSince}; to drop (review first, one at a time):`);
        for (const i of r.indexes) ctx.out.result(`  ${i.drop}`);
      }),
    );

  cmd
    .command('duplicate-indexes')
    .description('indexes whose columns are a leading prefix of another index on the same table')
    .action(() =>
      run(async (ctx) => {
        const sql = await reportConnect(ctx);
        const r = await duplicateIndexes(sql, sqlDir(ctx));
        if (ctx.out.json) return void ctx.out.jsonLine({ indexes: r });
        if (!r.length) return void ctx.out.result('no duplicate index');
        ctx.out.result(
          table(
            ['index', 'covered by', 'table', 'size'],
            r.map((d) => [`${d.schema}.${d.index}`, d.covered_by, d.table, formatBytes(d.bytes)]),
          ),
        );
        ctx.out.result('to drop (review first, one at a time; this tool never runs it):');
        for (const d of r) ctx.out.result(`  ${d.drop}`);
      }),
    );

  cmd
    .command('invalid-indexes')
    .description('INVALID indexes left by failed or cancelled CONCURRENTLY builds (builds in progress excluded)')
    .action(() =>
      run(async (ctx) => {
        const sql = await reportConnect(ctx);
        const r = await invalidIndexes(sql, sqlDir(ctx));
        if (ctx.out.json) return void ctx.out.jsonLine({ indexes: r });
        if (!r.length) return void ctx.out.result('no invalid index');
        ctx.out.result(
          table(
            ['index', 'table', 'size', 'definition'],
            r.map((d) => [`${d.schema}.${d.index}`, d.table, formatBytes(d.bytes), d.definition]),
          ),
        );
        ctx.out.result(chalk.dim("drop and rebuild each (rerunning `boosterz-db migrate` does it for the migrations' own indexes):"));
        for (const d of r) ctx.out.result(`  ${d.drop}`);
      }),
    );
}
