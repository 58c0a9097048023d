import { runCli } from '../helpers/cli.js';
import { startPgBouncer, startTopology, type Bouncer, type Topology } from '../helpers/topology.js';

/**
 * A real primary with a streaming hot standby, and PgBouncer in front of the primary: every
 * command that writes refuses the standby and a transaction pooler (exit 6, the fix named);
 * the read-only ones work on the standby and say so; session pooling works end to end.
 */
let topo: Topology;
const DB = 'boosterz_topo';
const cli = (url: string, args: string[]) => runCli(['-d', url, ...args], { timeoutMs: 180_000 });

beforeAll(async () => {
  topo = await startTopology();
  await topo.createDatabase(DB);
  const r = await cli(topo.primary.url(DB), ['migrate']);
  expect({ code: r.code, err: r.code ? r.stderr : '' }).toEqual({ code: 0, err: '' });
  await topo.caughtUp();
}, 300_000);

afterAll(async () => {
  await topo?.stop();
});

describe('a hot standby', () => {
  const writes: [string, string[]][] = [
    ['migrate', ['migrate']],
    ['migrate --dry-run', ['migrate', '--dry-run']],
    ['rollback', ['rollback', '--yes']],
    ['baseline', ['baseline', '--version', '1']],
    ['refresh-views', ['refresh-views', '--all']],
    ['cleanup', ['cleanup']],
    ['bench', ['bench', '--scale', '0.001', '--runs', '1']],
    ['demo', ['demo', '--scale', '0.001', '--runs', '1']],
  ];
  it.each(writes)('%s refuses it with exit 6', async (_name, args) => {
    const r = await cli(topo.standby.url(DB), args);
    expect({ code: r.code, first: r.stderr.split('\n').find((l) => l.includes('hot standby')) ?? r.stderr }).toEqual({
      code: 6,
      first: expect.stringMatching(/is a hot standby \(read-only\); connect to the primary/),
    });
    expect(r.stderr).not.toContain('topology-secret');
  });

  it('the daemon refuses nothing there: it waits as a standby (see ha-daemon.test.ts)', () => undefined);

  it('status, verify, reports, doctor, jobs and lint work there, and say so', async () => {
    const url = topo.standby.url(DB);
    const status = await cli(url, ['status']);
    expect(status.code).toBe(0);
    expect(status.stderr).toContain('is a hot standby');
    const verify = await cli(url, ['verify']);
    expect({ code: verify.code, out: verify.stdout }).toEqual({ code: 0, out: expect.stringContaining('skipped: this probe writes') });
    expect(verify.stderr).toContain('probes that write are skipped');
    for (const args of [
      ['report', 'unused-indexes'],
      ['report', 'invalid-indexes'],
      ['report', 'duplicate-indexes'],
    ]) {
      const r = await cli(url, args);
      expect({ args, code: r.code }).toEqual({ args, code: 0 });
      expect(r.stderr).toContain('its own statistics');
    }
    expect((await cli(url, ['jobs'])).code).toBe(0);
    expect([0, 1]).toContain((await cli(url, ['doctor'])).code); // advice/problems about settings, but it runs
    expect((await cli(url, ['lint'])).code).toBe(0);
  });
});

describe('PgBouncer', () => {
  let tx: Bouncer;
  let session: Bouncer;
  beforeAll(async () => {
    tx = await startPgBouncer(topo.primary, 'transaction');
    session = await startPgBouncer(topo.primary, 'session');
  });
  afterAll(async () => {
    await tx?.stop();
    await session?.stop();
  });

  it.each([['migrate'], ['rollback', '--yes'], ['baseline', '--version', '1'], ['refresh-views'], ['cleanup'], ['daemon']])(
    'in transaction mode: %s refuses it with exit 6 and the fix',
    async (...args) => {
      const r = await cli(tx.url(DB), args);
      expect({ code: r.code, err: r.stderr.split('\n')[0] }).toEqual({
        code: 6,
        err: expect.stringMatching(/transaction pooling mode; connect to the server directly, or through session pooling/),
      });
    },
  );

  it('in transaction mode: status and reports run through it', async () => {
    expect((await cli(tx.url(DB), ['status'])).code).toBe(0);
    expect((await cli(tx.url(DB), ['report', 'unused-indexes'])).code).toBe(0);
  });

  it('in session mode: rollback and migrate work end to end', async () => {
    const back = await cli(session.url(DB), ['rollback', '--steps', '2', '--yes']);
    expect({ code: back.code, err: back.code ? back.stderr : '' }).toEqual({ code: 0, err: '' });
    const r = await cli(session.url(DB), ['migrate']);
    expect({ code: r.code, err: r.code ? r.stderr : '' }).toEqual({ code: 0, err: '' });
    const st = JSON.parse((await cli(session.url(DB), ['status', '--json'])).stdout);
    expect(st.lines.every((l: { state: string }) => l.state === 'applied')).toBe(true);
    expect((await cli(session.url(DB), ['refresh-views', '--all'])).code).toBe(0);
  });
});
