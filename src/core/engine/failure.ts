import { BoosterzError, ExitCode, isConnectionLoss, isPgError } from '../../errors.js';
import type { Script, Statement } from './types.js';

function firstLine(text: string): string {
  const one = text.replace(/\s+/g, ' ').trim();
  return one.length > 160 ? `${one.slice(0, 157)}...` : one;
}

export function failure(s: Script, st: Statement, err: unknown, state: string): BoosterzError {
  if (isConnectionLoss(err)) {
    return new BoosterzError(
      `lost the connection to the server during statement ${st.index + 1}/${s.statements.length} of ${s.version} (${s.name}), ${s.path}:${st.line}: ${(err as Error).message}`,
      ExitCode.statementFailed,
      [
        'the server may still be finishing that statement; the journal and history are as of the last completed statement',
        'rerun to resume (with --lock-wait 10m if the old session still holds the migration lock)',
      ],
      { version: s.version, direction: s.direction, statement: st.index + 1, code: (err as { code?: string }).code, lostConnection: true },
    );
  }
  const pg = isPgError(err) ? err : undefined;
  const what = s.direction === 'up' ? 'migration' : 'rollback of';
  const msg = `${what} ${s.version} (${s.name}) failed at statement ${st.index + 1}/${s.statements.length}, ${s.path}:${st.line}: ${pg?.code ? `[${pg.code}] ` : ''}${(err as Error).message}`;
  const details = [`statement: ${firstLine(st.text)}`];
  if (pg?.detail) details.push(`detail: ${pg.detail}`);
  if (pg?.hint) details.push(`hint: ${pg.hint}`);
  if (pg?.code === '55P03')
    details.push(
      'the lock stayed busy through every retry: find the blocking session (pg_stat_activity) or raise --lock-retries / --lock-timeout',
    );
  details.push(`state: ${state}`);
  return new BoosterzError(msg, ExitCode.statementFailed, details, {
    version: s.version,
    direction: s.direction,
    statement: st.index + 1,
    code: pg?.code,
    state,
  });
}
