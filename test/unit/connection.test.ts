import { createClient, describeTarget, maskUrl, resolveTarget, scrub } from '../../src/db/connection.js';
import { addSecret, scrubText } from '../../src/cli/output.js';

describe('connection target', () => {
  it('prefers --database-url, then DATABASE_URL, then PG* variables', () => {
    const env = {
      DATABASE_URL: 'postgres://a@h/db',
      PGHOST: 'pg',
      PGUSER: 'u',
      PGPASSWORD: 'pw',
      PGDATABASE: 'd',
      PGPORT: '6543',
      PGSSLMODE: 'require',
    };
    expect(resolveTarget('postgres://x@y/z', env)).toEqual({ url: 'postgres://x@y/z' });
    expect(resolveTarget(undefined, env)).toEqual({ url: 'postgres://a@h/db' });
    expect(resolveTarget(undefined, { ...env, DATABASE_URL: '' })).toEqual({
      host: 'pg',
      port: 6543,
      user: 'u',
      password: 'pw',
      database: 'd',
      sslmode: 'require',
    });
  });

  it('takes a password given as a URL parameter (as libpq does), and masks it; bad percent-encoding is a usage error', () => {
    expect(resolveTarget('postgres://bob@db:5432/app?sslmode=require&password=s%26cret', {})).toEqual({
      url: 'postgres://bob:s%26cret@db:5432/app?sslmode=require',
    });
    expect(resolveTarget('postgresql://db/app?user=bob&password=pw', {})).toEqual({ url: 'postgresql://bob:pw@db/app' });
    expect(maskUrl('cannot connect to postgres://bob@db/app?sslmode=require&password=s3cret')).toBe(
      'cannot connect to postgres://bob@db/app?sslmode=require&password=****',
    );
    expect(() => resolveTarget('postgres://bob:SECRET%zzPW@db/app', {})).toThrow(
      'invalid database URL: postgres://bob:****@db/app (bad percent-encoding in the user or password)',
    );
  });

  it('masks passwords in URLs and descriptions', () => {
    expect(maskUrl('cannot reach postgres://boss:s3cr%40t@db:5432/app?sslmode=require')).toBe(
      'cannot reach postgres://boss:****@db:5432/app?sslmode=require',
    );
    expect(maskUrl('postgresql://u:p@h/d and postgres://v:q@i/e')).toBe('postgresql://u:****@h/d and postgres://v:****@i/e');
    expect(maskUrl('to postgres://bob:s3cr@t@127.0.0.1:1/db failed')).toBe('to postgres://bob:****@127.0.0.1:1/db failed');
    addSecret('s3cr@t');
    expect(scrubText('cannot connect to postgres://bob:s3cr@t@127.0.0.1:1/db')).toBe(
      'cannot connect to postgres://bob:****@127.0.0.1:1/db',
    );
    expect(describeTarget({ host: 'db', user: 'u', password: 'hunter2', database: 'app' })).toBe('postgres://u:****@db:5432/app');
    expect(describeTarget({ url: 'postgres://u@db/app' })).toBe('postgres://u@db/app');
  });

  it('scrubs a password wherever it appears', () => {
    expect(scrub('password hunter2 rejected', { password: 'hunter2' })).toBe('password **** rejected');
    expect(scrub('for s3cr@t!', { url: 'postgres://u:s3cr%40t!@h/d' })).toBe('for ****');
    addSecret('Tr0ub4dor&3');
    expect(scrubText('auth Tr0ub4dor&3 / Tr0ub4dor%263')).toBe('auth **** / ****');
  });

  it('refuses an unknown sslmode (URL or PGSSLMODE) with a usage error before connecting', () => {
    expect(() => createClient({ url: 'postgres://u@h/db?sslmode=on' }, { command: 't' })).toThrow(/unknown sslmode "on"/);
    expect(() => createClient({ host: 'h', sslmode: 'true' }, { command: 't' })).toThrow(/unknown sslmode "true"/);
    expect(() => createClient({ url: 'postgres://u@h/db?sslmode=allow' }, { command: 't' })).not.toThrow();
  });
});
