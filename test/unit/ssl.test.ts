import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkServerIdentity } from 'node:tls';
import { BoosterzError } from '../../src/errors.js';
import { errorCode, parseSslMode, splitSslParams, sslClientOptions, sslPlan, SSL_MODES } from '../../src/db/ssl.js';

const noHome = join(tmpdir(), 'bz-no-home-here');

describe('sslmode', () => {
  it('knows the six libpq modes; no sslmode is no TLS; anything else is a usage error', () => {
    for (const m of SSL_MODES) expect(parseSslMode(m)).toBe(m);
    expect(parseSslMode(undefined)).toBe('disable');
    expect(parseSslMode('')).toBe('disable');
    expect(() => parseSslMode('required')).toThrow(BoosterzError);
    try {
      parseSslMode('required');
    } catch (err) {
      expect((err as BoosterzError).exitCode).toBe(2);
    }
  });

  it('tries transports in libpq order: allow plain first, prefer TLS first, require and verify-* TLS only', () => {
    const order = Object.fromEntries(SSL_MODES.map((m) => [m, sslPlan({ sslmode: m }, noHome).order.join('>')]));
    expect(order).toEqual({
      disable: 'plain',
      allow: 'plain>tls',
      prefer: 'tls>plain',
      require: 'tls',
      'verify-ca': 'tls',
      'verify-full': 'tls',
    });
    expect(SSL_MODES.filter((m) => sslPlan({ sslmode: m }, noHome).tlsRequired)).toEqual(['require', 'verify-ca', 'verify-full']);
  });

  it('verifies as libpq: allow/prefer/require nothing, verify-ca the chain, verify-full chain and host', () => {
    const tls = (m: string) => sslPlan({ sslmode: m }, noHome).tls;
    for (const m of ['allow', 'prefer', 'require']) expect(tls(m).rejectUnauthorized).toBe(false);
    expect(tls('verify-ca').rejectUnauthorized).toBe(true);
    expect(
      tls('verify-ca').checkServerIdentity!('db.example', { subject: { CN: 'other' }, subjectaltname: 'DNS:other' } as never),
    ).toBeUndefined();
    expect(tls('verify-full')).toMatchObject({ rejectUnauthorized: true, checkServerIdentity });
  });

  it('a root certificate makes require verify the chain (libpq); sslrootcert=system means verify-full', async () => {
    const home = await mkdtemp(join(tmpdir(), 'bz-home-'));
    await mkdir(join(home, '.postgresql'));
    await writeFile(join(home, '.postgresql', 'root.crt'), 'PEM');
    expect(sslPlan({ sslmode: 'require' }, home).tls).toMatchObject({ rejectUnauthorized: true, ca: Buffer.from('PEM') });
    expect(sslPlan({ sslmode: 'require', sslrootcert: join(home, '.postgresql', 'root.crt') }, noHome).tls.rejectUnauthorized).toBe(true);
    expect(sslPlan({ sslrootcert: 'system' }, noHome).mode).toBe('verify-full');
    expect(sslPlan({ sslrootcert: 'system' }, noHome).tls.ca).toBeUndefined();
    expect(() => sslPlan({ sslmode: 'require', sslrootcert: 'system' }, noHome)).toThrow(/use verify-full/);
    expect(() => sslPlan({ sslmode: 'verify-ca', sslrootcert: '/nowhere/ca.crt' }, noHome)).toThrow(/cannot read the root certificate/);
  });

  it('takes libpq TLS parameters out of a URL (postgres.js would send them to the server as settings), keeping the rest byte for byte', () => {
    expect(splitSslParams('postgres://u:p%40ss@h:5432/db')).toEqual({ url: 'postgres://u:p%40ss@h:5432/db', params: {} });
    expect(
      splitSslParams('postgres://u@h/db?sslmode=allow&options=-c%20search_path%3Dx&sslrootcert=%2Fca.crt&application_name=a+b'),
    ).toEqual({
      url: 'postgres://u@h/db?options=-c%20search_path%3Dx&application_name=a+b',
      params: { sslmode: 'allow', sslrootcert: '/ca.crt' },
    });
    expect(splitSslParams('postgres://u@h/db?sslmode=require')).toEqual({ url: 'postgres://u@h/db', params: { sslmode: 'require' } });
  });

  it('gives postgres.js no TLS of its own: disable is a plain socket, every other mode our socket factory', () => {
    expect(sslClientOptions({})).toEqual({ ssl: false });
    expect(sslClientOptions({ sslmode: 'disable' })).toEqual({ ssl: false });
    for (const m of ['allow', 'prefer', 'require']) expect(typeof sslClientOptions({ sslmode: m }).socket).toBe('function');
  });

  it('reads the SQLSTATE of an ErrorResponse (a refusal is 28000)', () => {
    const body = Buffer.from('SFATAL\0VFATAL\0C28000\0Mno pg_hba.conf entry for host "x", no encryption\0\0', 'utf8');
    expect(errorCode(body)).toBe('28000');
    expect(errorCode(Buffer.from('SFATAL\0\0'))).toBeUndefined();
  });
});
