import { lagArg } from '../../src/cli/args.js';
import { lsnBytes } from '../../src/core/engine/replicas.js';
import { onDatabase, secretOf, describeTarget } from '../../src/db/connection.js';
import { primaryForReadWrite, splitHosts, withDatabase } from '../../src/db/hosts.js';

describe('--max-replica-lag', () => {
  const p = lagArg('--max-replica-lag');
  it('takes a duration, a size, or off', () => {
    expect(p('30s')).toEqual({ ms: 30_000 });
    expect(p('500ms')).toEqual({ ms: 500 });
    expect(p('5m')).toEqual({ ms: 300_000 });
    expect(p('256MB')).toEqual({ bytes: 256 * 1024 * 1024 });
    expect(p('1GB')).toEqual({ bytes: 1024 ** 3 });
    expect(p('512kB')).toEqual({ bytes: 512 * 1024 });
    expect(p('off')).toBeNull();
  });
  it('refuses anything else', () => {
    expect(() => p('soon')).toThrow('--max-replica-lag must be a duration like 30s or 5m, a size like 256MB or 1GB, or off');
    expect(() => p('10 parsecs')).toThrow();
  });
});

describe('LSNs', () => {
  it('are compared as numbers of bytes', () => {
    expect(lsnBytes('0/16B3748')).toBe(0x16b3748n);
    expect(lsnBytes('1/0') - lsnBytes('0/FFFFFFFF')).toBe(1n);
  });
});

describe('multi-host URLs', () => {
  const url = 'postgres://dba:s3cr%40t@db1:5432,db2:5433/boosterz?target_session_attrs=read-write';
  it('parse with their first host', () => {
    expect(splitHosts(url)).toEqual({
      single: 'postgres://dba:s3cr%40t@db1:5432/boosterz?target_session_attrs=read-write',
      hosts: 'db1:5432,db2:5433',
    });
    expect(splitHosts('postgres://a@h:1/d')).toEqual({ single: 'postgres://a@h:1/d' });
  });
  it('keep their hosts on another database', () => {
    expect(withDatabase(url, 'other')).toBe('postgres://dba:s3cr%40t@db1:5432,db2:5433/other?target_session_attrs=read-write');
    expect(onDatabase({ url }, 'x').url).toBe('postgres://dba:s3cr%40t@db1:5432,db2:5433/x?target_session_attrs=read-write');
  });
  it('never show their password', () => {
    expect(secretOf({ url })).toBe('s3cr@t');
    expect(describeTarget({ url })).toBe('postgres://dba:****@db1:5432,db2:5433/boosterz?target_session_attrs=read-write');
  });
  it('ask postgres.js for a primary where libpq says read-write', () => {
    expect(primaryForReadWrite(url)).toBe('postgres://dba:s3cr%40t@db1:5432,db2:5433/boosterz?target_session_attrs=primary');
    expect(primaryForReadWrite('postgres://h/d?target_session_attrs=any')).toBe('postgres://h/d?target_session_attrs=any');
  });
});
