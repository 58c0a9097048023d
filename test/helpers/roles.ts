import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import type { Sql } from '../../src/db/connection.js';
import { client, serverUrl } from './db.js';

/** A login role of the production fixture: its name, password and URL on the fixture's database. */
export interface FixtureRole {
  name: string;
  password: string;
  url: string;
}

/**
 * A database shaped like production: tables owned by a role that is not superuser and has a
 * schema of its own name (so `"$user", public` finds that schema first, with decoy tables of
 * the app's names in it), an application role with DML only on the baseline tables, and a
 * monitoring role in pg_monitor. `sql` is a superuser client that ignores the hostile
 * settings; `as(role)` a client of that role (it gets them).
 */
export interface ProductionDatabase {
  name: string;
  sql: Sql;
  owner: FixtureRole;
  app: FixtureRole;
  monitor: FixtureRole;
  as(role: FixtureRole): Sql;
  /** ALTER DATABASE/ROLE … SET of the hostile settings (see HOSTILE). */
  setHostile(on: 'database' | 'role', settings?: Record<string, string>): Promise<void>;
  /** Gives the application role DML on every table of public (run after each migration that adds tables it already used). */
  grantApp(): Promise<void>;
  drop(): Promise<void>;
}

/** What a DBA may have set, each a trap for a migration tool. */
export const HOSTILE: Record<string, string> = {
  statement_timeout: '300ms',
  lock_timeout: '5ms',
  idle_in_transaction_session_timeout: '300ms',
  idle_session_timeout: '400ms',
  default_transaction_read_only: 'on',
  search_path: '"$user", public',
};

/** Settings a test client uses to stay out of the hostile defaults' way. */
const CALM = {
  statement_timeout: '0',
  lock_timeout: '0',
  idle_in_transaction_session_timeout: '0',
  idle_session_timeout: '0',
  default_transaction_read_only: 'off',
} as unknown as Record<string, boolean>;

function calmClient(url: string, max = 4): Sql {
  return postgres(url, { max, onnotice: () => undefined, prepare: false, connection: CALM });
}

const urlFor = (base: string, db: string, role?: FixtureRole) => {
  const u = new URL(base);
  u.pathname = `/${db}`;
  if (role) {
    u.username = role.name;
    u.password = role.password;
  }
  return u.toString();
};

/** Creates the fixture's roles and database; the baseline is applied by the owner through `applyBaseline`. */
export async function productionDatabase(
  prefix = 'prod',
  applyBaseline?: (ownerUrl: string) => Promise<void>,
): Promise<ProductionDatabase> {
  const tag = `${prefix}_${process.pid}_${randomBytes(3).toString('hex')}`;
  const role = (kind: string): FixtureRole => ({ name: `${tag}_${kind}`, password: `pw-${randomBytes(6).toString('hex')}`, url: '' });
  const owner = role('owner');
  const app = role('app');
  const monitor = role('mon');
  const admin = client(serverUrl(), 1);
  const clients: Sql[] = [];
  try {
    await admin.unsafe(`create role "${owner.name}" login nosuperuser nocreatedb nocreaterole password '${owner.password}'`);
    await admin.unsafe(`create role "${app.name}" login nosuperuser password '${app.password}'`);
    await admin.unsafe(`create role "${monitor.name}" login nosuperuser password '${monitor.password}' in role pg_monitor`);
    await admin.unsafe(`create database "${tag}" owner "${owner.name}"`);
  } finally {
    await admin.end();
  }
  for (const r of [owner, app, monitor]) r.url = urlFor(serverUrl(), tag, r);
  const sql = calmClient(urlFor(serverUrl(), tag));
  clients.push(sql);
  await sql.unsafe(`create extension if not exists pg_stat_statements`);
  await sql.unsafe(`create schema "${owner.name}" authorization "${owner.name}"`);
  if (applyBaseline) await applyBaseline(owner.url);
  const db: ProductionDatabase = {
    name: tag,
    sql,
    owner,
    app,
    monitor,
    as(r) {
      const c = calmClient(r.url);
      clients.push(c);
      return c;
    },
    async setHostile(on, settings = HOSTILE) {
      for (const [k, v] of Object.entries(settings)) {
        const value = k === 'search_path' ? v : `'${v}'`;
        if (on === 'database') await sql.unsafe(`alter database "${tag}" set ${k} = ${value}`);
        else await sql.unsafe(`alter role "${owner.name}" set ${k} = ${value}`);
      }
    },
    async grantApp() {
      await sql.unsafe(`grant usage on schema public to "${app.name}"`);
      await sql.unsafe(`grant select, insert, update, delete on all tables in schema public to "${app.name}"`);
    },
    async drop() {
      for (const c of clients.splice(0)) await c.end({ timeout: 2 }).catch(() => undefined);
      const a = client(serverUrl(), 1);
      try {
        await a.unsafe(`drop database if exists "${tag}" with (force)`);
        for (const r of [owner, app, monitor]) await a.unsafe(`drop role if exists "${r.name}"`);
      } finally {
        await a.end();
      }
    },
  };
  return db;
}

/** Decoy tables with the app's names in the owner's own schema: any unqualified name resolving through "$user" hits them. */
export async function addDecoys(db: ProductionDatabase, tables: string[]): Promise<void> {
  const owner = db.as(db.owner);
  for (const t of tables) await owner.unsafe(`create table "${db.owner.name}"."${t}" (id bigint, decoy boolean default true)`);
}
