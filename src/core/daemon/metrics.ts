import { createServer, type Server } from 'node:http';
import type { Daemon } from './daemon.js';

/** Prometheus text exposition of the daemon's job counters. */
export function metricsText(d: Daemon): string {
  const lines = [
    '# HELP boosterz_job_runs_total Job runs by outcome (ok, failed, cancelled, skipped).',
    '# TYPE boosterz_job_runs_total counter',
  ];
  for (const [job, s] of Object.entries(d.stats))
    for (const [outcome, n] of Object.entries(s.runs)) lines.push(`boosterz_job_runs_total{job="${job}",outcome="${outcome}"} ${n}`);
  lines.push('# HELP boosterz_job_failures_total Failed job runs.', '# TYPE boosterz_job_failures_total counter');
  for (const [job, s] of Object.entries(d.stats)) lines.push(`boosterz_job_failures_total{job="${job}"} ${s.runs.failed ?? 0}`);
  lines.push('# HELP boosterz_job_duration_seconds Duration of job runs that did work.', '# TYPE boosterz_job_duration_seconds summary');
  for (const [job, s] of Object.entries(d.stats)) {
    lines.push(
      `boosterz_job_duration_seconds_sum{job="${job}"} ${s.durationSumS}`,
      `boosterz_job_duration_seconds_count{job="${job}"} ${s.durationCount}`,
    );
  }
  lines.push(
    '# HELP boosterz_job_last_success_timestamp_seconds Unix time of the last successful run.',
    '# TYPE boosterz_job_last_success_timestamp_seconds gauge',
  );
  for (const [job, s] of Object.entries(d.stats))
    if (s.lastSuccess) lines.push(`boosterz_job_last_success_timestamp_seconds{job="${job}"} ${s.lastSuccess.toFixed(3)}`);
  lines.push(
    '# HELP boosterz_database_up 1 when the last check of the database succeeded.',
    '# TYPE boosterz_database_up gauge',
    `boosterz_database_up ${d.dbUp ? 1 : 0}`,
    '# HELP boosterz_database_role The role of the server the daemon is connected to (1 for the current one); jobs run on a primary only.',
    '# TYPE boosterz_database_role gauge',
    ...(['primary', 'standby', 'unknown'] as const).map((r) => `boosterz_database_role{role="${r}"} ${d.role === r ? 1 : 0}`),
  );
  return `${lines.join('\n')}\n`;
}

/** Serves /metrics (Prometheus) and /healthz (200 when the database answers, else 503). */
export function serveMetrics(d: Daemon, port: number, host = '0.0.0.0'): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.url === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(metricsText(d));
    } else if (req.url === '/healthz') {
      res
        .writeHead(d.dbUp ? 200 : 503, { 'content-type': 'text/plain' })
        .end(d.dbUp ? `ok\nrole: ${d.role}\n` : `database unreachable\nrole: ${d.role}\n`);
    } else res.writeHead(404).end();
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}
