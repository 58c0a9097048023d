import { InvalidArgumentError, type Command } from 'commander';
import chalk from 'chalk';
import { totalmem } from 'node:os';
import { ExitCode } from '../../errors.js';
import { doctor, type Verdict } from '../../core/maintenance/doctor.js';
import { connect, type RunCommand } from '../context.js';

const mark: Record<Verdict, string> = { ok: chalk.green('ok     '), advice: chalk.yellow('advice '), problem: chalk.red('problem') };

/** `16GB`, `512MB`, `1024` (MB) → bytes. */
function memoryArg(v: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(GB|MB|G|M)?$/i.exec(v.trim());
  if (!m) throw new InvalidArgumentError('--server-memory must look like 16GB or 512MB');
  return Number(m[1]) * (/^g/i.test(m[2] ?? 'MB') ? 1024 ** 3 : 1024 ** 2);
}

export function register(cmd: Command, run: RunCommand): void {
  cmd
    .option(
      '--server-memory <size>',
      "RAM of the database server (e.g. 16GB), to scale the memory advice; default: this machine's when the server is local or embedded",
      memoryArg,
    )
    .action((o: { serverMemory?: number }) =>
      run(async (ctx) => {
        const { sql, target } = await connect(ctx, 'doctor');
        let host = target.host ?? 'localhost';
        if (target.url) host = new URL(target.url).hostname;
        const local = ['localhost', '127.0.0.1', '::1', '[::1]'].includes(host);
        const lines = await doctor(sql, { serverMemory: o.serverMemory ?? (local ? totalmem() : undefined) });
        if (ctx.out.json) ctx.out.jsonLine({ ok: !lines.some((l) => l.verdict === 'problem'), lines });
        else for (const l of lines) ctx.out.result(`${mark[l.verdict]} ${l.topic}: ${l.message}`);
        return lines.some((l) => l.verdict === 'problem') ? ExitCode.checkFailed : ExitCode.ok;
      }),
    );
}
