import { cliOn, ndjson, runCli } from '../helpers/cli.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { tempFixture } from '../helpers/fixtures.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await freshDatabase('orphans');
});
afterAll(async () => {
  await db.drop();
});

const cli = cliOn(() => db.url);

/** The three columns that get a foreign key, as (table, id, value) rows. */
const fkValues = async () => db.sql<{ t: string; id: string; v: string | null }[]>`
  select 'cards' as t, id::text, checklist_card_id::text as v from cards
  union all select 'personal_cards', id::text, checklist_card_id::text from personal_cards
  union all select 'checklist_cards', id::text, base_card_id::text from checklist_cards
  order by 1, 2`;

describe('orphan rows before the foreign-key migration', () => {
  let before: Awaited<ReturnType<typeof fkValues>>;

  beforeAll(async () => {
    expect((await cli(['migrate', '--to', '1'])).code).toBe(0);
    await db.sql`insert into users (id, username, email) values (1, 'ana', 'ana@example.com'), (2, 'bob', 'bob@example.com')`;
    await db.sql`insert into collections (id, name, brand, total_cards) values (1, 'Ligue 1 2024', 'Panini', 3)`;
    await db.sql`insert into checklist_cards (id, collection_id, card_number, player_name, base_card_id)
                 values (1, 1, '1', 'Mbappé', null), (2, 1, '1a', 'Mbappé (gold)', 1), (3, 1, '2', 'Dembélé', 999)`;
    await db.sql`insert into cards (id, user_id, collection_id, checklist_card_id) values (1, 1, 1, 1), (2, 1, 1, 777), (3, 2, 1, 778), (4, 2, 1, null)`;
    await db.sql`insert into personal_cards (id, user_id, checklist_card_id, player_name) values (1, 1, 2, 'Mbappé'), (2, 2, 555, 'Zidane')`;
    before = await fkValues();
  });

  it('stops with exit 6 and a table of orphans per foreign key; nothing is changed', async () => {
    const dry = await cli(['migrate', '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.stderr).toMatch(/public.cards.checklist_card_id → public.checklist_cards: 2 orphan row\(s\), e.g. 777, 778/);
    const r = await cli(['migrate', '--json']);
    expect(r.code).toBe(6);
    const events = ndjson(r);
    const err = events.at(-1);
    expect(err.type).toBe('error');
    expect(err.orphans.map((o: { table: string; count: number; samples: string[] }) => [o.table, o.count, o.samples])).toEqual([
      ['public.checklist_cards', 1, ['999']],
      ['public.cards', 2, ['777', '778']],
      ['public.personal_cards', 1, ['555']],
    ]);
    expect(r.stderr.split('\n')[0]).toMatch(/^error: 4 row\(s\) point at rows that do not exist/);
    expect(r.stderr).toMatch(/rerun with --orphans=detach to save each orphan value in boosterz_db\.orphan_audit /);
    expect(await fkValues()).toEqual(before);
    const [{ n }] = await db.sql<{ n: number }[]>`select count(*)::int as n from boosterz_db.schema_history where version > 1`;
    expect(n).toBe(0);
  });

  it('--orphans=detach saves every orphan in the audit table, sets it to NULL, validates the keys; rollback restores them', async () => {
    const r = await cli(['migrate', '--to', '2', '--orphans', 'detach']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/detached 2 orphan value\(s\) of public.cards.checklist_card_id/);
    const audit = await db.sql<{ table_name: string; row_id: string; column_name: string; old_value: string }[]>`
      select table_name, row_id, column_name, old_value from boosterz_db.orphan_audit order by 1, 2`;
    expect(audit).toEqual([
      { table_name: 'public.cards', row_id: '2', column_name: 'checklist_card_id', old_value: '777' },
      { table_name: 'public.cards', row_id: '3', column_name: 'checklist_card_id', old_value: '778' },
      { table_name: 'public.checklist_cards', row_id: '3', column_name: 'base_card_id', old_value: '999' },
      { table_name: 'public.personal_cards', row_id: '2', column_name: 'checklist_card_id', old_value: '555' },
    ]);
    const after = await fkValues();
    expect(
      after
        .filter((x) => x.v === null)
        .map((x) => `${x.t}:${x.id}`)
        .sort(),
    ).toEqual(['cards:2', 'cards:3', 'cards:4', 'checklist_cards:1', 'checklist_cards:3', 'personal_cards:2']);
    const fks = await db.sql<{ conname: string; convalidated: boolean }[]>`
      select conname, convalidated from pg_constraint where conname in ('cards_checklist_card_id_fkey', 'personal_cards_checklist_card_id_fkey', 'checklist_cards_base_card_id_fkey') order by 1`;
    expect(fks.map((f) => f.convalidated)).toEqual([true, true, true]);

    expect((await cli(['rollback', '--to', '1', '--yes'])).code).toBe(0);
    expect(await fkValues()).toEqual(before);
    const [{ n }] = await db.sql<{ n: number }[]>`select count(*)::int as n from boosterz_db.orphan_audit`;
    expect(n).toBe(0);
  });

  it('rollback restores an orphan value only where the column is still NULL: a row the app fixed since keeps its fix and its audit row', async () => {
    expect((await cli(['migrate', '--to', '2', '--orphans', 'detach'])).code).toBe(0);
    // after the migration the user re-identifies card 2 (it was detached from 777) as checklist card 1
    await db.sql`update cards set checklist_card_id = 1 where id = 2`;
    const r = await cli(['rollback', '--to', '1', '--yes']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(
      /orphan values restored: 3; left alone \(changed since the migration, audit rows kept in boosterz_db.orphan_audit\): 1/,
    );
    const now = await fkValues();
    expect(now.find((x) => x.t === 'cards' && x.id === '2')!.v).toBe('1');
    expect(now.filter((x) => !(x.t === 'cards' && x.id === '2'))).toEqual(before.filter((x) => !(x.t === 'cards' && x.id === '2')));
    const kept = await db.sql<{ row_id: string; old_value: string }[]>`select row_id, old_value from boosterz_db.orphan_audit`;
    expect(kept).toEqual([{ row_id: '2', old_value: '777' }]);
  });
});

describe('names from the parse tree', () => {
  let other: TestDatabase;
  beforeAll(async () => {
    other = await freshDatabase('orphans_quoted');
  });
  afterAll(async () => {
    await other.drop();
  });

  it('counts the orphans of a quoted mixed-case table (not silently skipped)', async () => {
    const dirs = await tempFixture(undefined, {
      'migrations/0001_base.sql': `create table public."Sets" (id int primary key);
create table public."CardRows" (id int primary key, "setId" int);
insert into public."Sets" values (1);
insert into public."CardRows" values (1, 1), (2, 42), (3, 43);`,
      'rollback/0001_base.sql': `drop table public."CardRows"; drop table public."Sets";`,
      'migrations/0002_fk.sql': `alter table public."CardRows" add constraint "CardRows_setId_fkey" foreign key ("setId") references public."Sets" (id) not valid;
alter table public."CardRows" validate constraint "CardRows_setId_fkey";`,
      'rollback/0002_fk.sql': `alter table public."CardRows" drop constraint "CardRows_setId_fkey";`,
    });
    const dirArgs = ['--migrations-dir', dirs.migrations, '--rollback-dir', dirs.rollback, '--no-lint'];
    expect((await runCli(['-d', other.url, 'migrate', '--to', '1', ...dirArgs])).code).toBe(0);
    const r = await runCli(['-d', other.url, 'migrate', ...dirArgs]);
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/2 orphan row\(s\), e\.g\. 42, 43/);
  });
});
