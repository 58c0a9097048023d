import Table from 'cli-table3';
import chalk from 'chalk';
import type { PlanLine } from '../core/engine/plan.js';
import { formatMs } from './output.js';

/** A table for a TTY, or tab-free aligned text otherwise (cli-table3 either way; no colour off a TTY). */
export function table(head: string[], rows: (string | number)[][]): string {
  const t = new Table({ head: head.map((h) => chalk.bold(h)), style: { head: [], border: [] } });
  for (const r of rows) t.push(r.map((c) => String(c)));
  return t.toString();
}

/** The dry-run plan: each statement's kind, transactional or not, target. */
export function renderPlan(plan: PlanLine[], extra?: (l: PlanLine) => string[]): string {
  if (!plan.length) return 'nothing to do';
  const head = ['#', 'version', 'line', 'statement', 'target', 'table', 'runs'];
  const rows = plan.map((l, i) => [
    i + 1,
    `${String(l.version).padStart(4, '0')}_${l.name}`,
    l.line,
    l.kind,
    l.target ?? '',
    l.table ?? '',
    l.inTransaction
      ? 'in the migration transaction'
      : l.transactional
        ? 'own transaction, journaled'
        : 'outside any transaction, journaled',
    ...(extra ? extra(l) : []),
  ]);
  return table(extra ? [...head, 'size', 'rows (est.)', 'estimate'] : head, rows);
}

export function renderSummary(
  migrations: { version: number; name: string; durationMs: number; statements: number }[],
  totalMs: number,
  slowest: { label: string; ms: number }[],
): string {
  const lines = [
    table(
      ['migration', 'statements', 'time'],
      migrations.map((m) => [`${String(m.version).padStart(4, '0')}_${m.name}`, m.statements, formatMs(m.durationMs)]),
    ),
  ];
  const top = [...slowest].sort((a, b) => b.ms - a.ms).slice(0, 5);
  if (top.length) lines.push('slowest statements:', ...top.map((s) => `  ${formatMs(s.ms).padStart(7)}  ${s.label}`));
  lines.push(`total: ${migrations.reduce((n, m) => n + m.statements, 0)} statement(s) in ${formatMs(totalMs)}`);
  return lines.join('\n');
}

export function formatBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n < 10 && i ? n.toFixed(1) : Math.round(n)} ${units[i]}`;
}
