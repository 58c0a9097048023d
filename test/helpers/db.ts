import postgres from 'postgres';
import { randomBytes } from 'node:crypto';
import type { Sql } from '../../src/db/connection.js';

export function serverUrl(): string {
  const url = process.env.BOOSTERZ_TEST_SERVER_URL;
  if (!url) throw new Error('BOOSTERZ_TEST_SERVER_URL is not set: run the tests with jest (globalSetup starts the server)');
  return url;
}

export function client(url: string, max = 4): Sql {
  return postgres(url, { max, onnotice: () => undefined, prepare: false });
}

export interface TestDatabase {
  url: string;
  name: string;
  sql: Sql;
  drop(): Promise<void>;
}

/** A new empty database on the test server; drop() closes clients and removes it. */
export async function freshDatabase(prefix = 't'): Promise<TestDatabase> {
  const name = `${prefix}_${process.pid}_${randomBytes(4).toString('hex')}`;
  const admin = client(serverUrl(), 1);
  await admin`create database ${admin(name)}`;
  await admin.end();
  const u = new URL(serverUrl());
  u.pathname = `/${name}`;
  const url = u.toString();
  const sql = client(url);
  return {
    url,
    name,
    sql,
    drop: async () => {
      await sql.end({ timeout: 5 });
      const a = client(serverUrl(), 1);
      await a`drop database if exists ${a(name)} with (force)`;
      await a.end();
    },
  };
}
