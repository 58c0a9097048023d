import { BoosterzError } from '../../src/errors.js';
import { concurrentBuildRefusal, hasConcurrentBuildBug, refuseConcurrentBuildBug } from '../../src/core/engine/preflight.js';
import type { Script } from '../../src/core/engine/types.js';
import { loadParser, splitSql } from '../../src/core/engine/statements.js';

/** PostgreSQL 14.0–14.3 can build corrupt indexes concurrently (fixed in 14.4): such builds are refused with exit 6. */
beforeAll(() => loadParser());

const script = (sql: string): Script => ({
  version: 3,
  name: 'indexes',
  checksum: 'x',
  direction: 'up',
  path: 'migrations/0003_indexes.sql',
  statements: splitSql(sql),
});
let builds: Script;
beforeAll(() => {
  builds = script('CREATE TABLE a (id int);\nCREATE INDEX CONCURRENTLY a_id ON a (id);\nREINDEX INDEX CONCURRENTLY a_id;');
});

describe('CONCURRENTLY index builds on PostgreSQL 14.0–14.3', () => {
  it.each([
    [130012, false],
    [139999, false],
    [140000, true],
    [140001, true],
    [140003, true],
    [140004, false],
    [140023, false],
    [150000, false],
    [180004, false],
  ])('server_version_num %i: affected %s', (v, bad) => {
    expect(hasConcurrentBuildBug(v)).toBe(bad);
    expect(concurrentBuildRefusal(v, [builds]) !== undefined).toBe(bad);
  });

  it('refuses with exit 6, names each build, and gives the upgrade advice', () => {
    const e = concurrentBuildRefusal(140003, [builds])!;
    expect(e).toBeInstanceOf(BoosterzError);
    expect(e.exitCode).toBe(6);
    expect(e.message).toMatch(/PostgreSQL 14\.3 can build corrupt indexes .*fixed in 14\.4.*refusing 2 concurrent build\(s\)/);
    expect(e.message).toMatch(/first migrations\/0003_indexes\.sql:2 create index concurrently a_id/);
    expect(e.details.join('\n')).toMatch(/0003_indexes\.sql:3 reindex concurrently a_id/);
    expect(e.details.join('\n')).toMatch(/upgrade the server to the latest 14\.x release/);
    expect(e.details.join('\n')).toMatch(/amcheck .*bt_index_check/);
  });

  it('leaves scripts without a concurrent build alone, also on 14.3 (DROP INDEX CONCURRENTLY builds nothing)', () => {
    expect(concurrentBuildRefusal(140003, [script('CREATE INDEX a_id ON a (id);\nDROP INDEX CONCURRENTLY b;\nVACUUM a;')])).toBeUndefined();
  });

  it('the pre-flight asks the server for server_version_num only when something builds concurrently', async () => {
    const asked: string[] = [];
    const server = (v: number) => ((strings: TemplateStringsArray) => (asked.push(strings.join('?')), Promise.resolve([{ v }]))) as any;
    await expect(refuseConcurrentBuildBug(server(140002), [builds])).rejects.toMatchObject({ exitCode: 6 });
    await expect(refuseConcurrentBuildBug(server(140004), [builds])).resolves.toBeUndefined();
    expect(asked).toEqual([expect.stringMatching(/server_version_num/), expect.stringMatching(/server_version_num/)]);
    await expect(refuseConcurrentBuildBug(server(140002), [script('CREATE INDEX a_id ON a (id);')])).resolves.toBeUndefined();
    expect(asked).toHaveLength(2);
  });
});
