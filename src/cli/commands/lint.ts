import type { Command } from 'commander';
import { existsSync, statSync } from 'node:fs';
import { ExitCode, usageError } from '../../errors.js';
import { resolve } from 'node:path';
import { loadMigrations } from '../../core/engine/files.js';
import { formatFinding, lintFiles, lintMigrations } from '../../core/engine/lint.js';
import { migrationDirs, type RunCommand } from '../context.js';

export function register(cmd: Command, run: RunCommand): void {
  cmd
    .argument('[files...]', 'SQL files to check, in order (default: every migration, then every rollback script)')
    .action((files: string[]) =>
      run(async (ctx) => {
        let findings;
        let count: number;
        if (files.length) {
          const bad = files.filter((f) => !existsSync(f) || !statSync(f).isFile());
          if (bad.length) throw usageError(`lint: no such file: ${bad.join(', ')}`);
          findings = await lintFiles(files.map((f) => resolve(f)));
          count = files.length;
        } else {
          const { migrationsDir, rollbackDir } = migrationDirs(ctx);
          const all = await loadMigrations(migrationsDir, rollbackDir);
          findings = await lintMigrations(all, { rollbacks: true });
          count = all.length * 2;
        }
        if (ctx.out.json) ctx.out.jsonLine({ ok: findings.length === 0, files: count, findings });
        else if (findings.length) for (const f of findings) ctx.out.result(formatFinding(f));
        else ctx.out.result(`lint: ${count} file(s), no problem found`);
        return findings.length ? ExitCode.checkFailed : ExitCode.ok;
      }),
    );
}
