import type { Command } from 'commander';
import { Option } from 'commander';
import chalk from 'chalk';
import { join } from 'node:path';
import { bench } from '../../core/bench/bench.js';
import { verify } from '../../core/checks/verify.js';
import { unusedIndexes } from '../../core/reports/indexes.js';
import { slowQueries } from '../../core/reports/slow-queries.js';
import { createClient, describeTarget, onDatabase } from '../../db/connection.js';
import { intArg, scaleArg } from '../args.js';
import { checkTopology, connectionTarget, migrationDirs, type RunCommand } from '../context.js';
import { formatMs } from '../output.js';
import { ProgressRenderer } from '../progress.js';
import { renderBench } from '../render-bench.js';
import { table } from '../render.js';

const DEMO_DB = 'boosterz_demo';

export function register(cmd: Command, run: RunCommand): void {
  cmd
    .addOption(
      new Option('--scale <s>', 'data size (0.1 ≈ 900k rows: large enough for the plan to show, about 30 s in all)')
        .default(0.1)
        .argParser(scaleArg('--scale')),
    )
    .addOption(new Option('--runs <n>', 'timed runs per workload and variant').default(20).argParser(intArg('--runs', 1)))
    .action((o: { scale: number; runs: number }) =>
      run(async (ctx) => {
        // the embedded default unless a server was named; the demo gets its own database, kept afterwards
        if (!ctx.flags.databaseUrl && !process.env.DATABASE_URL && !process.env.PGHOST && ctx.flags.embedded === undefined)
          ctx.flags.embedded = true;
        const server = await connectionTarget(ctx);
        const admin = createClient(server, { command: 'demo', max: 1, onNotice: () => undefined });
        try {
          await checkTopology(admin, 'demo', describeTarget(server), 'write');
          await admin`drop database if exists ${admin(DEMO_DB)} with (force)`;
          await admin`create database ${admin(DEMO_DB)}`;
        } finally {
          await admin.end({ timeout: 2 });
        }
        const sql = createClient(onDatabase(server, DEMO_DB), { command: 'demo', onNotice: () => undefined });
        ctx.onCleanup(() => sql.end({ timeout: 5 }).then(() => undefined));
        await sql`create extension if not exists pg_stat_statements`.catch(() =>
          ctx.out.warn('pg_stat_statements is not available: the slow-query report will be skipped'),
        );

        const say = (t: string) => ctx.out.result(chalk.bold(`\n== ${t}`));
        const dirs = migrationDirs(ctx);
        const sqlDir = join(ctx.packageRoot, 'src/sql');
        const progress = new ProgressRenderer(ctx.out);
        say(
          `Boosterz demo on database ${DEMO_DB}: baseline schema, generated data, the five workloads, migrate, verify, the workloads again`,
        );
        const r = await bench(sql, {
          ...dirs,
          sqlDir,
          scale: o.scale,
          runs: o.runs,
          signal: ctx.signal,
          triggerCost: false,
          emit: progress.handle,
          onPhase: (t) => ctx.out.info(chalk.cyan(t)),
          onGenerate: (s) => ctx.out.info(`  ${s.table}: ${s.rows.toLocaleString('en-US')} rows (${formatMs(s.ms)})`),
          // the slow-query report at the end should show the app's workloads, not the generator
          afterGenerate: async () => void (await sql`select pg_stat_statements_reset()`.catch(() => undefined)),
          afterMigrate: async () => {
            progress.pause();
            say("verify: the guide's validation checklist");
            for (const c of await verify(sql, { ...dirs, sqlDir }))
              ctx.out.result(`${c.ok ? chalk.green('✓') : chalk.red('✗')} ${c.name}${c.detail ? chalk.dim(` — ${c.detail}`) : ''}`);
          },
        }).finally(() => progress.pause());
        say('before / after');
        ctx.out.result(renderBench(r));
        ctx.out.result(
          'At production size (scale 1, 9M rows, ten times this data) the same workloads take 215-986 ms before and 0.4-7.0 ms after (p50, bench/results/scale-1.json): the gap grows with the data.',
        );
        say('report slow-queries (mean ≥ 5 ms)');
        try {
          const s = await slowQueries(sql, { minMeanMs: 5, limit: 5, sort: 'total' });
          ctx.out.result(
            s.queries.length
              ? table(
                  ['query', 'calls', 'mean'],
                  s.queries.map((q) => [q.query.replace(/\s+/g, ' ').slice(0, 70), q.calls, `${q.mean_ms.toFixed(1)} ms`]),
                )
              : 'none',
          );
        } catch (err) {
          ctx.out.warn((err as Error).message);
        }
        say('report unused-indexes (statistics from this run only: most indexes were not needed by these five workloads)');
        const u = await unusedIndexes(sql, sqlDir);
        ctx.out.result(
          `${u.indexes.length} index(es) with 0 scans, e.g. ${u.indexes
            .slice(0, 3)
            .map((i) => i.index)
            .join(', ')}; \`boosterz-db report unused-indexes\` prints the DROP statements`,
        );
        const where = ctx.flags.embedded
          ? `in ${typeof ctx.flags.embedded === 'string' ? ctx.flags.embedded : '.boosterz/pgdata'} (--embedded)`
          : 'on the server you named';
        ctx.out.result(
          `\nThe database ${DEMO_DB} is kept ${where}. Next: \`npx boosterz-db migrate --embedded\` applies the migrations to the embedded default database; see README.`,
        );
      }),
    );
}
