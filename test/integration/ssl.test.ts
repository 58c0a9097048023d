import { execFileSync } from 'node:child_process';
import { chown, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BoosterzError } from '../../src/errors.js';
import { createClient, type ConnectionTarget } from '../../src/db/connection.js';
import { startEmbedded, type EmbeddedServer } from '../../src/db/embedded.js';
import { forgetSslDecisions } from '../../src/db/ssl.js';
import { client, type TestDatabase } from '../helpers/db.js';
import { ROOT } from '../helpers/cli.js';

/**
 * sslmode against a server with TLS and a pg_hba.conf that tells apart encrypted and plain
 * connections: `tlsonly` may log in over TLS only (hostssl), `plainonly` without TLS only
 * (hostnossl), `anyway` both. The expectations are what psql (libpq) does with the same server.
 */
let dir: string;
let srv: EmbeddedServer;
let admin: TestDatabase['sql'];
let ca: string;

const openssl = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });

async function makeCertificates(pgdata: string): Promise<void> {
  openssl([
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-days',
    '2',
    '-subj',
    '/CN=boosterz-test-ca',
  ]);
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost']);
  await writeFile(join(dir, 'san.cnf'), 'subjectAltName=DNS:localhost\n');
  const sign = ['-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', 'san.cnf'];
  openssl(['x509', '-req', '-in', 'server.csr', '-out', 'server.crt', ...sign]);
  const { uid, gid } = await stat(pgdata);
  for (const f of ['server.key', 'server.crt']) {
    await writeFile(join(pgdata, f), await readFile(join(dir, f)), { mode: 0o600 });
    await chown(join(pgdata, f), uid, gid);
  }
}

async function setSsl(on: boolean): Promise<void> {
  await admin.unsafe(`alter system set ssl = ${on ? 'on' : 'off'}`);
  await admin`select pg_reload_conf()`;
  await new Promise((r) => setTimeout(r, 300));
  forgetSslDecisions();
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bz-ssl-'));
  srv = await startEmbedded({ dir, resolveFrom: ROOT, throwaway: true });
  const pgdata = join(dir, 'cluster');
  await makeCertificates(pgdata);
  ca = join(dir, 'ca.crt');
  await writeFile(
    join(pgdata, 'pg_hba.conf'),
    [
      'hostssl all tlsonly 127.0.0.1/32 scram-sha-256',
      'hostnossl all plainonly 127.0.0.1/32 scram-sha-256',
      'host all postgres,anyway 127.0.0.1/32 scram-sha-256',
      '',
    ].join('\n'),
  );
  admin = client(srv.url, 1);
  for (const role of ['tlsonly', 'plainonly', 'anyway']) await admin.unsafe(`create role ${role} login password 'pw'`);
  await setSsl(true);
}, 60_000);

afterAll(async () => {
  await admin?.end({ timeout: 2 });
  await srv?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** 'tls' / 'plain' as the server saw the session, or the error: SQLSTATE, else the exit code of a BoosterzError. */
async function outcome(t: ConnectionTarget): Promise<string> {
  const sql = createClient(t, { command: 'test', max: 2, connectTimeout: 5 });
  try {
    // two sessions: the second one goes by what the first one found out
    const session = () =>
      sql.begin(async (tx) => (await tx<{ ssl: boolean }[]>`select ssl from pg_stat_ssl where pid = pg_backend_pid()`)[0].ssl);
    const both = await Promise.allSettled([session(), session()]);
    const failed = both.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    const [a, b] = both.map((r) => (r as PromiseFulfilledResult<boolean>).value);
    expect(b).toBe(a);
    return a ? 'tls' : 'plain';
  } catch (err) {
    if (err instanceof BoosterzError) return `exit ${err.exitCode}: ${err.message}`;
    return (err as { code?: string }).code ?? String(err);
  } finally {
    await sql.end({ timeout: 2 });
  }
}

const url = (user: string, mode: string, host = 'localhost', extra = `&sslrootcert=${encodeURIComponent(ca)}`) =>
  `postgres://${user}:pw@${host}:${srv.port}/postgres?sslmode=${mode}${extra}`;

// psql 15 against this server, host=localhost, sslrootcert=ca.crt
const LIBPQ: Record<string, Record<string, string>> = {
  tlsonly: { disable: '28000', allow: 'tls', prefer: 'tls', require: 'tls', 'verify-ca': 'tls', 'verify-full': 'tls' },
  plainonly: { disable: 'plain', allow: 'plain', prefer: 'plain', require: '28000', 'verify-ca': '28000', 'verify-full': '28000' },
  anyway: { disable: 'plain', allow: 'plain', prefer: 'tls', require: 'tls', 'verify-ca': 'tls', 'verify-full': 'tls' },
};

describe('sslmode as libpq does it', () => {
  for (const [user, modes] of Object.entries(LIBPQ)) {
    it(`${user}: ${Object.entries(modes)
      .map(([m, o]) => `${m} → ${o}`)
      .join(', ')}`, async () => {
      const got: Record<string, string> = {};
      for (const mode of Object.keys(modes)) got[mode] = await outcome({ url: url(user, mode) });
      expect(got).toEqual(modes);
    });
  }

  it('allow and prefer from PGSSLMODE-style fields, not only from a URL', async () => {
    const t = (user: string, sslmode: string): ConnectionTarget => ({
      host: '127.0.0.1',
      port: srv.port,
      user,
      password: 'pw',
      database: 'postgres',
      sslmode,
    });
    expect(await outcome(t('tlsonly', 'allow'))).toBe('tls');
    expect(await outcome(t('plainonly', 'prefer'))).toBe('plain');
  });

  it('verify-ca checks the chain only, verify-full the host name too', async () => {
    expect(await outcome({ url: url('anyway', 'verify-ca', '127.0.0.1') })).toBe('tls');
    expect(await outcome({ url: url('anyway', 'verify-full', '127.0.0.1') })).toMatch(/^exit 3: .*verify-full.*(does not match|altnames)/);
    expect(await outcome({ url: url('anyway', 'verify-full', 'localhost', '') })).toMatch(/^exit 3: .*TLS with sslmode=verify-full failed/);
    expect(await outcome({ url: url('anyway', 'require', 'localhost', '') })).toBe('tls'); // no root certificate: no verification
  });

  it('a server without TLS: allow and prefer connect in plain text, require and stricter are refused (exit 3)', async () => {
    await setSsl(false);
    try {
      expect(await outcome({ url: url('anyway', 'allow') })).toBe('plain');
      expect(await outcome({ url: url('anyway', 'prefer') })).toBe('plain');
      expect(await outcome({ url: url('anyway', 'require') })).toMatch(/^exit 3: .*does not support SSL, but sslmode=require requires it/);
      expect(await outcome({ url: url('anyway', 'verify-full') })).toMatch(/^exit 3: .*does not support SSL/);
    } finally {
      await setSsl(true);
    }
  });

  it('a cancel (statement timeout, Ctrl-C) reaches the server over the negotiated transport', async () => {
    const sql = createClient({ url: url('tlsonly', 'allow') }, { command: 'test', max: 1 });
    try {
      const q = sql`select pg_sleep(30)`;
      await new Promise((r) => setTimeout(r, 300));
      q.cancel();
      await expect(q).rejects.toMatchObject({ code: '57014' });
    } finally {
      await sql.end({ timeout: 2 });
    }
  });
});
